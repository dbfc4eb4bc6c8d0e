"""Where the CIFAR-10 batches are: one search order shared by the loaders and the CLI.

1. ``$CS231N_DATA`` when set: a personal override, so it must hold the data (an error
   otherwise, rather than silently using another copy);
2. the published course folder: ``$CS231N_COURSE_DATA``, or ``/srv/cs231n/data`` when unset;
3. the ``datasets/`` folder beside this library (where ``fetch`` and ``get_datasets.sh``
   install by default), then the ``datasets/`` folder of each folder above it, nearest
   first: an assignment folder that sits in the course kit (``assignments/<a>/``) or beside
   a folder of its own data finds what was installed there.

Each place may be the folder that holds ``cifar-10-batches-py/`` or that folder itself.
"""

import os
import pathlib

from .cifar10 import FOLDER_NAME, REQUIRED_FILES
from .errors import DatasetError

DATA_ENV_VAR = "CS231N_DATA"
COURSE_ENV_VAR = "CS231N_COURSE_DATA"
DEFAULT_COURSE_DIR = pathlib.Path("/srv/cs231n/data")
FETCH_COMMAND = "python -m cs231n_lib.datasets fetch cifar10"


class DataNotFoundError(FileNotFoundError, DatasetError):
    """CIFAR-10 is not where it was looked for; the message ends with the one command that fixes it."""


def repo_datasets_dir():
    """``<folder>/datasets`` beside the library: the package lives in ``<folder>/cs231n_lib/datasets/``."""
    return pathlib.Path(__file__).resolve().parents[2] / "datasets"


def datasets_dirs_above():
    """The ``datasets/`` folders of the folders above the library's own folder, nearest first."""
    return [folder / "datasets" for folder in repo_datasets_dir().parent.parents]


def course_dir():
    return pathlib.Path(os.environ.get(COURSE_ENV_VAR) or DEFAULT_COURSE_DIR)


def batches_folder_in(place):
    """The ``cifar-10-batches-py`` folder at or under ``place`` holding every batch, or None."""
    place = pathlib.Path(place)
    for folder in (place / FOLDER_NAME, place):
        if all((folder / name).is_file() for name in REQUIRED_FILES):
            return folder
    return None


def _fetch_hint(place):
    """The one command that installs the data where ``place`` expects it."""
    place = pathlib.Path(place)
    dest = place.parent if place.name == FOLDER_NAME else place
    return f"{FETCH_COMMAND} --dest {dest}"


def search_order():
    """[(label, folder)] in the order loaders look, for the CLI's ``where`` and error messages."""
    places = []
    if os.environ.get(DATA_ENV_VAR):
        places.append((f"${DATA_ENV_VAR}", pathlib.Path(os.environ[DATA_ENV_VAR])))
    course_label = f"${COURSE_ENV_VAR}" if os.environ.get(COURSE_ENV_VAR) else "course folder (default)"
    places.append((course_label, course_dir()))
    places.append(("datasets/ beside the library", repo_datasets_dir()))
    places.extend(("datasets/ of a folder above", folder) for folder in datasets_dirs_above())
    return places


def find_cifar10(root=None):
    """The ``cifar-10-batches-py`` folder to load from.

    root: an explicit folder (the batches folder, as in CS231n, or the folder holding it);
    when None, the search order of this module. Raises DataNotFoundError naming every place
    looked at and the one command that gets the data.
    """
    if root is not None:
        found = batches_folder_in(root)
        if found is None:
            raise DataNotFoundError(f"no CIFAR-10 batches in {root} (expected {FOLDER_NAME}/ with "
                                    f"{', '.join(REQUIRED_FILES)}); get them with: {_fetch_hint(root)}")
        return found
    override = os.environ.get(DATA_ENV_VAR)
    if override:
        found = batches_folder_in(override)
        if found is None:
            raise DataNotFoundError(f"${DATA_ENV_VAR} is set to {override}, which holds no complete "
                                    f"{FOLDER_NAME}/; get it there with: {_fetch_hint(override)}")
        return found
    looked = []
    for label, place in search_order():
        found = batches_folder_in(place)
        if found is not None:
            return found
        looked.append(f"{label} {place}")
    raise DataNotFoundError(f"CIFAR-10 not found (looked in: {'; '.join(looked[:3])}; and the datasets/ "
                            f"folders above; in an assignment folder, datasets/get_datasets.sh installs it "
                            f"beside the library); get it with: {FETCH_COMMAND}")
