# The README's two commands: `make demo` and `make test`. Each sets itself up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-pyproject
# The course's local CIFAR-10 mirror and its own checksum (it is not the official archive).
SHARED_ARCHIVE ?= ../shared/data/cifar-10-python.tar.gz
SHARED_ARCHIVE_SHA256 ?= 583bde55ddf5c58fede5766329cbe1fb1aa0d5f21d062ab0db4b31905302fc63
# apt-get needs root; elsewhere sudo asks once.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq

.PHONY: venv browser test quick demo train-demo data bench gpu-check clean

# (Re)install whenever pyproject.toml changes; a failed install leaves no stamp.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# bubblewrap (the grading sandbox) is a Debian package, not a pip one: checked on every run,
# installed when missing.
venv: $(STAMP)
	@command -v bwrap >/dev/null || $(APT_INSTALL) bubblewrap

# Debian's chromium for the browser test (tests/browser/); when it cannot be installed the
# test skips and says why.
browser:
	@command -v chromium >/dev/null || $(APT_INSTALL) chromium || \
		echo "chromium could not be installed: the browser test will be skipped" >&2

# Every test, spread over every core (pytest-xdist); a test file stays on one worker, so its
# module fixtures (a released kit, a graded class) are built once.
PYTEST_PARALLEL := -n auto --dist loadfile

test: venv browser
	$(PY) -m pytest -rs $(PYTEST_PARALLEL)

# The quick lane while iterating: everything but the tests marked slow (grading classes in the
# sandbox, releases, whole notebooks, the browser). `make test` (and CI) runs them all.
quick: venv
	$(PY) -m pytest -rs $(PYTEST_PARALLEL) -m "not slow"

# The main job: release conv_pool, grade a simulated class of five in the sandbox, two at a
# time, then feedback, CSV and Gradescope exports (about two minutes; runs/grading-demo/).
demo: venv
	$(PY) -m autograder demo --out runs/grading-demo

# Short training run on real CIFAR-10: one epoch of ThreeLayerConvNet on 10,000 images.
train-demo: data
	$(PY) -m cs231n_lib.train --epochs 1 --num-train 10000 --out runs/demo --overwrite

# Install CIFAR-10 where the loaders find it: from the local mirror when there is one,
# else say how to get it (datasets/get_datasets.sh fetches the official archive).
data: venv
	@if $(PY) -m cs231n_lib.datasets verify 2>/dev/null; then \
		true; \
	elif [ -f "$(SHARED_ARCHIVE)" ]; then \
		$(PY) -m cs231n_lib.datasets fetch cifar10 --archive "$(SHARED_ARCHIVE)" --sha256 $(SHARED_ARCHIVE_SHA256); \
	else \
		echo "CIFAR-10 is not installed. Get it with: datasets/get_datasets.sh" >&2; exit 1; \
	fi

# On a machine with a CUDA GPU: the GPU tests (-m gpu) on the real CuPy and one training epoch
# timed on NumPy and on CuPy side by side, in runs/gpu-check/report.md (bench/gpu_check.py).
# Without a GPU it says so, runs the GPU tests on the strict CuPy stand-in, and fails with
# status 2: nothing was checked on a GPU.
gpu-check: venv
	$(PY) bench/gpu_check.py --out runs/gpu-check

bench: venv
	$(PY) -m pip install --quiet -e '.[bench]'
	cd bench && ../$(PY) run_all.py

# Regenerate the student release assignments/<a>/ from cs231n_lib/ and solutions/ (docs/release.md).
.PHONY: release
release: venv
	$(PY) -m autograder release

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs
