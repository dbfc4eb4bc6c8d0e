"""The kit as an instructor or a cluster machine installs it: ``pip install .`` into a fresh virtualenv.

Quick (about 10 s): the dependencies are the test's own virtualenv's site-packages, hard-linked
(no copy; the sandbox binds a grader's site-packages, so they must really be there), without the
checkout's editable install of the kit; the kit is then built from a copy of its packaging files
(what a fresh clone has; the build backend comes from pip's configured index, a local mirror on
the course's machines) and installed without dependencies. ``autograder`` imports only because
it is installed.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from autograder.course import REPO_ROOT

# Console scripts of the dependencies that the kit runs (nbgrader's gradebook needs alembic on PATH) or
# that a cluster runs (Dask's command line): pip would have installed them beside the new python.
DEPENDENCY_SCRIPTS = ("alembic", "dask")
# What `pip install .` reads from a clone.
PACKAGING_FILES = ("pyproject.toml", "README.md")
PACKAGES = ("cs231n_lib", "autograder")
DISTRIBUTION = "cs231n_convnet_kit"


def install_kit(root: Path) -> Path:
    """A fresh virtualenv under ``root`` with the kit pip-installed; returns its python."""
    source = root / "kit-source"
    for name in PACKAGING_FILES:
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    for name in PACKAGES:
        shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        check=True, capture_output=True, text=True).stdout.strip())
    site_packages.rmdir()
    subprocess.run(["cp", "-al", sysconfig.get_paths()["purelib"], str(site_packages)], check=True)
    for editable in [*site_packages.glob("__editable__*"), *site_packages.glob(f"{DISTRIBUTION}-*.dist-info")]:
        editable.unlink() if editable.is_file() else shutil.rmtree(editable)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(source)],
                   check=True, cwd=root, capture_output=True, text=True)
    shutil.rmtree(source)   # what is installed must not depend on the copy it was built from
    for name in DEPENDENCY_SCRIPTS:
        script = (Path(sys.executable).parent / name).read_text().split("\n", 1)[1]
        (venv / "bin" / name).write_text(f"#!{python}\n{script}")
        (venv / "bin" / name).chmod(0o755)
    return python


def clean_environment(**extra: str) -> dict[str, str]:
    """An environment without PYTHONPATH or the test's virtualenv: only what the installed kit provides."""
    keep = {name: os.environ[name] for name in ("HOME", "LANG", "TMPDIR") if name in os.environ}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", **keep, **extra}
