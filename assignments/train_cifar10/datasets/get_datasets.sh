#!/usr/bin/env bash
# Get CIFAR-10 the CS231n way:  cd datasets && ./get_datasets.sh
# A thin wrapper: the work (resumable download, checksum, safe atomic install) is done by
#   python -m cs231n_lib.datasets fetch cifar10
# Extra arguments are passed on, e.g.  ./get_datasets.sh --mirror URL --sha256 HEX
# Installs into this folder (datasets/cifar-10-batches-py/) unless --dest is given.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

if [[ -x "$repo/.venv/bin/python" ]]; then
    python="$repo/.venv/bin/python"
else
    python="$(command -v python3 || true)"
    if [[ -z "$python" ]]; then
        echo "error: no python found: run 'make test' once in $repo (it creates .venv) or install python3" >&2
        exit 1
    fi
fi

# PYTHONPATH lets `cs231n_lib` import even when the kit is not pip-installed; the working
# folder is left alone so relative --archive paths mean what the TA typed.
exec env PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" \
    "$python" -m cs231n_lib.datasets fetch cifar10 --dest "$here" "$@"
