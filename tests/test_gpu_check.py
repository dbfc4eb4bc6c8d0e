"""bench/gpu_check.py (make gpu-check): loud without a GPU, a side-by-side epoch report with one.

The GPU case runs here with the strict CuPy stand-in posing as the device (no CUDA kernel runs):
it checks the command's own logic, the timing code on device arrays and the report, not speed.
"""

import importlib.util

import pytest

from cs231n_lib.notebook_utils import synthetic_cifar10

from .notebooks.kit import REPO

spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_without_a_gpu_it_says_so_and_exits_with_status_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "cupy_status", lambda: (False, "CuPy sees no CUDA GPU"))
    assert gpu_check.main(["--out", str(tmp_path), "--skip-tests"]) == gpu_check.NO_GPU_EXIT == 2
    assert "*** no GPU: only the stand-in was checked (CuPy sees no CUDA GPU) ***" in capsys.readouterr().err
    report = (tmp_path / "report.md").read_text()
    assert "**no GPU: only the stand-in was checked" in report and "no epoch was timed" in report


def test_with_a_device_it_times_an_epoch_on_each_backend(tmp_path, monkeypatch, stand_in_cupy):
    monkeypatch.setattr(gpu_check, "cupy_status", lambda: (True, "the stand-in"))
    monkeypatch.setattr(gpu_check, "EPOCH_MODEL", {"num_filters": 2, "filter_size": 3, "hidden_dim": 4})
    monkeypatch.setattr(gpu_check, "device_description", lambda: {"device": "strict stand-in", "cupy": "none"})
    monkeypatch.setattr(gpu_check, "epoch_data", lambda num_train: (
        synthetic_cifar10(num_train, 10, 0), "synthetic images"))
    assert gpu_check.main(["--out", str(tmp_path), "--skip-tests", "--num-train", "20"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "- device: strict stand-in" in report and "20 images of synthetic images" in report
    assert "ThreeLayerConvNet(num_filters=2, filter_size=3, hidden_dim=4)" in report
    rows = [line.split("|")[1:4] for line in report.splitlines() if line.startswith("| numpy") or line.startswith("| cupy")]
    assert [row[0].strip() for row in rows] == ["numpy", "cupy"] and all(float(row[1]) > 0 for row in rows)
    assert "x NumPy's speed on this epoch" in report


@pytest.mark.parametrize("failures, errors, expected", [(0, 0, 0), (1, 0, 1), (0, 1, 1)])
def test_the_gpu_tests_counts_come_from_pytests_junit_report(tmp_path, monkeypatch, failures, errors, expected):
    junit = tmp_path / "gpu-tests.xml"
    junit.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="14" failures="{failures}" '
                     f'errors="{errors}" skipped="2"></testsuite></testsuites>')
    counts = gpu_check.read_junit(junit)
    assert counts == {"passed": 12 - failures - errors, "failed": failures, "skipped": 2, "errors": errors}
    monkeypatch.setattr(gpu_check, "run_gpu_tests", lambda out: counts)
    monkeypatch.setattr(gpu_check, "cupy_status", lambda: (False, "no GPU"))
    status = gpu_check.main(["--out", str(tmp_path)])
    assert status == (gpu_check.TESTS_FAILED_EXIT if expected else gpu_check.NO_GPU_EXIT)
    assert "GPU tests (`pytest -m gpu`, on the strict stand-in): " in (tmp_path / "report.md").read_text()
