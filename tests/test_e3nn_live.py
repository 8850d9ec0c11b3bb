"""macetutor against the installed e3nn (the `verify` extra; CI installs it). The measured figures of the
foundation issue come from here: max |Y - e3nn Y| over 10^4 random vectors for l <= 11 and each normalisation."""

import numpy as np
import pytest
from conftest import E3NN_ATOL, ROUNDOFF
from e3nn_signs import documented_sign_flips

import macetutor as mt

pytest.importorskip("mace", reason="needs the `verify` extra (torch, mace-torch -> e3nn 0.4.4)")
torch = pytest.importorskip("torch")
o3 = pytest.importorskip("e3nn.o3")  # imported after mace, which sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD

pytestmark = pytest.mark.verify
L_MAX = 11  # e3nn 0.4.4 ships wigner_3j / D constants up to l = 11


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_harmonics_equal_e3nn_on_ten_thousand_vectors(normalization, rng):
    x = rng.standard_normal((10_000, 3))
    ls = list(range(L_MAX + 1))
    expected = o3.spherical_harmonics(
        ls, torch.tensor(x, dtype=torch.float64), True, normalization=normalization
    ).numpy()
    ours = mt.spherical_harmonics(ls, x, normalization=normalization)
    error = np.max(np.abs(ours - expected))
    print(f"max |Y - e3nn Y| for l <= {L_MAX}, {normalization}: {error:.3g}")
    assert error <= E3NN_ATOL


def test_clebsch_gordan_signs_relative_to_e3nn_are_exactly_the_documented_ones():
    flips, n_triples = set(), 0
    for l1 in range(7):
        for l2 in range(7):
            for l3 in range(abs(l1 - l2), min(l1 + l2, 6) + 1):
                n_triples += 1
                C = mt.clebsch_gordan(l1, l2, l3)
                W = np.sqrt(2 * l3 + 1) * o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
                if np.max(np.abs(C + W)) <= ROUNDOFF:
                    flips.add((l1, l2, l3))
                else:
                    np.testing.assert_allclose(C, W, atol=ROUNDOFF)
    assert n_triples == 175
    assert flips == documented_sign_flips()
    assert all((l1 + l2 + l3) % 2 == 1 for l1, l2, l3 in flips)  # only odd triples ever differ


@pytest.mark.parametrize("improper", [False, True])
def test_wigner_D_equals_e3nn(improper, rng):
    for l in range(L_MAX + 1):
        R = mt.random_rotation(rng, improper=improper)
        expected = o3.Irrep(l, (-1) ** l).D_from_matrix(torch.tensor(R)).numpy()
        np.testing.assert_allclose(mt.wigner_D(l, R), expected, atol=1e-13)
