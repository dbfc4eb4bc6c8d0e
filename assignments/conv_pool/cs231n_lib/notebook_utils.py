"""Helpers shared by the assignment notebooks: setup, quick mode, partial-credit scoring, data.

Nothing here is a student task. The notebooks use it in three places:

- the setup cell: :func:`show_library_location` prints which copy of ``cs231n_lib`` the
  kernel imported (in the student release it must be the copy beside the notebook);
- the grade cells: a :class:`Score` runs several checks, prints what passed and what
  failed on stdout, and ends the cell with its :class:`CellScore`, a number nbgrader reads
  as partial credit, shown as ``earned / points``;
- the first cell of a later assignment: :func:`check_earlier_work` says which of the
  student's earlier functions are still stubs here, and which files to bring;
- the training cells: :func:`quick_mode` is True while the notebook is graded (the
  autograder, or nbgrader's validate, which sets ``NBGRADER_EXECUTION``) or when
  ``CS231N_QUICK=1``, and long runs shrink; :func:`load_cifar10` falls back to a small
  synthetic data set in quick mode when CIFAR-10 is not installed, and
  :func:`notebook_data` is the one data set of the training notebook, loaded once.

>>> score = Score(points=3)
>>> with score.check("one plus one", points=2):
...     assert 1 + 1 == 2
PASS  one plus one  (2/2)
>>> with score.check("a wrong claim", points=1):
...     assert 1 + 1 == 3, "arithmetic is broken"
FAIL  a wrong claim  (0/1): AssertionError: arithmetic is broken
>>> score.earned
2.0
>>> print(score.earned.text())
2 / 3 points; failed: a wrong claim
"""

import contextlib
import contextvars
import functools
import importlib
import inspect
import linecache
import os
import re
import sys
import traceback
import warnings
from pathlib import Path

from .backend import np, to_numpy

QUICK_ENV_VAR = "CS231N_QUICK"

# Relative errors below this count as equal for float64 checks of exact arithmetic.
DEFAULT_TOLERANCE = 1e-7
# Set by the autograder while it runs grade cells (in its own process, thread by thread).
AUTOGRADING = contextvars.ContextVar("cs231n_autograding", default=False)


# ----------------------------------------------------------------------------- setup

def quick_mode():
    """True while the notebook is graded (the autograder; nbgrader's validate) or when CS231N_QUICK=1.

    Long cells (training, timing) check this and run a short version, so that a whole
    notebook grades in well under a minute.
    """
    if AUTOGRADING.get() or os.environ.get("NBGRADER_EXECUTION"):
        return True
    return os.environ.get(QUICK_ENV_VAR, "").strip().lower() in ("1", "true", "yes")


def show_library_location(package=None, notebook_dir=None):
    """Print where ``cs231n_lib`` was imported from; warn when a copy beside the notebook is ignored.

    In the student release every assignment folder carries its own ``cs231n_lib``: the
    one the student edits. If the kernel imported another copy (an installed one), the
    student's edits would silently have no effect, so say so loudly.
    Returns the imported package folder as a Path.
    """
    if package is None:
        package = sys.modules[__name__.rsplit(".", 1)[0]]
    if package.__file__ is not None:
        imported = Path(package.__file__).resolve().parent
    else:  # a namespace package: found through a stale editable install or a folder on sys.path
        imported = Path(list(package.__path__)[0]).resolve()
    print(f"cs231n_lib imported from {imported}")
    if package.__file__ is None:
        print("NOTE: cs231n_lib was imported as a namespace package (no __init__.py seen); an editable "
              "install made before cs231n_lib/__init__.py existed does this: run `pip install -e .` again.")
    beside = Path(notebook_dir or os.getcwd()).resolve() / "cs231n_lib"
    if beside.is_dir() and beside != imported:
        print(f"WARNING: this folder has its own copy at {beside}, but the kernel imported another one.\n"
              "Your edits to the copy beside this notebook will not be used. Start Jupyter from this "
              "folder (or restart the kernel here) so that the local copy comes first on sys.path.")
    print(f"quick mode: {quick_mode()}")
    return imported


# ----------------------------------------------------------------------------- scoring

class CellScore(float):
    """What a grade cell ends with: a number for nbgrader, shown to people as ``earned / points``.

    The float is what nbgrader reads as the cell's partial credit (``text/plain``); notebooks
    render :meth:`text` instead (``text/markdown``), e.g. ``2 / 3 points so far: every public
    check passed; 1 point of hidden checks runs when your notebook is graded``.

    In the student's notebook the hidden checks are not there, so the float counts them as
    passed when no public check failed: a notebook that passes every public check then
    passes nbgrader's validate, and one that fails a check does not (see
    ``Score.earned``). While grading, the float is exactly the points earned.
    """

    def __new__(cls, value, earned, points, unchecked, failures):
        number = super().__new__(cls, value)
        number.points_earned = earned    # what the checks that ran earned
        number.points = points           # the cell's points (None when the cell does not say)
        number.unchecked = unchecked     # points of checks that did not run here (hidden ones)
        number.failures = tuple(failures)
        return number

    def text(self):
        """One line for people: earned / points, then what failed or what is still to come."""
        total = self.points if self.points is not None else self.points_earned
        line = f"{self.points_earned:g} / {total:g} points"
        if self.failures:
            return f"{line}; failed: {', '.join(self.failures)}"
        if self.unchecked > 0:
            return (f"{line} so far: every public check passed; {self.unchecked:g} "
                    f"point{'' if self.unchecked == 1 else 's'} of hidden checks "
                    f"run{'s' if self.unchecked == 1 else ''} when your notebook is graded")
        return line

    def _repr_markdown_(self):
        return f"**{self.text()}**"


class Score:
    """Points earned by a grade cell, one check at a time, for nbgrader's partial credit.

    ``Score(points=N)``: N is the cell's points (its nbgrader ``points``, hidden checks
    included; the release checks that the two agree). Each ``with score.check(description,
    points):`` block is one check: it earns its points when the block finishes without an
    exception. A failing block prints the reason on stdout (nbgrader zeroes any grade cell
    that writes to stderr, so nothing goes there) and the cell carries on with the next
    check. ``NotImplementedError`` is the one exception let through: an unfinished
    function should stop the notebook with its own message, and it earns nothing either way.

    End a grade cell with ``score.earned``: the cell's value, a :class:`CellScore`.
    """

    def __init__(self, points=None):
        self.points = None if points is None else float(points)
        self.passed_points = 0.0   # points of the checks that passed
        self.possible = 0.0        # points of the checks that ran
        self.failures = []

    @property
    def earned(self):
        """The cell's value: the points earned, as a :class:`CellScore`.

        While grading (the autograder, nbgrader's autograde) the hidden checks have run and
        the number is exactly the points earned. Elsewhere, in the student's notebook and in
        nbgrader's validate, checks that did not run here (the hidden ones) count as passed
        when no check failed: the cell then shows its full points to nbgrader, which is
        what "nothing is known to be wrong" means in nbgrader's rules.
        """
        unchecked = 0.0 if self.points is None else max(self.points - self.possible, 0.0)
        value = self.passed_points
        if not self.failures and unchecked > 0 and not _grading():
            value += unchecked
        return CellScore(value, self.passed_points, self.points, unchecked, self.failures)

    @contextlib.contextmanager
    def check(self, description, points):
        """Run one check worth ``points``; see the class docstring."""
        self.possible += points
        try:
            with quiet():
                yield
        except NotImplementedError:
            raise
        except Exception as error:  # a student's bug of any kind costs this check only
            self.failures.append(description)
            self.report(description, points, error)
        else:
            self.passed_points += points
            self.report(description, points, None)

    def report(self, description, points, error):
        """Print one check's outcome (``error`` None when it passed); the autograder also records it."""
        if error is None:
            print(f"PASS  {description}  ({points:g}/{points:g})")
        else:
            print(f"FAIL  {description}  (0/{points:g}): {describe_failure(error)}")

    def summary(self):
        """One line: points earned out of the points checked so far."""
        return f"{self.passed_points:g} / {self.possible:g} points"


def _grading():
    """True while every check of a cell runs: the autograder, or nbgrader's autograde."""
    return AUTOGRADING.get() or os.environ.get("NBGRADER_EXECUTION") == "autograde"


def describe_failure(error):
    """The exception type and message, and the line of student code it came from when known.

    An error raised inside NumPy (a shape mismatch in ``tensordot``, a broadcast that fails)
    is described from the student's line that called NumPy, with the shapes of the arrays
    there, and a hint when one of them looks wrongly zero-padded.
    """
    text = f"{type(error).__name__}: {error}"
    if hasattr(error, "where"):
        return text  # raised for code that ran elsewhere (the autograder's sandbox): its message says where
    steps = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
             if not _is_helper_file(frame.f_code.co_filename)]
    # The innermost frame outside NumPy, this module and the grade cell is usually the student's line.
    own = [(frame, line) for frame, line in steps if not _is_array_library(frame.f_code.co_filename)]
    if not own or isinstance(error, AssertionError):
        return text
    frame, line_number = own[-1]
    filename = frame.f_code.co_filename
    source = linecache.getline(filename, line_number).strip()
    text += f"\n      at {Path(filename).name}:{line_number} in {frame.f_code.co_name}: {source}"
    inside = [f for f, _ in steps if _is_array_library(f.f_code.co_filename)]
    if inside and steps[-1][0] is inside[-1]:
        text += f"\n      (raised inside NumPy's {inside[0].f_code.co_name}, called from that line)"
        text += _array_shapes_note(frame.f_locals)
    return text


def _is_helper_file(filename):
    return filename == __file__ or filename.startswith("<") or "ipykernel_" in filename


def _is_array_library(filename):
    parts = Path(filename).parts
    return "numpy" in parts or "cupy" in parts


def _array_shapes_note(local_values):
    """The shapes of the arrays a frame holds, and a hint when one is another padded on every axis."""
    arrays = {name: value for name, value in local_values.items()
              if hasattr(value, "shape") and hasattr(value, "ndim") and value.ndim > 0}
    if not arrays:
        return ""
    note = "\n      arrays there: " + ", ".join(f"{name} {tuple(value.shape)}" for name, value in arrays.items())
    for padded_name, padded in arrays.items():
        for name, original in arrays.items():
            if original.ndim != padded.ndim or original.ndim < 3:
                continue
            growth = {int(a) - int(b) for a, b in zip(padded.shape, original.shape)}
            if len(growth) == 1 and growth.pop() > 0:
                note += (f"\n      hint: {padded_name} is {name} padded on every axis; zero padding goes on the "
                         f"height and width only: np.pad({name}, ((0, 0), (0, 0), (pad, pad), (pad, pad)))")
                return note
    return note


def report_gradient_errors(errors, title=None):
    """Print CS231n's lines ``dx error: 8.05e-09`` for each gradient, with what to expect.

    ``errors``: ``{input name: relative error}`` as :func:`check_gradient` returns it.
    """
    if title:
        print(f"Testing {title}:")
    for name, error in errors.items():
        print(f"d{name} error: {error:.2e}")
    print("(each should be about 1e-8 or smaller; 1e-3 or larger means that gradient is wrong)")
    if not AUTOGRADING.get():
        print("(here your backward is compared with the numerical gradient of your own forward, which proves it "
              "right only if the forward is; when graded, it is compared with the reference gradient)")


# The statement the release puts in place of each part a student writes (autograder/stubs.py
# writes it; a test keeps the two in step): a line of its own that raises NotImplementedError
# with "<task>: your task in <assignment>/<notebook>; ...".
STUB_PATTERN = re.compile(r'^[ \t]*raise NotImplementedError\("([\w.]+): your task in (\w+)/', re.MULTILINE)


def stubbed_tasks(source):
    """[(task, assignment)] of the stubs left in Python source text, in order.

    >>> stub = "im2col.im2col: your task in im2col/Im2col.ipynb; see the notebook's instructions"
    >>> stubbed_tasks(f'def im2col(x):\\n    raise NotImplementedError("{stub}")\\n')
    [('im2col.im2col', 'im2col')]
    """
    return STUB_PATTERN.findall(source)


def check_earlier_work(functions):
    """Stop with a clear message when any of ``functions`` is still a stub in this copy of the library.

    ``functions``: names relative to the library, e.g. ``["layers.affine_forward",
    "im2col.im2col"]``: what this notebook runs of the earlier assignments. A stub is found
    by its message (``your task in <assignment>/<notebook>``), so the message says which
    assignment each function comes from and which files of that assignment to bring.
    Prints a line when everything is there; raises ``NotImplementedError`` otherwise.
    """
    package = __name__.rsplit(".", 1)[0]
    missing = {}   # assignment -> {file: [functions]}
    for name in functions:
        module_name, _, attribute = name.rpartition(".")
        module = importlib.import_module(f"{package}.{module_name}")
        function = getattr(module, attribute)
        linecache.checkcache(module.__file__)
        for _, assignment in stubbed_tasks(inspect.getsource(function))[:1]:
            file = f"{package}/{module_name.replace('.', '/')}.py"
            missing.setdefault(assignment, {}).setdefault(file, []).append(name)
    if not missing:
        print("Your functions from the earlier assignments are all here.")
        return
    lines = ["this notebook runs functions you wrote in earlier assignments, and this folder's copy of "
             "the library still has their stubs:"]
    for assignment, files in missing.items():
        for file, names in files.items():
            lines.append(f"  {', '.join(names)}: bring {file} from your {assignment} folder")
    folders = " ".join(f"../{assignment}" for assignment in missing)
    lines.append(f"Copy those files over, or run in a terminal, in this folder: "
                 f"python bring_earlier_work.py {folders}")
    lines.append("then run this cell again.")
    raise NotImplementedError("\n".join(lines))


@contextlib.contextmanager
def quiet():
    """Silence Python warnings and NumPy floating-point warnings (they would go to stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def assert_close(name, actual, expected, tol=DEFAULT_TOLERANCE):
    """Raise AssertionError unless ``actual`` matches ``expected`` in shape and to ``tol`` relative error.

    The message names the value, the shapes, the NaN or infinite values (never close to anything),
    or the relative error and the worst index. Returns the relative error.
    """
    from .gradient_check import compare_arrays
    if actual is None:
        raise AssertionError(f"{name} is None: the function did not set it")
    comparison = compare_arrays(name, actual, expected, rtol=tol)
    if not comparison.passed:
        raise AssertionError(comparison.message)
    return comparison.error


def report_error(name, actual, expected):
    """Print CS231n's line ``Testing <name>: relative error <e>`` and return the error."""
    from .gradient_check import rel_error
    error = rel_error(actual, expected)
    print(f"Testing {name}: relative error {error:.2e}")
    return error


# ----------------------------------------------------------------------------- data

class SyntheticData(dict):
    """The dict of :func:`synthetic_cifar10`; its type tells notebooks the data is not CIFAR-10."""


def is_synthetic(data):
    """True for the synthetic stand-in, False for real CIFAR-10."""
    return isinstance(data, SyntheticData)


def synthetic_cifar10(num_training=500, num_validation=100, num_test=100, num_classes=10,
                      image_shape=(3, 32, 32), seed=0, dtype=np.float32, with_mean_image=False):
    """A small stand-in for CIFAR-10: one smooth random template per class plus noise.

    Learnable (a ConvNet gets well above chance in a few epochs) and quick to make.
    Returns a dict like ``get_CIFAR10_data``: X_* (N, C, H, W) of ``dtype``, y_* (N,) int64,
    zero-mean over the training set; ``with_mean_image`` adds the ``mean_image`` subtracted.

    >>> data = synthetic_cifar10(num_training=20, num_validation=5, num_test=5)
    >>> data["X_train"].shape, data["y_val"].shape
    ((20, 3, 32, 32), (5,))
    """
    rng = np.random.default_rng(seed)
    C, H, W = image_shape
    coarse = rng.standard_normal((num_classes, C, max(H // 8, 1), max(W // 8, 1)))
    # Blow each coarse pattern up to full size, so the class signal is spatially smooth
    # (like objects) rather than pixel noise.
    templates = coarse.repeat(8, axis=2).repeat(8, axis=3)[:, :, :H, :W]  # (classes, C, H, W)

    def split(count):
        labels = rng.integers(num_classes, size=count)
        images = 40.0 * templates[labels] + 60.0 * rng.standard_normal((count, C, H, W))
        return images.astype(dtype), labels.astype(np.int64)

    data = SyntheticData()
    for name, count in (("train", num_training), ("val", num_validation), ("test", num_test)):
        data[f"X_{name}"], data[f"y_{name}"] = split(count)
    mean_image = data["X_train"].mean(axis=0)
    for name in ("train", "val", "test"):
        data[f"X_{name}"] -= mean_image
    if with_mean_image:
        data["mean_image"] = mean_image.astype(np.float64)
    return data


def load_cifar10(num_training=49000, num_validation=1000, num_test=1000, dtype=np.float32):
    """CIFAR-10 from ``data_utils.get_CIFAR10_data``, or a synthetic stand-in in quick mode.

    When the data is not installed: in quick mode (autograding, tests) this prints a note
    and returns :func:`synthetic_cifar10` of the same sizes; otherwise the loader's
    error, which names the command that fetches the data, is raised. The autograder always
    uses the stand-in: the student's code runs where no data is installed, and both sides
    of a check must see the same images.
    Returns the dict of X_train, y_train, X_val, y_val, X_test, y_test (mean subtracted) and
    mean_image (C, H, W), the training mean they were centred with (a checkpoint stores it).
    """
    if AUTOGRADING.get():
        return synthetic_cifar10(num_training, num_validation, num_test, dtype=dtype, with_mean_image=True)
    try:
        from .data_utils import get_CIFAR10_data
        return get_CIFAR10_data(num_training=num_training, num_validation=num_validation,
                                num_test=num_test, dtype=dtype, with_mean_image=True)
    except FileNotFoundError as error:
        if not quick_mode():
            raise
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    except ImportError as error:  # a copy of the library without the loader
        if not quick_mode():
            raise
        reason = f"cannot import the CIFAR-10 loader ({error})"
    print(f"NOTE: CIFAR-10 is not available here ({reason}).\n"
          f"Quick mode: using a small SYNTHETIC data set of the same shapes instead; "
          f"accuracies below say nothing about CIFAR-10.")
    return synthetic_cifar10(num_training, num_validation, num_test, dtype=dtype, with_mean_image=True)


# The training notebook's sizes: all of CIFAR-10, or a small part of it in quick mode.
NOTEBOOK_SIZES = {False: {}, True: {"num_training": 800, "num_validation": 500, "num_test": 100}}


def notebook_data():
    """The training notebook's data set: :func:`load_cifar10` at its sizes, loaded once per kernel.

    Cells and grade cells call this instead of passing ``data`` around, so a grade cell
    can build its own copy (the autograder runs grade cells apart from the student's
    code). Returns a new dict each time, holding the same arrays: do not change them in place.
    """
    data = load_cifar10(**NOTEBOOK_SIZES[True]) if AUTOGRADING.get() else _load_once(quick_mode())
    return type(data)(data)   # a SyntheticData stays one


@functools.lru_cache(maxsize=2)
def _load_once(quick):
    return load_cifar10(**NOTEBOOK_SIZES[quick])
