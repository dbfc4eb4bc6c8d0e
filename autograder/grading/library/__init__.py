"""Clean-room grading of the functions students write in ``cs231n_lib`` (see docs/autograder-sandbox.md).

The trusted parent draws each student's inputs from a secret seed (``seeds``), plans every
call (``plan``; the checks of each task in ``*_checks``, collected by ``registry``), calls
the student's library in its sandboxed process (``clean_room``, through
:mod:`autograder.grading.remote`), reads the answers without trusting them (``answers``),
compares with the reference it computes itself and explains failures (``diagnosis``,
``numerical``).
"""

from .clean_room import grade_library

__all__ = ["grade_library"]
