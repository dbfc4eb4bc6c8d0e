"""The course side of the kit: build the student release from the single source, then grade.

Shaped like nbgrader: a thin CLI (``python -m autograder <command>``) over ordered
pipelines, one small step per module.

Release steps, in pipeline order (see ``release.py``):

- ``tasks``       read and check ``solutions/tasks.toml`` (which function belongs to which assignment)
- ``markers``     find the solution regions of a Python source file
- ``stubs``       replace each region by a ``raise NotImplementedError`` naming task and notebook
- ``course``      nbgrader's course directory: ``source/<a>/`` and a generated ``nbgrader_config.py``
- ``generate``    run ``nbgrader generate_assignment``
- ``notebooks``   what the source notebooks hide; released notebooks made deterministic
- ``leak_scan``   fail closed on any marker, hidden-test line or reference line in a release
- ``publish``     swap the checked release into ``assignments/<a>/``
"""
