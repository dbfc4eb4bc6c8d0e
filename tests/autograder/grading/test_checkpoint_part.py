"""The checkpoint part without a sandbox: where the held-out set comes from, the time bound, links."""

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from autograder.errors import ReleaseError
from autograder.grading import checkpoint_part
from autograder.grading.results import reached_a_time_limit
from autograder.grading.checkpoint_part import checkpoint_plan, grade_checkpoint, held_out_arrays, lost_checkpoint
from cs231n_lib.checkpoint import Checkpoint, save_checkpoint
from cs231n_lib.classifiers import ConvNet
from cs231n_lib.data_utils import get_CIFAR10_data
from cs231n_lib.datasets.archive import safe_extract
from cs231n_lib.solver import Solver

from ...datasets.conftest import batch_dicts, write_batches
from ..conftest import new_layout


@pytest.fixture
def course(tmp_path):
    layout = new_layout(tmp_path)
    config = dataclasses.replace(layout.catalog().get("train_cifar10").checkpoint, held_out="heldout.npz")
    layout.course_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(layout.course_dir / "heldout.npz", X=rng.integers(0, 256, (250, 3, 32, 32)).astype(np.uint8),
             y=rng.integers(0, 10, 250))
    submission = tmp_path / "submission"
    submission.mkdir()
    return layout, config, submission


def write_model(folder):
    model = ConvNet("INPUT-32x32x3 -> CONV3-4 -> RELU -> POOL2 -> FC", seed=0)
    save_checkpoint(folder / "best_model.npz", model, mean_image=np.full((3, 32, 32), 128.0), scale=60.0)


def test_without_a_held_out_set_the_part_is_not_graded_and_counts_nothing(course):
    layout, config, submission = course
    write_model(submission)
    plan = checkpoint_plan(layout, dataclasses.replace(config, held_out="private/missing.npz"))
    part = grade_checkpoint(submission, plan)
    assert (part["status"], part["score"], part["max_score"]) == ("not graded", 0.0, 0.0)
    assert part["reason"].startswith("not graded: no held-out set (no file ") and "missing.npz" in part["reason"]
    assert lost_checkpoint(plan, "the grader failed")["status"] == "not graded"


def test_a_malformed_held_out_set_stops_grading_saying_what_it_should_hold(course):
    layout, config, _ = course
    np.savez(layout.course_dir / "bad.npz", X=np.zeros((5, 3, 32, 32)) + 300.0, y=np.zeros(5, dtype=np.int64))
    with pytest.raises(ReleaseError, match=r"X must hold raw pixels in 0..255 .* got values in 300.0..300.0"):
        checkpoint_plan(layout, dataclasses.replace(config, held_out="bad.npz"))
    np.savez(layout.course_dir / "bad.npz", images=np.zeros((5, 3, 32, 32)))
    with pytest.raises(ReleaseError, match=r"expected an .npz of X \(N, C, H, W\) pixels 0..255 and y"):
        checkpoint_plan(layout, dataclasses.replace(config, held_out="bad.npz"))


def test_an_evaluation_over_its_time_bound_gets_zero_with_the_reason(course):
    layout, config, submission = course
    write_model(submission)
    graded = grade_checkpoint(submission, checkpoint_plan(layout, config))
    assert graded["status"] == "graded" and graded["examples"] == 250
    slow = grade_checkpoint(submission, checkpoint_plan(layout, dataclasses.replace(config, eval_seconds=1e-9)))
    assert (slow["status"], slow["score"], slow["max_score"]) == ("lost", 0.0, 6.0)
    assert "evaluating the model on 250 images took longer than 1e-09 s" in slow["reason"]
    # Another student's load can cause that: like any time limit, it is confirmed with the machine alone.
    assert reached_a_time_limit({"checkpoint": slow}) and not reached_a_time_limit({"checkpoint": graded})


def test_a_checkpoint_that_is_a_link_is_not_followed(course, tmp_path):
    layout, config, submission = course
    write_model(tmp_path)
    os.symlink(tmp_path / "best_model.npz", submission / "best_model.npz")
    part = grade_checkpoint(submission, checkpoint_plan(layout, config))
    assert part["status"] == "lost" and part["reason"].startswith("best_model.npz could not be read")


def test_a_file_over_the_size_bound_is_not_read(course):
    layout, config, submission = course
    (submission / "best_model.npz").write_bytes(bytes(2000))
    part = grade_checkpoint(submission, checkpoint_plan(layout, dataclasses.replace(config, max_file_bytes=1000)))
    assert part["status"] == "lost" and "could not be read: best_model.npz: larger than the limit" in part["reason"]


def test_the_default_held_out_set_is_cifar10s_test_split_where_the_loaders_find_it(course, tmp_path, monkeypatch):
    """A small CIFAR-10 in the real format; the expected accuracy computed from its pickled rows."""
    layout, config, submission = course
    folder = write_batches(tmp_path / "data" / "cifar-10-batches-py")
    monkeypatch.setenv("CS231N_DATA", str(folder.parent))
    rng = np.random.default_rng(1)
    model = ConvNet("INPUT-32x32x3 -> AVGPOOL8 -> FC-10", seed=0)
    model.params = {"W1": rng.standard_normal((48, 10)).astype(np.float32), "b1": np.zeros(10, np.float32)}
    save_checkpoint(submission / "best_model.npz", model, mean_image=np.full((3, 32, 32), 100.0), scale=50.0)
    plan = checkpoint_plan(layout, dataclasses.replace(config, held_out="cifar10-test"))
    part = grade_checkpoint(submission, plan)

    test_batch = batch_dicts()["test_batch"]
    rows = np.asarray(test_batch[b"data"], dtype=np.float64)   # (N, 3072), each row C, H, W
    blocks = ((rows.reshape(-1, 3, 32, 32) - 100.0) / 50.0).reshape(-1, 3, 4, 8, 4, 8).mean(axis=(3, 5))
    predicted = (blocks.reshape(len(rows), 48) @ model.params["W1"].astype(np.float64)).argmax(axis=1)
    expected = float(np.mean(predicted == np.asarray(test_batch[b"labels"])))
    assert part["status"] == "graded" and part["held_out"] == f"CIFAR-10 test split ({len(rows)} images)"
    assert part["accuracy"] == pytest.approx(expected)
    images, labels = held_out_arrays(plan.held_out.kind, plan.held_out.path, plan.held_out.sha256)
    np.testing.assert_array_equal(images, rows.reshape(-1, 3, 32, 32))   # (N, C, H, W): the stored order
    np.testing.assert_array_equal(labels, test_batch[b"labels"])


def test_a_bn_checkpoint_saved_by_the_training_command_is_graded_in_test_mode(course, tmp_path):
    """``python -m cs231n_lib.train --model convnet --spec "...BN..."``: its best_model.npz is graded with
    the running statistics (test mode), so the accuracy does not depend on the grader's batches."""
    from cs231n_lib import train
    from cs231n_lib.checkpoint import load_checkpoint
    layout, config, submission = course
    folder = write_batches(tmp_path / "data" / "cifar-10-batches-py")
    train.main(["--data", str(folder), "--out", str(tmp_path / "run"), "--model", "convnet", "--spec",
                "CONV3-4 -> BN -> RELU -> POOL2 -> FC", "--num-train", "80", "--num-val", "20", "--num-test", "20",
                "--batch-size", "20", "--weight-scale", "he"])
    (submission / "best_model.npz").write_bytes((tmp_path / "run" / "best_model.npz").read_bytes())
    plan = checkpoint_plan(layout, config)
    part = grade_checkpoint(submission, plan)
    assert part["status"] == "graded" and part["spec"] == "INPUT-32x32x3 -> CONV3-4 -> BN -> RELU -> POOL2 -> FC-10"
    images, labels = held_out_arrays(plan.held_out.kind, plan.held_out.path, plan.held_out.sha256)
    model = load_checkpoint(submission / "best_model.npz")
    one_by_one = [model.predict(images[i:i + 1])[0] for i in range(len(labels))]
    assert part["accuracy"] == pytest.approx(float(np.mean(np.array(one_by_one) == labels)))


SHARED_CIFAR10 = Path(__file__).resolve().parents[4] / "shared" / "data" / "cifar-10-python.tar.gz"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CIFAR10.is_file(), reason=f"no local CIFAR-10 archive at {SHARED_CIFAR10}")
def test_a_model_trained_on_real_cifar10_is_graded_on_its_test_split(course, tmp_path, monkeypatch):
    """The course's data copy, when this machine has it: a short training run, its checkpoint graded."""
    layout, config, submission = course
    safe_extract(SHARED_CIFAR10, tmp_path)
    monkeypatch.setenv("CS231N_DATA", str(tmp_path))
    data = get_CIFAR10_data(num_training=4000, num_validation=500, num_test=0, with_mean_image=True)
    scale = float(data["X_train"].std())
    scaled = {key: value / scale if key.startswith("X") else value for key, value in data.items()}
    model = ConvNet("CONV5-16 -> RELU -> POOL4 -> FC", input_dim=(3, 32, 32), seed=0)
    solver = Solver(model, scaled, update_rule="adam", optim_config={"learning_rate": 2e-3}, batch_size=100,
                    num_epochs=2, verbose=False)
    solver.train()
    save_checkpoint(submission / "best_model.npz", model, data["mean_image"], scale,
                    reported_accuracy=solver.best_val_acc)
    part = grade_checkpoint(submission, checkpoint_plan(layout, dataclasses.replace(config, held_out="cifar10-test")))
    assert part["status"] == "graded" and part["held_out"] == "CIFAR-10 test split (10,000 images)"
    assert 0.25 < part["accuracy"] < 0.5 and part["tier"] == "below 50%" and part["score"] == 0.0
    assert abs(part["accuracy"] - solver.best_val_acc) < 0.05   # validation and test agree: an honest report


def test_large_volumes_are_evaluated_in_smaller_batches_and_running_out_of_memory_loses_only_this_part(
        course, monkeypatch):
    layout, config, submission = course
    model = ConvNet("INPUT-32x32x3 -> CONV1-300 -> RELU -> POOL32 -> FC", seed=0)   # 0.6 M activations per image
    save_checkpoint(submission / "best_model.npz", model, mean_image=np.full((3, 32, 32), 128.0), scale=60.0)
    plan = checkpoint_plan(layout, config)
    batches = []
    original = Checkpoint.scores
    monkeypatch.setattr(Checkpoint, "scores", lambda self, raw: batches.append(len(raw)) or original(self, raw))
    monkeypatch.setattr(checkpoint_part, "EVAL_VALUES", 2 * 10**6)
    part = grade_checkpoint(submission, plan)
    assert part["status"] == "graded" and max(batches) == 3 and sum(batches) == 250

    def out_of_memory(self, raw):
        raise MemoryError
    monkeypatch.setattr(Checkpoint, "scores", out_of_memory)
    part = grade_checkpoint(submission, plan)
    assert (part["status"], part["score"], part["max_score"]) == ("lost", 0.0, 6.0)
    assert part["reason"].startswith("evaluating the model ran out of memory on this grading machine (617,782 activations per image)")


def test_an_error_the_loader_does_not_name_loses_this_part_only(course, monkeypatch):
    layout, config, submission = course
    write_model(submission)

    def unexpected(*args, **kwargs):
        raise TypeError("a case nobody foresaw")
    monkeypatch.setattr(checkpoint_part, "load_checkpoint", unexpected)
    part = grade_checkpoint(submission, checkpoint_plan(layout, config))
    assert (part["status"], part["score"], part["max_score"]) == ("lost", 0.0, 6.0)
    assert part["reason"] == ("best_model.npz could not be loaded (TypeError: a case nobody foresaw); "
                              "tell your instructor")
