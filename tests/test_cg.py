"""Clebsch-Gordan coefficients: exact complex values from sympy, and the real coupling's identities
(invariance under D x D x D for every triple with l <= 6, orthonormality, selection rules)."""

import itertools

import numpy as np
import pytest
import sympy as sp
from conftest import EQUIVARIANCE_RTOL, ROUNDOFF, relative_residual

import macetutor as mt

L_MAX_CG = 6
TRIPLES = [
    (l1, l2, l3) for l1, l2, l3 in itertools.product(range(L_MAX_CG + 1), repeat=3) if abs(l1 - l2) <= l3 <= l1 + l2
]


def test_textbook_complex_values():
    cg = mt.clebsch_gordan_complex
    assert cg(1, 1, 1, -1, 0, 0) == 1 / sp.sqrt(3)
    assert cg(1, 0, 1, 0, 2, 0) == sp.sqrt(sp.Rational(2, 3))
    assert cg(1, 0, 1, 0, 1, 0) == 0
    assert cg(1, 1, 1, -1, 1, 0) == 1 / sp.sqrt(2)
    assert cg(2, 2, 3, 3, 5, 5) == 1  # stretched state
    assert cg(1, 1, 1, 1, 1, 1) == 0  # m1 + m2 != m3... and |m3| <= l3 violated by 2 > 1


def test_complex_coefficients_form_a_unitary_change_of_basis():
    """sum_{m1, m2} <l1 m1 l2 m2 | L M> <l1 m1 l2 m2 | L' M'> = delta_{L L'} delta_{M M'} (exact, sympy)."""
    l1, l2 = 2, 1
    rows = [(L, M) for L in range(1, 4) for M in range(-L, L + 1)]
    cols = [(m1, m2) for m1 in range(-l1, l1 + 1) for m2 in range(-l2, l2 + 1)]
    U = sp.Matrix([[mt.clebsch_gordan_complex(l1, m1, l2, m2, L, M) for m1, m2 in cols] for L, M in rows])
    assert sp.simplify(U * U.T - sp.eye(len(rows))) == sp.zeros(len(rows))


@pytest.mark.parametrize("l1, l2, l3", TRIPLES)
def test_real_coupling_is_invariant_under_proper_and_improper_rotations(l1, l2, l3, rng):
    C = mt.clebsch_gordan(l1, l2, l3)
    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        D1, D2, D3 = (mt.wigner_D(l, R) for l in (l1, l2, l3))
        rotated = np.einsum("abc,ad,be,cf->def", C, D1, D2, D3)
        parity = (-1) ** (l1 + l2 + l3) if improper else 1
        assert relative_residual(rotated, parity * C) <= EQUIVARIANCE_RTOL


@pytest.mark.parametrize("l1, l2, l3", TRIPLES)
def test_real_coupling_is_orthonormal_and_obeys_the_real_selection_rule(l1, l2, l3):
    C = mt.clebsch_gordan(l1, l2, l3)
    assert C.shape == (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
    np.testing.assert_allclose(np.einsum("abc,abd->cd", C, C), np.eye(2 * l3 + 1), atol=ROUNDOFF)
    m1, m2, m3 = np.meshgrid(*(np.arange(-l, l + 1) for l in (l1, l2, l3)), indexing="ij")
    allowed = (abs(m3) == abs(m1) + abs(m2)) | (abs(m3) == abs(abs(m1) - abs(m2)))
    assert np.all(C[~allowed] == 0.0)


@pytest.mark.parametrize("l1, l2", [(0, 0), (1, 1), (2, 1), (3, 2), (4, 4)])
def test_real_coupling_is_complete(l1, l2):
    """sum_{l3, c} C[a, b, c] C[a', b', c] = delta_{a a'} delta_{b b'}: l1 (x) l2 is the direct sum of the l3."""
    total = sum(
        np.einsum("abc,dec->abde", C, C)
        for C in (mt.clebsch_gordan(l1, l2, l3) for l3 in range(abs(l1 - l2), l1 + l2 + 1))
    )
    n1, n2 = 2 * l1 + 1, 2 * l2 + 1
    np.testing.assert_allclose(total.reshape(n1 * n2, n1 * n2), np.eye(n1 * n2), atol=ROUNDOFF)


@pytest.mark.parametrize("l1, l2, l3", [(1, 1, 2), (2, 3, 4), (1, 2, 2), (3, 3, 3)])
def test_coupled_harmonics_rotate_with_D_l3(l1, l2, l3, rng):
    """einsum('abc,...a,...b->...c', C, Y_l1(x), Y_l2(y)) transforms with wigner_D(l3, R) under rotations;
    under an improper R it carries the parity of the product, (-1)^(l1+l2), not (-1)^l3."""
    C = mt.clebsch_gordan(l1, l2, l3)
    x, y = rng.standard_normal((2, 50, 3))
    coupled = np.einsum("abc,...a,...b->...c", C, mt.spherical_harmonics(l1, x), mt.spherical_harmonics(l2, y))
    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        Y1, Y2 = mt.spherical_harmonics(l1, x @ R.T), mt.spherical_harmonics(l2, y @ R.T)
        coupled_rotated = np.einsum("abc,...a,...b->...c", C, Y1, Y2)
        parity = (-1) ** (l1 + l2 + l3) if improper else 1
        assert relative_residual(coupled_rotated, parity * coupled @ mt.wigner_D(l3, R).T) <= EQUIVARIANCE_RTOL


def test_special_cases(rng):
    for l in range(5):
        np.testing.assert_allclose(mt.clebsch_gordan(0, l, l)[0], np.eye(2 * l + 1), atol=ROUNDOFF)
        np.testing.assert_allclose(mt.clebsch_gordan(l, 0, l)[:, 0], np.eye(2 * l + 1), atol=ROUNDOFF)
        C = mt.clebsch_gordan(l, l, 0)[:, :, 0]
        np.testing.assert_allclose(np.abs(C), np.eye(2 * l + 1) / np.sqrt(2 * l + 1), atol=ROUNDOFF)
    # coupling two vectors to a vector is the cross product (up to the normalisation 1/sqrt(2) and a sign)
    a, b = rng.standard_normal((2, 3))
    cross = np.einsum("abc,a,b->c", mt.clebsch_gordan(1, 1, 1), a, b)
    np.testing.assert_allclose(np.abs(cross / np.cross(a, b)), 1 / np.sqrt(2), rtol=1e-13)


def test_real_coupling_matches_the_complex_definition_entry_by_entry():
    """Recompute one triple independently, entry by entry in exact sympy arithmetic."""
    l1, l2, l3 = 2, 1, 2
    Q = {
        l: sp.Matrix(mt.real_from_complex(l).shape[0], mt.real_from_complex(l).shape[0], lambda i, j: 0) for l in (1, 2)
    }
    s = 1 / sp.sqrt(2)
    for l in (1, 2):  # textbook change of basis, exact
        for m in range(-l, l + 1):
            r = m + l
            if m < 0:
                Q[l][r, m + l], Q[l][r, -m + l] = sp.I * s, -sp.I * s * (-1) ** m
            elif m == 0:
                Q[l][r, r] = 1
            else:
                Q[l][r, -m + l], Q[l][r, m + l] = s, s * (-1) ** m
    np.testing.assert_allclose(np.array(Q[2], dtype=complex), mt.real_from_complex(2), atol=ROUNDOFF)
    C = mt.clebsch_gordan(l1, l2, l3)
    for a, b, c in itertools.product(range(5), range(3), range(5)):
        value = sp.I ** (l1 + l2 - l3) * sum(
            Q[l3][c, m3 + l3]
            * mt.clebsch_gordan_complex(l1, m1, l2, m2, l3, m3)
            * sp.conjugate(Q[l1][a, m1 + l1])
            * sp.conjugate(Q[l2][b, m2 + l2])
            for m1 in range(-l1, l1 + 1)
            for m2 in range(-l2, l2 + 1)
            for m3 in [m1 + m2]
            if abs(m3) <= l3
        )
        value = complex(sp.nsimplify(sp.expand(value)))
        assert abs(value.imag) < 1e-15 and abs(value.real - C[a, b, c]) < 1e-15


def test_arrays_are_read_only_and_bad_triples_are_refused():
    C = mt.clebsch_gordan(1, 1, 2)
    with pytest.raises(ValueError):
        C[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="triangle rule"):
        mt.clebsch_gordan(1, 1, 3)
    with pytest.raises(ValueError, match=">= 0"):
        mt.clebsch_gordan(-1, 1, 1)
    with pytest.raises(ValueError, match=r"\|m\| <= l"):
        mt.clebsch_gordan_complex(1, 2, 1, 0, 1, 1)
    assert mt.cg.is_coupling_allowed(2, 3, 5) and not mt.cg.is_coupling_allowed(2, 3, 6)
