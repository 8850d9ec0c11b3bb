"""numba kernels for the hot loops: an optimisation of the NumPy specification, held equal to it by tests.

* The product basis and message (eqs. 10-11) without materialising B. Two facts make it cheap:
  (1) B is contracted with weights right away, so U and W fold into one tensor per element,
      U~[z, M, a_1..a_nu, k] = sum_eta U[M, a_1..a_nu, eta] W[z, eta, k];
  (2) the product A_{a_1} ... A_{a_nu} is symmetric in its factors, so only sorted index tuples a_1 <= ... <= a_nu
      are needed (U summed over the permutations): for A = 0e+1o+2e+3o and nu = 3 that is 77 (L = 0) and 290
      (L = 1) terms instead of 16^3 (2L+1) dense entries.
  ``contraction_forward`` then evaluates  m_{i,k,M} = sum_terms U~[z_i, term, k] prod_xi A_{i,k,a_xi}  and
  ``contraction_backward`` its derivative by the product rule.
* The edge tensor product summed over neighbours (eq. 8 before the linear map), with the Clebsch-Gordan
  coefficients as a sparse list, and its backward pass.

All kernels are ``@njit(cache=True)`` (compiled once, cached on disk next to this file's __pycache__) and write
into preallocated outputs.
"""

from __future__ import annotations

from functools import cache

import numba
import numpy as np

from macetutor.cg import clebsch_gordan, generalized_clebsch_gordan
from macetutor.irreps import offsets

__all__ = [
    "symmetric_terms",
    "contraction_forward",
    "contraction_backward",
    "conv_coefficients",
    "conv_aggregate_forward",
    "conv_aggregate_backward",
]

njit = numba.njit(cache=True)  # serial kernels (scatter to senders)
njit_parallel = numba.njit(cache=True, parallel=True)  # loops over atoms that write only to their own rows


# ------------------------------------------------------------------ product basis (eqs. 10-11)


@cache
def symmetric_terms(irreps_A: tuple, irrep_out: tuple, nu: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero terms of U^{(nu)} symmetrised over its nu factor indices.

    Returns (factors (n_terms, nu) int64 with a_1 <= ... <= a_nu, M (n_terms,) int64, values (n_terms, n_paths))
    such that sum_{a_1..a_nu} U[M, a.., eta] prod A_a = sum_terms values[t, eta] prod_xi A_{factors[t, xi]} for M = M[t].
    """
    U = generalized_clebsch_gordan(list(irreps_A), irrep_out, nu)  # (2L+1, D, ..., D, n_paths)
    n_paths = U.shape[-1]
    if n_paths == 0:
        return np.zeros((0, nu), np.int64), np.zeros(0, np.int64), np.zeros((0, 0))
    nonzero = np.nonzero(np.any(U != 0.0, axis=-1))  # tuple of nu+1 index arrays
    M = nonzero[0]
    factors = np.sort(np.stack(nonzero[1:], axis=1), axis=1)  # (nnz, nu)
    values = U[nonzero]  # (nnz, n_paths)
    keys, inverse = np.unique(np.concatenate([M[:, None], factors], axis=1), axis=0, return_inverse=True)
    summed = np.zeros((len(keys), n_paths))
    np.add.at(summed, inverse.reshape(-1), values)
    keep = np.any(summed != 0.0, axis=1)
    keys, summed = keys[keep], summed[keep]
    return np.ascontiguousarray(keys[:, 1:]), np.ascontiguousarray(keys[:, 0]), summed


def folded_weights(values: np.ndarray, W: np.ndarray) -> np.ndarray:
    """U~[z, term, k] = sum_eta values[term, eta] W[z, eta, k]: (n_elements, n_terms, C)."""
    return np.ascontiguousarray(np.einsum("te,zek->ztk", values, W))


@njit_parallel
def contraction_forward(A, element_index, factors, M_of, folded, out):
    """out[i, k, M] += sum_terms folded[z_i, t, k] prod_xi A[i, k, factors[t, xi]]   (eqs. 10-11, folded)."""
    n_atoms, C, _ = A.shape
    n_terms, nu = factors.shape
    for i in numba.prange(n_atoms):
        z = element_index[i]
        for t in range(n_terms):
            M = M_of[t]
            for k in range(C):
                product = folded[z, t, k]
                for xi in range(nu):
                    product *= A[i, k, factors[t, xi]]
                out[i, k, M] += product


@njit_parallel
def contraction_backward(A, element_index, factors, M_of, folded, grad_out, grad_A):
    """grad_A[i, k, a] += sum_terms folded[z_i, t, k] grad_out[i, k, M_t] d(prod_xi A[i, k, a_xi])/dA[i, k, a]."""
    n_atoms, C, _ = A.shape
    n_terms, nu = factors.shape
    for i in numba.prange(n_atoms):
        z = element_index[i]
        for t in range(n_terms):
            M = M_of[t]
            for k in range(C):
                g = folded[z, t, k] * grad_out[i, k, M]
                if g == 0.0:
                    continue
                for xi in range(nu):  # product rule: differentiate factor xi, keep the others
                    rest = g
                    for zeta in range(nu):
                        if zeta != xi:
                            rest *= A[i, k, factors[t, zeta]]
                    grad_A[i, k, factors[t, xi]] += rest


# ------------------------------------------------------------------ edge tensor product + neighbour sum (eq. 8)


@cache
def conv_table(irreps_h: tuple, irreps_Y: tuple, paths: tuple):
    """:func:`conv_coefficients`, computed once per layer shape."""
    return conv_coefficients(list(irreps_h), list(irreps_Y), list(paths))


def conv_coefficients(irreps_h: list, irreps_Y: list, paths: list):
    """Sparse Clebsch-Gordan list of all paths: (path, a into h, b into Y, c into the concatenated path outputs, value)."""
    slices_h, slices_Y = offsets(irreps_h), offsets(irreps_Y)
    rows, start = [], 0
    for p, (i1, i2, (l3, _)) in enumerate(paths):
        C = clebsch_gordan(irreps_h[i1][0], irreps_Y[i2][0], l3)
        for a, b, c in zip(*np.nonzero(C), strict=True):
            rows.append((p, slices_h[i1].start + a, slices_Y[i2].start + b, start + c, C[a, b, c]))
        start += 2 * l3 + 1
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return (
        table[:, 0].astype(np.int64),
        table[:, 1].astype(np.int64),
        table[:, 2].astype(np.int64),
        table[:, 3].astype(np.int64),
        np.ascontiguousarray(table[:, 4]),
        start,
    )


@njit_parallel
def conv_aggregate_forward(h, Y, R, senders, receiver_offsets, path, a_idx, b_idx, c_idx, value, out):
    """out[i, u, c] = sum_{e into i} R[e, path, u] sum_{ab} C[a, b, c] h[sender(e), u, a] Y[e, b].

    Edges are sorted by receiver: receiver_offsets[i]..receiver_offsets[i+1] are the edges into atom i.
    """
    n_atoms = out.shape[0]
    C = h.shape[1]
    for i in numba.prange(n_atoms):
        for e in range(receiver_offsets[i], receiver_offsets[i + 1]):
            j = senders[e]
            for q in range(len(value)):
                cy = value[q] * Y[e, b_idx[q]]
                for u in range(C):
                    out[i, u, c_idx[q]] += R[e, path[q], u] * cy * h[j, u, a_idx[q]]


@njit
def conv_aggregate_backward(
    h, Y, R, senders, receivers, path, a_idx, b_idx, c_idx, value, grad_out, grad_h, grad_Y, grad_R
):
    """VJP of :func:`conv_aggregate_forward` with respect to h (scattered to senders), Y and R (per edge)."""
    n_edges = len(senders)
    C = h.shape[1]
    for e in range(n_edges):  # serial: grad_h is scattered to the senders
        i, j = receivers[e], senders[e]
        for q in range(len(value)):
            p, a, b, c, v = path[q], a_idx[q], b_idx[q], c_idx[q], value[q]
            y = Y[e, b]
            acc_Y = 0.0
            for u in range(C):
                g = grad_out[i, u, c]
                rg = R[e, p, u] * g
                grad_h[j, u, a] += rg * v * y
                acc_Y += rg * v * h[j, u, a]
                grad_R[e, p, u] += g * v * y * h[j, u, a]
            grad_Y[e, b] += acc_Y
