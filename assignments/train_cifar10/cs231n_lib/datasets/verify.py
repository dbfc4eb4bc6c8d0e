"""Check an installed ``cifar-10-batches-py/`` folder: files, shapes, dtypes, labels, class totals.

Every problem is collected (not just the first) and named by file, check, expected and found.
Per-batch class counts are not checked: the official train batches are not balanced one by
one; only the totals are (5,000 per class over the five train batches, 1,000 in test).
"""

import dataclasses
import pathlib

from cs231n_lib.backend import np

from .cifar10 import (CIFAR10, LABEL_NAMES, META_FILE, REQUIRED_FILES, ROW_LENGTH, TEST_BATCH,
                      TRAIN_BATCHES, BatchReadError, read_pickle)
from .errors import VerificationError
from .manifest import manifest_problems, read_manifest

NUM_CLASSES = len(LABEL_NAMES)


@dataclasses.dataclass
class VerifyReport:
    """What a successful check found; ``str()`` is the one-line summary the CLI prints."""
    folder: pathlib.Path
    train_images: int
    test_images: int
    train_per_class: int
    test_per_class: int
    manifest_checked: bool

    def __str__(self):
        manifest = ", publish manifest checksums match" if self.manifest_checked else ""
        return (f"OK {self.folder}: {self.train_images} train + {self.test_images} test images, "
                f"{NUM_CLASSES} classes, {self.train_per_class} train / {self.test_per_class} "
                f"test per class{manifest}")


def _check_batch(path, expected_rows, problems):
    """Append the problems of one batch file; return its labels (M,) int64 or None if unusable."""
    name = path.name
    try:
        batch = read_pickle(path)
    except BatchReadError as error:
        problems.append(f"{name}: not a readable CIFAR-10 pickle ({error.cause})")
        return None
    missing = [key for key in (b"data", b"labels") if key not in batch]
    if missing:
        problems.append(f"{name}: missing key(s) {missing}, found {sorted(batch)}")
        return None
    data = batch[b"data"]
    if not isinstance(data, np.ndarray):
        problems.append(f"{name}: b'data' should be a NumPy array, found {type(data).__name__}")
    else:
        if data.shape != (expected_rows, ROW_LENGTH):
            problems.append(f"{name}: b'data' has shape {data.shape}, "
                            f"expected ({expected_rows}, {ROW_LENGTH})")
        if data.dtype != np.uint8:
            problems.append(f"{name}: b'data' has dtype {data.dtype}, expected uint8")
    try:
        labels = np.asarray(batch[b"labels"])
    except (ValueError, TypeError):
        labels = np.asarray([])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        problems.append(f"{name}: b'labels' should be a list of ints, found "
                        f"{labels.dtype} with shape {labels.shape}")
        return None
    if len(labels) != expected_rows:
        problems.append(f"{name}: {len(labels)} labels, expected {expected_rows}")
    out_of_range = labels[(labels < 0) | (labels >= NUM_CLASSES)]
    if out_of_range.size:
        problems.append(f"{name}: {out_of_range.size} labels outside 0..{NUM_CLASSES - 1} "
                        f"(e.g. {int(out_of_range[0])})")
        return None
    return labels.astype(np.int64)


def _check_class_totals(what, labels, expected_per_class, problems):
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    wrong = [f"{LABEL_NAMES[k]} {int(counts[k])}" for k in range(NUM_CLASSES)
             if counts[k] != expected_per_class]
    if wrong:
        problems.append(f"{what}: expected {expected_per_class} images per class, found "
                        + ", ".join(wrong))


def _check_meta(path, problems):
    try:
        meta = read_pickle(path)
    except BatchReadError as error:
        problems.append(f"{META_FILE}: not a readable CIFAR-10 pickle ({error.cause})")
        return
    names = meta.get(b"label_names")
    try:
        decoded = tuple(n.decode() if isinstance(n, bytes) else n for n in names)
    except (TypeError, UnicodeDecodeError):
        decoded = names
    if decoded != LABEL_NAMES:
        problems.append(f"{META_FILE}: b'label_names' is {decoded!r}, expected {LABEL_NAMES!r}")


def verify_folder(folder, expectations=CIFAR10, *, check_manifest=True):
    """Check ``folder`` (a ``cifar-10-batches-py/``) against ``expectations``.

    Returns a VerifyReport; raises VerificationError listing every problem found.
    When the folder carries a publish manifest its SHA-256 sums are checked too.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise VerificationError(folder, ["the folder does not exist"])
    problems = [f"{name}: missing" for name in REQUIRED_FILES if not (folder / name).is_file()]

    train_labels = []
    for name in TRAIN_BATCHES:
        if (folder / name).is_file():
            train_labels.append(_check_batch(folder / name, expectations.train_rows_per_batch,
                                             problems))
    test_labels = None
    if (folder / TEST_BATCH).is_file():
        test_labels = _check_batch(folder / TEST_BATCH, expectations.test_rows, problems)
    if (folder / META_FILE).is_file():
        _check_meta(folder / META_FILE, problems)

    # Totals only mean something when every batch could be read.
    if len(train_labels) == len(TRAIN_BATCHES) and all(l is not None for l in train_labels):
        _check_class_totals("train batches (data_batch_1..5)", np.concatenate(train_labels),
                            expectations.train_per_class, problems)
    if test_labels is not None:
        _check_class_totals(TEST_BATCH, test_labels, expectations.test_per_class, problems)

    manifest = read_manifest(folder) if check_manifest else None
    if manifest is not None:
        problems.extend(manifest_problems(folder, manifest, check_hashes=True))

    if problems:
        raise VerificationError(folder, problems)
    return VerifyReport(folder=folder,
                        train_images=expectations.train_rows_per_batch * len(TRAIN_BATCHES),
                        test_images=expectations.test_rows,
                        train_per_class=expectations.train_per_class,
                        test_per_class=expectations.test_per_class,
                        manifest_checked=manifest is not None)
