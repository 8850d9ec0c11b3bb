"""Checks for the exercises of the notebooks: ``check_<name>(answer)`` says "correct" or what is wrong.

Every exercise cell of a notebook ends with one of these calls. A check prints one line, ``correct`` or
``not correct: ...`` (or ``not answered yet`` while the answer is still ``...``), and returns a
:class:`Feedback` that is true when the answer is right. The explanation says what is wrong (the shape, the
size, how many entries differ, a property the answer violates) without printing the expected answer.

The expected values are never numbers copied from macetutor's output: each check recomputes its golden value by
an independent route (sympy's exact Clebsch–Gordan coefficients and Legendre polynomials, scipy's textbook
spherical harmonics, a character integral, a harmonic oscillator), so a check also tests the library the student
used. ``tests/test_exercises.py`` runs every notebook solution through its check and at least one wrong answer per
check.

Checks by notebook (``CHECKS`` maps each notebook to its checks):

==  ==========================================================================================
01  ``check_parity``, ``check_addition_theorem``
02  ``check_inversion_D``, ``check_y_rotation_block``
03  ``check_cross_product_factor``
04  ``check_envelope_degree``, ``check_bessel_gram``
05  ``check_cutoff_smoothness``
06  ``check_symmetric_invariants``
07  ``check_receptive_field``
08  ``check_optimal_step``
09  ``check_porting_permutation``
10  ``check_verlet_order``
11  ``check_gate``, ``check_agnesi_limit``
12  ``check_complex_step``
13  ``check_learning_curve_slope``
==  ==========================================================================================
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------
# Feedback
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """The verdict of a check: ``ok`` and the line printed for the student."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        """Shown as the last line of a cell: nothing more (the check has printed its message already)."""


def _verdict(problem: str | None) -> Feedback:
    """Print and return the verdict: ``problem`` is None for a right answer, else what is wrong."""
    message = "correct" if problem is None else f"not correct: {problem}"
    print(message)
    return Feedback(problem is None, message)


def _unanswered(answer) -> Feedback | None:
    if answer is Ellipsis:
        message = "not answered yet: replace `...` with your answer and run the cell again"
        print(message)
        return Feedback(False, message)
    return None


def _as_array(answer, shape: tuple[int, ...], what: str) -> tuple[np.ndarray | None, str | None]:
    """``answer`` as a float array of ``shape``, or an explanation of why it is not one."""
    try:
        array = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return None, f"{what} should be an array of numbers of shape {shape}, got {type(answer).__name__}"
    if array.shape != shape:
        return None, f"{what} should have shape {shape}, yours has shape {array.shape}"
    if not np.all(np.isfinite(array)):
        return None, f"{what} contains nan or inf"
    return array, None


def _compare_arrays(array: np.ndarray, expected: np.ndarray, what: str, atol: float) -> str | None:
    """None if equal within ``atol``, else how many entries differ and by how much (never the expected values)."""
    wrong = np.abs(array - expected) > atol
    if not wrong.any():
        return None
    worst = float(np.max(np.abs(array - expected)))
    return f"{int(wrong.sum())} of the {array.size} entries of {what} are off (the largest by {worst:.2g})"


def _as_number(answer, what: str) -> tuple[float | None, str | None]:
    if isinstance(answer, (bool, np.bool_)):
        return None, f"{what} should be a number, got a bool"
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None, f"{what} should be a single number, got {type(answer).__name__}"
    if not math.isfinite(value):
        return None, f"{what} is not finite"
    return value, None


def _as_integer(answer, what: str) -> tuple[int | None, str | None]:
    value, problem = _as_number(answer, what)
    if problem:
        return None, problem
    if value != round(value):
        return None, f"{what} is a whole number, yours is {value:g}"
    return int(round(value)), None


# --------------------------------------------------------------------------------------------
# Independent references: textbook harmonics from scipy, Clebsch-Gordan from sympy
# --------------------------------------------------------------------------------------------


def _textbook_real_harmonics(l: int, x: np.ndarray) -> np.ndarray:
    """Component-normalised real Y_lm (m = -l..l) of e3nn's convention, from scipy's complex harmonics.

    Wikipedia's real form of the Condon-Shortley harmonics, evaluated at the permuted point (z, x, y) (the polar
    axis is y). Written here again, independently of ``macetutor.so3``, as the reference of the checks.
    """
    from scipy.special import sph_harm_y

    xp, yp, zp = x[:, 2], x[:, 0], x[:, 1]
    theta = np.arccos(zp / np.sqrt(xp**2 + yp**2 + zp**2))
    phi = np.arctan2(yp, xp)
    columns = []
    for m in range(-l, l + 1):
        if m < 0:
            value = 1j / np.sqrt(2) * (sph_harm_y(l, m, theta, phi) - (-1) ** m * sph_harm_y(l, -m, theta, phi))
        elif m == 0:
            value = sph_harm_y(l, 0, theta, phi)
        else:
            value = (sph_harm_y(l, -m, theta, phi) + (-1) ** m * sph_harm_y(l, m, theta, phi)) / np.sqrt(2)
        columns.append(np.sqrt(4 * np.pi) * value.real)
    return np.stack(columns, axis=-1)  # (n, 2l+1)


def _sample_points(n: int = 200) -> np.ndarray:
    return np.random.default_rng(12).standard_normal((n, 3))


def _fitted_D(l: int, R: np.ndarray) -> np.ndarray:
    """D with Y(R x) = D Y(x), by least squares over many points (textbook harmonics)."""
    x = _sample_points()
    Y, Y_rotated = _textbook_real_harmonics(l, x), _textbook_real_harmonics(l, x @ R.T)  # (n, 2l+1)
    D_transposed, *_ = np.linalg.lstsq(Y, Y_rotated, rcond=None)
    return D_transposed.T


# --------------------------------------------------------------------------------------------
# 01 spherical harmonics
# --------------------------------------------------------------------------------------------

PARITY_DEGREES = tuple(range(7))


def check_parity(answer) -> Feedback:
    """Exercise 01a: the signs s_l in Y_lm(-x) = s_l Y_lm(x) for l = 0..6 (a sequence of 7 numbers)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    array, problem = _as_array(answer, (len(PARITY_DEGREES),), "the signs for l = 0..6")
    if problem:
        return _verdict(problem)
    x = _sample_points(20)
    expected = []
    for l in PARITY_DEGREES:  # the ratio Y(-x) / Y(x) of the textbook harmonics, at points where Y is not small
        Y, Y_minus = _textbook_real_harmonics(l, x), _textbook_real_harmonics(l, -x)
        big = np.abs(Y) > 0.1
        expected.append(float(np.median(Y_minus[big] / Y[big])))
    expected = np.array(expected)
    if not np.all(np.isin(np.round(array, 12), (-1.0, 1.0))):
        return _verdict("each entry is a sign: +1 or -1")
    return _verdict(_compare_arrays(array, expected, "the signs", 1e-6))


ADDITION_X = (1.0, 2.0, 2.0)
ADDITION_Y = (2.0, -1.0, 2.0)
ADDITION_DEGREE = 3


def check_addition_theorem(answer) -> Feedback:
    """Exercise 01b: sum_m Y_3m(x^) Y_3m(y^) for x = (1, 2, 2), y = (2, -1, 2) (component normalisation)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_number(answer, "the sum over m")
    if problem:
        return _verdict(problem)
    import sympy

    x, y = sympy.Matrix(ADDITION_X), sympy.Matrix(ADDITION_Y)
    cosine = x.dot(y) / (x.norm() * y.norm())  # exact: 4/9
    l = ADDITION_DEGREE
    expected = float((2 * l + 1) * sympy.legendre(l, cosine))
    if abs(value - expected) <= 1e-9 * max(1.0, abs(expected)):
        return _verdict(None)
    if abs(value * 4 * np.pi - expected) <= 1e-6 or abs(value - expected / (2 * l + 1)) <= 1e-9:
        return _verdict("the normalisation is off: with 'component' normalisation sum_m Y_lm(x)^2 = 2l+1")
    return _verdict(
        f"your sum is {'too large' if value > expected else 'too small'}; use unit vectors and all 2l+1 = "
        f"{2 * l + 1} components of l = {l}"
    )


# --------------------------------------------------------------------------------------------
# 02 Wigner D
# --------------------------------------------------------------------------------------------

INVERSION_DEGREE = 3


def check_inversion_D(answer) -> Feedback:
    """Exercise 02a: the matrix D^3(-I) (7 x 7), the inversion acting on the l = 3 harmonics."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    l = INVERSION_DEGREE
    array, problem = _as_array(answer, (2 * l + 1, 2 * l + 1), "D^3(-I)")
    if problem:
        return _verdict(problem)
    expected = _fitted_D(l, -np.eye(3))
    return _verdict(_compare_arrays(array, expected, "D^3(-I)", 1e-8))


Y_ROTATION_ANGLE = 0.4
Y_ROTATION_DEGREE = 2


def y_rotation(angle: float) -> np.ndarray:
    """The rotation by ``angle`` about the y axis (right-handed): (x, y, z) -> (x c + z s, y, -x s + z c)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def check_y_rotation_block(answer) -> Feedback:
    """Exercise 02b: the 2 x 2 block of D^2(R_y(0.4)) on rows and columns m = -2, +2 (in this order)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    array, problem = _as_array(answer, (2, 2), "the block")
    if problem:
        return _verdict(problem)
    l = Y_ROTATION_DEGREE
    D = _fitted_D(l, y_rotation(Y_ROTATION_ANGLE))
    rows = [0, 2 * l]  # m = -2 and m = +2
    expected = D[np.ix_(rows, rows)]
    if np.allclose(array, expected.T, atol=1e-8) and not np.allclose(array, expected, atol=1e-8):
        return _verdict("the off-diagonal signs are swapped: which row is m = -2, which column?")
    if np.allclose(np.abs(array), np.abs(expected), atol=1e-8) and not np.allclose(array, expected, atol=1e-8):
        return _verdict("the sizes are right but some signs are not")
    return _verdict(_compare_arrays(array, expected, "the block", 1e-8))


# --------------------------------------------------------------------------------------------
# 03 Clebsch-Gordan
# --------------------------------------------------------------------------------------------


def _real_from_complex_sympy(l: int):
    """Wikipedia's unitary Q (rows real m, columns complex mu, both -l..l), exact, written independently."""
    import sympy

    Q = sympy.zeros(2 * l + 1, 2 * l + 1)
    for m in range(-l, l + 1):
        if m < 0:
            Q[m + l, m + l] = sympy.I / sympy.sqrt(2)
            Q[m + l, -m + l] = -((-1) ** m) * sympy.I / sympy.sqrt(2)
        elif m == 0:
            Q[l, l] = 1
        else:
            Q[m + l, -m + l] = 1 / sympy.sqrt(2)
            Q[m + l, m + l] = (-1) ** m / sympy.sqrt(2)
    return Q


@functools.cache
def _real_cg_entry(l1: int, l2: int, l3: int, a: int, b: int, c: int) -> float:
    """One real coefficient i^(l1+l2-l3) sum Q3[c, m3] <l1 m1 l2 m2|l3 m3> conj(Q1[a, m1]) conj(Q2[b, m2])."""
    import sympy
    from sympy.physics.wigner import clebsch_gordan

    Q1, Q2, Q3 = (_real_from_complex_sympy(l) for l in (l1, l2, l3))
    total = 0
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            m3 = m1 + m2
            if abs(m3) > l3:
                continue
            coefficient = clebsch_gordan(l1, l2, l3, m1, m2, m3)
            total += Q3[c, m3 + l3] * coefficient * sympy.conjugate(Q1[a, m1 + l1]) * sympy.conjugate(Q2[b, m2 + l2])
    value = sympy.nsimplify(sympy.expand(sympy.I ** (l1 + l2 - l3) * total))
    assert sympy.im(value) == 0
    return float(sympy.re(value))


def check_cross_product_factor(answer) -> Feedback:
    """Exercise 03: the number c with C(1, 1, 1)[a, b, d] = c epsilon_abd (Levi-Civita; a, b, d = 0, 1, 2)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_number(answer, "the factor c")
    if problem:
        return _verdict(problem)
    expected = _real_cg_entry(1, 1, 1, 0, 1, 2)  # epsilon_012 = 1
    if abs(value - expected) <= 1e-9:
        return _verdict(None)
    if abs(value + expected) <= 1e-9:
        return _verdict("the size is right but the sign is not")
    if abs(abs(value) - abs(expected)) > 1e-9:
        return _verdict("the size is off: use sum_ab C[a, b, d]^2 = 1 for each d")
    return _verdict("not the factor of epsilon")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# 04 radial basis
# --------------------------------------------------------------------------------------------


def check_envelope_degree(answer) -> Feedback:
    """Exercise 04a: the smallest degree of a polynomial f with f(0) = 1 and f(1) = f'(1) = f''(1) = 0."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_integer(answer, "the degree")
    if problem:
        return _verdict(problem)
    import sympy

    u = sympy.Symbol("u")
    expected = None
    for degree in range(10):  # the first degree for which the four linear conditions have a solution
        coefficients = sympy.symbols(f"c0:{degree + 1}")
        f = sum(c * u**k for k, c in enumerate(coefficients))
        conditions = [f.subs(u, 0) - 1] + [sympy.diff(f, u, k).subs(u, 1) for k in range(3)]
        if sympy.solve(conditions, coefficients, dict=True):
            expected = degree
            break
    if value == expected:
        return _verdict(None)
    if value > expected:
        return _verdict(f"a polynomial of degree {value} works, but a smaller degree does too")
    return _verdict(f"no polynomial of degree {value} satisfies the four conditions: count unknowns and equations")


BESSEL_R_MAX = 5.0
BESSEL_N = 4


def check_bessel_gram(answer) -> Feedback:
    """Exercise 04b: the matrix G[n, n'] = int_0^5 b_n(r) b_n'(r) r^2 dr for n, n' = 1..4 (r_max = 5 Å)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    array, problem = _as_array(answer, (BESSEL_N, BESSEL_N), "G")
    if problem:
        return _verdict(problem)
    from scipy.integrate import quad

    r_max = BESSEL_R_MAX

    def b(n, r):  # the textbook spherical Bessel function j_0, normalised in the ball
        return np.sqrt(2 / r_max) * np.sin(n * np.pi * r / r_max) / r

    expected = np.array(
        [
            [quad(lambda r, n=n, k=k: b(n, r) * b(k, r) * r * r, 0, r_max, limit=200)[0] for k in range(1, 5)]
            for n in range(1, 5)
        ]
    )
    if np.allclose(array, expected, atol=1e-3) and not np.allclose(array, expected, atol=1e-6):
        return _verdict("close, but not accurate to 1e-6: use a finer quadrature")
    if np.allclose(np.diag(array), np.diag(expected), atol=1e-6) and not np.allclose(array, expected, atol=1e-6):
        return _verdict("the diagonal is right; some off-diagonal entries are not (did you weight with r^2?)")
    return _verdict(_compare_arrays(array, expected, "G", 1e-6))


# --------------------------------------------------------------------------------------------
# 05 atomic basis A
# --------------------------------------------------------------------------------------------

ENVELOPE_P = 5


def check_cutoff_smoothness(answer) -> Feedback:
    """Exercise 05: the highest k for which the k-th derivative of A (in the distance) is continuous at r_max (p = 5)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_integer(answer, "k")
    if problem:
        return _verdict(problem)
    import sympy

    u, p = sympy.Symbol("u"), ENVELOPE_P
    envelope = 1 - (p + 1) * (p + 2) / sympy.Integer(2) * u**p + p * (p + 2) * u ** (p + 1)
    envelope -= p * (p + 1) / sympy.Integer(2) * u ** (p + 2)
    # beyond r_max, A and all its derivatives are 0; inside, A is the envelope times smooth functions of r, so the
    # first discontinuous derivative is the first non-zero derivative of the envelope at u = 1
    k = 0
    while sympy.diff(envelope, u, k).subs(u, 1) == 0:
        k += 1
    expected = k - 1
    if value == expected:
        return _verdict(None)
    if value < 0:
        return _verdict("k counts derivatives: 0 means the value itself")
    if value > expected:
        return _verdict(f"the derivative of order {value} is not continuous at r_max: lower k")
    return _verdict(f"derivatives beyond order {value} are continuous at r_max too: raise k")


# --------------------------------------------------------------------------------------------
# 06 product basis B
# --------------------------------------------------------------------------------------------

INVARIANTS_NU = 4
INVARIANTS_L_MAX = 2


def _symmetric_power_invariants(l_max: int, nu: int) -> int:
    """Multiplicity of 0e in Sym^nu(0e + 1o + 2e + ...), by the Weyl integration formula over O(3).

    Power sums: chi_Sym^nu is the cycle-index polynomial of S_nu in the characters chi(g^k).
    """
    from sympy.combinatorics.named_groups import SymmetricGroup

    omega = (np.arange(20000) + 0.5) * np.pi / 20000
    cycle_types = {}
    for permutation in SymmetricGroup(nu).elements:
        key = tuple(sorted(len(cycle) for cycle in permutation.full_cyclic_form))
        cycle_types[key] = cycle_types.get(key, 0) + 1
    total = 0.0
    for inversion in (False, True):

        def chi(k, inversion=inversion):  # character of g^k, g = rotation by omega, times the inversion or not
            parity_sign = [(-1) ** l if inversion and k % 2 else 1 for l in range(l_max + 1)]
            return sum(
                s * np.sin((2 * l + 1) * k * omega / 2) / np.sin(k * omega / 2) for l, s in enumerate(parity_sign)
            )

        character = sum(count * np.prod([chi(k) for k in key], axis=0) for key, count in cycle_types.items())
        character = character / math.factorial(nu)
        total += np.mean((1 - np.cos(omega)) * character) / 2
    return int(round(total))


def check_symmetric_invariants(answer) -> Feedback:
    """Exercise 06: the number of linearly independent invariants B^(4) (L = 0e) of one channel, l_max = 2."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_integer(answer, "the number of invariants")
    if problem:
        return _verdict(problem)
    expected = _symmetric_power_invariants(INVARIANTS_L_MAX, INVARIANTS_NU)
    if value == expected:
        return _verdict(None)
    if value > expected:
        return _verdict("too many: count the independent combinations on a product of equal factors, not the paths")
    return _verdict("too few: are you counting only the non-zero paths, not the rank?")


# --------------------------------------------------------------------------------------------
# 07 message passing
# --------------------------------------------------------------------------------------------

CHAIN_SPACING = 1.8
CHAIN_ATOMS = 8
CHAIN_R_MAX = 4.0
CHAIN_LAYERS = 3


def check_receptive_field(answer) -> Feedback:
    """Exercise 07: the indices of the atoms whose h^(3) changes when atom 0 of the chain moves (3 layers)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    try:
        chosen = sorted({int(i) for i in np.asarray(answer).ravel()})
    except (TypeError, ValueError):
        return _verdict("give the atom indices as a list of integers")
    positions = CHAIN_SPACING * np.arange(CHAIN_ATOMS)
    adjacent = np.abs(positions[:, None] - positions[None, :]) <= CHAIN_R_MAX  # the graph, self included
    reached = np.zeros(CHAIN_ATOMS, dtype=bool)
    reached[0] = True
    for _ in range(CHAIN_LAYERS):  # one layer passes the change one edge further
        reached = adjacent[reached].any(axis=0)
    expected = sorted(np.flatnonzero(reached).tolist())
    if chosen == expected:
        return _verdict(None)
    missing, extra = set(expected) - set(chosen), set(chosen) - set(expected)
    parts = []
    if missing:
        parts.append(f"{len(missing)} atom(s) whose h^(3) changes are missing")
    if extra:
        parts.append(f"{len(extra)} atom(s) listed do not change")
    return _verdict("; ".join(parts))


# --------------------------------------------------------------------------------------------
# 08 forces
# --------------------------------------------------------------------------------------------

STEP_CURVATURE = 1e-3  # a, in eV / Å^3
STEP_ENERGY = 50.0  # |E|, in eV
STEP_EPSILON = float(np.finfo(float).eps)


def check_optimal_step(answer) -> Feedback:
    """Exercise 08: the h (Å) that minimises a h^2 + eps |E| / h for a = 1e-3, |E| = 50, eps = 2.2e-16 (5%)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_number(answer, "h")
    if problem:
        return _verdict(problem)
    import sympy

    h = sympy.Symbol("h", positive=True)
    error = STEP_CURVATURE * h**2 + STEP_EPSILON * STEP_ENERGY / h
    (expected,) = [float(root) for root in sympy.solve(sympy.diff(error, h), h)]
    if abs(value - expected) <= 0.05 * expected:
        return _verdict(None)
    return _verdict(f"h is too {'large' if value > expected else 'small'}: set the derivative of the error to zero")


# --------------------------------------------------------------------------------------------
# 09 verifying another implementation
# --------------------------------------------------------------------------------------------


def check_porting_permutation(answer) -> Feedback:
    """Exercise 09: the 3 x 3 matrix T with Y_1(textbook axes) = T Y_1(macetutor) for every direction."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    array, problem = _as_array(answer, (3, 3), "T")
    if problem:
        return _verdict(problem)
    x = _sample_points()
    ours = _textbook_real_harmonics(1, x)  # macetutor's convention: the textbook at (z, x, y)
    theirs = _textbook_real_harmonics(1, x[:, [1, 2, 0]])  # the textbook at (x, y, z) itself
    T_transposed, *_ = np.linalg.lstsq(ours, theirs, rcond=None)
    expected = T_transposed.T
    if np.allclose(array, expected.T, atol=1e-8) and not np.allclose(array, expected, atol=1e-8):
        return _verdict("this T goes the other way: it maps theirs to ours")
    return _verdict(_compare_arrays(array, expected, "T", 1e-8))


# --------------------------------------------------------------------------------------------
# 10 molecular dynamics
# --------------------------------------------------------------------------------------------


def _verlet_energy_range(dt: float) -> float:
    """Range of the total energy of a unit harmonic oscillator over 10 periods of velocity Verlet."""
    x, v = 1.0, 0.0
    energies = []
    for _ in range(int(round(10 * 2 * np.pi / dt))):
        v_half = v - 0.5 * dt * x
        x = x + dt * v_half
        v = v_half - 0.5 * dt * x
        energies.append(0.5 * v * v + 0.5 * x * x)
    return max(energies) - min(energies)


def check_verlet_order(answer) -> Feedback:
    """Exercise 10: the power k in (range of the total energy) ~ dt^k for velocity Verlet (a whole number)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_number(answer, "k")
    if problem:
        return _verdict(problem)
    ranges = [_verlet_energy_range(dt) for dt in (0.02, 0.01)]
    expected = round(math.log2(ranges[0] / ranges[1]))
    if abs(value - expected) <= 0.25:
        return _verdict(None)
    if abs(value - round(value)) > 0.25:
        return _verdict("measure with smaller steps (or several): the power is close to a whole number")
    return _verdict(
        f"halving dt shrinks the energy range by 2^k: 2^{value:g} is too {'large' if value > expected else 'small'}"
    )


# --------------------------------------------------------------------------------------------
# 11 foundation-model architectures
# --------------------------------------------------------------------------------------------


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def check_gate(answer) -> Feedback:
    """Exercise 11a: a gate ``answer(scalars, vectors)`` -> gated vectors: (n, k), (n, k, 3) -> (n, k, 3), equivariant."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    if not callable(answer):
        return _verdict("the answer is a function gate(scalars, vectors)")
    rng = np.random.default_rng(11)
    scalars, vectors = rng.standard_normal((5, 4)), rng.standard_normal((5, 4, 3))
    try:
        out = np.asarray(answer(scalars, vectors), dtype=float)
    except Exception as err:  # noqa: BLE001 (any error of the student's function is reported, not raised)
        return _verdict(f"calling gate(scalars, vectors) raised {type(err).__name__}: {err}")
    if out.shape != vectors.shape:
        return _verdict(f"gate(scalars, vectors) should have the shape of vectors, {vectors.shape}; yours {out.shape}")
    worst = 0.0
    for _ in range(3):
        R = _random_rotation(rng)
        rotated = np.asarray(answer(scalars, vectors @ R.T), dtype=float)
        worst = max(worst, float(np.max(np.abs(rotated - out @ R.T))))
    if worst > 1e-9 * max(1.0, float(np.max(np.abs(out)))):
        return _verdict(f"not equivariant: gate(s, R v) differs from R gate(s, v) by up to {worst:.2g}")
    changed = np.asarray(answer(scalars + 1.0, vectors), dtype=float)
    if np.allclose(changed, out) or np.allclose(out, 0.0):
        return _verdict("equivariant, but the scalars do not gate anything: the output should depend on them")
    return _verdict(None)


AGNESI_R_MAX = 5.0


def check_agnesi_limit(answer) -> Feedback:
    """Exercise 11b: lim_{r -> 0} b_n(r) for n = 1, 2, 3 with r_max = 5 Å (three numbers)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    array, problem = _as_array(answer, (3,), "the three limits")
    if problem:
        return _verdict(problem)
    import sympy

    r, r_max = sympy.Symbol("r", positive=True), sympy.Rational(AGNESI_R_MAX)
    expected = np.array(
        [float(sympy.limit(sympy.sqrt(2 / r_max) * sympy.sin(n * sympy.pi * r / r_max) / r, r, 0)) for n in (1, 2, 3)]
    )
    if np.allclose(array, expected, rtol=1e-3) and not np.allclose(array, expected, rtol=1e-8):
        return _verdict("close: evaluate the limit exactly, not at a small r")
    return _verdict(_compare_arrays(array, expected, "the limits", 1e-8))


# --------------------------------------------------------------------------------------------
# 12 training
# --------------------------------------------------------------------------------------------

COMPLEX_STEP_X = 0.7


def check_complex_step(answer) -> Feedback:
    """Exercise 12: f'(0.7) for f(x) = exp(x) sin(3x) / (1 + x^2), to round-off (relative 1e-13)."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_number(answer, "f'(0.7)")
    if problem:
        return _verdict(problem)
    import sympy

    x = sympy.Symbol("x")
    f = sympy.exp(x) * sympy.sin(3 * x) / (1 + x**2)
    expected = float(sympy.diff(f, x).subs(x, sympy.Rational(7, 10)).evalf(30))
    error = abs(value - expected) / abs(expected)
    if error <= 1e-13:
        return _verdict(None)
    if error <= 1e-4:
        return _verdict(
            f"close, but only to a relative {error:.0e}: a finite difference? The complex step has no subtraction"
        )
    return _verdict("that is not f'(0.7): check f, the point and the step (the imaginary part over h)")


def check_learning_curve_slope(answer) -> Feedback:
    """Exercise 13: the slope of log(test force RMSE) against log(number of training configurations) of macetutor's
    learning curve in figures/results/learning_curves.json (least squares over its rows; relative 1e-6). The golden
    value is recomputed from the results file, which the experiment script wrote."""
    if (feedback := _unanswered(answer)) is not None:
        return feedback
    value, problem = _as_number(answer, "the slope")
    if problem:
        return _verdict(problem)
    import json
    from pathlib import Path

    rows = json.loads(
        (Path(__file__).resolve().parents[1] / "figures" / "results" / "learning_curves.json").read_text()
    )
    n = np.array([row["n_train"] for row in rows["rows"]], dtype=float)
    rmse = np.array([row["macetutor"]["rmse_f_meV_per_A"] for row in rows["rows"]])
    expected = float(np.polyfit(np.log(n), np.log(rmse), 1)[0])
    if abs(value - expected) <= 1e-6 * abs(expected):
        return _verdict(None)
    if value > 0:
        return _verdict("a positive slope says the error grows with more data: fit log(RMSE) against log(N)")
    if abs(value - expected) <= 0.05 * abs(expected):
        return _verdict("close: use the natural logarithm of both, all rows, and a least-squares line (np.polyfit)")
    return _verdict("not the slope of log(force RMSE) against log(N) over macetutor's rows")


# --------------------------------------------------------------------------------------------
# the index
# --------------------------------------------------------------------------------------------

CHECKS = {
    "01": (check_parity, check_addition_theorem),
    "02": (check_inversion_D, check_y_rotation_block),
    "03": (check_cross_product_factor,),
    "04": (check_envelope_degree, check_bessel_gram),
    "05": (check_cutoff_smoothness,),
    "06": (check_symmetric_invariants,),
    "07": (check_receptive_field,),
    "08": (check_optimal_step,),
    "09": (check_porting_permutation,),
    "10": (check_verlet_order,),
    "11": (check_gate, check_agnesi_limit),
    "12": (check_complex_step,),
    "13": (check_learning_curve_slope,),
}
