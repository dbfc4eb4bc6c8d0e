# The README's two commands: `make demo` and `make test`. Each sets itself up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-pyproject
# The course's local CIFAR-10 mirror and its own checksum (it is not the official archive).
SHARED_ARCHIVE ?= ../shared/data/cifar-10-python.tar.gz
SHARED_ARCHIVE_SHA256 ?= 583bde55ddf5c58fede5766329cbe1fb1aa0d5f21d062ab0db4b31905302fc63

.PHONY: venv test demo data bench clean

# (Re)install whenever pyproject.toml changes; a failed install leaves no stamp.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

test: venv
	$(PY) -m pytest -rs

# Short training run on real CIFAR-10: one epoch of ThreeLayerConvNet on 10,000 images.
demo: data
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

bench: venv
	$(PY) -m pip install --quiet -e '.[bench]'
	cd bench && ../$(PY) run_all.py

# Regenerate the student release assignments/<a>/ from cs231n_lib/ and solutions/ (docs/release.md).
.PHONY: release
release: venv
	$(PY) -m autograder release

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs
