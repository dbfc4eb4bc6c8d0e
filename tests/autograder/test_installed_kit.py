"""``pip install .`` makes the whole kit importable anywhere, its support files included, and an
installed autograder finds the course's sources only where the instructor says (``--kit``).
The installed kit grading a class, on a cluster: grading/test_dask_deployed.py."""

import subprocess
import sys
from pathlib import Path

import pytest

from autograder import course
from autograder.course import REPO_ROOT
from autograder.errors import ReleaseError

from .installed_kit import clean_environment, install_kit


@pytest.fixture(scope="module")
def installed_python(tmp_path_factory):
    return install_kit(tmp_path_factory.mktemp("installed_kit"))


def run_installed(python: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``python arguments`` from ``/``, where no folder of the kit can be imported by accident."""
    return subprocess.run([str(python), *arguments], cwd="/", env=clean_environment(), capture_output=True,
                          text=True, timeout=120)


def test_the_installed_kit_imports_from_anywhere_with_its_support_files(installed_python):
    shown = run_installed(installed_python, "-c", "import autograder, cs231n_lib, importlib.resources as r; "
                          "print(autograder.__file__); print(cs231n_lib.__file__); "
                          "print(r.files('autograder').joinpath('bundle_files', 'setup.sh').is_file())")
    assert shown.returncode == 0, shown.stderr
    autograder_file, library_file, bundle_files = shown.stdout.split()
    venv = installed_python.parent.parent
    assert Path(autograder_file).is_relative_to(venv) and Path(library_file).is_relative_to(venv)
    assert not Path(autograder_file).is_relative_to(REPO_ROOT)
    assert bundle_files == "True"

    helped = run_installed(installed_python, "-m", "autograder", "--help")
    assert helped.returncode == 0 and "release" in helped.stdout and "grade" in helped.stdout, helped.stderr


def test_an_autograder_away_from_its_kit_says_to_pass_the_kit(monkeypatch, tmp_path):
    monkeypatch.setattr(course, "REPO_ROOT", tmp_path / "site-packages")   # as when pip-installed
    with pytest.raises(ReleaseError, match=r"away from the course kit's sources: pass --kit DIR, the kit's folder "
                                           r"\(the one with solutions/tasks.toml"):
        course.Layout.of_repo()
    with pytest.raises(ReleaseError, match=rf"--kit {tmp_path}: expected the course kit's folder, with "
                                           rf"solutions/tasks.toml; {tmp_path}/solutions/tasks.toml does not exist"):
        course.Layout.of_repo(tmp_path)
    assert course.Layout.of_repo(REPO_ROOT).tasks_file == REPO_ROOT / "solutions" / "tasks.toml"


# Run by the installed grader: a student's process tries to read, and to import, what a pip-installed
# kit puts in the site-packages every sandbox sees.
READ_THE_INSTALLED_REFERENCE = r'''
import sys
from pathlib import Path
from autograder import sandbox
attack = """
import sys
sys.path.insert(0, '/opt/python-packages')
for path in ('/opt/python-packages/cs231n_lib/layers.py',
             '/opt/python-packages/autograder/similarity/independent/conv_pool/classic_loops.py'):
    try:
        print('READ', path, len(open(path).read()))
    except OSError:
        print('DENIED', path)
try:
    from cs231n_lib import layers
    print('IMPORTED', layers.__file__)
except ImportError:
    print('NO REFERENCE')
"""
result = sandbox.run_sandboxed([sandbox.python_executable(), '-I', '-S', '-c', attack],
                               binds=[sandbox.Bind(Path(sys.argv[1]), sandbox.HOME_INSIDE, True)],
                               limits=sandbox.SandboxLimits(wall_seconds=60), use_sandbox=True)
print(result.stdout, result.stderr)
'''


def test_a_sandbox_of_an_installed_kit_cannot_read_or_import_the_reference(requires_sandbox, installed_python, tmp_path):
    venv_packages = installed_python.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert (venv_packages / "site-packages" / "cs231n_lib" / "layers.py").is_file()   # the reference is installed
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)
    attacked = run_installed(installed_python, "-c", READ_THE_INSTALLED_REFERENCE, str(home))
    assert attacked.returncode == 0, attacked.stderr
    assert "DENIED /opt/python-packages/cs231n_lib/layers.py" in attacked.stdout, attacked.stdout
    assert "DENIED /opt/python-packages/autograder/similarity" in attacked.stdout, attacked.stdout
    assert "NO REFERENCE" in attacked.stdout and "READ" not in attacked.stdout, attacked.stdout
