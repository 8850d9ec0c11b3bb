"""Clebsch-Gordan coefficients: coupling two degrees l1 and l2 into l3, exactly from sympy.

Two objects live here:

* :func:`clebsch_gordan_complex` -- the textbook coefficient <l1 m1 l2 m2 | l3 m3> of the complex
  (Condon-Shortley) harmonics, an exact sympy number.
* :func:`clebsch_gordan` -- the same coupling written in macetutor's real basis (e3nn's), a
  float64 array C of shape (2l1+1, 2l2+1, 2l3+1) with

      sum_{a, b} C[a, b, M] Y1_a Y2_b   transforming like   Y3_M,

  i.e. ``einsum("abM,...a,...b->...M", C, Y1, Y2)`` rotates with ``wigner_D(l3, R)`` for every
  rotation R (under an improper R it picks up the parity of the product, (-1)^(l1+l2), which
  differs from the (-1)^l3 inside ``wigner_D(l3, R)`` when l1 + l2 + l3 is odd).

Index letters (the legend of docs/conventions.md): a and b are the m-indices (0..2l) of the first and second
degree, M that of the coupled one; f, g, r are the m-indices of the complex (textbook) basis.

Derivation. With Q_l = ``so3.real_from_complex(l)`` (Y_real = Q Y_complex) the coupling in the
real basis is

    C[a, b, M] = i^(l1 + l2 - l3) sum_{m1, m2, m3} Q3[M, m3] <l1 m1 l2 m2 | l3 m3> conj(Q1[a, m1]) conj(Q2[b, m2]).

Without the phase i^(l1+l2-l3) -- the same as using (-i)^l Q_l as change of basis -- the result
is purely imaginary when l1 + l2 + l3 is odd (e.g. the cross product, (1, 1, 1)); with it, C is
real. Because macetutor's real basis is the textbook real basis evaluated at a cyclically
permuted point (a proper rotation of the axes), the same array is the invariant coupling in
both. The exact coefficients are converted to float64 once and cached on disk (see
``macetutor._cache``); the change of basis is then done in float64 (a few ulp).

Relation to e3nn (tested; see docs/conventions.md): ``clebsch_gordan(l1, l2, l3) == s *
sqrt(2 l3 + 1) * e3nn.o3.wigner_3j(l1, l2, l3)`` with a sign s = +-1 per triple.
"""

from __future__ import annotations

import numpy as np

from macetutor._cache import cached_array
from macetutor.so3 import _as_degree_list, real_from_complex

__all__ = ["clebsch_gordan", "clebsch_gordan_complex", "generalized_clebsch_gordan", "is_coupling_allowed"]


def is_coupling_allowed(l1: int, l2: int, l3: int) -> bool:
    """Triangle rule: l1 (x) l2 contains l3 iff |l1 - l2| <= l3 <= l1 + l2."""
    l1, l2, l3 = _as_degree_list([l1, l2, l3])
    return abs(l1 - l2) <= l3 <= l1 + l2


def _check_triangle(l1: int, l2: int, l3: int) -> tuple[int, int, int]:
    l1, l2, l3 = _as_degree_list([l1, l2, l3])
    if not abs(l1 - l2) <= l3 <= l1 + l2:
        raise ValueError(
            f"l3 = {l3} does not occur in l1 (x) l2 = {l1} (x) {l2}: the triangle rule needs "
            f"|l1 - l2| <= l3 <= l1 + l2, i.e. {abs(l1 - l2)} <= l3 <= {l1 + l2}"
        )
    return l1, l2, l3


def clebsch_gordan_complex(l1: int, m1: int, l2: int, m2: int, l3: int, m3: int):
    """The exact Clebsch-Gordan coefficient <l1 m1 l2 m2 | l3 m3> (Condon-Shortley phase), from sympy.

    |l3 m3> = sum_{m1, m2} <l1 m1 l2 m2 | l3 m3> |l1 m1> |l2 m2>.
    Zero unless m1 + m2 = m3 and the triangle rule holds. Example: <1 1 1 -1 | 0 0> = 1/sqrt(3).
    Racah's formula, as implemented by ``sympy.physics.wigner.clebsch_gordan``.
    """
    from sympy.physics.wigner import clebsch_gordan as sympy_clebsch_gordan  # slow import: only on a cache miss

    l1, l2, l3 = _as_degree_list([l1, l2, l3])
    for l, m in ((l1, m1), (l2, m2), (l3, m3)):
        if isinstance(m, bool) or int(m) != m or abs(m) > l:
            raise ValueError(f"m must be an integer with |m| <= l, got m = {m!r} for l = {l}")
    return sympy_clebsch_gordan(l1, l2, l3, int(m1), int(m2), int(m3))


def _complex_table(l1: int, l2: int, l3: int) -> np.ndarray:
    """<l1 m1 l2 m2 | l3 m3> as a float64 array (2l1+1, 2l2+1, 2l3+1), index m + l; exact, then rounded."""
    table = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))  # (2l1+1, 2l2+1, 2l3+1)
    for m1 in range(-l1, l1 + 1):
        for m2 in range(max(-l2, -l3 - m1), min(l2, l3 - m1) + 1):
            table[m1 + l1, m2 + l2, m1 + m2 + l3] = float(clebsch_gordan_complex(l1, m1, l2, m2, l3, m1 + m2))
    return table


def clebsch_gordan(l1: int, l2: int, l3: int) -> np.ndarray:
    """Real Clebsch-Gordan coefficients C[a, b, M] coupling degrees l1 (x) l2 -> l3 in macetutor's real basis.

    Parameters:
        l1, l2, l3: degrees with |l1 - l2| <= l3 <= l1 + l2 (otherwise ValueError).

    Returns:
        read-only float64 array (2l1+1, 2l2+1, 2l3+1).

    Identities (tested):
        * invariance: einsum("abM,ad,bf,MN->dfN", C, D1, D2, D3) == C for D_i = wigner_D(l_i, R), any R
          in SO(3); for an improper R the left side is (-1)^(l1+l2+l3) C;
        * equivariance: einsum("abM,...a,...b->...M", C, Y_l1(x), Y_l2(y)) rotates with wigner_D(l3, R)
          for R in SO(3), and with (-1)^(l1+l2+l3) wigner_D(l3, R) for an improper R;
        * orthonormal coupling: sum_{a, b} C[a, b, M] C[a, b, M'] = delta_{M M'};
          sum_{l3, M} C[a, b, M] C[a', b', M] = delta_{a a'} delta_{b b'} (completeness);
        * selection rule (real basis): C[a, b, M] != 0 only if |m3| = |m1| + |m2| or | |m1| - |m2| |;
        * C(0, l, l) = identity; C(l, l, 0)[a, b, 0] = delta_ab / sqrt(2l+1) (times a sign);
        * C = s sqrt(2l3+1) e3nn.o3.wigner_3j(l1, l2, l3), s = +-1 (see docs/conventions.md).
    """
    l1, l2, l3 = _check_triangle(l1, l2, l3)

    def compute() -> np.ndarray:
        T = _complex_table(l1, l2, l3)  # (2l1+1, 2l2+1, 2l3+1): <l1 f l2 g | l3 r>
        Q1, Q2, Q3 = (real_from_complex(li) for li in (l1, l2, l3))  # (2l+1, 2l+1) each
        C = 1j ** (l1 + l2 - l3) * np.einsum("Mr,fgr,af,bg->abM", Q3, T, Q1.conj(), Q2.conj())
        if np.max(np.abs(C.imag)) > 1e-14:  # a wrong phase convention would show here
            raise RuntimeError(f"real Clebsch-Gordan ({l1}, {l2}, {l3}) came out complex")
        C = C.real  # (2l1+1, 2l2+1, 2l3+1)
        C[np.abs(C) < 1e-15] = 0.0  # exact zeros (rounding of the basis change leaves ~1e-17)
        return C

    return cached_array("clebsch_gordan", (l1, l2, l3), (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1), compute)


# --------------------------------------------------------------------------------------------
# generalised Clebsch-Gordan coefficients (the "U" tensors of the product basis)
# --------------------------------------------------------------------------------------------


def _coupling_paths(irreps_in: tuple, nu: int, filter_mid: tuple | None) -> list:
    """All left-nested couplings ((x_1 (x) x_2) (x) x_3) ... (x) x_nu of nu copies of a feature with blocks irreps_in.

    Returns a list of (irrep, G) with G of shape (2L+1, D, ..., D) (nu axes of size D = sum(2l+1)):
    G[M, a_1, ..., a_nu] couples the product x_{a_1} ... x_{a_nu} into the component M of the irrep.
    The list is sorted (stably) by irrep at every level, the order mace-torch uses.
    """
    D = sum(2 * l + 1 for l, _ in irreps_in)
    if nu == 1:
        identity = np.eye(D)  # (D, D)
        out, start = [], 0
        for l, p in irreps_in:
            out.append(((l, p), identity[start : start + 2 * l + 1]))  # (2l+1, D)
            start += 2 * l + 1
        return out
    out = []
    for (L_left, p_left), G_left in _coupling_paths(irreps_in, nu - 1, filter_mid):
        start = 0
        for l, p in irreps_in:
            for L in range(abs(L_left - l), L_left + l + 1):
                irrep_out = (L, p_left * p)
                if filter_mid is not None and irrep_out not in filter_mid:
                    continue
                C = clebsch_gordan(L_left, l, L)  # (2L_left+1, 2l+1, 2L+1)
                coupled = np.einsum("a...,abM->M...b", G_left, C)  # (2L+1, D, ..., D, 2l+1)
                G = np.zeros((2 * L + 1,) + (D,) * nu)  # (2L+1, D, ..., D)
                G[..., start : start + 2 * l + 1] = coupled
                out.append((irrep_out, G))
            start += 2 * l + 1
    return sorted(out, key=lambda item: item[0])


def generalized_clebsch_gordan(irreps_in: list, irrep_out: tuple, nu: int) -> np.ndarray:
    """U^{(nu)}[M, a_1, ..., a_nu, eta]: the generalised Clebsch-Gordan coefficients of the product basis.

    MACE paper eq. (10): B_{eta, LM} = sum_{a_1..a_nu} U[M, a_1, ..., a_nu, eta] prod_xi A_{a_xi}, where
    a = (l, m) runs over the blocks of ``irreps_in`` (flattened) and eta over the coupling paths
    l_1 (x) l_2 -> L_2, L_2 (x) l_3 -> L_3, ... ending in ``irrep_out`` = (L, parity). Each step uses
    macetutor's own real Clebsch-Gordan coefficients, so every path is an orthonormal coupling. For
    nu = 4 the intermediate irreps are restricted to natural parity (l, (-1)^l), as in mace-torch.

    Parameters:
        irreps_in: the blocks of the atomic basis A, e.g. [(0, 1), (1, -1), (2, 1), (3, -1)].
        irrep_out: (L, p).
        nu: correlation order >= 1.

    Returns:
        read-only array (2L+1, D, ..., D, n_paths) with nu axes of size D = sum(2l+1); n_paths may be 0.

    Identities (tested): equivariance, sum U[M, a..] prod D(R)_{a a'} = sum_M' D^L(R)_{M M'} U[M', a'..];
    the paths are the same as mace-torch's up to a sign each.
    """
    irreps_in = tuple((int(l), int(p)) for l, p in irreps_in)
    L, P = int(irrep_out[0]), int(irrep_out[1])
    if nu < 1:
        raise ValueError(f"the correlation order nu must be >= 1, got {nu}")
    filter_mid = tuple((l, (-1) ** l) for l in range(12)) if nu == 4 else None
    name = "U-" + "".join(f"{l}{'e' if p == 1 else 'o'}" for l, p in irreps_in)

    def compute() -> np.ndarray:
        paths = [G for irrep, G in _coupling_paths(irreps_in, nu, filter_mid) if irrep == (L, P)]
        D = sum(2 * l + 1 for l, _ in irreps_in)
        if not paths:
            return np.zeros((2 * L + 1,) + (D,) * nu + (0,))
        return np.stack(paths, axis=-1)  # (2L+1, D, ..., D, n_paths)

    return cached_array(name, (L, "e" if P == 1 else "o", nu), None, compute)
