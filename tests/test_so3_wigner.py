"""Wigner D-matrices: representation identities, equivariance of Y up to l = 12 (proper and improper),
and the textbook complex D against sympy."""

import numpy as np
import pytest
from conftest import EQUIVARIANCE_RTOL, L_MAX_TESTED, ROUNDOFF, relative_residual

import macetutor as mt
from macetutor.so3 import PERMUTATION

DEGREES = range(L_MAX_TESTED + 1)


@pytest.mark.parametrize("improper", [False, True])
@pytest.mark.parametrize("l", DEGREES)
def test_harmonics_are_equivariant(l, improper, rng):
    """spherical_harmonics(l, x @ R.T) == spherical_harmonics(l, x) @ wigner_D(l, R).T, relative residual <= 1e-12."""
    x = rng.standard_normal((500, 3))
    for _ in range(3):
        R = mt.random_rotation(rng, improper=improper)
        D = mt.wigner_D(l, R)
        for normalization in ("integral", "component", "norm"):
            lhs = mt.spherical_harmonics(l, x @ R.T, normalization=normalization)
            rhs = mt.spherical_harmonics(l, x, normalization=normalization) @ D.T
            assert relative_residual(lhs, rhs) <= EQUIVARIANCE_RTOL


@pytest.mark.parametrize("l", DEGREES)
def test_D_is_a_real_orthogonal_representation(l, rng):
    R1, R2 = mt.random_rotation(rng), mt.random_rotation(rng, improper=True)
    D1, D2 = mt.wigner_D(l, R1), mt.wigner_D(l, R2)
    tol = ROUNDOFF * (2 * l + 1)
    np.testing.assert_allclose(mt.wigner_D(l, R1 @ R2), D1 @ D2, atol=tol)  # D(R1 R2) = D(R1) D(R2)
    np.testing.assert_allclose(D1.T @ D1, np.eye(2 * l + 1), atol=tol)  # orthogonal
    np.testing.assert_allclose(mt.wigner_D(l, np.eye(3)), np.eye(2 * l + 1), atol=tol)  # D(I) = I
    np.testing.assert_allclose(mt.wigner_D(l, -np.eye(3)), (-1) ** l * np.eye(2 * l + 1), atol=tol)  # parity
    np.testing.assert_allclose(mt.wigner_D(l, -R1), (-1) ** l * D1, atol=tol)  # D(-R) = (-1)^l D(R)
    np.testing.assert_allclose(mt.wigner_D(l, R1.T), D1.T, atol=tol)  # D(R^-1) = D(R)^T
    assert np.linalg.det(D1) == pytest.approx(1.0, abs=1e-12)


def test_D0_is_one_and_D1_is_R(rng):
    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        np.testing.assert_allclose(mt.wigner_D(0, R), [[1.0]], atol=ROUNDOFF)
        np.testing.assert_allclose(mt.wigner_D(1, R), R, atol=ROUNDOFF)


def test_list_of_degrees_gives_block_diagonal_and_batches_broadcast(rng):
    Rs = np.stack([mt.random_rotation(rng) for _ in range(4)])  # (4, 3, 3)
    D = mt.wigner_D([0, 2, 1], Rs)
    assert D.shape == (4, 9, 9)
    np.testing.assert_allclose(D[2, 1:6, 1:6], mt.wigner_D(2, Rs[2]), atol=ROUNDOFF)
    np.testing.assert_allclose(D[2, 6:, 6:], Rs[2], atol=ROUNDOFF)
    assert np.all(D[:, 1:6, 6:] == 0) and np.all(D[:, 0, 1:] == 0)


@pytest.mark.parametrize("l", range(0, 5))
def test_complex_D_equals_sympy_Rotation_D(l, rng):
    from sympy.physics.quantum.spin import Rotation

    alpha, beta, gamma = rng.uniform(-np.pi, np.pi, 3)
    D = mt.wigner_D_complex(l, alpha, beta, gamma)
    expected = np.array(
        [
            [complex(Rotation.D(l, mp, m, alpha, beta, gamma).doit().evalf()) for m in range(-l, l + 1)]
            for mp in range(-l, l + 1)
        ]
    )
    np.testing.assert_allclose(D, expected, atol=1e-14)


def test_small_d_of_l1_textbook_values():
    beta = 0.7
    d = mt.wigner_D_complex(1, 0.0, beta, 0.0).real  # rows m' = -1, 0, 1; columns m
    np.testing.assert_allclose(d[2, 1], -np.sin(beta) / np.sqrt(2), atol=ROUNDOFF)  # d^1_{1,0}
    np.testing.assert_allclose(d[2, 2], (1 + np.cos(beta)) / 2, atol=ROUNDOFF)  # d^1_{1,1}
    np.testing.assert_allclose(d[0, 2], (1 - np.cos(beta)) / 2, atol=ROUNDOFF)  # d^1_{-1,1}


@pytest.mark.parametrize("l", DEGREES)
def test_real_D_from_complex_D_two_independent_routes(l, rng):
    """Textbook basis: D_real = Q conj(D_complex(alpha, beta, gamma)) Q^dagger for R = R_z(alpha) R_y(beta) R_z(gamma);
    macetutor's basis is the textbook one at P x, so D_macetutor(R) = D_textbook(P R P^T)."""
    alpha, beta, gamma = rng.uniform(-np.pi, np.pi, 3)
    Q = mt.real_from_complex(l)
    D_textbook = Q @ mt.wigner_D_complex(l, alpha, beta, gamma).conj() @ Q.conj().T
    assert np.max(np.abs(D_textbook.imag)) < 1e-13
    R_textbook = mt.rotation_matrix(alpha, beta, gamma)
    R = PERMUTATION.T @ R_textbook @ PERMUTATION
    np.testing.assert_allclose(mt.wigner_D(l, R), D_textbook.real, atol=1e-13)


@pytest.mark.parametrize("l", [0, 1, 4, 12])
def test_real_from_complex_is_unitary(l):
    Q = mt.real_from_complex(l)
    np.testing.assert_allclose(Q @ Q.conj().T, np.eye(2 * l + 1), atol=ROUNDOFF)


def test_rotation_helpers(rng):
    R = mt.rotation_matrix(0.3, 1.2, -2.0)
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=ROUNDOFF)
    np.testing.assert_allclose(mt.rotation_matrix(0.5, 0, 0) @ [1, 0, 0], [np.cos(0.5), np.sin(0.5), 0], atol=ROUNDOFF)
    np.testing.assert_allclose(mt.rotation_matrix(0, 0.5, 0) @ [0, 0, 1], [np.sin(0.5), 0, np.cos(0.5)], atol=ROUNDOFF)
    assert np.linalg.det(mt.random_rotation(rng)) == pytest.approx(1)
    assert np.linalg.det(mt.random_rotation(rng, improper=True)) == pytest.approx(-1)


@pytest.mark.parametrize(
    "R, match",
    [
        (np.diag([1.0, 1.0, 2.0]), "not orthogonal"),
        (np.eye(2), r"shape \(\.\.\., 3, 3\)"),
        (np.full((3, 3), np.nan), "NaN"),
        (np.eye(3) + 1e-6, "not orthogonal"),
    ],
)
def test_bad_rotation(R, match):
    with pytest.raises(ValueError, match=match):
        mt.wigner_D(1, R)


def test_bad_degree_and_angles():
    with pytest.raises(ValueError, match=">= 0"):
        mt.wigner_D(-1, np.eye(3))
    with pytest.raises(ValueError, match="finite"):
        mt.wigner_D_complex(1, np.nan, 0.0, 0.0)
