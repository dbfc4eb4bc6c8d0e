# The README's two commands: `make demo` and `make test`. Each sets itself up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-pyproject
SHARED_ARCHIVE ?= ../shared/data/cifar-10-python.tar.gz

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

# Short training run on real CIFAR-10 (installs the course's local copy when present).
demo: venv
	$(PY) -m cs231n_lib.demo

bench: venv
	$(PY) -m pip install --quiet -e '.[bench]'
	cd bench && ../$(PY) run_all.py

# Regenerate the student release assignments/<a>/ from cs231n_lib/ and solutions/ (docs/release.md).
.PHONY: release
release: venv
	$(PY) -m autograder release

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs
