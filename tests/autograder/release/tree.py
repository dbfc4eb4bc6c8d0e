"""Compare folders file by file: relative path -> (bytes, executable bit)."""

from pathlib import Path

from autograder.course import is_ignored


def snapshot(folder: Path) -> dict[str, tuple[bytes, bool]]:
    """Caches and checkpoints (left by running a released notebook in place) do not count."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): (path.read_bytes(), bool(path.stat().st_mode & 0o100))
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not is_ignored(path.relative_to(folder))}


def differences(expected: dict, actual: dict) -> list[str]:
    """Human-readable differences between two snapshots (empty when identical)."""
    found = [f"missing: {name}" for name in sorted(expected.keys() - actual.keys())]
    found += [f"unexpected: {name}" for name in sorted(actual.keys() - expected.keys())]
    found += [f"differs: {name}" + (" (mode)" if expected[name][0] == actual[name][0] else "")
              for name in sorted(expected.keys() & actual.keys()) if expected[name] != actual[name]]
    return found
