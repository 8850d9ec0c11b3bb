"""Shared fixtures and named tolerances.

Tolerances are absolute on arrays whose entries are O(1) (component-normalised harmonics are at
most sqrt(2l+1) in size), or relative where the name says so.
"""

import numpy as np
import pytest

# float64 round-off of a few dozen operations
ROUNDOFF = 1e-14
# the bound for equivariance residuals, relative to the size of the array
EQUIVARIANCE_RTOL = 1e-12
# the bound for agreement with e3nn's harmonics
E3NN_ATOL = 1e-13
L_MAX_TESTED = 12


@pytest.fixture
def rng():
    return np.random.default_rng(20221011)  # seeded: every test is reproducible


def relative_residual(a, b):
    """max |a - b| / max |b|: the measure used for every equivariance check."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def random_unit_vectors(rng, n):
    x = rng.standard_normal((n, 3))
    return x / np.linalg.norm(x, axis=-1, keepdims=True)
