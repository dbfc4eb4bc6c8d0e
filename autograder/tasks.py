"""Read and check ``solutions/tasks.toml``: which assignment asks for which function of the library.

Each table is one assignment::

    [conv_pool]
    notebook = "ConvPool.ipynb"
    title = "Conv and pool layers"
    tasks = ["layers.conv_forward_naive", "classifiers.cnn.ThreeLayerConvNet.loss"]

A task names a function as ``module.function`` or ``module.Class.method``, relative to the
library. Which dotted prefix is the module is decided by the files that exist, so
``classifiers.cnn.ThreeLayerConvNet.loss`` is ``classifiers/cnn.py``, ``ThreeLayerConvNet.loss``.
"""

import dataclasses
import re
import tomllib
from pathlib import Path

from .errors import ReleaseError

ASSIGNMENT_KEYS = {"notebook", "title", "tasks"}
# Optional: files beside the notebook that students submit too (e.g. a trained model), and how the
# grader itself grades a submitted model checkpoint (a [<assignment>.checkpoint] table).
OPTIONAL_KEYS = {"extra_files", "checkpoint"}
CIFAR10_TEST = "cifar10-test"
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class CheckpointGrading:
    """``[<assignment>.checkpoint]``: the grader evaluates the submitted checkpoint on a held-out set.

    tiers: ((accuracy, points), ...) in increasing accuracy; reaching a tier earns its points and
    those of every tier below it. held_out: ``cifar10-test`` (CIFAR-10's test split, found as the
    library's loaders find the data) or a ``.npz`` of ``X`` (N, C, H, W) raw pixels 0..255 and ``y``
    (N,), relative to the course directory. The max_* bounds and eval_seconds bound what one
    checkpoint can make the grader do; honesty_margin is how far (in accuracy, 0.05 = 5 points) the
    accuracy the student reported may be from the measured one before the integrity report says so.
    """
    file: str
    tiers: tuple[tuple[float, float], ...]
    held_out: str = CIFAR10_TEST
    max_file_bytes: int = 50 * 2**20
    max_parameters: int = 5_000_000
    max_flops_per_image: int = 200_000_000
    eval_seconds: float = 120.0
    honesty_margin: float = 0.05

    @property
    def points(self) -> float:
        return float(sum(points for _, points in self.tiers))


@dataclasses.dataclass(frozen=True)
class Task:
    """One function a student writes."""
    name: str            # as in tasks.toml: "classifiers.cnn.ThreeLayerConvNet.loss"
    assignment: str      # "train_cifar10"
    notebook: str        # "TrainCIFAR10.ipynb", the notebook that checks it
    module_file: Path    # relative to the library: classifiers/cnn.py
    qualname: str        # inside the module: "ThreeLayerConvNet.loss"


@dataclasses.dataclass(frozen=True)
class Assignment:
    name: str
    notebook: str
    title: str
    tasks: tuple[Task, ...]
    extra_files: tuple[str, ...] = ()   # submitted beside the notebook when they exist
    checkpoint: CheckpointGrading | None = None   # the submitted model, graded by the grader itself

    def module_files(self) -> list[Path]:
        """The library files this assignment's students edit, sorted, without repeats."""
        return sorted({task.module_file for task in self.tasks})


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Every assignment of tasks.toml, in file order, with its tasks resolved to files."""
    assignments: tuple[Assignment, ...]

    def names(self) -> list[str]:
        return [a.name for a in self.assignments]

    def get(self, name: str) -> Assignment:
        for assignment in self.assignments:
            if assignment.name == name:
                return assignment
        raise ReleaseError(f"unknown assignment {name!r}: tasks.toml lists {', '.join(self.names())}")

    def tasks_by_file(self) -> dict[Path, dict[str, Task]]:
        """{module file: {qualname: task}} over all assignments."""
        by_file: dict[Path, dict[str, Task]] = {}
        for assignment in self.assignments:
            for task in assignment.tasks:
                by_file.setdefault(task.module_file, {})[task.qualname] = task
        return by_file

    def student_files(self) -> frozenset[str]:
        """The library files (posix paths relative to the library) that hold a task of any assignment:
        the student's own files, graded as the student wrote them (every other file comes from the release)."""
        return frozenset(path.as_posix() for path in self.tasks_by_file())


def load_catalog(tasks_file: Path, lib_dir: Path) -> Catalog:
    """Parse and check tasks.toml; every task must name an existing module file of ``lib_dir``."""
    tasks_file = Path(tasks_file)
    try:
        data = tomllib.loads(tasks_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{tasks_file}: not found; it lists each assignment's notebook and tasks") from None
    except tomllib.TOMLDecodeError as error:
        raise ReleaseError(f"{tasks_file}: not valid TOML: {error}") from None
    if not data:
        raise ReleaseError(f"{tasks_file}: expected at least one [assignment] table, found none")

    assignments = []
    owner_of: dict[str, str] = {}
    for name, table in data.items():
        where = f"{tasks_file} [{name}]"
        assignment = _parse_assignment(name, table, where, Path(lib_dir))
        for task in assignment.tasks:
            if task.name in owner_of:
                raise ReleaseError(f"{where}: task {task.name!r} is already listed in [{owner_of[task.name]}]; "
                                   f"each function belongs to exactly one assignment")
            owner_of[task.name] = name
        assignments.append(assignment)
    return Catalog(tuple(assignments))


def _parse_assignment(name, table, where: str, lib_dir: Path) -> Assignment:
    if not NAME_PATTERN.match(name):
        raise ReleaseError(f"{where}: an assignment name must be a Python-style identifier "
                           f"(it becomes a folder and an nbgrader assignment id), got {name!r}")
    if not isinstance(table, dict):
        raise ReleaseError(f"{where}: expected a table with {sorted(ASSIGNMENT_KEYS)}, got {table!r}")
    missing = ASSIGNMENT_KEYS - table.keys()
    unknown = table.keys() - ASSIGNMENT_KEYS - OPTIONAL_KEYS
    if missing or unknown:
        raise ReleaseError(f"{where}: expected the keys {sorted(ASSIGNMENT_KEYS)} (and optionally "
                           f"{sorted(OPTIONAL_KEYS)}); missing {sorted(missing)}, unknown {sorted(unknown)}")
    extra_files = table.get("extra_files", [])
    if not isinstance(extra_files, list) or not all(isinstance(f, str) and f and "/" not in f and f not in (".", "..")
                                                    for f in extra_files):
        raise ReleaseError(f"{where}: extra_files must be a list of file names beside the notebook, got {extra_files!r}")
    notebook, title, task_names = table["notebook"], table["title"], table["tasks"]
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb") or "/" in notebook:
        raise ReleaseError(f"{where}: notebook must be a file name ending in .ipynb, got {notebook!r}")
    if not isinstance(title, str) or not title.strip():
        raise ReleaseError(f"{where}: title must be a non-empty string, got {title!r}")
    if not isinstance(task_names, list) or not all(isinstance(t, str) for t in task_names):
        raise ReleaseError(f"{where}: tasks must be a list of strings, got {task_names!r}")
    if len(set(task_names)) != len(task_names):
        raise ReleaseError(f"{where}: tasks lists a function twice: {task_names}")
    tasks = tuple(_resolve_task(t, name, notebook, where, lib_dir) for t in task_names)
    # where is "tasks.toml [name]"; the sub-table is named "tasks.toml [name.checkpoint]".
    checkpoint = _parse_checkpoint(table["checkpoint"], f"{where[:-1]}.checkpoint]", extra_files) \
        if "checkpoint" in table else None
    return Assignment(name=name, notebook=notebook, title=title, tasks=tasks, extra_files=tuple(extra_files),
                      checkpoint=checkpoint)


def _parse_checkpoint(table, where: str, extra_files) -> CheckpointGrading:
    fields = {f.name: f for f in dataclasses.fields(CheckpointGrading)}
    if not isinstance(table, dict):
        raise ReleaseError(f"{where}: expected a table with the keys {sorted(fields)}, got {table!r}")
    missing, unknown = {"file", "tiers"} - table.keys(), table.keys() - fields.keys()
    if missing or unknown:
        raise ReleaseError(f"{where}: expected the keys file and tiers (and optionally "
                           f"{sorted(fields.keys() - {'file', 'tiers'})}); missing {sorted(missing)}, "
                           f"unknown {sorted(unknown)}")
    if table["file"] not in extra_files:
        raise ReleaseError(f"{where}: file {table['file']!r} must be listed in extra_files {list(extra_files)}, "
                           f"so that students submit it")
    tiers = table["tiers"]
    if (not isinstance(tiers, list) or not tiers
            or not all(isinstance(t, dict) and t.keys() == {"accuracy", "points"} for t in tiers)):
        raise ReleaseError(f"{where}: tiers must be a list like [{{accuracy = 0.5, points = 2}}, ...], got {tiers!r}")
    pairs = tuple((t["accuracy"], t["points"]) for t in tiers)
    if (not all(isinstance(a, (int, float)) and 0 < a <= 1 and isinstance(p, (int, float)) and p > 0
                for a, p in pairs) or [a for a, _ in pairs] != sorted({a for a, _ in pairs})):
        raise ReleaseError(f"{where}: each tier needs an accuracy in (0, 1], increasing, and points > 0; "
                           f"got {tiers!r}")
    values = {key: value for key, value in table.items() if key not in ("file", "tiers")}
    for key, value in values.items():
        kind = fields[key].type   # str, int or float (where an int is a float too; a bool is neither)
        if (isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind)
                or (kind is not str and value <= 0)):
            raise ReleaseError(f"{where}: {key} must be a positive {kind.__name__}, got {value!r}")
    return CheckpointGrading(file=table["file"], tiers=tuple((float(a), float(p)) for a, p in pairs), **values)


def _resolve_task(task_name: str, assignment: str, notebook: str, where: str, lib_dir: Path) -> Task:
    parts = task_name.split(".")
    if len(parts) < 2 or not all(NAME_PATTERN.match(p) for p in parts):
        raise ReleaseError(f"{where}: task {task_name!r} must be 'module.function' or "
                           f"'module.Class.method' (dotted identifiers, relative to {lib_dir.name})")
    # The longest dotted prefix that is a module file wins; at least one name must remain.
    for split in range(len(parts) - 1, 0, -1):
        module_file = Path(*parts[:split - 1], parts[split - 1] + ".py")
        if (lib_dir / module_file).is_file():
            return Task(name=task_name, assignment=assignment, notebook=notebook,
                        module_file=module_file, qualname=".".join(parts[split:]))
    raise ReleaseError(f"{where}: task {task_name!r} names no module of {lib_dir}: "
                       f"expected a file such as {lib_dir.name}/{parts[0]}.py")
