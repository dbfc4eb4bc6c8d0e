"""What CIFAR-10 (python version) is: where it comes from, its files, and how to read one batch.

The archive holds one folder ``cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5``,
``test_batch`` and ``batches.meta``: Python pickles whose keys are bytes (they were written by
Python 2). A batch holds ``b'data'``: (N, 3072) uint8, each row a 32x32 image stored as
the red plane, then green, then blue, each plane row-major; and ``b'labels'``: N ints in 0..9.

Pickles can run code when loaded, and a course may take its copy from any mirror, so batches
are read with an unpickler that only builds NumPy arrays, lists, dicts, bytes and numbers.
"""

import codecs
import dataclasses
import pickle

from cs231n_lib.backend import np

from .errors import CorruptArchiveError

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
REQUIRED_FILES = TRAIN_BATCHES + (TEST_BATCH, META_FILE)

LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)  # (C, H, W) of one row of b'data'
ROW_LENGTH = 3 * 32 * 32


@dataclasses.dataclass(frozen=True)
class Expectations:
    """The counts a valid install must show. The defaults are the real CIFAR-10 numbers;
    tests pass smaller ones to check a small archive built in the same format.

    >>> Expectations().train_rows_per_batch * len(TRAIN_BATCHES)
    50000
    """
    train_rows_per_batch: int = 10_000
    test_rows: int = 10_000
    train_per_class: int = 5_000   # summed over the five train batches (a single batch varies)
    test_per_class: int = 1_000


CIFAR10 = Expectations()

# The only globals a CIFAR-10 pickle needs: NumPy's array rebuilders. They are taken from
# NumPy itself (what an array's own __reduce__ names) so both the numpy.core (NumPy 1) and
# numpy._core (NumPy 2) spellings map to the same trusted objects.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
_ALLOWED_GLOBALS = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray",
                "numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED_GLOBALS[(_module, "_reconstruct")] = _RECONSTRUCT
    _ALLOWED_GLOBALS[(_module, "_frombuffer")] = _FROMBUFFER
_ALLOWED_GLOBALS[("numpy", "ndarray")] = np.ndarray
_ALLOWED_GLOBALS[("numpy", "dtype")] = np.dtype
# Python 3 writes bytes in protocol 2 as codecs.encode(text, 'latin1'): a course re-pickling
# the batches under Python 3 produces it. It only converts text to bytes.
_ALLOWED_GLOBALS[("_codecs", "encode")] = codecs.encode


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch only holds "
                f"NumPy arrays, lists and bytes") from None


class BatchReadError(CorruptArchiveError):
    """A batch file is not a CIFAR-10 pickle; ``cause`` says why without the path."""

    def __init__(self, path, cause):
        self.path, self.cause = path, cause
        super().__init__(f"{path} is not a readable CIFAR-10 pickle: {cause}")


def read_pickle(path):
    """Load one CIFAR-10 pickle (a batch or batches.meta) as a dict with bytes keys.

    Raises BatchReadError (a CorruptArchiveError) naming the file when it is not such a pickle.
    """
    try:
        with open(path, "rb") as handle:
            loaded = _ArraysOnlyUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError) as error:
        raise BatchReadError(path, f"{type(error).__name__}: {error}") from None
    if not isinstance(loaded, dict):
        raise BatchReadError(path, f"it holds a {type(loaded).__name__}, expected a dict")
    return loaded
