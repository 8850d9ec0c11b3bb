r"""The atomic basis A (MACE paper eqs. 8 and 9) and the equivariant linear maps around it.

.. math::

    A_{i,k l_3 m_3} = \sum_{l_1 m_1, l_2 m_2} C^{l_3 m_3}_{l_1 m_1, l_2 m_2} \sum_{j \in \mathcal N(i)}
    R_{k, l_1 l_2 l_3}(r_{ij})\, Y_{l_2 m_2}(\hat{\boldsymbol r}_{ij})\, \tilde h_{j, k l_1 m_1}

(eq. 8; h~_j = W h_j, and in the first layer h_j is the embedding W z_j of the neighbour's element, eq. 9),
followed, as in mace-torch, by a channel-mixing linear map of each output irrep and a division by the
average number of neighbours. ``r_ij`` is the edge vector as mace-torch builds it: position of the centre i
minus position of the neighbour j (plus the periodic shift), ``r_i - r_j``.

Every linear map follows e3nn's normalisation: weights are O(1) and the map divides by the square root
of its fan-in, so features stay O(1) at initialisation. Each function's vector-Jacobian product (``*_vjp``)
sits right after it; index letters follow docs/conventions.md (i atom, j neighbour, e edge, u w k channels,
a b the m-indices of the two factors of a Clebsch-Gordan coefficient and M that of the result, z an element).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from macetutor.config import LayerShapes
from macetutor.graph import segment_sum
from macetutor.irreps import dim, offsets
from macetutor.radial import matmul, radial_mlp, radial_mlp_vjp, silu, silu_derivative

__all__ = [
    "node_embedding",
    "joint_embedding",
    "joint_embedding_weight_grads",
    "mix_channels",
    "linear",
    "linear_vjp",
    "self_connection",
    "self_connection_vjp",
    "edge_tensor_product",
    "edge_tensor_product_vjp",
    "neighbor_sum",
    "neighbor_sum_vjp",
    "edge_tensor_product_sum",
    "edge_tensor_product_sum_vjp",
    "mix_paths",
    "mix_paths_vjp",
    "AtomicBasis",
    "atomic_basis",
    "atomic_basis_vjp",
    "linear_weight_grads",
    "self_connection_weight_grads",
    "mix_paths_weight_grads",
    "node_embedding_weight_grads",
    "edge_density_weight_grads",
]


def node_embedding(element_index: np.ndarray, W: np.ndarray) -> np.ndarray:
    """h^{(0)}_{i,k} = sum_z W[z, k] delta_{z z_i} / sqrt(n_elements): a linear map of the one-hot element
    vector, the W z_j of eq. (9). Returns (n_atoms, K, 1): K scalar channels."""
    return (W[element_index] / np.sqrt(W.shape[0]))[:, :, None]  # (n_atoms, K, 1)


def joint_embedding(features: dict, specs: dict, weights: dict, project: np.ndarray) -> np.ndarray:
    """mace-torch's embedding of per-structure features (``embedding_specs``; MACE-OMOL's total charge and spin),
    added to the element embedding h^(0):

        e_f = T_f[value_f + offset_f]                        categorical feature f: a table (num_classes, d_f)
        e_f = silu(x W_f1 + b_f1) W_f2 + b_f2                 continuous feature f: Linear -> SiLU -> Linear
        delta h^(0) = silu([e_1, ..., e_F] W_project)        (K,), the same for every atom of the structure

    (torch's SiLU, no e3nn constant; W_project has no bias.) ``features`` maps each name to its value;
    ``weights[name]`` is the table, or (W_1, b_1, W_2, b_2) of the continuous feature's MLP (biases may be None).
    """
    e, _ = _feature_embeddings(features, specs, weights)  # (sum of d_f,)
    return silu(e @ project)  # (K,)


def _feature_embeddings(features: dict, specs: dict, weights: dict) -> tuple[np.ndarray, dict]:
    """[e_1, ..., e_F] of :func:`joint_embedding` (sum of d_f,), and each continuous feature's (x, pre-activation)."""
    parts, hidden = [], {}
    for name, spec in specs.items():
        if spec["type"] == "categorical":
            parts.append(weights[name][int(round(features[name] + spec.get("offset", 0)))])  # (d_f,)
        else:
            W_1, b_1, W_2, b_2 = weights[name]
            x = np.atleast_1d(np.asarray(features[name], dtype=np.float64))  # (in_dim,)
            pre = x @ W_1 + (0.0 if b_1 is None else b_1)  # (d_f,)
            hidden[name] = (x, pre)
            parts.append(silu(pre) @ W_2 + (0.0 if b_2 is None else b_2))  # (d_f,)
    return np.concatenate(parts), hidden


def joint_embedding_weight_grads(grad_out: np.ndarray, features: dict, specs: dict, weights: dict, project):
    """dE/d(weights) of :func:`joint_embedding` given dE/d(delta h^(0)) (K,) summed over the structure's atoms:
    ({name: the table's gradient, or (dW_1, db_1, dW_2, db_2)}, dW_project). The forward is recomputed (it is small)."""
    e, hidden = _feature_embeddings(features, specs, weights)  # (sum d_f,)
    pre_project = e @ project  # (K,)
    grad_pre_project = grad_out * silu_derivative(pre_project)  # (K,)
    grad_project = np.outer(e, grad_pre_project)  # (sum d_f, K)
    grad_e = project @ grad_pre_project  # (sum d_f,)
    grads, start = {}, 0
    for name, spec in specs.items():
        d = spec["emb_dim"]
        g = grad_e[start : start + d]  # (d_f,)
        start += d
        if spec["type"] == "categorical":
            table = np.zeros(weights[name].shape, dtype=g.dtype)  # (num_classes, d_f)
            table[int(round(features[name] + spec.get("offset", 0)))] = g
            grads[name] = table
        else:
            W_1, b_1, W_2, b_2 = weights[name]
            x, pre = hidden[name]
            grad_pre = (W_2 @ g) * silu_derivative(pre)  # (d_f,)
            grads[name] = (
                np.outer(x, grad_pre),
                None if b_1 is None else grad_pre,
                np.outer(silu(pre), g),
                None if b_2 is None else g,
            )
    return grads, grad_project


def mix_channels(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y_{i,w,m} = sum_u W[u, w] x_{i,u,m}: "uw,ium->iwm", the channel mixing of every linear map, as one matrix
    product (rows (i, m), columns u; a complex x of the training's complex step as two real products).
    x: (n, K_in, d), W: (K_in, K_out) -> (n, K_out, d)."""
    n, K, d = x.shape
    rows = np.moveaxis(x, 1, 2).reshape(n * d, K)  # (n d, K_in)
    return np.ascontiguousarray(np.moveaxis(matmul(rows, W).reshape(n, d, W.shape[1]), 2, 1))  # (n, K_out, d)


def channel_contraction(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """sum_{i,m} x_{i,u,m} g_{i,w,m} -> (K_x, K_g): "ium,iwm->uw", the weight gradient of every channel-mixing map
    (input x, output cotangent g), as one BLAS matrix product."""
    return np.tensordot(x, g, axes=([0, 2], [0, 2]))


def linear(x: np.ndarray, irreps: list, W: list) -> np.ndarray:
    """Equivariant linear map, one weight matrix per irrep block: y_{w,m} = sum_u W[u, w] x_{u,m} / sqrt(K_in).

    Parameters:
        x: (n, K_in, sum(2l+1)); W: one (K_in, K_out) per block of ``irreps``.
    Returns:
        (n, K_out, sum(2l+1))
    """
    blocks = [
        mix_channels(W_b, x[:, :, s]) / np.sqrt(W_b.shape[0])  # (n, K_out, 2l+1): "uw,ium->iwm"
        for W_b, s in zip(W, offsets(irreps), strict=True)
    ]
    return np.concatenate(blocks, axis=2)  # (n, K_out, sum(2l+1))


def linear_vjp(grad_y: np.ndarray, irreps: list, W: list) -> np.ndarray:
    """VJP of :func:`linear`: dE/dx_{u,m} = sum_w W[u, w] dE/dy_{w,m} / sqrt(K_in) (the transposed map)."""
    blocks = [
        mix_channels(W_b.T, grad_y[:, :, s]) / np.sqrt(W_b.shape[0])  # (n, K_in, 2l+1): "uw,iwm->ium"
        for W_b, s in zip(W, offsets(irreps), strict=True)
    ]
    return np.concatenate(blocks, axis=2)  # (n, K_in, sum(2l+1))


def linear_weight_grads(grad_y: np.ndarray, x: np.ndarray, irreps: list, W: list) -> tuple:
    """dE/dW of :func:`linear`: dE/dW_b[u, w] = sum_{i,m} x_{i,u,m} dE/dy_{i,w,m} / sqrt(K_in), one per block."""
    return tuple(
        channel_contraction(x[:, :, s], grad_y[:, :, s]) / np.sqrt(W_b.shape[0])  # (K_in, K_out)
        for W_b, s in zip(W, offsets(irreps), strict=True)
    )


def self_connection(x: np.ndarray, irreps_in: list, irreps_out: list, element_index: np.ndarray, W: list):
    """Element-dependent linear map: y_{i,w,m} = sum_u W[u, z_i, w] x_{i,u,m} / sqrt(K_in n_elements).

    The W_{z_i} h^(t) of eq. (12) (mace-torch's ``skip_tp``: e3nn's FullyConnectedTensorProduct of x with the
    one-hot element vector). One weight (K_in, n_elements, K_out) per irrep present in both ``irreps_in`` and
    ``irreps_out``; blocks of ``irreps_out`` without a partner are 0. Returns (n, K_out, dim(irreps_out)).
    A weight (K_in, K_out) without the element axis is the same for every element (the ResidualNonLinear block's
    self-connection, an e3nn Linear: y = x W / sqrt(K_in)).
    """
    W = [W_b[:, None, :] if W_b.ndim == 2 else W_b for W_b in W]  # element-agnostic: one "element" for all atoms
    if any(W_b.shape[1] == 1 for W_b in W):
        element_index = np.zeros(len(x), dtype=np.int64)
    K_out = W[0].shape[2]
    y = np.zeros((len(x), K_out, dim(irreps_out)), dtype=x.dtype)  # (n, K_out, dim_out)
    slices_in = dict(zip(irreps_in, offsets(irreps_in), strict=True))
    shared = [
        (irrep, s_out) for irrep, s_out in zip(irreps_out, offsets(irreps_out), strict=True) if irrep in slices_in
    ]
    for (irrep, s_out), W_b in zip(shared, W, strict=True):  # W_b: (K_in, n_elements, K_out)
        norm = np.sqrt(W_b.shape[0] * W_b.shape[1])
        for z in np.unique(element_index):  # one linear map per element, W[:, z, :], on that element's atoms
            atoms = element_index == z
            x_z = x[atoms][:, :, slices_in[irrep]]  # (n_z, K_in, 2l+1)
            y[atoms, :, s_out] = mix_channels(W_b[:, z, :], x_z) / norm  # "uw,ium->iwm"
    return y


def self_connection_vjp(grad_y, irreps_in, irreps_out, element_index, W) -> np.ndarray:
    """VJP of :func:`self_connection`: dE/dx_{i,u,m} = sum_w W[u, z_i, w] dE/dy_{i,w,m} / sqrt(K_in n_elements)."""
    W = [W_b[:, None, :] if W_b.ndim == 2 else W_b for W_b in W]
    if any(W_b.shape[1] == 1 for W_b in W):
        element_index = np.zeros(len(grad_y), dtype=np.int64)
    grad_x = np.zeros((len(grad_y), W[0].shape[0], dim(irreps_in)), dtype=grad_y.dtype)  # (n, K_in, dim_in)
    slices_in = dict(zip(irreps_in, offsets(irreps_in), strict=True))
    shared = [
        (irrep, s_out) for irrep, s_out in zip(irreps_out, offsets(irreps_out), strict=True) if irrep in slices_in
    ]
    for (irrep, s_out), W_b in zip(shared, W, strict=True):
        norm = np.sqrt(W_b.shape[0] * W_b.shape[1])
        for z in np.unique(element_index):
            atoms = element_index == z
            g_z = grad_y[atoms][:, :, s_out]  # (n_z, K_out, 2l+1)
            grad_x[atoms, :, slices_in[irrep]] += mix_channels(W_b[:, z, :].T, g_z) / norm  # "uw,iwm->ium"
    return grad_x


def self_connection_weight_grads(grad_y, x, irreps_in, irreps_out, element_index, W) -> tuple:
    """dE/dW of :func:`self_connection`: dE/dW[u, z, w] = sum_{i: z_i = z} sum_m x_{i,u,m} dE/dy_{i,w,m} / sqrt(K_in n_el)
    (summed over all atoms for an element-agnostic (K_in, K_out) weight)."""
    slices_in = dict(zip(irreps_in, offsets(irreps_in), strict=True))
    shared = [
        (irrep, s_out) for irrep, s_out in zip(irreps_out, offsets(irreps_out), strict=True) if irrep in slices_in
    ]
    grads = []
    for (irrep, s_out), W_b in zip(shared, W, strict=True):
        x_b, g_b = x[:, :, slices_in[irrep]], grad_y[:, :, s_out]  # (n, K_in, 2l+1), (n, K_out, 2l+1)
        if W_b.ndim == 2:
            grads.append(channel_contraction(x_b, g_b) / np.sqrt(W_b.shape[0]))
            continue
        grad = np.zeros(W_b.shape, dtype=np.result_type(x_b, g_b))  # (K_in, n_el, K_out)
        norm = np.sqrt(W_b.shape[0] * W_b.shape[1])
        for z in np.unique(element_index):
            atoms = element_index == z
            grad[:, z, :] = channel_contraction(x_b[atoms], g_b[atoms]) / norm
        grads.append(grad)
    return tuple(grads)


def edge_tensor_product(h_sender, Y, R, irreps_h: list, irreps_Y: list, paths: list, C: list) -> list[np.ndarray]:
    """The equivariant message of each edge and path (the summand of eq. 8):

        phi_{e,k,path,M} = R_{e,path,k} sum_{a,b} C^{(l1 l2 l3)}[a, b, M] h~_{j(e),k,a} Y_{e,b}

    Parameters:
        h_sender: h~ of the sender of each edge (n_edges, K, dim(irreps_h)).
        Y: spherical harmonics of the edge vectors (n_edges, dim(irreps_Y)).
        R: radial weights (n_edges, n_paths, K).
        paths: :class:`macetutor.config.TensorProductPath` list; C: the coupling of each path (2l1+1, 2l2+1, 2l3+1),
            macetutor's ``clebsch_gordan(l1, l2, l3)`` unless a model stores its own.
    Returns:
        one array (n_edges, K, 2 l3 + 1) per path.
    """
    slices_h, slices_Y = offsets(irreps_h), offsets(irreps_Y)
    phi = []
    for k, ((i1, i2, _), C_k) in enumerate(zip(paths, C, strict=True)):  # C_k: (2l1+1, 2l2+1, 2l3+1)
        coupled = np.einsum(
            "abM,eka,eb->ekM", C_k, h_sender[:, :, slices_h[i1]], Y[:, slices_Y[i2]]
        )  # (n_edges, K, 2l3+1)
        phi.append(R[:, k, :, None] * coupled)  # (n_edges, K, 2l3+1)
    return phi


def edge_tensor_product_vjp(grad_phi, h_sender, Y, R, irreps_h, irreps_Y, paths, C):
    """VJP of :func:`edge_tensor_product` with respect to h~ (per edge), Y and R.

    With phi_{e,k,M} = R_{e,k} sum_ab C[a,b,M] h_{e,k,a} Y_{e,b} (k channel) and g = dE/dphi:
        dE/dR_{e,k}   = sum_M g_{e,k,M} sum_ab C[a,b,M] h_{e,k,a} Y_{e,b}
        dE/dh_{e,k,a} = R_{e,k} sum_bM C[a,b,M] Y_{e,b} g_{e,k,M}
        dE/dY_{e,b}   = sum_k R_{e,k} sum_aM C[a,b,M] h_{e,k,a} g_{e,k,M}
    Returns (dE/dh_sender (n_edges, K, dim_h), dE/dY (n_edges, dim_Y), dE/dR (n_edges, n_paths, K)).
    """
    slices_h, slices_Y = offsets(irreps_h), offsets(irreps_Y)
    dtype = np.result_type(grad_phi[0], h_sender, Y, R) if grad_phi else h_sender.dtype
    grad_h = np.zeros(h_sender.shape, dtype=dtype)  # (n_edges, K, dim_h)
    grad_Y = np.zeros(Y.shape, dtype=dtype)  # (n_edges, dim_Y)
    grad_R = np.zeros(R.shape, dtype=dtype)  # (n_edges, n_paths, K)
    for k, ((i1, i2, _), C_k) in enumerate(zip(paths, C, strict=True)):
        h, y, g = h_sender[:, :, slices_h[i1]], Y[:, slices_Y[i2]], grad_phi[k]
        grad_R[:, k, :] = np.einsum("abM,eka,eb,ekM->ek", C_k, h, y, g, optimize=True)
        Rg = R[:, k, :, None] * g  # (n_edges, K, 2l3+1)
        grad_h[:, :, slices_h[i1]] += np.einsum("abM,eb,ekM->eka", C_k, y, Rg, optimize=True)
        grad_Y[:, slices_Y[i2]] += np.einsum("abM,eka,ekM->eb", C_k, h, Rg, optimize=True)
    return grad_h, grad_Y, grad_R


def neighbor_sum(phi: list[np.ndarray], receivers: np.ndarray, n_atoms: int) -> list[np.ndarray]:
    """sum_{j in N(i)} phi_ij: the sum over neighbours of eq. (8), path by path. Returns (n_atoms, K, 2l3+1) each."""
    Phi = []
    for phi_k in phi:
        Phi_k = np.zeros((n_atoms,) + phi_k.shape[1:], dtype=phi_k.dtype)  # (n_atoms, K, 2l3+1)
        np.add.at(Phi_k, receivers, phi_k)
        Phi.append(Phi_k)
    return Phi


def neighbor_sum_vjp(grad_Phi: list[np.ndarray], receivers: np.ndarray) -> list[np.ndarray]:
    """VJP of :func:`neighbor_sum`: every edge e receives the adjoint of its receiver, dE/dphi_e = dE/dPhi_{i(e)}."""
    return [g[receivers] for g in grad_Phi]  # (n_edges, K, 2l3+1) each


def edge_tensor_product_sum(h_up, Y, R, senders, receivers, n_atoms: int, s: LayerShapes, C: tuple) -> list[np.ndarray]:
    """Phi_{i,k,path} = sum_{j in N(i)} phi_{ij,k,path}: :func:`edge_tensor_product` then :func:`neighbor_sum`.

    The hot loop of eq. (8) (the numba backend fuses the two: ``kernels.edge_tensor_product_sum``).
    h_up: (n_atoms, K, dim_in) = W h. Returns one (n_atoms, K, 2l3+1) per path.
    """
    phi = edge_tensor_product(h_up[senders], Y, R, s.irreps_edge, s.irreps_Y, s.paths, C)  # per edge and path
    return neighbor_sum(phi, receivers, n_atoms)


def edge_tensor_product_sum_vjp(grad_Phi, h_up, Y, R, senders, receivers, s: LayerShapes, C: tuple):
    """VJP of :func:`edge_tensor_product_sum`: returns (dE/dh_up (n_atoms, K, dim_in), dE/dY, dE/dR)."""
    grad_phi = neighbor_sum_vjp(grad_Phi, receivers)  # (n_edges, K, 2l3+1) per path
    grad_h_sender, grad_Y, grad_R = edge_tensor_product_vjp(
        grad_phi, h_up[senders], Y, R, s.irreps_edge, s.irreps_Y, s.paths, C
    )
    grad_h_up = np.zeros(h_up.shape, dtype=grad_h_sender.dtype)  # (n_atoms, K, dim_in)
    np.add.at(grad_h_up, senders, grad_h_sender)  # the gather h_up[senders], transposed
    return grad_h_up, grad_Y, grad_R


def _paths_into(paths: list, irrep) -> int:
    """n_L: how many tensor-product paths end in ``irrep`` (the fan-in of the mixing map is K n_L)."""
    return sum(1 for path in paths if path.irrep == irrep)


def mix_paths(Phi: list[np.ndarray], paths: list, irreps_A: list, W: list[np.ndarray]) -> np.ndarray:
    """A_{i,w,LM} = sum_{paths -> L} sum_u W_path[u, w] Phi_{i,u,path,M} / sqrt(K n_L).

    mace-torch's linear map from the paths to the irreps of A (fan-in: K channels times the number n_L of paths
    into L). Returns (n_atoms, K, dim(irreps_A)).
    """
    n_atoms, K = Phi[0].shape[0], W[0].shape[1]
    A = np.zeros((n_atoms, K, dim(irreps_A)), dtype=Phi[0].dtype)  # (n_atoms, K, dim_A)
    slices = dict(zip(irreps_A, offsets(irreps_A), strict=True))
    for path, Phi_k, W_k in zip(paths, Phi, W, strict=True):
        norm = np.sqrt(W_k.shape[0] * _paths_into(paths, path.irrep))
        A[:, :, slices[path.irrep]] += mix_channels(W_k, Phi_k) / norm  # "uw,ium->iwm"
    return A


def mix_paths_vjp(grad_A: np.ndarray, paths: list, irreps_A: list, W: list[np.ndarray]) -> list[np.ndarray]:
    """VJP of :func:`mix_paths`: dE/dPhi_{i,u,path,M} = sum_w W_path[u, w] dE/dA_{i,w,LM} / sqrt(K n_L)."""
    slices = dict(zip(irreps_A, offsets(irreps_A), strict=True))
    return [
        mix_channels(W_k.T, grad_A[:, :, slices[path.irrep]])  # "uw,iwm->ium"
        / np.sqrt(W_k.shape[0] * _paths_into(paths, path.irrep))
        for path, W_k in zip(paths, W, strict=True)
    ]


def edge_density(radial_basis: np.ndarray, envelope, W: np.ndarray):
    """The learned edge density of mace-torch's density blocks: rho_ij = tanh(s_ij^2) [f(r_ij)], s_ij = b_ij W / sqrt(N)

    (a one-layer e3nn FullyConnectedNet [N, 1] on the radial features b_ij, no activation; the envelope f multiplies
    when it is kept apart from the radial basis). Returns (rho (n_edges,), s (n_edges,))."""
    pre = (radial_basis @ W / np.sqrt(W.shape[0]))[:, 0]  # (n_edges,)
    rho = np.tanh(pre * pre)  # (n_edges,)
    return (rho if envelope is None else rho * envelope), pre


def edge_density_vjp(grad_rho: np.ndarray, pre: np.ndarray, envelope, W: np.ndarray):
    """VJP of :func:`edge_density`: (dE/d(radial basis) (n_edges, N), dE/d(envelope) (n_edges,) or None).
    d tanh(s^2)/ds = 2 s (1 - tanh^2(s^2))."""
    t = np.tanh(pre * pre)  # (n_edges,)
    grad_envelope = None if envelope is None else grad_rho * t
    grad_t = grad_rho if envelope is None else grad_rho * envelope
    grad_pre = grad_t * 2.0 * pre * (1.0 - t * t)  # (n_edges,)
    return grad_pre[:, None] * W[:, 0] / np.sqrt(W.shape[0]), grad_envelope


def edge_density_weight_grads(grad_rho: np.ndarray, pre: np.ndarray, graph, W: np.ndarray) -> np.ndarray:
    """dE/dW of :func:`edge_density`: sum_ij dE/drho_ij 2 s_ij (1 - tanh^2(s_ij^2)) [f_ij] b_ij / sqrt(N). (N, 1)"""
    t = np.tanh(pre * pre)  # (n_edges,)
    grad_t = grad_rho if graph.envelope is None else grad_rho * graph.envelope
    grad_pre = grad_t * 2.0 * pre * (1.0 - t * t)  # (n_edges,)
    return (graph.radial_basis.T @ grad_pre / np.sqrt(W.shape[0]))[:, None]  # (N, 1)


class AtomicBasis(NamedTuple):
    """What :func:`atomic_basis` computes: A and the values its VJP needs."""

    A: np.ndarray  # (n_atoms, K, dim_A), eq. (8)
    h_up: np.ndarray  # (n_atoms, K_edge, dim_edge): h~ = W_up h
    R: np.ndarray  # (n_edges, n_paths, K_edge): the radial functions R(r_ij) (times the envelope if kept apart)
    R_mlp: np.ndarray  # (n_edges, n_paths, K_edge): the radial MLP's output (R before the envelope)
    radial_pre: list  # pre-activations of the radial MLP
    A_unmixed: np.ndarray  # (n_atoms, K, dim_A): A before the element mixing of a non-residual block
    Phi: list  # (n_atoms, K_edge, 2l3+1) per path: the neighbour sums
    divisor: np.ndarray  # (n_atoms,): avg_num_neighbors, or rho_i + 1 (density blocks)
    density_pre: np.ndarray | None  # (n_edges,): s_ij of :func:`edge_density` (density blocks)


def atomic_basis(h: np.ndarray, graph, w, s: LayerShapes, config, backend) -> AtomicBasis:
    """The atomic basis A of layer t, eq. (8) (eq. 9 in the first layer), as mace-torch computes it:

        h~_j  = W_up h_j                                   channel mixing of the neighbour's features
        R_ij  = MLP(b(r_ij) f(r_ij))                       the learnable radial functions
        Phi_i = sum_{j in N(i)} C (R_ij Y(r_ij_hat) h~_j)  one sum per path l1 (x) l2 -> l3
        A_i   = W_paths Phi_i / d_i                         the paths mixed into the irreps of A; d_i is
                                                            avg_num_neighbors, or 1 + rho_i = 1 + sum_j rho_ij for
                                                            mace-torch's density blocks (:func:`edge_density`)
        [non-residual block: A_i <- W_{z_i} A_i, element-dependent, mace-torch's RealAgnosticInteractionBlock]

    With ``apply_cutoff=False`` the envelope multiplies R (and rho_ij) instead of the MLP's input.

    Parameters:
        h: (n_atoms, K, dim_in), the features h^(t); graph: :class:`macetutor.graph.Graph`;
        w: :class:`macetutor.parameters.LayerWeights`; config: :class:`macetutor.MACEConfig`;
        backend: :class:`macetutor.backends.Backend` (NumPy specification or numba kernels).
    """
    n_atoms, n_edges = len(h), len(graph.senders)
    h_up = linear(h, s.irreps_in, w.W_up)  # (n_atoms, K_edge, dim_edge): h~ = W h
    R, radial_pre = radial_mlp(
        graph.radial_basis, w.radial, config.radial_activation_constant
    )  # (n_edges, n_paths K_e)
    R_mlp = R.reshape(n_edges, len(s.paths), s.channels_edge)  # (n_edges, n_paths, K_edge): R_{k l1 l2 l3}(r_ij)
    R = R_mlp if graph.envelope is None else R_mlp * graph.envelope[:, None, None]
    Phi = backend.edge_tensor_product_sum(h_up, graph.Y, R, graph.senders, graph.receivers, n_atoms, s, w.C)
    divisor, density_pre = np.full(n_atoms, config.avg_num_neighbors), None  # (n_atoms,)
    if s.normalization == "density":
        rho_e, density_pre = edge_density(graph.radial_basis, graph.envelope, w.W_density[0])  # (n_edges,)
        divisor = 1.0 + segment_sum(rho_e, graph.receivers, n_atoms)  # (n_atoms,): 1 + rho_i
    A = mix_paths(Phi, s.paths, s.irreps_A, w.W_paths) / divisor[:, None, None]  # (n_atoms, K, dim_A)
    A_unmixed = A
    if s.element_mixing:  # mace-torch's non-residual blocks mix A by the centre's element (not in the paper's eq. 9)
        A = self_connection(A, s.irreps_A, s.irreps_A, graph.element_index, w.W_self)  # (n_atoms, K, dim_A)
    return AtomicBasis(A, h_up, R, R_mlp, radial_pre, A_unmixed, Phi, divisor, density_pre)


def mix_paths_weight_grads(grad_A: np.ndarray, Phi: list, paths: list, irreps_A: list, W: list) -> tuple:
    """dE/dW of :func:`mix_paths`: dE/dW_path[u, w] = sum_{i,M} Phi_{i,u,path,M} dE/dA_{i,w,LM} / sqrt(K n_L)."""
    slices = dict(zip(irreps_A, offsets(irreps_A), strict=True))
    return tuple(
        channel_contraction(Phi_k, grad_A[:, :, slices[path.irrep]])
        / np.sqrt(W_k.shape[0] * _paths_into(paths, path.irrep))
        for path, Phi_k, W_k in zip(paths, Phi, W, strict=True)
    )


def node_embedding_weight_grads(grad_h: np.ndarray, element_index: np.ndarray, W: np.ndarray) -> np.ndarray:
    """dE/dW of :func:`node_embedding`: dE/dW[z, k] = sum_{i: z_i = z} dE/dh^(0)_{i,k} / sqrt(n_elements)."""
    grad = np.zeros(W.shape, dtype=grad_h.dtype)  # (n_elements, K)
    np.add.at(grad, element_index, grad_h[:, :, 0] / np.sqrt(W.shape[0]))
    return grad


def atomic_basis_vjp(grad_A: np.ndarray, values: AtomicBasis, graph, w, s: LayerShapes, config, backend, h=None):
    """VJP of :func:`atomic_basis`, its steps in reverse order.

    Returns (dE/dh (n_atoms, K, dim_in), dE/dY (n_edges, dim_Y), dE/d(radial basis) (n_edges, N),
    dE/d(envelope) (n_edges,) or None, the weights' gradients {field of LayerWeights: ...} or None). The weights'
    gradients need the layer's input ``h``; without it they are skipped (forces need none).
    """
    grads = None if h is None else {}
    if s.element_mixing:
        if h is not None:
            grads["W_self"] = self_connection_weight_grads(
                grad_A, values.A_unmixed, s.irreps_A, s.irreps_A, graph.element_index, w.W_self
            )
        grad_A = self_connection_vjp(grad_A, s.irreps_A, s.irreps_A, graph.element_index, w.W_self)
    d = values.divisor[:, None, None]  # (n_atoms, 1, 1)
    if h is not None:
        grads["W_paths"] = mix_paths_weight_grads(grad_A / d, values.Phi, s.paths, s.irreps_A, w.W_paths)
    grad_Phi = mix_paths_vjp(grad_A / d, s.paths, s.irreps_A, w.W_paths)  # per path (n_atoms, K_edge, 2l3+1)
    grad_h_up, grad_Y, grad_R = backend.edge_tensor_product_sum_vjp(
        grad_Phi, values.h_up, graph.Y, values.R, graph.senders, graph.receivers, s, w.C
    )
    grad_envelope = None
    if graph.envelope is not None:  # R = MLP(b) f: the product rule
        grad_envelope = np.sum(grad_R * values.R_mlp, axis=(1, 2))  # (n_edges,)
        grad_R = grad_R * graph.envelope[:, None, None]
    grad_radial_basis, grad_radial_weights = radial_mlp_vjp(
        grad_R.reshape(len(grad_R), grad_R.shape[1] * grad_R.shape[2]),
        values.radial_pre,
        w.radial,
        config.radial_activation_constant,
        x=None if h is None else graph.radial_basis,
    )  # (n_edges, N)
    if h is not None:
        grads["radial"] = grad_radial_weights
    if s.normalization == "density":  # A = X / (1 + rho_i): dE/drho_i = -sum dE/dA A / (1 + rho_i)
        grad_rho_i = -np.sum(grad_A * values.A_unmixed, axis=(1, 2)) / values.divisor  # (n_atoms,)
        grad_rho_e = grad_rho_i[graph.receivers]  # (n_edges,)
        grad_b, grad_f = edge_density_vjp(grad_rho_e, values.density_pre, graph.envelope, w.W_density[0])
        grad_radial_basis = grad_radial_basis + grad_b
        if grad_f is not None:
            grad_envelope = grad_envelope + grad_f
        if h is not None:
            grads["W_density"] = (edge_density_weight_grads(grad_rho_e, values.density_pre, graph, w.W_density[0]),)
    if h is not None:
        grads["W_up"] = linear_weight_grads(grad_h_up, h, s.irreps_in, w.W_up)
    grad_h = linear_vjp(grad_h_up, s.irreps_in, w.W_up)  # (n_atoms, K, dim_in)
    return grad_h, grad_Y, grad_radial_basis, grad_envelope, grads
