import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "npae", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "npae"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
