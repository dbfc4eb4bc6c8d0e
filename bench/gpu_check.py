"""``make gpu-check``: the GPU path checked on a real GPU, or a loud note that it was not.

With a CUDA GPU (``cupy.is_available()``):

1. runs the GPU tests, ``pytest -m gpu``: every "cupy" case of the backend tests, the engine,
   the Solver, the training command and the training notebook's best-model section, on the
   real CuPy;
2. times one training epoch of the same model on the same images with the Solver (training
   engine on, float32, batch 50) on NumPy and then on CuPy, after a short untimed warm-up on
   each (CuPy compiles its kernels on first use);
3. writes ``runs/gpu-check/report.md``: the device, CuPy and CUDA versions, the tests' counts,
   the seconds of each epoch and their ratio.

Without a usable GPU it says so first, runs the same tests (they then run on the strict
stand-in, tests/strict_cupy.py), writes the report with "no GPU: only the stand-in was
checked", and exits with status 2: a job that asked for a GPU check cannot mistake this
for one. Status 1 (before 2): a test failed, on the GPU or on the stand-in.

    .venv/bin/python bench/gpu_check.py [--out runs/gpu-check] [--num-train 10000]
"""

import argparse
import datetime
import pathlib
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cs231n_lib.backend import cupy_status, np, resolve_backend  # noqa: E402

NO_GPU_EXIT = 2
TESTS_FAILED_EXIT = 1


def run_gpu_tests(out):
    """pytest -m gpu in a child process; returns its counts (see read_junit)."""
    junit = out / "gpu-tests.xml"
    junit.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", "-p", "no:cacheprovider",
               f"--junitxml={junit}", "tests"]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=False)
    if not junit.exists():  # pytest did not get as far as running tests
        return {"passed": 0, "failed": 0, "skipped": 0, "errors": 1}
    return read_junit(junit)


def read_junit(path):
    """{"passed", "failed", "skipped", "errors"}: the counts of a pytest JUnit XML file."""
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    return {"passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
            "failed": counts["failures"], "skipped": counts["skipped"], "errors": counts["errors"]}


def epoch_data(num_train):
    """(data, description): CIFAR-10 when installed, else the synthetic stand-in of the same shapes."""
    from cs231n_lib.notebook_utils import synthetic_cifar10
    try:
        from cs231n_lib.data_utils import get_CIFAR10_data
        return get_CIFAR10_data(num_training=num_train, num_validation=1000, num_test=0), "CIFAR-10"
    except FileNotFoundError:
        return synthetic_cifar10(num_train, 1000, 0), "synthetic CIFAR-10-shaped images (CIFAR-10 is not installed)"


# The timed model: `make train-demo`'s ThreeLayerConvNet (train.py's defaults).
EPOCH_MODEL = {"num_filters": 32, "filter_size": 7, "hidden_dim": 500}


def time_one_epoch(backend, data, warmup_images=200):
    """Seconds of one Solver epoch of ThreeLayerConvNet(**EPOCH_MODEL) on ``backend``."""
    from cs231n_lib.classifiers import ThreeLayerConvNet
    from cs231n_lib.solver import Solver

    def solver(images):
        np.random.seed(0)
        model = ThreeLayerConvNet(**EPOCH_MODEL, weight_scale=1e-3, reg=1e-3, dtype=np.float32, backend=backend)
        subset = {key: value[:images] for key, value in data.items()}
        return Solver(model, subset, update_rule="adam", optim_config={"learning_rate": 1e-3}, num_epochs=1,
                      batch_size=50, num_train_samples=1000, verbose=False, seed=0)
    solver(warmup_images).train()  # kernels compiled, buffers allocated: not timed
    timed = solver(len(data["X_train"]))
    started = time.perf_counter()
    timed.train()  # every step reads its loss back as a float, so the device has finished
    return time.perf_counter() - started


def device_description():
    cupy = resolve_backend("cupy")
    properties = cupy.cuda.runtime.getDeviceProperties(0)
    name = properties["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return {"device": name, "cupy": cupy.__version__, "cuda runtime": cupy.cuda.runtime.runtimeGetVersion()}


def write_report(out, lines):
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    print(f"\nreport: {report}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "runs" / "gpu-check"), help="folder of the report")
    parser.add_argument("--num-train", type=int, default=10_000, help="images in the timed epoch")
    parser.add_argument("--skip-tests", action="store_true", help="only the timing (the tests run elsewhere)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    usable, reason = cupy_status()
    lines = ["# GPU check", "", f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, "
             f"{platform.node()}, Python {platform.python_version()}", ""]
    if not usable:
        banner = f"no GPU: only the stand-in was checked ({reason})"
        print(f"\n*** {banner} ***\n", file=sys.stderr, flush=True)
        lines += [f"**{banner}.**", "",
                  "The GPU tests ran on the strict CuPy stand-in (tests/strict_cupy.py), which refuses "
                  "implicit host-device conversions and mixes and counts transfers; no CUDA kernel ran "
                  "and no epoch was timed."]
    else:
        lines += [f"- {key}: {value}" for key, value in device_description().items()]
    if not args.skip_tests:
        counts = run_gpu_tests(out)
        where = "real CuPy on the GPU" if usable else "the strict stand-in"
        lines += ["", f"GPU tests (`pytest -m gpu`, on {where}): " + ", ".join(f"{v} {k}" for k, v in counts.items())]
    if usable:
        data, source = epoch_data(args.num_train)
        seconds = {backend: time_one_epoch(backend, data) for backend in ("numpy", "cupy")}
        model = ", ".join(f"{key}={value}" for key, value in EPOCH_MODEL.items())
        lines += ["", f"One epoch, ThreeLayerConvNet({model}), {len(data['X_train'])} images "
                  f"of {source}, batch 50, float32, Solver with the training engine:", "",
                  "| backend | seconds | images/s |", "|---|---|---|"]
        lines += [f"| {backend} | {s:.3g} | {len(data['X_train']) / s:.0f} |" for backend, s in seconds.items()]
        lines += ["", f"CuPy is {seconds['numpy'] / seconds['cupy']:.1f}x NumPy's speed on this epoch."]
    write_report(out, lines)
    if not args.skip_tests and (counts["failed"] or counts["errors"] or counts["passed"] == 0):
        return TESTS_FAILED_EXIT
    return 0 if usable else NO_GPU_EXIT


if __name__ == "__main__":
    sys.exit(main())
