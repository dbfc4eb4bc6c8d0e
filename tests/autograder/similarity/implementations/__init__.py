"""Implementations of the conv_pool tasks, one student per file, for the simulated class.

Each function holds what a student writes in place of the release's stub (the
``raise NotImplementedError`` line): it uses the names the starter code defines before that
line (``stride``, ``pad``, ``H_out``, ``xp``...), assigns the variables the starter code
returns (``out``, ``dx``...), and is spliced into the release by ``class_builder``. Top-level
imports go to the top of the student's ``layers.py``.

- ann: nested loops over (n, f, i, j), np.pad; shares her code with bob
- bob: ann's code, renamed, reformatted, commented, two independent statements swapped
- dee: scalar loops in the order (n, i, j, f), padding by hand, boolean masks for pooling
- eli: vectorized over the batch: loops over kernel taps (shift and add), einsum
- fay: loops over output positions with einsum on windows, argmax + unravel_index
- gus: loops over filters outside positions, np.sum over axes, np.add.at for pooling
"""
