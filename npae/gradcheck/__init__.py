"""Gradient checking: finite differences (``finite_differences.py``), the table of every gradient of the library
behind ``npae gradcheck`` (``suite.py``), and the twins of an npae network in the two autograd oracles, PyTorch
(``torch_bridge.py``) and JAX (``jax_bridge.py``), with what they share (``twins.py``)."""

from .finite_differences import check_function, check_layer, check_loss, numerical_gradient, relative_error

__all__ = ["check_function", "check_layer", "check_loss", "numerical_gradient", "relative_error"]
