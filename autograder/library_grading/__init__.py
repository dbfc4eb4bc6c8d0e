"""Clean-room grading of the functions students write in ``cs231n_lib`` (see docs/autograder-sandbox.md).

The trusted parent draws each student's inputs from a secret seed (``seeds``), plans every
call into one batch (``plan``, the checks in ``checks`` and ``*_checks``), runs the student's
library once in the sandbox (``child`` inside, ``grader`` outside), reads the answers without
trusting them (``answers``), compares with the reference it computes itself and explains
failures (``diagnosis``, ``numerical``), and stores one atomic JSON result per student
(``results``). ``parallel.grade_many`` grades a class on threads or on a Dask cluster.

Public API::

    grade_library(student_id, submission_dir, assignment, results_dir, *, secret_file, ...)
    grade_many(submissions, assignment, results_dir, *, secret_file, jobs=None, scheduler=None, ...)
    read_results(results_dir, assignment)
"""

from .parallel import grade_many
from .results import grade_library, read_result, read_results, result_path

__all__ = ["grade_library", "grade_many", "read_result", "read_results", "result_path"]
