#!/bin/sh
# Set up this assignment: sh setup.sh
# Makes a Python environment in .venv/ with what requirements.txt lists, and shows in
# JupyterLab only what a student uses of nbgrader (the Validate button).
set -eu
cd "$(dirname "$0")"

# --- settings: written by the course's release for this assignment ---
NOTEBOOK=ConvPool.ipynb
# --- end of settings ---

# The first Python 3.11 or newer that runs (a version manager's shim may name one it lacks).
python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            python="$candidate"
            break
        fi
    done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    echo "error: no Python 3.11 or newer found; install one, or run: PYTHON=/path/to/python3.11 sh setup.sh" >&2
    exit 1
fi

"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt

# nbgrader also installs the instructor's tools (formgrader, create assignment, course and
# assignment lists); students need only Validate.
.venv/bin/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader:create-assignment \
    @jupyter/nbgrader:formgrader @jupyter/nbgrader:course-list @jupyter/nbgrader:assignment-list \
    @jupyter/nbgrader:menu >/dev/null 2>&1
.venv/bin/jupyter server extension disable --sys-prefix nbgrader.server_extensions.formgrader \
    nbgrader.server_extensions.assignment_list nbgrader.server_extensions.course_list >/dev/null 2>&1

echo "Ready. Start with:  .venv/bin/jupyter lab $NOTEBOOK"
