"""Shared test constants and markers (a module of its own: ``conftest`` is a name pytest gives to every
conftest.py it loads, so importing from it breaks when tests/torch/conftest.py was loaded first)."""

import os
import pathlib

import pytest

GRAD_TOL = 1e-6


def mnist_dir():
    """The folder holding ``mnist/`` with the real IDX files, or None."""
    root = os.environ.get("NPAE_DATA_DIR")
    if root and (pathlib.Path(root) / "mnist" / "train-images-idx3-ubyte.gz").exists():
        return root
    return None


requires_mnist = pytest.mark.skipif(
    mnist_dir() is None, reason="NPAE_DATA_DIR does not point at a folder with mnist/ IDX files"
)
