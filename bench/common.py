"""Shared benchmark helpers: timing by medians, machine description, writing the results.

The machine is shared and noisy, so every figure is a median over repeats and every
comparison is against a peer (naive layer, PyTorch, GEMM peak) timed in the same run.
"""

import datetime
import os
import pathlib
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"


def median_seconds(fn, repeats=7, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_median_seconds(functions, repeats=15, warmup=2, settle=0.0):
    """Median wall time of each of ``functions`` (name -> fn), timed in turns.

    One call of each, then the next round: on a shared machine the load changes by the
    second, and taking turns exposes every contender to the same changes. ``settle``
    seconds of sleep (not timed) before each call let the previous contender's idle
    worker threads stop spinning (OpenBLAS's spin for up to about 0.1 s, OpenMP's briefly):
    with more than one thread they would otherwise take a core from the next contender.
    Returns name -> median seconds.
    """
    for fn in functions.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            time.sleep(settle)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_mib(fn):
    """The most memory NumPy (and Python) held at once during ``fn()``, in MiB (tracemalloc)."""
    import tracemalloc
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def limit_threads(threads):
    """Limit NumPy's BLAS and (when imported) PyTorch to ``threads`` threads; returns a context."""
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    return threadpool_limits(threads)


def gemm_peak_gflops(threads, size=2048, repeats=5):
    """Measured float32 GEMM rate of NumPy's BLAS on this machine (the peak conv is held to)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    with limit_threads(threads):
        seconds = median_seconds(lambda: a @ b, repeats=repeats)
    return 2 * size ** 3 / seconds / 1e9


def blas_description():
    """Which BLAS library and kernel NumPy runs, from threadpoolctl."""
    parts = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            parts.append(f"{pool.get('internal_api')} {pool.get('version')} "
                         f"kernel {pool.get('architecture')}")
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        parts.append(f"OPENBLAS_CORETYPE={coretype}")
    return "; ".join(parts) or "unknown"


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_header(title, threads):
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"## {title} ({now})\n\n"
            f"- machine: {cpu_model()}, {os.cpu_count()} cores; threads used: {threads}\n"
            f"- Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch_version}\n"
            f"- BLAS: {blas_description()}\n")


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title, threads, headers, rows, notes=""):
    """Print the table and append it, with the machine description, to docs/benchmarks.md."""
    section = machine_header(title, threads) + "\n" + markdown_table(headers, rows) + "\n"
    if notes:
        section += "\n" + notes.strip() + "\n"
    print(section)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmarks\n\nAppended by the scripts in `bench/` "
                           "(`make bench`); newest last.\n")
    with RESULTS.open("a") as f:
        f.write("\n" + section)
