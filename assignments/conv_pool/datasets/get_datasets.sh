#!/usr/bin/env bash
# Get CIFAR-10 the CS231n way:  cd datasets && ./get_datasets.sh
# Installs into this folder (datasets/cifar-10-batches-py/), beside the cs231n_lib/ folder
# whose loaders look here, unless --dest is given. A thin wrapper: the work (resumable
# download, checksum, safe atomic install) is done by
#   python -m cs231n_lib.datasets fetch cifar10
# Extra arguments are passed on, e.g.  ./get_datasets.sh --mirror URL --sha256 HEX
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"   # the folder holding cs231n_lib/ and .venv/

if [[ -x "$root/.venv/bin/python" ]]; then
    python="$root/.venv/bin/python"
else
    python="$(command -v python3 || true)"
    if [[ -z "$python" ]]; then
        echo "error: no python found: set up $root/.venv first (its README.md says how) or install python3" >&2
        exit 1
    fi
fi

# PYTHONPATH lets `cs231n_lib` import without being pip-installed; the working folder is
# left alone so relative --archive paths mean what was typed.
exec env PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
    "$python" -m cs231n_lib.datasets fetch cifar10 --dest "$here" "$@"
