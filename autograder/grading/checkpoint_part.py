"""The checkpoint part of a result: the grader evaluates the submitted model itself, on a held-out set.

No student code runs here. The checkpoint is data (:mod:`cs231n_lib.checkpoint`: arrays read with
``allow_pickle=False``, every entry checked); the grader rebuilds the model from it with the
reference library, in its own trusted process, predicts the instructor's held-out images and
scores the accuracy by the tiers of ``[<assignment>.checkpoint]`` in ``solutions/tasks.toml``.
What a checkpoint can make the grader do is bounded before the work: file size, parameter count,
FLOPs per image (checked by the loader) and the evaluation's wall time (checked between batches).

The part of a result (docs/autograder-sandbox.md, "The result file")::

    {"file", "status": "graded" | "lost" | "not graded", "score", "max_score", "accuracy",
     "tier", "reason", "held_out", "examples", "spec", "parameters", "flops_per_image",
     "reported_accuracy", "seconds", "timed_out"}

"not graded" (no held-out set on this machine) counts neither for nor against the student:
``max_score`` 0, and every report says why.
"""

import dataclasses
import functools
import hashlib
import io
import time
from pathlib import Path

from cs231n_lib.backend import np
from cs231n_lib.checkpoint import CheckpointError, CheckpointLimits, load_checkpoint

from ..course import Layout
from ..errors import ReleaseError
from ..files import UnsafeFileError, read_regular_file
from ..tasks import CIFAR10_TEST, CheckpointGrading

BATCH = 100   # images per forward pass at most: the time limit is checked between batches
# Activations a forward pass may hold at once (the layers keep their inputs): 2**26 values, 256 MB
# in float32. A model with large volumes is evaluated in smaller batches (down to one image, whose
# volumes the loader bounds: CheckpointLimits.activations_per_image, 2**24).
EVAL_VALUES = 2**26
PIXEL_RANGE = (0.0, 255.0)


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """Where the held-out set is and what it is (the arrays are loaded where the grading runs)."""
    kind: str            # "cifar10-test" or "npz"
    path: str            # the test batch file, or the .npz
    description: str     # for reports: "CIFAR-10 test split (10,000 images)"
    sha256: str          # the file's digest: part of the grader's fingerprint


@dataclasses.dataclass(frozen=True)
class CheckpointPlan:
    """The checkpoint part of a batch's plan: the instructor's settings and the held-out set, or why none."""
    config: CheckpointGrading
    held_out: HeldOut | None
    not_graded: str | None = None    # the reason when held_out is None

    def fingerprint(self) -> str:
        return hashlib.sha256(repr((self.config, self.held_out.sha256 if self.held_out else None)).encode()).hexdigest()


def checkpoint_plan(layout: Layout, config: CheckpointGrading) -> CheckpointPlan:
    """Find the held-out set of ``config`` and check it now, once per batch: a broken one is the
    instructor's to fix (ReleaseError), a missing one makes the part "not graded"."""
    if config.held_out == CIFAR10_TEST:
        from cs231n_lib.data_utils import DataNotFoundError
        from cs231n_lib.datasets.cifar10 import TEST_BATCH
        from cs231n_lib.datasets.locate import find_cifar10
        try:
            path = find_cifar10() / TEST_BATCH
        except DataNotFoundError as error:
            return CheckpointPlan(config, None, f"not graded: no held-out set (CIFAR-10's test split is not on "
                                                f"the grading machine: {str(error).splitlines()[0][:200]})")
        kind = "cifar10-test"
    else:
        path = layout.course_dir / config.held_out
        if not path.is_file():
            return CheckpointPlan(config, None, f"not graded: no held-out set (no file {path})")
        kind = "npz"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    images, labels = held_out_arrays(kind, str(path), digest)
    description = ("CIFAR-10 test split" if kind == "cifar10-test" else f"held-out set {config.held_out}") \
        + f" ({len(labels):,} images)"
    return CheckpointPlan(config, HeldOut(kind, str(path), description, digest))


@functools.lru_cache(maxsize=2)
def held_out_arrays(kind: str, path: str, sha256: str):
    """(images (N, C, H, W) float32 pixels 0..255, labels (N,) int64), read once per process and set.

    ``sha256`` keys the cache, so a set replaced on disk is read again. Raises ReleaseError
    saying what the set should be.
    """
    if kind == "cifar10-test":
        from cs231n_lib.data_utils import load_CIFAR_batch
        images, labels = load_CIFAR_batch(path)   # (N, H, W, C)
        images = images.transpose(0, 3, 1, 2)      # (N, C, H, W)
    else:
        try:
            with np.load(path, allow_pickle=False) as archive:
                images, labels = archive["X"], archive["y"]
        except (OSError, ValueError, KeyError) as error:
            raise ReleaseError(f"held-out set {path}: expected an .npz of X (N, C, H, W) pixels 0..255 and "
                               f"y (N,) labels, without pickles; reading it failed: {error}") from None
    if (images.ndim != 4 or labels.ndim != 1 or len(images) != len(labels) or len(labels) == 0
            or labels.dtype.kind not in "iu" or images.dtype.kind not in "fiu"):
        raise ReleaseError(f"held-out set {path}: expected X (N, C, H, W) numbers and y (N,) integer labels, "
                           f"N > 0; got X {images.dtype} {images.shape} and y {labels.dtype} {labels.shape}")
    images = np.ascontiguousarray(images, dtype=np.float32)
    if not np.all(np.isfinite(images)) or images.min() < PIXEL_RANGE[0] or images.max() > PIXEL_RANGE[1]:
        raise ReleaseError(f"held-out set {path}: X must hold raw pixels in 0..255 (the checkpoint's "
                           f"preprocessing is applied to them), got values in {images.min()}..{images.max()}")
    images.setflags(write=False)
    return images, labels.astype(np.int64)


def lost_checkpoint(plan: CheckpointPlan, reason: str) -> dict:
    """The part of a student the grader could not grade: 0 with ``reason`` ("not graded" stays so)."""
    part = _empty_part(plan)
    return part if part["status"] == "not graded" else part | {"reason": reason}


def _empty_part(plan: CheckpointPlan) -> dict:
    config = plan.config
    part = {"file": config.file, "status": "lost", "score": 0.0, "max_score": config.points, "accuracy": None,
            "tier": None, "reason": None, "held_out": None, "examples": 0, "spec": None, "parameters": None,
            "flops_per_image": None, "reported_accuracy": None, "honesty_margin": config.honesty_margin,
            "seconds": 0.0, "timed_out": False}
    if plan.held_out is None:
        return part | {"status": "not graded", "max_score": 0.0, "reason": plan.not_graded}
    return part | {"held_out": plan.held_out.description}


def grade_checkpoint(submission: Path, plan: CheckpointPlan) -> dict:
    """The checkpoint part of one student's result (see the module docstring)."""
    config, held_out, part = plan.config, plan.held_out, _empty_part(plan)
    if held_out is None:
        return part
    try:
        data = read_regular_file(submission, config.file, config.max_file_bytes)
    except UnsafeFileError as error:
        missing = not (submission / config.file).exists() and not (submission / config.file).is_symlink()
        return part | {"reason": f"the submission has no {config.file}: save it with the notebook's "
                                 f"train-best-model cell (cs231n_lib.checkpoint.save_checkpoint)" if missing
                       else f"{config.file} could not be read: {error}"}
    limits = CheckpointLimits(file_bytes=config.max_file_bytes, parameters=config.max_parameters,
                              flops_per_image=config.max_flops_per_image)
    try:
        checkpoint = load_checkpoint(io.BytesIO(data), limits=limits)
    except CheckpointError as error:
        return part | {"reason": f"{config.file} is not a usable checkpoint: {error}"}
    except Exception as error:  # noqa: BLE001  a case the loader does not name yet: this part only, with why
        return part | {"reason": f"{config.file} could not be loaded ({type(error).__name__}: {str(error)[:200]}); "
                                 f"tell your instructor"}
    part |= {"spec": checkpoint.spec, "parameters": checkpoint.parameters,
             "flops_per_image": checkpoint.flops_per_image, "reported_accuracy": checkpoint.reported_accuracy}
    images, labels = held_out_arrays(held_out.kind, held_out.path, held_out.sha256)
    if checkpoint.mean_image.shape != images.shape[1:]:
        return part | {"reason": f"the model takes images of shape {checkpoint.mean_image.shape}; the held-out "
                                 f"images have shape {images.shape[1:]}"}
    try:
        return _evaluate(part, checkpoint, images, labels, config)
    except MemoryError:   # within the bounds, but not on this machine today: this part only
        return part | {"reason": f"evaluating the model ran out of memory on this grading machine "
                                 f"({checkpoint.activations_per_image:,} activations per image); tell your instructor"}
    except Exception as error:  # noqa: BLE001  a loaded model the library cannot run: this part only, with why
        return part | {"reason": f"the model could not be evaluated ({type(error).__name__}: {str(error)[:200]}); "
                                 f"tell your instructor"}


def _evaluate(part: dict, checkpoint, images, labels, config: CheckpointGrading) -> dict:
    """Predict the held-out images in batches (within the time bound) and score the accuracy by tiers."""
    batch = max(1, min(BATCH, EVAL_VALUES // max(checkpoint.activations_per_image, 1)))
    started = time.monotonic()
    correct = 0
    for start in range(0, len(labels), batch):
        if time.monotonic() - started > config.eval_seconds:
            return part | {"seconds": round(time.monotonic() - started, 2), "timed_out": True,
                           "reason": f"evaluating the model on {len(labels):,} images took longer than "
                                     f"{config.eval_seconds:g} s (after {start:,}): make it smaller or faster"}
        scores = checkpoint.scores(images[start:start + batch])
        if scores.ndim != 2 or len(scores) != len(images[start:start + batch]):
            return part | {"reason": f"the model gives scores of shape {scores.shape}, not one score vector "
                                     f"per image"}
        correct += int(np.sum(scores.argmax(axis=1) == labels[start:start + batch]))
    accuracy = correct / len(labels)
    reached = [(threshold, points) for threshold, points in config.tiers if accuracy >= threshold]
    tier = f"{reached[-1][0]:.0%}" if reached else f"below {config.tiers[0][0]:.0%}"
    return part | {"status": "graded", "accuracy": accuracy, "examples": len(labels), "tier": tier,
                   "score": float(sum(points for _, points in reached)),
                   "seconds": round(time.monotonic() - started, 2),
                   "reason": None if reached else f"held-out accuracy {accuracy:.1%} is below the first tier "
                                                  f"({config.tiers[0][0]:.0%})"}

