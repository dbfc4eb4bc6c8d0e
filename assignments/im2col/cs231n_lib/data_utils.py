"""CIFAR-10 loaders with CS231n's names and behaviour.

Where the data is, when no folder is given (see ``cs231n_lib.datasets.locate``):
``$CS231N_DATA``, then the course folder ``$CS231N_COURSE_DATA`` (default ``/srv/cs231n/data``),
then the repository's ``datasets/``. When it is nowhere, a ``DataNotFoundError`` (a
FileNotFoundError) says the one command that gets it:
``python -m cs231n_lib.datasets fetch cifar10``.

Difference from CS231n: images are float32 by default (``dtype=``); CS231n used float64
(``astype("float")``), which doubles the memory (1.2 GB instead of 600 MB for the train set).
Pass ``dtype=np.float64`` to reproduce CS231n's numbers bit for bit.
"""

from cs231n_lib.backend import np

from .datasets.cifar10 import IMAGE_SHAPE, TEST_BATCH, TRAIN_BATCHES, read_pickle
from .datasets.errors import VerificationError
from .datasets.locate import DataNotFoundError, find_cifar10
from .datasets.manifest import manifest_problems, read_manifest

__all__ = ["load_CIFAR_batch", "load_CIFAR10", "get_CIFAR10_data", "DataNotFoundError"]


def _read_raw_batch(filename):
    """One batch as stored: data (N, 3072) uint8 (each row C, H, W flattened), labels (N,) int64."""
    batch = read_pickle(filename)
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != np.prod(IMAGE_SHAPE) or len(labels) != len(data):
        raise VerificationError(filename, [f"b'data' has shape {data.shape} with {len(labels)} "
                                           f"labels, expected (N, 3072) with N labels"])
    return data, labels


def _read_raw_split(folder):
    """(train_data (50000, 3072) uint8, train_labels, test_data (10000, 3072), test_labels)."""
    manifest = read_manifest(folder)
    if manifest is not None:
        # A published copy: a size check against its manifest is free; hashes are `verify`'s job.
        problems = manifest_problems(folder, manifest, check_hashes=False)
        if problems:
            raise VerificationError(folder, problems + ["ask the TA to run "
                                    "`python -m cs231n_lib.datasets verify`"])
    train = [_read_raw_batch(folder / name) for name in TRAIN_BATCHES]
    train_data = np.concatenate([data for data, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    test_data, test_labels = _read_raw_batch(folder / TEST_BATCH)
    return train_data, train_labels, test_data, test_labels


def _to_images(rows, dtype, layout):
    """rows (N, 3072) uint8 -> images of ``dtype`` in layout 'NHWC' (N, 32, 32, 3) or 'NCHW'."""
    N = rows.shape[0]
    images = rows.reshape(N, *IMAGE_SHAPE)  # (N, C, H, W): the stored order
    if layout == "NHWC":
        images = images.transpose(0, 2, 3, 1)  # (N, H, W, C)
    return images.astype(dtype)  # astype copies, so the result is contiguous


def load_CIFAR_batch(filename, dtype=np.float32):
    """Load one CIFAR-10 batch file.

    Returns X: (N, 32, 32, 3) of ``dtype`` (pixel values 0..255) and Y: (N,) int64 labels.
    """
    data, labels = _read_raw_batch(filename)
    return _to_images(data, dtype, "NHWC"), labels


def load_CIFAR10(ROOT=None, dtype=np.float32):
    """Load all of CIFAR-10.

    ROOT: the ``cifar-10-batches-py`` folder (or the folder holding it); None searches the
    places listed in this module's docstring.
    Returns Xtr: (50000, 32, 32, 3), Ytr: (50000,), Xte: (10000, 32, 32, 3), Yte: (10000,).
    """
    folder = find_cifar10(ROOT)
    train_data, Ytr, test_data, Yte = _read_raw_split(folder)
    return _to_images(train_data, dtype, "NHWC"), Ytr, _to_images(test_data, dtype, "NHWC"), Yte


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000,
                     subtract_mean=True, dtype=np.float32, cifar10_dir=None, with_mean_image=False):
    """CIFAR-10 ready for a ConvNet, as in CS231n.

    The validation set is the ``num_validation`` train images after the first
    ``num_training``; the test set is the first ``num_test`` test images. With
    ``subtract_mean`` the mean image of the training set is subtracted from all three.
    Returns a dict: X_train (num_training, 3, 32, 32), y_train (num_training,), X_val, y_val,
    X_test, y_test; X of ``dtype`` in (N, C, H, W), y int64. ``with_mean_image`` adds
    ``mean_image`` (3, 32, 32) float64, what was subtracted (zeros without ``subtract_mean``): a
    checkpoint stores it (``cs231n_lib.checkpoint``), so the model can be run on raw pixels.

    CS231n loaded (N, H, W, C) and transposed back; the stored rows already are (C, H, W),
    so they are reshaped straight into (N, C, H, W): same values, one copy fewer.
    """
    for name, value in (("num_training", num_training), ("num_validation", num_validation),
                        ("num_test", num_test)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    folder = find_cifar10(cifar10_dir)
    train_data, train_labels, test_data, test_labels = _read_raw_split(folder)
    if num_training + num_validation > len(train_data):
        raise ValueError(f"num_training + num_validation = {num_training + num_validation} but "
                         f"{folder} has {len(train_data)} train images")
    if num_test > len(test_data):
        raise ValueError(f"num_test = {num_test} but {folder} has {len(test_data)} test images")

    val_rows = slice(num_training, num_training + num_validation)
    data = {
        "X_train": _to_images(train_data[:num_training], dtype, "NCHW"),
        "y_train": train_labels[:num_training].copy(),
        "X_val": _to_images(train_data[val_rows], dtype, "NCHW"),
        "y_val": train_labels[val_rows].copy(),
        "X_test": _to_images(test_data[:num_test], dtype, "NCHW"),
        "y_test": test_labels[:num_test].copy(),
    }
    mean_image = np.zeros(IMAGE_SHAPE, dtype=dtype)
    if subtract_mean and num_training > 0:
        # Accumulate in float64 so a float32 mean over 49,000 images loses no precision.
        mean_image = data["X_train"].mean(axis=0, dtype=np.float64).astype(dtype)  # (C, H, W)
        for key in ("X_train", "X_val", "X_test"):
            data[key] -= mean_image
    if with_mean_image:
        data["mean_image"] = mean_image.astype(np.float64)
    return data
