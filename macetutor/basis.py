"""The atomic basis A (MACE paper eqs. 8 and 9) and the equivariant linear maps around it.

Index legend: i atom (the centre, the receiver of messages), j neighbour (the sender), e edge,
k (or u, w) channel, a b c the m-indices of a Clebsch-Gordan coefficient (first factor, Y, output).

    A_{i,k l3 m3} = sum_{l1 m1, l2 m2} C^{l3 m3}_{l1 m1, l2 m2} sum_{j in N(i)} R_{k,l1 l2 l3}(r_ij) Y_{l2 m2}(r_ij_hat) h~_{j,k l1 m1}

(eq. 8; in the first layer h~_j is the embedding W z_j of the neighbour's element, eq. 9), followed, as in
mace-torch, by a channel-mixing linear map of each output irrep and a division by the average number
of neighbours. Here ``r_ij`` is the edge vector as mace-torch builds it: position of the centre i minus
position of the neighbour j (plus the periodic shift), ``r_i - r_j``.

Every linear map follows e3nn's normalisation: weights are O(1) and the map divides by the square root
of its fan-in, so features stay O(1) at initialisation.
"""

from __future__ import annotations

import numpy as np

from macetutor.cg import clebsch_gordan
from macetutor.irreps import offsets

__all__ = ["conv_paths", "node_embedding", "linear", "skip_connection", "edge_tensor_product", "atomic_basis"]


def conv_paths(irreps_h: list, irreps_Y: list, irreps_target: list) -> list[tuple[int, int, tuple]]:
    """The paths (block of h, block of Y, output irrep) of the edge tensor product, in mace-torch's order.

    For every block (l1, p1) of h and (l2, p2) of Y, every l3 = |l1-l2|..l1+l2 whose irrep (l3, p1 p2)
    is in ``irreps_target``; each path has its own radial weights. Sorted (stably) by output irrep.
    Returns [(index of h block, index of Y block, (l3, p3)), ...].
    """
    paths = []
    for i1, (l1, p1) in enumerate(irreps_h):
        for i2, (l2, p2) in enumerate(irreps_Y):
            for l3 in range(abs(l1 - l2), l1 + l2 + 1):
                if (l3, p1 * p2) in irreps_target:
                    paths.append((i1, i2, (l3, p1 * p2)))
    return sorted(paths, key=lambda path: path[2])


def node_embedding(element_index: np.ndarray, W: np.ndarray) -> np.ndarray:
    """h^{(0)}_{i,k} = W[z_i, k] / sqrt(n_elements): a linear map of the one-hot element vector (eq. 9).

    Returns (n_atoms, C, 1): C scalar channels.
    """
    return (W[element_index] / np.sqrt(W.shape[0]))[:, :, None]  # (n_atoms, C, 1)


def linear(x: np.ndarray, irreps: list, W: list[np.ndarray]) -> np.ndarray:
    """Equivariant linear map, one weight matrix per irrep block: y_{w,m} = sum_u W[u, w] x_{u,m} / sqrt(C_in).

    Parameters:
        x: (n, C_in, sum(2l+1)); W: one (C_in, C_out) per block of ``irreps``.
    Returns:
        (n, C_out, sum(2l+1))
    """
    blocks = [
        np.einsum("uw,num->nwm", W_b, x[:, :, s], optimize=True) / np.sqrt(W_b.shape[0])
        for W_b, s in zip(W, offsets(irreps), strict=True)
    ]
    return np.concatenate(blocks, axis=2)  # (n, C_out, sum(2l+1))


def skip_connection(x: np.ndarray, irreps_in: list, irreps_out: list, element_index: np.ndarray, W: list) -> np.ndarray:
    """Element-dependent linear self-connection: y_{i,w,m} = sum_u W[u, z_i, w] x_{i,u,m} / sqrt(C_in n_elements).

    e3nn's FullyConnectedTensorProduct of x with the one-hot element vector: one weight (C_in, n_elements, C_out)
    per irrep present in both ``irreps_in`` and ``irreps_out`` (blocks of ``irreps_out`` without a partner are 0).
    Returns (n, C_out, dim(irreps_out)).
    """
    n = len(x)
    C_out = W[0].shape[2]
    y = np.zeros((n, C_out, sum(2 * l + 1 for l, _ in irreps_out)))  # (n, C_out, dim_out)
    slices_in = dict(zip(irreps_in, offsets(irreps_in), strict=True))
    n_used = 0
    for irrep, s_out in zip(irreps_out, offsets(irreps_out), strict=True):
        if irrep not in slices_in:
            continue
        W_b = W[n_used]  # (C_in, n_elements, C_out)
        n_used += 1
        norm = np.sqrt(W_b.shape[0] * W_b.shape[1])
        for zeta in np.unique(element_index):  # one linear map per element, W[:, z, :], on that element's atoms
            atoms = element_index == zeta
            x_z = x[atoms][:, :, slices_in[irrep]]  # (n_z, C_in, 2l+1)
            y[atoms, :, s_out] = np.einsum("uw,ium->iwm", W_b[:, zeta, :], x_z, optimize=True) / norm
    return y


def edge_tensor_product(
    h_sender: np.ndarray, Y: np.ndarray, R: np.ndarray, irreps_h: list, irreps_Y: list, paths: list
) -> list[np.ndarray]:
    """The equivariant message of each edge and path (the summand of eq. 8):

        phi_{e,k,path,m3} = R_{e,path,k} sum_{a,b} C^{(l1 l2 l3)}[a, b, m3] h~_{j(e),k,a} Y_{e,b}

    Parameters:
        h_sender: h~ of the sender of each edge (n_edges, C, dim(irreps_h)).
        Y: spherical harmonics of the edge vectors (n_edges, dim(irreps_Y)).
        R: radial weights (n_edges, n_paths, C).
    Returns:
        one array (n_edges, C, 2 l3 + 1) per path.
    """
    slices_h, slices_Y = offsets(irreps_h), offsets(irreps_Y)
    phi = []
    for k, (i1, i2, (l3, _)) in enumerate(paths):
        C = clebsch_gordan(irreps_h[i1][0], irreps_Y[i2][0], l3)  # (2l1+1, 2l2+1, 2l3+1)
        coupled = np.einsum(
            "abc,eka,eb->ekc", C, h_sender[:, :, slices_h[i1]], Y[:, slices_Y[i2]]
        )  # (n_edges, C, 2l3+1)
        phi.append(R[:, k, :, None] * coupled)  # (n_edges, C, 2l3+1)
    return phi


def neighbor_sum(phi: list[np.ndarray], receivers: np.ndarray, n_atoms: int) -> list[np.ndarray]:
    """sum_{j in N(i)} phi_{ij}: the sum over neighbours of eq. (8), path by path. Returns (n_atoms, C, 2L+1) each."""
    sums = []
    for phi_k in phi:
        M = np.zeros((n_atoms,) + phi_k.shape[1:])  # (n_atoms, C, 2L+1)
        np.add.at(M, receivers, phi_k)
        sums.append(M)
    return sums


def mix_paths(M: list[np.ndarray], paths: list, irreps_target: list, W: list[np.ndarray], avg_num_neighbors: float):
    """A_{i,w,LM} = sum_{paths -> L} sum_u W_path[u, w] M_{i,u,path,M} / sqrt(C n_L) / avg_num_neighbors.

    mace-torch's linear map from the paths to the target irreps (fan-in C times the number n_L of paths into L),
    then the normalisation by the average number of neighbours. Returns (n_atoms, C, dim(irreps_target)).
    """
    n_atoms, C = M[0].shape[:2] if M else (0, W[0].shape[1])
    A = np.zeros((n_atoms, C, sum(2 * l + 1 for l, _ in irreps_target)))  # (n_atoms, C, dim_target)
    slices = dict(zip(irreps_target, offsets(irreps_target), strict=True))
    n_into = {irrep: sum(1 for path in paths if path[2] == irrep) for irrep in irreps_target}
    for k, (_, _, irrep) in enumerate(paths):
        A[:, :, slices[irrep]] += np.einsum("uw,ium->iwm", W[k], M[k], optimize=True) / np.sqrt(
            W[k].shape[0] * n_into[irrep]
        )
    return A / avg_num_neighbors


def atomic_basis(phi, receivers, n_atoms, paths, irreps_target, W, avg_num_neighbors) -> np.ndarray:
    """A (eq. 8): the neighbour sum of the edge messages phi, then :func:`mix_paths`. (n_atoms, C, dim_target)"""
    return mix_paths(neighbor_sum(phi, receivers, n_atoms), paths, irreps_target, W, avg_num_neighbors)


# ------------------------------------------------------------------ backward passes (vector-Jacobian products)


def linear_backward(grad_y: np.ndarray, irreps: list, W: list[np.ndarray]) -> np.ndarray:
    """VJP of :func:`linear`: dE/dx_{u,m} = sum_w W[u, w] dE/dy_{w,m} / sqrt(C_in) (the transposed map)."""
    blocks = [
        np.einsum("uw,nwm->num", W_b, grad_y[:, :, s], optimize=True) / np.sqrt(W_b.shape[0])
        for W_b, s in zip(W, offsets(irreps), strict=True)
    ]
    return np.concatenate(blocks, axis=2)  # (n, C_in, sum(2l+1))


def skip_connection_backward(grad_y, irreps_in, irreps_out, element_index, W) -> np.ndarray:
    """VJP of :func:`skip_connection`: dE/dx_{i,u,m} = sum_w W[u, z_i, w] dE/dy_{i,w,m} / sqrt(C_in n_elements)."""
    C_in = W[0].shape[0]
    grad_x = np.zeros((len(grad_y), C_in, sum(2 * l + 1 for l, _ in irreps_in)))  # (n, C_in, dim_in)
    slices_in = dict(zip(irreps_in, offsets(irreps_in), strict=True))
    n_used = 0
    for irrep, s_out in zip(irreps_out, offsets(irreps_out), strict=True):
        if irrep not in slices_in:
            continue
        W_b = W[n_used]  # (C_in, n_elements, C_out)
        n_used += 1
        norm = np.sqrt(W_b.shape[0] * W_b.shape[1])
        for zeta in np.unique(element_index):
            atoms = element_index == zeta
            g_z = grad_y[atoms][:, :, s_out]  # (n_z, C_out, 2l+1)
            grad_x[atoms, :, slices_in[irrep]] += np.einsum("uw,iwm->ium", W_b[:, zeta, :], g_z, optimize=True) / norm
    return grad_x


def edge_tensor_product_backward(grad_phi, h_sender, Y, R, irreps_h, irreps_Y, paths):
    """VJP of :func:`edge_tensor_product` with respect to h~ (per edge), Y and R.

    With phi_{e,k,c} = R_{e,k} sum_ab C[a,b,c] h_{e,k,a} Y_{e,b} (k channel) and g = dE/dphi:
        dE/dR_{e,k}   = sum_c g_{e,k,c} sum_ab C[a,b,c] h_{e,k,a} Y_{e,b}
        dE/dh_{e,k,a} = R_{e,k} sum_bc C[a,b,c] Y_{e,b} g_{e,k,c}
        dE/dY_{e,b}   = sum_k R_{e,k} sum_ac C[a,b,c] h_{e,k,a} g_{e,k,c}
    Returns (dE/dh_sender (n_edges, C, dim_h), dE/dY (n_edges, dim_Y), dE/dR (n_edges, n_paths, C)).
    """
    slices_h, slices_Y = offsets(irreps_h), offsets(irreps_Y)
    grad_h, grad_Y, grad_R = np.zeros_like(h_sender), np.zeros_like(Y), np.zeros_like(R)
    for k, (i1, i2, (l3, _)) in enumerate(paths):
        C = clebsch_gordan(irreps_h[i1][0], irreps_Y[i2][0], l3)  # (2l1+1, 2l2+1, 2l3+1)
        h, y, g = h_sender[:, :, slices_h[i1]], Y[:, slices_Y[i2]], grad_phi[k]
        grad_R[:, k, :] = np.einsum("abc,eka,eb,ekc->ek", C, h, y, g, optimize=True)
        Rg = R[:, k, :, None] * g  # (n_edges, C, 2l3+1)
        grad_h[:, :, slices_h[i1]] += np.einsum("abc,eb,ekc->eka", C, y, Rg, optimize=True)
        grad_Y[:, slices_Y[i2]] += np.einsum("abc,eka,ekc->eb", C, h, Rg, optimize=True)
    return grad_h, grad_Y, grad_R


def mix_paths_backward(grad_A, paths, irreps_target, W, avg_num_neighbors) -> list[np.ndarray]:
    """VJP of :func:`mix_paths`: dE/dM_{i,u,path,M} = sum_w W_path[u, w] dE/dA_{i,w,LM} / sqrt(C n_L) / avg."""
    slices = dict(zip(irreps_target, offsets(irreps_target), strict=True))
    n_into = {irrep: sum(1 for path in paths if path[2] == irrep) for irrep in irreps_target}
    return [
        np.einsum("uw,iwm->ium", W[k], grad_A[:, :, slices[irrep]], optimize=True)
        / np.sqrt(W[k].shape[0] * n_into[irrep])
        / avg_num_neighbors
        for k, (_, _, irrep) in enumerate(paths)
    ]


def atomic_basis_backward(grad_A, receivers, paths, irreps_target, W, avg_num_neighbors) -> list[np.ndarray]:
    """VJP of :func:`atomic_basis`: dE/dphi_e = dE/dM_{receiver(e)} (the transpose of the neighbour sum)."""
    return [g[receivers] for g in mix_paths_backward(grad_A, paths, irreps_target, W, avg_num_neighbors)]
