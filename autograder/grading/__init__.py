"""Grading one student, and a class, without trusting anything the student's code can touch.

- ``wire``             the protocol between the grader and a student's process (JSON and raw arrays)
- ``student_process``  the program in the sandbox, where the student's code runs
- ``remote``           the grader's side: start it, send requests, see its objects as ``Remote``
- ``notebook_run``     a student's notebook: their cells in the sandbox, the grade cells here
- ``library``          the clean-room checks of the functions students write in the library
- ``integrity``        static findings (what a cheat would try), which hold a notebook for review
- ``job``              one student: the plan a batch resolves once, the job, the result
- ``results``          the one result store and its fingerprints
- ``batch``            a class: threads or Dask tasks, the gradebook written by the parent alone
"""
