"""Rotations acting on functions on the sphere: real spherical harmonics Y and Wigner D-matrices.

Conventions (all stated in ``docs/conventions.md``, each backed by a test):

* Real spherical harmonics in **e3nn's basis and order**, the one MACE uses: for each ``l`` the
  ``2l+1`` components are ordered ``m = -l..l`` and the ``l = 1`` block is proportional to
  ``(x, y, z)``. This basis is the textbook real basis (Wikipedia's table, no Condon-Shortley
  sign) evaluated at the cyclically permuted point ``(x', y', z') = (z, x, y)``: the polar axis of
  the textbook formulas is e3nn's ``y`` axis.
* Flattened index of ``(l, m)`` when all ``l = 0..l_max`` are concatenated: ``l*l + l + m``.
* Normalisations (e3nn's names): ``"integral"``: the integral of ``Y_lm**2`` over the unit
  sphere is 1; ``"component"`` (MACE's): ``sum_m Y_lm(x)**2 = 2l+1`` on the sphere;
  ``"norm"``: ``sum_m Y_lm(x)**2 = 1`` on the sphere.
* Rotations act on points as ``x -> R x``; row-vector arrays therefore rotate as ``x @ R.T``.
  ``wigner_D(l, R)`` is the real matrix with ``Y(R x) = D(R) Y(x)``.

Everything is exact where it can be: the constants of the recurrence that generates the
harmonic polynomials are square roots of rationals computed by sympy, converted to float64
once and cached on disk; :func:`harmonic_polynomials` runs the same recurrence on sympy symbols
and returns the exact polynomials.

References: Holmes & Featherstone, J. Geodesy 76, 279 (2002) (the normalised Legendre
recurrence); Sakurai & Napolitano, *Modern Quantum Mechanics*, sec. 3.5 (Euler angles and
the Wigner D-matrix); e3nn documentation, ``o3.spherical_harmonics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from numbers import Integral

import numpy as np

from macetutor._cache import cached_array

__all__ = [
    "spherical_harmonics",
    "spherical_harmonics_with_gradient",
    "harmonic_polynomials",
    "wigner_D",
    "wigner_D_complex",
    "real_from_complex",
    "rotation_matrix",
    "random_rotation",
    "NORMALIZATIONS",
    "PERMUTATION",
]

NORMALIZATIONS = ("integral", "component", "norm")

# e3nn's axes: the textbook (x', y', z') are macetutor's (z, x, y). PERMUTATION @ x = x'.
PERMUTATION = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # (3, 3)


# --------------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------------


def _as_degree_list(l) -> list[int]:
    """Check ``l`` (an int or a non-empty sequence of ints, each >= 0) and return it as a list."""
    items = [l] if not isinstance(l, (Sequence, np.ndarray)) or isinstance(l, str) else list(l)
    if len(items) == 0:
        raise ValueError("l must be a non-negative integer or a non-empty list of them, got []")
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, Integral):
            raise TypeError(f"the degree l must be a non-negative integer, got {item!r}")
        if item < 0:
            raise ValueError(f"the degree l must be >= 0, got {item}")
    return [int(item) for item in items]


def _as_vectors(x) -> np.ndarray:
    """Check that ``x`` is a finite array of shape (..., 3); return it as float64 (or complex128: complex input, used
    by the training's complex-step derivative, goes through every formula unchanged, none of which uses |x|)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iufc":
        raise TypeError(f"x must be a real array of shape (..., 3), got dtype {x.dtype}")
    x = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64, copy=False)
    if x.ndim == 0 or x.shape[-1] != 3:
        raise ValueError(f"x must have shape (..., 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    return x


def _check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def _as_rotation(R) -> np.ndarray:
    """Check that ``R`` is a real orthogonal matrix (or a stack of them) of shape (..., 3, 3)."""
    R = np.asarray(R)
    if R.dtype.kind not in "iuf":
        raise TypeError(f"R must be a real array of shape (..., 3, 3), got dtype {R.dtype}")
    R = R.astype(np.float64, copy=False)
    if R.ndim < 2 or R.shape[-2:] != (3, 3):
        raise ValueError(f"R must have shape (..., 3, 3), got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError("R contains NaN or infinite values")
    residual = np.max(np.abs(np.swapaxes(R, -1, -2) @ R - np.eye(3)))
    if residual > 1e-9:
        raise ValueError(f"R is not orthogonal: max |R^T R - I| = {residual:.3g} (> 1e-9)")
    return R


# --------------------------------------------------------------------------------------------
# spherical harmonics
# --------------------------------------------------------------------------------------------


def _exact_recurrence_constants(l_max: int) -> tuple[list, dict, dict]:
    """Exact constants (sympy) of the normalised recurrence, 'component' normalisation.

    With K_lm = sqrt((2l+1) (l-m)!/(l+m)!) (times sqrt(2) for m > 0) the component-normalised
    Legendre part P_lm = K_lm * r^(l-m) * d^m P_l/dt^m (t = z'/r) obeys

        P_mm = K_mm (2m-1)!!,
        P_lm = a_lm z' P_(l-1)m - b_lm r^2 P_(l-2)m,
        a_lm = K_lm / K_(l-1)m * (2l-1)/(l-m),   b_lm = K_lm / K_(l-2)m * (l+m-1)/(l-m),

    the fully normalised form of the textbook Legendre recurrence.
    """
    import sympy as sp  # imported here: only needed on a cache miss

    def K(l, m):
        value = sp.sqrt(sp.Integer(2 * l + 1) * sp.factorial(l - m) / sp.factorial(l + m))
        return value * sp.sqrt(2) if m > 0 else value

    diag = [K(m, m) * sp.factorial2(2 * m - 1) for m in range(l_max + 1)]
    a, b = {}, {}
    for m in range(l_max + 1):
        for l in range(m + 1, l_max + 1):
            a[l, m] = K(l, m) / K(l - 1, m) * sp.Rational(2 * l - 1, l - m)
            if l >= m + 2:
                b[l, m] = K(l, m) / K(l - 2, m) * sp.Rational(l + m - 1, l - m)
    return diag, a, b


def _recurrence_table(l_max: int) -> np.ndarray:
    """float64 table (3, l_max+1, l_max+1): [0][m, m] = P_mm, [1][l, m] = a_lm, [2][l, m] = b_lm."""

    def compute():
        diag, a, b = _exact_recurrence_constants(l_max)
        table = np.zeros((3, l_max + 1, l_max + 1))  # (3, l_max+1, l_max+1)
        for m, value in enumerate(diag):
            table[0, m, m] = float(value)
        for (l, m), value in a.items():
            table[1, l, m] = float(value)
        for (l, m), value in b.items():
            table[2, l, m] = float(value)
        return table

    return cached_array("sh_recurrence", (l_max,), (3, l_max + 1, l_max + 1), compute)


def _solid_harmonics(u: np.ndarray, l_max: int, constants, with_gradient: bool):
    """Component-normalised real solid harmonics r^l Y_lm(u/r) in the *textbook* real basis.

    ``u`` has shape (..., 3) and holds the textbook coordinates (x', y', z') (z' is the polar
    axis). Returns ``Y`` with shape (..., (l_max+1)**2) (index l*l + l + m) and, if asked, the
    gradient ``dY`` with shape (..., (l_max+1)**2, 3) with respect to u.

    The polynomials are  Y_l0 = P_l0,  Y_lm = P_lm A_m,  Y_l(-m) = P_lm B_m  (m > 0), where
    A_m + i B_m = (x' + i y')^m and P_lm is the normalised Legendre part (see
    ``_exact_recurrence_constants``). Each line that computes a value is followed by the line
    that computes its derivative (product rule); ``u`` may also be an object array of sympy
    symbols, with exact ``constants``, which is how :func:`harmonic_polynomials` works.

    (Longer than most functions here: the three stages of one recurrence -- A_m + i B_m, the Legendre part,
    their products -- stay together so that each value keeps its derivative on the next line.)
    """
    diag, a, b = constants
    xp, yp, zp = u[..., 0], u[..., 1], u[..., 2]  # (...,) each
    r2 = xp * xp + yp * yp + zp * zp  # (...,)
    one, zero = np.ones_like(xp), np.zeros_like(xp)  # (...,)
    e_x, e_y, e_z = np.eye(3)  # d x'/du, d y'/du, d z'/du: (3,) each
    no_gradient = zero[..., None] * e_x if with_gradient else None  # (..., 3): zeros

    # A_m + i B_m = (x' + i y')^m, by  (x' + i y')^m = (x' + i y') (x' + i y')^(m-1)
    A, B = [one], [zero]
    dA, dB = [no_gradient], [no_gradient]
    for m in range(1, l_max + 1):
        A.append(xp * A[m - 1] - yp * B[m - 1])
        B.append(xp * B[m - 1] + yp * A[m - 1])
        if not with_gradient:
            dA.append(None), dB.append(None)
            continue
        dA.append(
            xp[..., None] * dA[m - 1]
            + A[m - 1][..., None] * e_x
            - yp[..., None] * dB[m - 1]
            - B[m - 1][..., None] * e_y
        )  # (..., 3)
        dB.append(
            xp[..., None] * dB[m - 1]
            + B[m - 1][..., None] * e_x
            + yp[..., None] * dA[m - 1]
            + A[m - 1][..., None] * e_y
        )  # (..., 3)

    # P_lm: the normalised Legendre part, three-term recurrence in l for each m
    P, dP = {}, {}
    for m in range(l_max + 1):
        P[m, m] = diag[m] * one  # (...,)
        dP[m, m] = no_gradient  # (..., 3)
        for l in range(m + 1, l_max + 1):
            P[l, m] = a[l, m] * zp * P[l - 1, m]  # (...,)
            if with_gradient:
                dP[l, m] = a[l, m] * (zp[..., None] * dP[l - 1, m] + P[l - 1, m][..., None] * e_z)
            if l >= m + 2:
                P[l, m] = P[l, m] - b[l, m] * r2 * P[l - 2, m]
                if with_gradient:
                    dP[l, m] = dP[l, m] - b[l, m] * (r2[..., None] * dP[l - 2, m] + 2.0 * u * P[l - 2, m][..., None])

    Y, dY = [], []
    for l in range(l_max + 1):
        for m in range(-l, l + 1):
            trig, dtrig = (B[-m], dB[-m]) if m < 0 else (A[m], dA[m])
            Y.append(P[l, abs(m)] * trig)  # (...,)
            if with_gradient:
                dY.append(dP[l, abs(m)] * trig[..., None] + P[l, abs(m)][..., None] * dtrig)
    Y = np.stack(Y, axis=-1)  # (..., (l_max+1)**2)
    dY = np.stack(dY, axis=-2) if with_gradient else None  # (..., (l_max+1)**2, 3)
    return Y, dY


def _normalization_factor(l: int, normalization: str) -> float:
    """Factor turning 'component' into the requested normalisation for degree l."""
    return {"component": 1.0, "integral": 1.0 / np.sqrt(4.0 * np.pi), "norm": 1.0 / np.sqrt(2 * l + 1)}[normalization]


def spherical_harmonics_with_gradient(l, x, normalize: bool = True, normalization: str = "component"):
    """Real spherical harmonics Y_l(x) and their analytic gradient dY/dx.

    See :func:`spherical_harmonics` for the conventions. The gradient is that of the function
    actually returned: with ``normalize=True`` it is the gradient of ``x -> Y(x/|x|)``, which by
    the chain rule is ``(grad p(x_hat) - x_hat (x_hat . grad p(x_hat))) / |x|`` for the
    harmonic polynomial p (tangent to the sphere, and ``x . dY/dx = 0``); with
    ``normalize=False`` it is the gradient of the homogeneous polynomial (``x . dY/dx = l Y``).

    Returns:
        Y: (..., sum(2l+1)) and dY: (..., sum(2l+1), 3), with dY[..., a, k] = d Y_a / d x_k.
    """
    return _evaluate(l, x, normalize, normalization, with_gradient=True)


def spherical_harmonics(l, x, normalize: bool = True, normalization: str = "component") -> np.ndarray:
    """Real spherical harmonics Y_lm(x) in e3nn's basis and order.

    Y_lm(x) = sqrt(2) N_lm P_l^|m|(cos theta) {cos(m phi) if m > 0, sin(|m| phi) if m < 0},
    Y_l0 = N_l0 P_l(cos theta), where P_l^m is the associated Legendre function *without* the
    Condon-Shortley sign (-1)^m (scipy's ``lpmv`` includes it), N_lm = sqrt((2l+1)/(4 pi) (l-|m|)!/(l+|m|)!), where
    (theta, phi) are the polar angles of x about e3nn's polar axis y (the textbook formula
    evaluated at (x', y', z') = (z, x, y)); rescaled to the requested normalisation.

    Parameters:
        l: a degree (int >= 0) or a list of degrees; blocks are concatenated in that order.
        x: array (..., 3) of vectors.
        normalize: evaluate at x/|x| (True) or return the homogeneous polynomial |x|^l Y(x/|x|).
        normalization: "component" (sum_m Y_lm^2 = 2l+1 on the sphere; MACE's), "integral"
            (unit L2 norm over the sphere) or "norm" (sum_m Y_lm^2 = 1 on the sphere).

    Returns:
        array (..., sum(2l+1)).

    Identities (tested): orthonormality over the sphere (integral normalisation); addition
    theorem sum_m Y_lm(x) Y_lm(y) = (2l+1)/(4 pi) P_l(x . y); parity Y(-x) = (-1)^l Y(x);
    equivariance Y(R x) = D(R) Y(x), i.e. ``spherical_harmonics(l, x @ R.T) ==
    spherical_harmonics(l, x) @ wigner_D(l, R).T``; the l = 1 block is sqrt(3) x_hat
    (component normalisation).
    """
    Y, _ = _evaluate(l, x, normalize, normalization, with_gradient=False)
    return Y


def _evaluate(l, x, normalize, normalization, with_gradient):
    ls = _as_degree_list(l)
    x = _as_vectors(x)
    _check_normalization(normalization)
    l_max = max(ls)
    if normalize:
        r = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))  # (..., 1): |x|, written without abs (complex step)
        if np.any(np.real(r) == 0.0):
            raise ValueError("x contains a zero-length vector, whose direction is undefined (normalize=True)")
        x_hat = x / r  # (..., 3)
    else:
        x_hat = x
    u = x_hat @ PERMUTATION.T  # (..., 3): textbook coordinates (x', y', z') = (z, x, y)
    table = _recurrence_table(l_max)
    constants = (np.diagonal(table[0]), table[1], table[2])
    Y_all, dY_all = _solid_harmonics(u, l_max, constants, with_gradient)  # (..., (l_max+1)**2)

    blocks, grad_blocks = [], []
    for li in ls:
        factor = _normalization_factor(li, normalization)
        blocks.append(factor * Y_all[..., li * li : (li + 1) ** 2])  # (..., 2l+1)
        if with_gradient:
            grad_u = dY_all[..., li * li : (li + 1) ** 2, :]  # (..., 2l+1, 3): d/du
            grad_x = factor * grad_u @ PERMUTATION  # (..., 2l+1, 3): d/dx = d/du PERMUTATION
            if normalize:  # chain rule through x_hat = x/|x|: (I - x_hat x_hat^T)/|x|
                radial = np.einsum("...ax,...x->...a", grad_x, x_hat)  # (..., 2l+1)
                grad_x = (grad_x - radial[..., None] * x_hat[..., None, :]) / r[..., None]
            grad_blocks.append(grad_x)  # (..., 2l+1, 3)
    Y = np.concatenate(blocks, axis=-1)  # (..., sum(2l+1))
    if not with_gradient:
        return Y, None
    return Y, np.concatenate(grad_blocks, axis=-2)  # (..., sum(2l+1), 3)


@cache
def harmonic_polynomials(l: int, normalization: str = "component") -> tuple:
    """The exact real spherical harmonics of degree l as sympy polynomials in x, y, z.

    These are the homogeneous harmonic polynomials |x|^l Y_lm(x/|x|) for m = -l..l, in
    macetutor's (= e3nn's) basis, generated by running the same recurrence as
    :func:`spherical_harmonics` on sympy symbols with sympy's exact constants.

    Example: ``harmonic_polynomials(1)`` is ``(sqrt(3)*x, sqrt(3)*y, sqrt(3)*z)``.
    """
    import sympy as sp

    (l,) = _as_degree_list(l)
    _check_normalization(normalization)
    x, y, z = sp.symbols("x y z", real=True)
    u = np.array([z, x, y], dtype=object)  # textbook coordinates (x', y', z') = (z, x, y)
    diag, a, b = _exact_recurrence_constants(l)
    Y, _ = _solid_harmonics(u, l, (diag, a, b), with_gradient=False)
    factor = {"component": 1, "integral": 1 / sp.sqrt(4 * sp.pi), "norm": 1 / sp.sqrt(2 * l + 1)}[normalization]
    return tuple(sp.expand(factor * p) for p in Y[l * l : (l + 1) ** 2])


# --------------------------------------------------------------------------------------------
# Wigner D-matrices
# --------------------------------------------------------------------------------------------


@cache
def _sphere_quadrature(l: int):
    """Points x_k (K, 3), weights w_k (K,) and Y(x_k) (K, 2l+1) of an exact rule for degree 2l.

    Gauss-Legendre in cos(theta) with l+1 nodes times 2l+1 equally spaced azimuths integrates
    every polynomial of degree <= 2l on the unit sphere exactly; the weights sum to 4 pi.
    """
    t, w_t = np.polynomial.legendre.leggauss(l + 1)  # (l+1,), (l+1,)
    phi = 2.0 * np.pi * np.arange(2 * l + 1) / (2 * l + 1)  # (2l+1,)
    s = np.sqrt(1.0 - t * t)  # (l+1,)
    points = np.stack(
        [np.outer(s, np.cos(phi)), np.outer(s, np.sin(phi)), np.outer(t, np.ones_like(phi))], axis=-1
    ).reshape(-1, 3)  # (K, 3)
    weights = np.outer(w_t, np.full_like(phi, 2.0 * np.pi / (2 * l + 1))).reshape(-1)  # (K,)
    Y = spherical_harmonics(l, points, normalization="integral")  # (K, 2l+1)
    for array in (points, weights, Y):
        array.setflags(write=False)
    return points, weights, Y


def wigner_D(l, R) -> np.ndarray:
    """Real Wigner D-matrix: the matrix of the rotation x -> R x acting on degree-l harmonics.

    D^l(R)_{m m'} = integral over the unit sphere of Y_lm(R x) Y_lm'(x) dx   (integral-normalised Y),

    computed with a quadrature that is exact for these degree-2l integrands. So by construction

        Y(R x) = D(R) Y(x),  i.e.  spherical_harmonics(l, x @ R.T) == spherical_harmonics(l, x) @ wigner_D(l, R).T

    (the same D for every normalisation). An improper R (det -1) is allowed and carries the
    parity: D(-R) = (-1)^l D(R).

    Parameters:
        l: a degree, or a list of degrees (then the block-diagonal matrix, blocks in that order).
        R: orthogonal matrix (..., 3, 3).

    Returns:
        array (..., sum(2l+1), sum(2l+1)).

    Identities (tested): D(R1 R2) = D(R1) D(R2); D(R)^T D(R) = I; D^0 = 1; D^1(R) = R (the l = 1
    block is proportional to (x, y, z)); D(R) = Q conj(D_complex(alpha, beta, gamma)) Q^dagger in
    the textbook basis (see :func:`wigner_D_complex`, :func:`real_from_complex`).
    """
    ls = _as_degree_list(l)
    R = _as_rotation(R)
    size = sum(2 * li + 1 for li in ls)
    D = np.zeros(R.shape[:-2] + (size, size))  # (..., sum(2l+1), sum(2l+1))
    offset = 0
    for li in ls:
        points, weights, Y = _sphere_quadrature(li)  # (n_nodes, 3), (n_nodes,), (n_nodes, 2l+1)
        rotated = np.einsum("...xy,vy->...vx", R, points)  # (..., n_nodes, 3): R x_v for every node v
        Y_rotated = spherical_harmonics(li, rotated, normalization="integral")  # (..., n_nodes, 2l+1)
        block = slice(offset, offset + 2 * li + 1)
        D[..., block, block] = np.einsum("v,...va,vb->...ab", weights, Y_rotated, Y)  # (..., 2l+1, 2l+1)
        offset += 2 * li + 1
    return D


def _angular_momentum_y(l: int) -> np.ndarray:
    """J_y in the basis |l m>, m = -l..l (hbar = 1): (J_+ - J_-) / (2i), J_+|m> = sqrt(l(l+1)-m(m+1))|m+1>."""
    m = np.arange(-l, l)  # (2l,)
    J_plus = np.diag(np.sqrt(l * (l + 1) - m * (m + 1.0)), k=-1)  # (2l+1, 2l+1): row m+1, column m
    return (J_plus - J_plus.T) / 2j  # (2l+1, 2l+1)


def wigner_D_complex(l: int, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Textbook complex Wigner D-matrix D^l_{m'm}(alpha, beta, gamma), rows m' and columns m = -l..l.

    D^l_{m'm} = <l m'| exp(-i alpha J_z) exp(-i beta J_y) exp(-i gamma J_z) |l m>
              = exp(-i m' alpha) d^l_{m'm}(beta) exp(-i m gamma),   d^l(beta) = expm(-i beta J_y),

    for z-y-z Euler angles (active rotation R = R_z(alpha) R_y(beta) R_z(gamma), see
    :func:`rotation_matrix`) and the Condon-Shortley phase convention (Sakurai sec. 3.5;
    equal to sympy's ``Rotation.D(l, m', m, alpha, beta, gamma)``; e.g. d^1_{1,0} = -sin(beta)/sqrt(2)).

    It acts on the complex harmonics by Y_complex(R x) = conj(D) Y_complex(x), so that in the
    textbook real basis D_real = Q conj(D) Q^dagger with Q = real_from_complex(l).
    """
    import scipy.linalg

    (l,) = _as_degree_list(l)
    angles = np.array([alpha, beta, gamma], dtype=np.float64)
    if angles.shape != (3,) or not np.all(np.isfinite(angles)):
        raise ValueError(f"alpha, beta, gamma must be finite real numbers, got {alpha!r}, {beta!r}, {gamma!r}")
    m = np.arange(-l, l + 1)  # (2l+1,)
    d = scipy.linalg.expm(-1j * beta * _angular_momentum_y(l)).real  # (2l+1, 2l+1): real since -i J_y is real
    return np.exp(-1j * m * alpha)[:, None] * d * np.exp(-1j * m * gamma)[None, :]  # (2l+1, 2l+1)


def real_from_complex(l: int) -> np.ndarray:
    """Unitary Q with Y_real = Q Y_complex (textbook real and Condon-Shortley complex harmonics).

    Rows are real m, columns complex mu, both -l..l:
        m < 0:  Y_lm = i/sqrt(2) (Y_l,m - (-1)^m Y_l,-m)
        m = 0:  Y_l0 = Y_l0
        m > 0:  Y_lm = 1/sqrt(2) (Y_l,-m + (-1)^m Y_l,m)
    (Wikipedia, "Spherical harmonics", real form). In the textbook axes; macetutor's harmonics
    are these evaluated at (z, x, y).
    """
    (l,) = _as_degree_list(l)
    Q = np.zeros((2 * l + 1, 2 * l + 1), dtype=np.complex128)  # (2l+1, 2l+1)
    s = 1.0 / np.sqrt(2.0)
    for m in range(-l, l + 1):
        row, col, mirror = m + l, m + l, -m + l
        if m < 0:
            Q[row, col] = 1j * s
            Q[row, mirror] = -1j * s * (-1) ** m
        elif m == 0:
            Q[row, col] = 1.0
        else:
            Q[row, mirror] = s
            Q[row, col] = s * (-1) ** m
    return Q


# --------------------------------------------------------------------------------------------
# rotations
# --------------------------------------------------------------------------------------------


def rotation_matrix(alpha: float, beta: float, gamma: float) -> np.ndarray:
    """R = R_z(alpha) R_y(beta) R_z(gamma): the active rotation of the z-y-z Euler angles. (3, 3)"""

    def R_z(angle):
        c, s = np.cos(angle), np.sin(angle)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    c, s = np.cos(beta), np.sin(beta)
    R_y = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return R_z(alpha) @ R_y @ R_z(gamma)


def random_rotation(rng: np.random.Generator, improper: bool = False) -> np.ndarray:
    """A Haar-random rotation (det +1), or rotation times inversion (det -1) if ``improper``. (3, 3)"""
    Q, upper = np.linalg.qr(rng.standard_normal((3, 3)))  # (3, 3), (3, 3)
    Q = Q * np.sign(np.diag(upper))  # Haar measure on O(3)
    if np.linalg.det(Q) < 0:
        Q = -Q
    return -Q if improper else Q
