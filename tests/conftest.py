import os
import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "npae", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "npae"))

GRAD_TOL = 1e-6


def mnist_dir():
    """The folder holding ``mnist/`` with the real IDX files, or None."""
    root = os.environ.get("NPAE_DATA_DIR")
    if root and (pathlib.Path(root) / "mnist" / "train-images-idx3-ubyte.gz").exists():
        return root
    return None


requires_mnist = pytest.mark.skipif(mnist_dir() is None, reason="NPAE_DATA_DIR does not point at a folder with mnist/ IDX files")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
