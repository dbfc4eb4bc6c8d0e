"""The real cs231n_lib, stubbed as the release ships it: it parses, imports, and fails loudly per task.

The stubbed copy is imported in a child process started in a temporary folder, so that
``import cs231n_lib`` finds the stubs and not the reference the venv has installed
(the child reports ``cs231n_lib.__file__`` and the test checks it).
"""

import ast
import json
import pickle
import subprocess
import sys
import textwrap

import pytest

from autograder.files import copy_tree
from autograder.course import Layout
from autograder.stubs import python_files, stub_message, write_stubs
from autograder.tasks import load_catalog
from cs231n_lib import fast_layers, im2col, layers, optim
from cs231n_lib.backend import np
from cs231n_lib.classifiers.cnn import ThreeLayerConvNet

LAYOUT = Layout.of_repo()
CATALOG = load_catalog(LAYOUT.tasks_file, LAYOUT.lib_dir)
TASKS = {task.name: task for assignment in CATALOG.assignments for task in assignment.tasks}


@pytest.fixture(scope="module")
def stubbed_root(tmp_path_factory):
    """A folder holding a stubbed copy of cs231n_lib, as in a release."""
    root = tmp_path_factory.mktemp("stubbed")
    copy_tree(LAYOUT.lib_dir, root / LAYOUT.lib_name)
    write_stubs(root / LAYOUT.lib_name, CATALOG)
    return root


def task_calls():
    """{task: (module, qualname, args)}: valid arguments for every task, caches from the reference."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    conv_param, pool_param = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    x2, w2, b2 = rng.standard_normal((2, 6)), rng.standard_normal((6, 3)), rng.standard_normal(3)
    conv_out, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    pool_out, pool_cache = layers.max_pool_forward_naive(x, pool_param)
    cols = im2col.im2col(x, 3, 3, 1, 1)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=5,
                              dtype=np.float64)
    return {
        "layers.affine_forward": ("layers", "affine_forward", (x2, w2, b2)),
        "layers.affine_backward": ("layers", "affine_backward", (x2 @ w2, (x2, w2, b2))),
        "layers.relu_forward": ("layers", "relu_forward", (x,)),
        "layers.relu_backward": ("layers", "relu_backward", (x, x)),
        "layers.conv_forward_naive": ("layers", "conv_forward_naive", (x, w, b, conv_param)),
        "layers.conv_backward_naive": ("layers", "conv_backward_naive", (conv_out, conv_cache)),
        "layers.max_pool_forward_naive": ("layers", "max_pool_forward_naive", (x, pool_param)),
        "layers.max_pool_backward_naive": ("layers", "max_pool_backward_naive", (pool_out, pool_cache)),
        "im2col.im2col": ("im2col", "im2col", (x, 3, 3, 1, 1)),
        "im2col.col2im": ("im2col", "col2im", (cols, x.shape, 3, 3, 1, 1)),
        "fast_layers.conv_forward_im2col": ("fast_layers", "conv_forward_im2col", (x, w, b, 1, 1, 1)),
        "classifiers.cnn.ThreeLayerConvNet.__init__": (
            "classifiers.cnn", "ThreeLayerConvNet", ((3, 8, 8), 2, 3, 5)),
        # The model was built by the reference; unpickled in the child it is the stubbed class.
        "classifiers.cnn.ThreeLayerConvNet.loss": (
            "classifiers.cnn", "ThreeLayerConvNet.loss", (model, rng.standard_normal((2, 3, 8, 8)))),
    }


CHILD = textwrap.dedent('''
    import importlib, json, pickle, sys
    import cs231n_lib

    calls, working = pickle.load(open(sys.argv[1], "rb"))
    report = {"file": cs231n_lib.__file__, "raised": {}, "working": {}}
    for task, (module, qualname, args) in calls.items():
        target = importlib.import_module("cs231n_lib." + module)
        for part in qualname.split("."):
            target = getattr(target, part)
        try:
            target(*args)
            report["raised"][task] = None
        except NotImplementedError as error:
            report["raised"][task] = str(error)
    from cs231n_lib.layers import softmax_loss
    from cs231n_lib.optim import sgd
    loss, dx = softmax_loss(*working["softmax_loss"])
    next_w, _ = sgd(*working["sgd"])
    report["working"] = {"softmax_loss": [loss, dx.tolist()], "sgd": next_w.tolist()}
    print(json.dumps(report))
''')


def run_child(root, script, *args):
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_module_parses(stubbed_root):
    for path in python_files(stubbed_root / LAYOUT.lib_name):
        ast.parse(path.read_text(encoding="utf-8"), str(path))


def test_every_module_imports_from_the_stubbed_copy(stubbed_root):
    script = textwrap.dedent('''
        import importlib, pkgutil, cs231n_lib
        names = [m.name for m in pkgutil.walk_packages(cs231n_lib.__path__, "cs231n_lib.")
                 if not m.name.endswith("__main__")]
        for name in names:
            importlib.import_module(name)
        print(cs231n_lib.__file__)
        print(len(names))
    ''')
    file, count = run_child(stubbed_root, script).split()
    assert file == str(stubbed_root / "cs231n_lib" / "__init__.py")
    assert int(count) > 10


def test_each_task_stub_raises_naming_task_and_notebook_and_the_rest_works(stubbed_root, tmp_path):
    calls = task_calls()
    assert sorted(calls) == sorted(TASKS), "add a call for each task of solutions/tasks.toml"
    rng = np.random.default_rng(1)
    scores, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    w, dw = rng.standard_normal(5), rng.standard_normal(5)
    working = {"softmax_loss": (scores, labels), "sgd": (w, dw, {"learning_rate": 0.1})}
    (tmp_path / "calls.pickle").write_bytes(pickle.dumps((calls, working)))

    report = json.loads(run_child(stubbed_root, CHILD, tmp_path / "calls.pickle"))

    assert report["file"] == str(stubbed_root / "cs231n_lib" / "__init__.py")
    for name, message in report["raised"].items():
        assert message == stub_message(TASKS[name]), name
        assert TASKS[name].notebook in message and name in message
    loss, dx = layers.softmax_loss(scores, labels)
    assert report["working"]["softmax_loss"][0] == pytest.approx(loss)
    np.testing.assert_allclose(report["working"]["softmax_loss"][1], dx)
    np.testing.assert_allclose(report["working"]["sgd"], optim.sgd(w, dw, {"learning_rate": 0.1})[0])


def test_no_stubbed_module_keeps_a_marker(stubbed_root):
    for path in python_files(stubbed_root / LAYOUT.lib_name):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path


def test_the_fast_path_reaches_the_im2col_stub(stubbed_root):
    """conv_forward_fast is given, but calls the student's conv_forward_im2col."""
    assert fast_layers.conv_forward_fast  # the reference has it
    script = textwrap.dedent('''
        import numpy as np
        from cs231n_lib.fast_layers import conv_forward_fast
        try:
            conv_forward_fast(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), np.zeros(1), {"stride": 1, "pad": 1})
        except NotImplementedError as error:
            print(error)
    ''')
    assert run_child(stubbed_root, script).strip() == stub_message(TASKS["fast_layers.conv_forward_im2col"])
