"""cs231n_lib: the reference ConvNet library of the course kit (CS231n API)."""
