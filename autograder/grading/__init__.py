"""Running a student's code and grading it: the sandboxed student process and the grader's side of it.

- ``wire``             the protocol between the two processes (frames of JSON and raw arrays)
- ``student_process``  the program in the sandbox, where the student's code runs
- ``remote``           the grader's side: start it, send requests, see its objects as ``Remote``
- ``notebook_run``     a student's notebook: their cells run in the sandbox, grade cells here
"""
