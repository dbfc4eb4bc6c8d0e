"""Known independent implementations, one folder per assignment (``<assignment>/*.py``).

The similarity report reads them as extra authors who copied from no one: every fingerprint
they share with a student is code that independent people write alike, so it weighs less.
They are never reported themselves. Instructor-only, like ``solutions/`` (not part of any
release).

Format: each file defines the assignment's task functions and the functions its notebook's
solution cells define, by name; a function holds what a student writes in place of the
release's stub and uses the names the starter code defines before it (``stride``, ``pad``,
``H_out``, ``xp``...). tests/similarity/test_corpus.py checks that every one is correct, spliced
into the release as a student's submission would be.
"""
