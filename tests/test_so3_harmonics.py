"""Real spherical harmonics: every identity the docstrings state, and independent oracles (sympy, scipy)."""

import numpy as np
import pytest
import scipy.special
from conftest import L_MAX_TESTED, ROUNDOFF, random_unit_vectors

import macetutor as mt
from macetutor.so3 import PERMUTATION

DEGREES = range(L_MAX_TESTED + 1)


def textbook_point_to_macetutor(x_textbook):
    """macetutor's Y(x) is the textbook real Y at (x', y', z') = (z, x, y); invert that map."""
    return x_textbook @ PERMUTATION  # x = P^T x'


def product_quadrature(n_theta, n_phi):
    """An independent sphere quadrature (not the one inside wigner_D): points (K, 3), weights (K,)."""
    t, w = np.polynomial.legendre.leggauss(n_theta)
    phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    s = np.sqrt(1 - t**2)
    pts = np.stack([np.outer(s, np.cos(phi)), np.outer(s, np.sin(phi)), np.outer(t, np.ones(n_phi))], -1)
    return pts.reshape(-1, 3), np.outer(w, np.full(n_phi, 2 * np.pi / n_phi)).reshape(-1)


def test_l0_and_l1_blocks_in_component_normalisation(rng):
    x = rng.standard_normal((50, 3))
    x_hat = x / np.linalg.norm(x, axis=-1, keepdims=True)
    np.testing.assert_allclose(mt.spherical_harmonics(0, x), 1.0, atol=0)
    # the l = 1 block is proportional to (x, y, z): e3nn's order, so D^1(R) = R
    np.testing.assert_allclose(mt.spherical_harmonics(1, x), np.sqrt(3) * x_hat, atol=ROUNDOFF)


def test_l2_block_matches_hand_written_polynomials(rng):
    x, y, z = random_unit_vectors(rng, 20).T
    s3 = np.sqrt(3)
    expected = np.sqrt(5) * np.stack(
        [s3 * x * z, s3 * x * y, y**2 - (x**2 + z**2) / 2, s3 * y * z, s3 / 2 * (z**2 - x**2)], -1
    )
    np.testing.assert_allclose(mt.spherical_harmonics(2, np.stack([x, y, z], -1)), expected, atol=ROUNDOFF)


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_orthogonality_and_normalisation_by_quadrature(normalization):
    """integral of Y_lm Y_l'm' over the sphere = delta * (1 | 4 pi | 4 pi / (2l+1))."""
    ls = list(DEGREES)
    points, weights = product_quadrature(L_MAX_TESTED + 1, 2 * L_MAX_TESTED + 2)
    Y = mt.spherical_harmonics(ls, points, normalization=normalization)  # (K, 169)
    gram = np.einsum("k,ka,kb->ab", weights, Y, Y)
    scale = {"integral": 1.0, "component": 4 * np.pi, "norm": None}[normalization]
    if scale is None:
        expected = np.diag(np.concatenate([np.full(2 * l + 1, 4 * np.pi / (2 * l + 1)) for l in ls]))
    else:
        expected = scale * np.eye(len(gram))
    np.testing.assert_allclose(gram, expected, atol=1e-13)


@pytest.mark.parametrize("l", DEGREES)
def test_pointwise_norms_of_each_normalisation(l, rng):
    x = rng.standard_normal((100, 3))
    sq = {n: np.sum(mt.spherical_harmonics(l, x, normalization=n) ** 2, -1) for n in mt.so3.NORMALIZATIONS}
    np.testing.assert_allclose(sq["component"], 2 * l + 1, rtol=ROUNDOFF * (2 * l + 1))
    np.testing.assert_allclose(sq["norm"], 1.0, rtol=ROUNDOFF * (2 * l + 1))
    np.testing.assert_allclose(sq["integral"], (2 * l + 1) / (4 * np.pi), rtol=ROUNDOFF * (2 * l + 1))


@pytest.mark.parametrize("l", DEGREES)
def test_addition_theorem(l, rng):
    """sum_m Y_lm(x) Y_lm(y) = (2l+1)/(4 pi) P_l(x . y)  (integral normalisation)."""
    x, y = random_unit_vectors(rng, 200), random_unit_vectors(rng, 200)
    lhs = np.sum(
        mt.spherical_harmonics(l, x, normalization="integral") * mt.spherical_harmonics(l, y, normalization="integral"),
        -1,
    )
    rhs = (2 * l + 1) / (4 * np.pi) * scipy.special.eval_legendre(l, np.sum(x * y, -1))
    np.testing.assert_allclose(lhs, rhs, atol=ROUNDOFF * (2 * l + 1))


@pytest.mark.parametrize("l", DEGREES)
def test_parity_and_homogeneity(l, rng):
    x = rng.standard_normal((100, 3))
    Y = mt.spherical_harmonics(l, x)
    np.testing.assert_allclose(mt.spherical_harmonics(l, -x), (-1) ** l * Y, atol=ROUNDOFF * (2 * l + 1))
    # normalize=False returns the homogeneous polynomial |x|^l Y(x_hat)
    r = np.linalg.norm(x, axis=-1, keepdims=True)
    expected = r**l * Y
    np.testing.assert_allclose(
        mt.spherical_harmonics(l, x, normalize=False), expected, atol=1e-13 * np.max(np.abs(expected))
    )


def test_list_of_degrees_concatenates_blocks_in_the_given_order(rng):
    x = rng.standard_normal((7, 3))
    blocks = [mt.spherical_harmonics(l, x) for l in (3, 0, 2)]
    np.testing.assert_array_equal(mt.spherical_harmonics([3, 0, 2], x), np.concatenate(blocks, -1))
    assert mt.spherical_harmonics(list(range(4)), x).shape == (7, 16)  # flattened index l*l + l + m
    assert mt.spherical_harmonics(2, np.zeros((2, 4, 3)) + 1.0).shape == (2, 4, 5)


# ---------------------------------------------------------------- independent oracles


@pytest.mark.parametrize("l", DEGREES)
def test_against_scipy_complex_harmonics(l, rng):
    """Textbook real Y = Q Y_complex, with scipy's sph_harm_y(l, m, theta=polar, phi=azimuth) (Condon-Shortley)."""
    theta, phi = np.arccos(rng.uniform(-1, 1, 300)), rng.uniform(0, 2 * np.pi, 300)
    m = np.arange(-l, l + 1)
    Y_complex = scipy.special.sph_harm_y(l, m[None, :], theta[:, None], phi[:, None])  # (K, 2l+1)
    Y_real_textbook = Y_complex @ mt.real_from_complex(l).T
    assert np.max(np.abs(Y_real_textbook.imag)) < 1e-14
    x_textbook = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)
    ours = mt.spherical_harmonics(l, textbook_point_to_macetutor(x_textbook), normalization="integral")
    np.testing.assert_allclose(ours, Y_real_textbook.real, atol=ROUNDOFF * (2 * l + 1))


@pytest.mark.parametrize("l", range(0, 7))
def test_against_sympy_Ynm_and_Znm(l, rng):
    """sympy's complex Ynm (Condon-Shortley) through Q; sympy's real Znm = s_m x textbook real,
    s_m = (-1)^m for m >= 0 and -1 for m < 0 (sympy's real harmonics are not Wikipedia's)."""
    import sympy as sp

    theta_s, phi_s = sp.symbols("theta phi", real=True)
    theta, phi = np.arccos(rng.uniform(-1, 1, 3)), rng.uniform(0, 2 * np.pi, 3)
    x_textbook = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)
    ours = mt.spherical_harmonics(l, textbook_point_to_macetutor(x_textbook), normalization="integral")
    Q = mt.real_from_complex(l)
    for k in range(3):
        subs = {theta_s: theta[k], phi_s: phi[k]}
        Y_c = np.array(
            [complex(sp.Ynm(l, m, theta_s, phi_s).expand(func=True).evalf(subs=subs)) for m in range(-l, l + 1)]
        )
        Z = np.array(
            [complex(sp.Znm(l, m, theta_s, phi_s).expand(func=True).evalf(subs=subs)).real for m in range(-l, l + 1)]
        )
        np.testing.assert_allclose((Q @ Y_c).real, ours[k], atol=1e-13)
        m = np.arange(-l, l + 1)
        np.testing.assert_allclose(Z, np.where(m < 0, -1.0, (-1.0) ** m) * ours[k], atol=1e-13)


@pytest.mark.parametrize("l", [0, 1, 2, 5, 8, 12])
def test_float_path_equals_exact_sympy_polynomials(l, rng):
    """harmonic_polynomials(l) are exact; evaluate them with 40 digits and compare with the float64 path."""
    import mpmath
    import sympy as sp

    polys = mt.harmonic_polynomials(l)
    assert all(sp.Poly(p, *sp.symbols("x y z", real=True)).is_homogeneous for p in polys)
    f = sp.lambdify(sp.symbols("x y z", real=True), polys, modules="mpmath")
    x = rng.standard_normal((20, 3))
    with mpmath.workdps(40):
        exact = np.array([[float(v) for v in f(*map(mpmath.mpf, p))] for p in x])
    np.testing.assert_allclose(
        mt.spherical_harmonics(l, x, normalize=False), exact, rtol=1e-13, atol=1e-13 * np.max(np.abs(exact))
    )


@pytest.mark.parametrize("l", [1, 2, 3, 4])
def test_exact_polynomials_are_harmonic(l):
    import sympy as sp

    x, y, z = sp.symbols("x y z", real=True)
    for p in mt.harmonic_polynomials(l, normalization="integral"):
        assert sp.simplify(sp.diff(p, x, 2) + sp.diff(p, y, 2) + sp.diff(p, z, 2)) == 0


# ---------------------------------------------------------------- gradients


def central_difference(f, x, h):
    """(f(x + h e_k) - f(x - h e_k)) / 2h for each k: (..., n, 3)."""
    cols = []
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, -1)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("l", DEGREES)
def test_gradient_against_finite_differences(l, normalize, rng):
    x = random_unit_vectors(rng, 30) * rng.uniform(0.7, 1.5, (30, 1))  # |x| away from 0: bounded third derivatives
    Y, dY = mt.spherical_harmonics_with_gradient(l, x, normalize=normalize)
    np.testing.assert_array_equal(Y, mt.spherical_harmonics(l, x, normalize=normalize))
    f = lambda x: mt.spherical_harmonics(l, x, normalize=normalize)  # noqa: E731
    fd_coarse, fd_fine = central_difference(f, x, 1e-4), central_difference(f, x, 1e-5)
    scale = np.max(np.abs(dY)) + 1.0
    err_coarse, err_fine = np.max(np.abs(fd_coarse - dY)) / scale, np.max(np.abs(fd_fine - dY)) / scale
    assert err_fine < 1e-10 * (l + 1) ** 2  # h^2 truncation, grows with the degree
    if err_coarse > 1e-8:  # truncation error falls as h^2 (step 10x smaller -> ~100x smaller error)
        assert err_fine < err_coarse / 30


@pytest.mark.parametrize("l", DEGREES)
def test_gradient_identities(l, rng):
    """x . dY/dx = 0 on directions (normalize=True); = l Y for the homogeneous polynomial (Euler)."""
    x = rng.standard_normal((50, 3))
    _, dY = mt.spherical_harmonics_with_gradient(l, x, normalize=True)
    np.testing.assert_allclose(np.einsum("nak,nk->na", dY, x), 0.0, atol=1e-12)
    Y, dY = mt.spherical_harmonics_with_gradient(l, x, normalize=False)
    np.testing.assert_allclose(np.einsum("nak,nk->na", dY, x), l * Y, rtol=1e-12, atol=1e-12 * (np.max(np.abs(Y)) + 1))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "l, error, match",
    [
        (-1, ValueError, ">= 0"),
        (1.5, TypeError, "integer"),
        ("2", TypeError, "integer"),
        (True, TypeError, "integer"),
        ([], ValueError, "non-empty"),
        ([1, -2], ValueError, ">= 0"),
    ],
)
def test_bad_degree(l, error, match):
    with pytest.raises(error, match=match):
        mt.spherical_harmonics(l, np.ones(3))


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((2, 3)), "zero-length"),
        (np.array([np.nan, 0, 1]), "NaN"),
        (np.array([np.inf, 0, 1]), "NaN or infinite"),
        (np.ones((4, 2)), r"shape \(\.\.\., 3\)"),
        (np.float64(1.0), r"shape"),
        (np.array(["a", "b", "c"]), "real array"),
    ],
)
def test_bad_vectors(x, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mt.spherical_harmonics(2, x)


def test_zero_vector_is_fine_without_normalisation_and_bad_normalisation_is_named():
    np.testing.assert_array_equal(mt.spherical_harmonics(2, np.zeros(3), normalize=False), np.zeros(5))
    with pytest.raises(ValueError, match="normalization must be one of"):
        mt.spherical_harmonics(1, np.ones(3), normalization="schmidt")
