"""The submission's fingerprint decides whether a re-run grades again: it must see every file grading reads."""

import dataclasses

from autograder import files
from autograder.grading import results
from autograder.grading.results import submission_fingerprint


def test_a_checkpoint_larger_than_a_notebook_is_fingerprinted_as_grading_reads_it(tmp_path, monkeypatch):
    """A course may allow a checkpoint larger than a notebook (tasks.toml max_file_bytes). Before, the
    fingerprint read every file with the notebook's limit, so two different large checkpoints were both
    "missing": a student who replaced theirs kept the old grade on a re-run."""
    monkeypatch.setattr(results, "LIMITS", dataclasses.replace(files.LIMITS, notebook_bytes=64))
    (tmp_path / "A.ipynb").write_text("{}")
    checkpoint = tmp_path / "best_model.npz"

    def fingerprint_with(content: bytes) -> str:
        checkpoint.write_bytes(content)
        return submission_fingerprint(tmp_path, "A.ipynb", [], {"best_model.npz": 1000})

    first, second = fingerprint_with(b"a" * 200), fingerprint_with(b"b" * 200)
    assert first != second
    checkpoint.unlink()
    assert submission_fingerprint(tmp_path, "A.ipynb", [], {"best_model.npz": 1000}) not in (first, second)
