"""The course side of the kit: build the student release from the single source, then grade.

Shaped like nbgrader: a thin CLI (``python -m autograder <command>``, one module per command
in ``commands/``) over ordered pipelines, one job per module.

- ``course``         the only layout: every path of the kit and of nbgrader's course directory
- ``tasks``          ``solutions/tasks.toml``: which assignment asks for which library function
- ``markers``, ``notebooks``, ``notebook_spec``
                     solution regions; notebook JSON; what the grader runs of the instructor's notebook
- ``files``          files a student controls and files the grader writes, one table of limits
- ``sandbox``        bubblewrap and resource limits
- ``nbgrader``       the only adapter to nbgrader: config, generate_assignment, gradebook, CSV export
- ``release``, ``stubs``, ``leak_scan``
                     the release pipeline: library stubs, nbgrader's release, fail-closed leak scan
- ``collect``        submissions in (folders, LMS zips)
- ``grading``        the student's sandboxed process and the grader's side of it; one student's job;
                     the batch (threads or Dask); the one result store; integrity; the library clean room
- ``report``         feedback, exports, integrity report, grade table: reading results only
- ``similarity``     the similarity report of a class
- ``class_simulation``, ``demo``
                     the simulated class and the end-to-end demo
"""
