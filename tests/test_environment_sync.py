"""environment.yml (conda users) must describe the environment pyproject.toml (pip) installs."""

import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def split(requirement):
    name, spec = REQUIREMENT.match(requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pip_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(split(r) for r in wanted)


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):  # the pip: section
            found.update(split(r) for r in entry["pip"] if not r.startswith("-e"))
        else:
            found.update([split(entry.replace("=", "==", 1) if re.match(r"^python=\d", entry) else entry)])
    return found


def test_environment_yml_matches_pyproject():
    conda = conda_requirements()
    assert conda.pop("python") == "==3.11"
    conda.pop("pip")
    assert conda == pip_requirements()


def test_python_version_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
