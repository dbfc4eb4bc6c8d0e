"""Run every benchmark at 1 and 2 threads; each appends its table to docs/benchmarks.md.

    make bench        (installs the bench extra: PyTorch CPU and threadpoolctl)
"""

import bench_conv_torch
import bench_layers
import bench_recipe
import bench_train_step

for threads in ("1", "2"):
    bench_layers.main(["--threads", threads])
    bench_conv_torch.main(["--threads", threads])
    bench_train_step.main(["--threads", threads])
bench_recipe.main([])  # times 1 and 2 threads itself, in the same run
