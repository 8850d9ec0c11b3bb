r"""The product basis B (MACE paper eq. 10) and the message m (eq. 11).

Index legend (docs/conventions.md): i atom, k channel, a b c d the flattened (l, m) index of the first to fourth
factor A, q the coupling path (the paper's eta), M the m-index of the output irrep (L, p), z an element, xi the
factor being differentiated and zeta the others.

.. math::

    B^{(\nu)}_{i,k,q,LM} = \sum_{a_1 \dots a_\nu} U^{(\nu)}[M, a_1, \dots, a_\nu, q]\,
    A_{i,k,a_1} \cdots A_{i,k,a_\nu} \qquad \text{(eq. 10)}

.. math::

    m_{i,k,LM} = \sum_{\nu=1}^{\nu_{\max}} \sum_q W^{(\nu)}_{z_i, q, k}\, B^{(\nu)}_{i,k,q,LM}
    \qquad \text{(eq. 11)}

The products are taken channel by channel (the same k in every factor): MACE's "tensor-decomposed"
weights, which keep the cost linear in the number of channels. mace-torch folds U and W together
so that B never exists in memory; here B is materialised so that a reader can print it (the numba backend
folds them too: ``kernels.product_basis_and_message``).
"""

from __future__ import annotations

import numpy as np

from macetutor.irreps import offsets

__all__ = [
    "product_basis",
    "product_basis_vjp",
    "message",
    "message_vjp",
    "product_basis_and_message",
    "product_basis_and_message_vjp",
    "message_weight_grads",
    "product_basis_and_message_weight_grads",
]

# eq. (10), one einsum per correlation order nu
EQ10 = {
    1: "Maq,ika->ikqM",
    2: "Mabq,ika,ikb->ikqM",
    3: "Mabcq,ika,ikb,ikc->ikqM",
    4: "Mabcdq,ika,ikb,ikc,ikd->ikqM",
}
# its derivative with respect to each factor xi = 1..nu (the product rule: U is not symmetric in a_1..a_nu)
EQ10_VJP = {
    1: ("Maq,ikqM->ika",),
    2: ("Mabq,ikqM,ikb->ika", "Mabq,ikqM,ika->ikb"),
    3: ("Mabcq,ikqM,ikb,ikc->ika", "Mabcq,ikqM,ika,ikc->ikb", "Mabcq,ikqM,ika,ikb->ikc"),
    4: (
        "Mabcdq,ikqM,ikb,ikc,ikd->ika",
        "Mabcdq,ikqM,ika,ikc,ikd->ikb",
        "Mabcdq,ikqM,ika,ikb,ikd->ikc",
        "Mabcdq,ikqM,ika,ikb,ikc->ikd",
    ),
}
# bound on the size of einsum's intermediate arrays: atoms are processed in chunks below it
_MAX_INTERMEDIATE = 2**24


def _chunks(n_atoms: int, per_atom: int):
    """Slices of atoms small enough that an intermediate of ``per_atom`` entries per atom stays below the bound."""
    step = max(1, _MAX_INTERMEDIATE // max(per_atom, 1))
    return [slice(start, start + step) for start in range(0, n_atoms, step)]


def product_basis(A: np.ndarray, U: np.ndarray) -> np.ndarray:
    """B^{(nu)} of eq. (10) for one output irrep and one correlation order nu = U.ndim - 2.

    Parameters:
        A: atomic basis (n_atoms, K, D), D = sum(2l+1) over the irreps of A.
        U: generalised Clebsch-Gordan coefficients (2L+1, D, ..., D, n_paths) with nu axes of size D
           (:func:`macetutor.generalized_clebsch_gordan`).
    Returns:
        B: (n_atoms, K, n_paths, 2L+1).
    """
    nu = U.ndim - 2
    if nu not in EQ10:
        raise ValueError(f"correlation order nu must be 1, 2, 3 or 4, got {nu}")
    n_atoms, K, D = A.shape
    B = np.zeros((n_atoms, K, U.shape[-1], U.shape[0]), dtype=np.result_type(A, U))  # (n_atoms, K, n_paths, 2L+1)
    if U.shape[-1] == 0:
        return B
    for atoms in _chunks(n_atoms, K * U.size // D):
        x = A[atoms]  # (chunk, K, D)
        B[atoms] = np.einsum(EQ10[nu], U, *([x] * nu), optimize=True)  # (chunk, K, n_paths, 2L+1)
    return B


def product_basis_vjp(grad_B: np.ndarray, A: np.ndarray, U: np.ndarray) -> np.ndarray:
    """VJP of :func:`product_basis` with respect to A, by the product rule over the nu factors:

        dE/dA_{i,k,a} = sum_{xi=1}^{nu} sum_{q,M} dE/dB_{i,k,q,M} sum_{a_1..a_nu, a_xi = a} U[M, a_1..a_nu, q] prod_{zeta != xi} A_{i,k,a_zeta}

    Returns (n_atoms, K, D).
    """
    nu = U.ndim - 2
    grad_A = np.zeros(A.shape, dtype=np.result_type(grad_B, A, U))  # (n_atoms, K, D)
    if U.shape[-1] == 0:
        return grad_A
    n_atoms, K, D = A.shape
    for atoms in _chunks(n_atoms, K * U.size // D):
        x, g = A[atoms], grad_B[atoms]  # (chunk, K, D), (chunk, K, n_paths, 2L+1)
        for subscripts in EQ10_VJP[nu]:  # one term per factor xi
            grad_A[atoms] += np.einsum(subscripts, U, g, *([x] * (nu - 1)), optimize=True)
    return grad_A


def message(B: dict, W: dict, element_index: np.ndarray) -> np.ndarray:
    """m_{i,k,LM} = sum_nu sum_q W^{(nu)}[z_i, q, k] B^{(nu)}[i, k, q, M]   (eq. 11), one output irrep.

    Parameters:
        B: {nu: (n_atoms, K, n_paths_nu, 2L+1)}.
        W: {nu: (n_elements, n_paths_nu, K)} element-dependent weights.
        element_index: (n_atoms,) index of each atom's element in the model's element table.
    Returns:
        (n_atoms, K, 2L+1)
    """
    m = 0.0
    for nu in B:
        W_i = W[nu][element_index]  # (n_atoms, n_paths, K): the weights of each atom's element
        m = m + np.einsum("iqk,ikqM->ikM", W_i, B[nu])  # (n_atoms, K, 2L+1)
    return m


def message_vjp(grad_m: np.ndarray, W: dict, element_index: np.ndarray) -> dict:
    """VJP of :func:`message`: dE/dB^{(nu)}_{i,k,q,M} = W^{(nu)}[z_i, q, k] dE/dm_{i,k,M}."""
    return {nu: np.einsum("iqk,ikM->ikqM", W_nu[element_index], grad_m) for nu, W_nu in W.items()}


def message_weight_grads(grad_m: np.ndarray, B: dict, element_index: np.ndarray, n_elements: int) -> dict:
    """dE/dW of :func:`message`: dE/dW^{(nu)}[z, q, k] = sum_{i: z_i = z} sum_M B^{(nu)}[i, k, q, M] dE/dm_{i,k,M}."""
    grads = {}
    for nu, B_nu in B.items():
        per_atom = np.einsum("ikqM,ikM->iqk", B_nu, grad_m)  # (n_atoms, n_paths, K)
        grad = np.zeros((n_elements,) + per_atom.shape[1:], dtype=per_atom.dtype)  # (n_elements, n_paths, K)
        np.add.at(grad, element_index, per_atom)
        grads[nu] = grad
    return grads


def product_basis_and_message(A: np.ndarray, element_index: np.ndarray, products) -> tuple[np.ndarray, dict]:
    """Eqs. (10) and (11) for every output irrep of the layer: B^{(nu)} for nu = 1..nu_max, then m.

    Parameters:
        A: (n_atoms, K, D); products: one :class:`macetutor.parameters.ProductWeights` per irrep of h^(t+1).
    Returns:
        m (n_atoms, K, sum(2L+1)) and B = {irrep: {nu: (n_atoms, K, n_paths, 2L+1)}}.
    """
    B, m = {}, []
    for p in products:
        B[p.irrep] = {nu: product_basis(A, U) for nu, U in enumerate(p.U, start=1)}  # eq. (10)
        m.append(message(B[p.irrep], dict(enumerate(p.W, start=1)), element_index))  # eq. (11): (n_atoms, K, 2L+1)
    return np.concatenate(m, axis=2), B


def product_basis_and_message_vjp(grad_m: np.ndarray, A: np.ndarray, element_index: np.ndarray, products):
    """VJP of :func:`product_basis_and_message` with respect to A: eq. (11) then eq. (10), reversed. (n_atoms, K, D)"""
    grad_A = np.zeros(A.shape, dtype=np.result_type(grad_m, A))  # (n_atoms, K, D)
    for p, block in zip(products, offsets([p.irrep for p in products]), strict=True):
        grad_B = message_vjp(grad_m[:, :, block], dict(enumerate(p.W, start=1)), element_index)  # eq. (11)
        for nu, U in enumerate(p.U, start=1):
            grad_A += product_basis_vjp(grad_B[nu], A, U)  # eq. (10), product rule
    return grad_A


def product_basis_and_message_weight_grads(grad_m, A, element_index, products, B) -> tuple:
    """dE/dW^{(nu)} of every output irrep (:func:`message_weight_grads` on the stored B): ((dW^(1), .., dW^(nu_max))
    per irrep of h^(t+1))."""
    grads = []
    for p, block in zip(products, offsets([p.irrep for p in products]), strict=True):
        by_nu = message_weight_grads(grad_m[:, :, block], B[p.irrep], element_index, p.W[0].shape[0])
        grads.append(tuple(by_nu[nu] for nu in range(1, len(p.W) + 1)))
    return tuple(grads)
