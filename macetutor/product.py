"""The product basis B (MACE paper eq. 10) and the message m (eq. 11).

Index legend: i atom, k channel, a b c d the flattened (l, m) index of each factor A, e the coupling
path eta, M the m-index of the output irrep (L, p).

    B^{(nu)}_{i,k,eta,LM} = sum_{a_1..a_nu} U^{(nu)}[M, a_1, ..., a_nu, eta] A_{i,k,a_1} ... A_{i,k,a_nu}     (eq. 10)

    m_{i,k,LM} = sum_{nu=1}^{N} sum_eta W^{(nu)}_{z_i, eta, k} B^{(nu)}_{i,k,eta,LM}                          (eq. 11)

The products are taken channel by channel (the same k in every factor): MACE's "tensor-decomposed"
weights, which keep the cost linear in the number of channels. mace-torch folds U and W together
so that B never exists in memory; here B is materialised so that a reader can print it.
"""

from __future__ import annotations

import numpy as np

from macetutor.cg import generalized_clebsch_gordan

__all__ = ["product_basis", "message"]

# einsum strings, one per correlation order, spelling out eq. (10)
_EQ10 = {
    1: "Mae,ika->ikeM",
    2: "Mabe,ika,ikb->ikeM",
    3: "Mabce,ika,ikb,ikc->ikeM",
    4: "Mabcde,ika,ikb,ikc,ikd->ikeM",
}
# bound on the size of einsum's intermediate arrays: atoms are processed in chunks below it
_MAX_INTERMEDIATE = 2**24


def product_basis(A: np.ndarray, irreps_A: list, irrep_out: tuple, nu: int) -> np.ndarray:
    """B^{(nu)} of eq. (10) for one output irrep.

    Parameters:
        A: atomic basis (n_atoms, C, D), blocks ``irreps_A`` on the last axis (D = sum(2l+1)).
        irrep_out: (L, p) of the output.
        nu: correlation order (1..4).

    Returns:
        B: (n_atoms, C, n_paths, 2L+1).
    """
    if nu not in _EQ10:
        raise ValueError(f"correlation order nu must be 1, 2, 3 or 4, got {nu}")
    U = generalized_clebsch_gordan(irreps_A, irrep_out, nu)  # (2L+1, D, ..., D, n_paths)
    n_atoms, C, D = A.shape
    B = np.zeros((n_atoms, C, U.shape[-1], U.shape[0]))  # (n_atoms, C, n_paths, 2L+1)
    if U.shape[-1] == 0 or n_atoms == 0:
        return B
    per_atom = C * U.size // D  # size of the largest intermediate, per atom
    chunk = max(1, _MAX_INTERMEDIATE // max(per_atom, 1))
    for start in range(0, n_atoms, chunk):
        x = A[start : start + chunk]  # (chunk, C, D)
        B[start : start + chunk] = np.einsum(_EQ10[nu], U, *([x] * nu), optimize=True)  # (chunk, C, n_paths, 2L+1)
    return B


def message(B: dict[int, np.ndarray], W: dict[int, np.ndarray], element_index: np.ndarray) -> np.ndarray:
    """m_{i,k,LM} = sum_nu sum_eta W^{(nu)}[z_i, eta, k] B^{(nu)}[i, k, eta, M]   (eq. 11), one output irrep.

    Parameters:
        B: {nu: (n_atoms, C, n_paths_nu, 2L+1)}.
        W: {nu: (n_elements, n_paths_nu, C)} element-dependent weights.
        element_index: (n_atoms,) index of each atom's element in the model's element table.

    Returns:
        (n_atoms, C, 2L+1)
    """
    m = 0.0
    for nu in B:
        W_i = W[nu][element_index]  # (n_atoms, n_paths, C)
        m = m + np.einsum("iek,ikeM->ikM", W_i, B[nu])  # (n_atoms, C, 2L+1)
    return m


# ------------------------------------------------------------------ backward passes (vector-Jacobian products)


def message_backward(grad_m: np.ndarray, W: dict[int, np.ndarray], element_index: np.ndarray) -> dict[int, np.ndarray]:
    """VJP of :func:`message`: dE/dB^{(nu)}_{i,k,eta,M} = W^{(nu)}[z_i, eta, k] dE/dm_{i,k,M}."""
    return {nu: np.einsum("iek,ikM->ikeM", W_nu[element_index], grad_m) for nu, W_nu in W.items()}


def product_basis_backward(grad_B: np.ndarray, A: np.ndarray, irreps_A: list, irrep_out: tuple, nu: int) -> np.ndarray:
    """VJP of :func:`product_basis` (eq. 10) with respect to A, by the product rule over the nu factors:

        dE/dA_{i,k,a} = sum_{xi=1}^{nu} sum_{eta,M} dE/dB_{i,k,eta,M} sum_{a_1..a_nu with a_xi = a} U[M, a_1..a_nu, eta] prod_{zeta != xi} A_{i,k,a_zeta}

    Returns (n_atoms, C, D).
    """
    U = generalized_clebsch_gordan(irreps_A, irrep_out, nu)  # (2L+1, D, ..., D, n_paths)
    grad_A = np.zeros_like(A)  # (n_atoms, C, D)
    if U.shape[-1] == 0 or len(A) == 0:
        return grad_A
    letters = "abcd"[:nu]
    n_atoms, C, D = A.shape
    chunk = max(1, _MAX_INTERMEDIATE // max(C * U.size // D, 1))
    for xi in range(nu):  # the factor being differentiated
        others = [x for j, x in enumerate(letters) if j != xi]
        subscripts = f"M{letters}e,ikeM," + "".join(f"ik{x}," for x in others) + f"->ik{letters[xi]}"
        subscripts = subscripts.replace(",->", "->")
        for start in range(0, n_atoms, chunk):
            x = A[start : start + chunk]  # (chunk, C, D)
            g = grad_B[start : start + chunk]  # (chunk, C, n_paths, 2L+1)
            grad_A[start : start + chunk] += np.einsum(subscripts, U, g, *([x] * len(others)), optimize=True)
    return grad_A
