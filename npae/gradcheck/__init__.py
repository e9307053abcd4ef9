"""Gradient checking: finite differences (``finite_differences.py``), the table of every gradient of the library
behind ``npae gradcheck`` (``suite.py``), and the PyTorch twin of an npae network (``torch_bridge.py``)."""

from .finite_differences import check_function, check_layer, check_loss, numerical_gradient, relative_error

__all__ = ["check_function", "check_layer", "check_loss", "numerical_gradient", "relative_error"]
