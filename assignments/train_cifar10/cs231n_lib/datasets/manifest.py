"""The manifest a published copy carries: size and SHA-256 of every file, written at publish time.

``verify`` re-hashes the files against it (a change after publishing is reported by name);
the loaders compare only the sizes, which costs nothing on every load.
"""

import datetime
import json
import os
import pathlib

from .checksum import file_digest

MANIFEST_NAME = "cs231n-manifest.json"
MANIFEST_FORMAT = 1


def build_manifest(folder, names, source):
    """A dict describing the files ``names`` in ``folder``; ``source`` says where they came from."""
    folder = pathlib.Path(folder)
    files = {name: {"bytes": (folder / name).stat().st_size,
                    "sha256": file_digest(folder / name, "sha256")} for name in sorted(names)}
    return {"format": MANIFEST_FORMAT, "dataset": "cifar10", "source": str(source),
            "published_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "files": files}


def write_manifest(folder, manifest):
    path = pathlib.Path(folder) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(folder):
    """The manifest of ``folder`` as a dict, None when there is none; a broken one is a problem."""
    path = pathlib.Path(folder) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        if not all(isinstance(v, dict) and {"bytes", "sha256"} <= set(v) for v in files.values()):
            raise ValueError("every entry of 'files' needs 'bytes' and 'sha256'")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return {"files": {}, "broken": f"{MANIFEST_NAME} is unreadable ({error})"}
    return manifest


def manifest_problems(folder, manifest, *, check_hashes):
    """What in ``folder`` differs from ``manifest``: a list of messages, empty when all match.

    check_hashes=False compares sizes only (cheap enough for every load).
    """
    folder = pathlib.Path(folder)
    if "broken" in manifest:
        return [manifest["broken"]]
    problems = []
    for name, expected in sorted(manifest["files"].items()):
        path = folder / name
        try:
            size = os.path.getsize(path)
        except OSError:
            problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
            continue
        if size != expected["bytes"]:
            problems.append(f"{name}: {size} bytes, {MANIFEST_NAME} says {expected['bytes']} "
                            f"(changed after publishing)")
        elif check_hashes:
            found = file_digest(path, "sha256")
            if found != expected["sha256"]:
                problems.append(f"{name}: sha256 {found}, {MANIFEST_NAME} says "
                                f"{expected['sha256']} (changed after publishing)")
    return problems
