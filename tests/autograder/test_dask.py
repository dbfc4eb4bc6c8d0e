"""One task per student on a Dask distributed cluster (a LocalCluster on 127.0.0.1)."""

import pytest

from autograder.library_grading import grade_many, read_results

from .students import TEST_LIMITS, lost_checks, make_submission

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install distributed)")


def test_a_local_cluster_grades_three_students(requires_sandbox, tmp_path):
    submissions = {
        "ada": make_submission(tmp_path, "ada"),
        "ben": make_submission(tmp_path, "ben", stubbed=True),
        "cy": make_submission(tmp_path, "cy", edits={"layers.py": [
            ("    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n")]}),
    }
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        results = grade_many(submissions, "conv_pool", tmp_path / "results", secret_file=tmp_path / "secret",
                             scheduler=cluster.scheduler_address, limits=TEST_LIMITS, progress=False)
    full = results["ada"]["max_score"]
    assert results["ada"]["score"] == full and results["ben"]["score"] == 0
    assert lost_checks(results["cy"]) == {("layers.affine_backward", "db"),
                                          ("layers.affine_backward", "agrees with the numerical gradient of your forward")}
    assert read_results(tmp_path / "results", "conv_pool") == results
