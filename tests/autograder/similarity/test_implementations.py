"""Every implementation of the simulated class and of the shipped corpus is correct.

Honest students must be honest *correct* students (alternatives the grader accepts), and a
"known independent" implementation that is wrong would teach the report nothing. Each file is
spliced into the release as a submission would be; its ``layers.py`` is then imported as a
module of the real ``cs231n_lib`` package (so its relative imports resolve) and compared with
the reference on strides, padding, dilation and tied maxima; its notebook cells are run and
compared with the instructor's.
"""

import importlib.util
import shutil

import numpy as np
import pytest

from autograder.course import Layout
from autograder.notebooks import cell_lines, read_notebook
from autograder.similarity import default_corpus
from cs231n_lib import layers as reference

from .class_builder import ASSIGNMENT, IMPLEMENTATIONS, fill, implementation_bodies

FILES = sorted(p for p in IMPLEMENTATIONS.glob("*.py") if p.name != "__init__.py")
CORPUS = sorted(p for p in default_corpus(ASSIGNMENT).glob("*.py") if p.name != "__init__.py")
# (x shape, w shape, conv_param): non-square filters, stride, padding, dilation
CONV_CASES = [((2, 3, 7, 8), (4, 3, 3, 2), dict(stride=1, pad=0)), ((2, 3, 7, 7), (4, 3, 3, 3), dict(stride=2, pad=1)),
              ((2, 3, 7, 7), (2, 3, 3, 3), dict(stride=1, pad=2, dilation=2)), ((1, 2, 7, 7), (3, 2, 3, 3), dict(stride=3, pad=1))]
POOL_CASES = [dict(pool_height=2, pool_width=2, stride=2), dict(pool_height=3, pool_width=2, stride=1)]


@pytest.fixture(scope="module")
def release():
    return Layout.of_repo().assignments_dir / ASSIGNMENT


@pytest.mark.parametrize("path", FILES + CORPUS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_implementation_agrees_with_the_reference(path, release, tmp_path):
    folder = tmp_path / path.stem
    shutil.copytree(release, folder, ignore=shutil.ignore_patterns("__pycache__"))
    bodies, imports = implementation_bodies(path)
    fill(folder, bodies, imports)
    student = _import_layers(folder / "cs231n_lib" / "layers.py", f"cs231n_lib._similarity_{path.stem}")
    for name in bodies:
        if hasattr(reference, name):
            CHECKS[name.rsplit("_", 1)[0].replace("_naive", "").rsplit("_", 1)[0]](student, np.random.default_rng(0))
    _check_notebook(folder / "ConvPool.ipynb", set(bodies))


def _import_layers(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _close(got, expected):
    np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=1e-9, atol=1e-12)


def _check_affine(student, rng):
    x, w, b, dout = rng.normal(size=(3, 2, 4)), rng.normal(size=(8, 5)), rng.normal(size=5), rng.normal(size=(3, 5))
    _close(student.affine_forward(x, w, b)[0], reference.affine_forward(x, w, b)[0])
    for got, expected in zip(student.affine_backward(dout, (x, w, b)), reference.affine_backward(dout, (x, w, b))):
        _close(got, expected)


def _check_relu(student, rng):
    x, dout = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    _close(student.relu_forward(x)[0], reference.relu_forward(x)[0])
    _close(student.relu_backward(dout, x), reference.relu_backward(dout, x))


def _check_conv(student, rng):
    for x_shape, w_shape, conv_param in CONV_CASES:
        x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
        out, cache = reference.conv_forward_naive(x, w, b, conv_param)
        _close(student.conv_forward_naive(x, w, b, conv_param)[0], out)
        dout = rng.normal(size=out.shape)
        for got, expected in zip(student.conv_backward_naive(dout, cache), reference.conv_backward_naive(dout, cache)):
            _close(got, expected)


def _check_max_pool(student, rng):
    for pool_param in POOL_CASES:
        for x in (rng.normal(size=(2, 3, 6, 6)), rng.integers(0, 2, size=(2, 3, 6, 6)).astype(float)):  # ties
            out, cache = reference.max_pool_forward_naive(x, pool_param)
            _close(student.max_pool_forward_naive(x, pool_param)[0], out)
            dout = rng.normal(size=out.shape)
            _close(student.max_pool_backward_naive(dout, cache), reference.max_pool_backward_naive(dout, cache))


CHECKS = {"affine": _check_affine, "relu": _check_relu, "conv": _check_conv, "max_pool": _check_max_pool}


def _check_notebook(notebook_path, written: set[str]):
    """Run the student's and the instructor's solution cells; compare the functions the student wrote."""
    solutions = Layout.of_repo().solutions_dir / ASSIGNMENT / notebook_path.name
    spaces = []
    for path in (notebook_path, solutions):
        space = {"np": np, "layers": reference}
        for cell in read_notebook(path)["cells"]:
            if cell.get("cell_type") == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                exec("\n".join(cell_lines(cell)), space)  # noqa: S102  our own fixtures and solutions
        spaces.append(space)
    student, instructor = spaces
    rng = np.random.default_rng(1)
    if "conv_single_volume" in written:
        X, filters, biases = rng.normal(size=(7, 7, 3)), rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)
        for stride in (1, 2):
            _close(student["conv_single_volume"](X, filters, biases, stride),
                   instructor["conv_single_volume"](X, filters, biases, stride))
    if "spatial_output_size" in written:
        cases = [(W, F, P, S) for W in range(1, 9) for F in range(1, 6) for P in range(3) for S in range(1, 4)]
        assert [student["spatial_output_size"](*c) for c in cases] == [instructor["spatial_output_size"](*c)
                                                                      for c in cases]
    if "conv_relu_pool_forward_naive" in written:
        x, w, b = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)
        args = (x, w, b, {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2})
        out, cache = instructor["conv_relu_pool_forward_naive"](*args)
        _close(student["conv_relu_pool_forward_naive"](*args)[0], out)
        dout = rng.normal(size=out.shape)
        for got, expected in zip(student["conv_relu_pool_backward_naive"](dout, cache),
                                 instructor["conv_relu_pool_backward_naive"](dout, cache)):
            _close(got, expected)
