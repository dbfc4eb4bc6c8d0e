"""geometry.py: the layers' one small geometry module, beneath the calculator and the spec parser."""

import ast
import pathlib

import pytest

from cs231n_lib import architecture, geometry, layer_spec
from cs231n_lib.backend import np

LIBRARY = pathlib.Path(geometry.__file__).parent


def library_imports(module_file):
    """The cs231n_lib modules a library file imports (relative imports, by module name)."""
    tree = ast.parse((LIBRARY / module_file).read_text())
    return {node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}


def test_geometry_sits_beneath_the_calculator_and_the_parser():
    assert library_imports("geometry.py") == {"checks"}
    assert "geometry" in library_imports("architecture.py")
    assert "geometry" in library_imports("layer_spec.py")
    assert "geometry" in library_imports("layers.py")


def test_one_conv_output_size_and_one_integer_check():
    assert architecture.conv_output_size is geometry.conv_output_size
    assert layer_spec.require_int is geometry.require_int
    assert not hasattr(architecture, "_require_int")


def test_require_int_takes_numpy_integers_and_refuses_bools_and_floats():
    assert geometry.require_int("S", np.int64(2), 1) == 2
    assert type(geometry.require_int("S", np.int64(2), 1)) is int
    with pytest.raises(TypeError, match="S must be an integer >= 1, got bool True"):
        geometry.require_int("S", True, 1)
    with pytest.raises(TypeError, match="S must be an integer >= 1, got float 2.0"):
        geometry.require_int("S", 2.0, 1)
    with pytest.raises(ValueError, match="S must be an integer >= 1, got 0"):
        geometry.require_int("S", 0, 1)
    assert geometry.conv_output_size(np.int64(7), 3, 0, np.int32(2)) == 3
