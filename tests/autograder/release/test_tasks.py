"""Reading solutions/tasks.toml: the real file, and clear errors for bad ones."""

from pathlib import Path

import pytest

from autograder.errors import ReleaseError
from autograder.course import Layout
from autograder.tasks import load_catalog

from .kit import make_kit


def test_the_real_tasks_file_resolves_to_library_files():
    layout = Layout.of_repo()
    catalog = load_catalog(layout.tasks_file, layout.lib_dir)
    assert catalog.names() == ["conv_pool", "im2col", "architectures", "train_cifar10"]
    loss = catalog.get("train_cifar10").tasks[1]
    assert (loss.module_file, loss.qualname) == (Path("classifiers/cnn.py"), "ThreeLayerConvNet.loss")
    assert catalog.get("architectures").tasks == ()


CHECKPOINT = ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = []\nextra_files = {extra}\n'
              '[a.checkpoint]\nfile = "m.npz"\ntiers = {tiers}\n{more}')


def test_the_final_assignment_grades_its_checkpoint_by_tiers():
    checkpoint = Layout.of_repo().catalog().get("train_cifar10").checkpoint
    assert checkpoint.file == "best_model.npz" and checkpoint.held_out == "cifar10-test"
    assert checkpoint.tiers == ((0.5, 2.0), (0.6, 2.0), (0.7, 2.0)) and checkpoint.points == 6.0


@pytest.mark.parametrize("toml, message", [
    ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\n', r"\[a\]: expected the keys .*missing \['tasks'\]"),
    ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = []\npoints = 3\n', r"unknown \['points'\]"),
    ('[a]\nnotebook = "A.py"\ntitle = "A"\ntasks = []\n', r"notebook must be a file name ending in .ipynb"),
    ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = ["ops"]\n', r"task 'ops' must be 'module.function'"),
    ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = ["nope.f"]\n', r"task 'nope.f' names no module"),
    ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = ["ops.double"]\n'
     '[b]\nnotebook = "B.ipynb"\ntitle = "B"\ntasks = ["ops.double"]\n', r"\[b\]: task 'ops.double' is already listed in \[a\]"),
    ('["a b"]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = []\n', r"must be a Python-style identifier"),
    ('[a]\nnotebook = "A.ipynb"\ntitle = "A"\ntasks = []\nextra_files = ["../model.npz"]\n',
     r"extra_files must be a list of file names beside the notebook"),
    ('[a\n', r"not valid TOML"),
    (CHECKPOINT.format(extra='["m.npz"]', tiers='[{accuracy = 0.5, points = 2}]', more='seconds = 3\n'),
     r"\[a.checkpoint\]: expected the keys file and tiers .*unknown \['seconds'\]"),
    (CHECKPOINT.format(extra='[]', tiers='[{accuracy = 0.5, points = 2}]', more=''),
     r"file 'm.npz' must be listed in extra_files \[\]"),
    (CHECKPOINT.format(extra='["m.npz"]', tiers='[{accuracy = 0.6, points = 2}, {accuracy = 0.5, points = 1}]', more=''),
     r"each tier needs an accuracy in \(0, 1\], increasing, and points > 0"),
    (CHECKPOINT.format(extra='["m.npz"]', tiers='[{accuracy = 50, points = 2}]', more=''),
     r"each tier needs an accuracy in \(0, 1\]"),
    (CHECKPOINT.format(extra='["m.npz"]', tiers='[{accuracy = 0.5, points = 2}]', more='max_parameters = -1\n'),
     r"max_parameters must be a positive int, got -1"),
])
def test_a_bad_tasks_file_is_an_error_saying_what_was_expected(tmp_path, toml, message):
    layout = make_kit(tmp_path)
    layout.tasks_file.write_text(toml)
    with pytest.raises(ReleaseError, match=message):
        load_catalog(layout.tasks_file, layout.lib_dir)
