"""The atomic basis of mace-torch's ResidualNonLinear interaction block (MACE-MH-0/1, MACE-OMOL), with its VJP.

The block replaces eq. (8)'s radial MLP and normalisation and adds a gated non-linearity before the product basis:

    s_j, t_i  = W_src z_j / sqrt(n_el),  W_tgt z_i / sqrt(n_el)    element embeddings of sender and receiver (K each)
    x_ij      = [b(r_ij), s_j, t_i]                               radial features with the two embeddings
    R_ij      = MLP_LN(x_ij) [f(r_ij)]                            Linear(+bias) -> LayerNorm -> SiLU ... -> Linear
    rho_ij    = tanh(MLP_LN'(x_ij)^2) [f(r_ij)],  rho_i = sum_j rho_ij      a learned edge density
    Phi_i     = sum_j C (R_ij Y(r_ij_hat) h~_j)                    as in eq. (8), h~ = W_up h
    X_i       = W_paths Phi_i / (beta rho_i + alpha) + W_res h~_i   into the irreps of the gate: scalars, gates, gated
    A_i       = W_2 Gate(X_i)                                     Gate: c silu(scalars), gated_l * c' sigmoid(gate_l)

[f] is the envelope, applied here when ``apply_cutoff=False``. The LayerNorm MLPs are plain torch layers (biases, no
fan-in normalisation, torch's SiLU without e3nn's constant); alpha and beta are learned scalars (mace-torch
initialises them to 20 and 0). The gate follows e3nn's Gate: the input's scalar block holds K scalars followed by
K gates per gated block (in the order of the gated irreps), each gate multiplying one channel of its block.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from macetutor.basis import channel_contraction, linear, linear_vjp, linear_weight_grads, mix_channels
from macetutor.graph import segment_sum
from macetutor.irreps import offsets
from macetutor.radial import sigmoid, silu, silu_derivative

__all__ = [
    "layer_norm",
    "layer_norm_vjp",
    "layer_norm_mlp",
    "layer_norm_mlp_vjp",
    "gate",
    "gate_vjp",
    "nonlinear_atomic_basis",
    "nonlinear_atomic_basis_vjp",
]

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which mace-torch's RadialMLP uses


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y = gamma (x - mean(x)) / sqrt(var(x) + eps) + beta over the last axis (var without Bessel's correction).
    Returns (y, x_hat = (x - mean) / sigma, sigma), the last two for :func:`layer_norm_vjp`."""
    centred = x - np.mean(x, axis=-1, keepdims=True)  # (n, h)
    sigma = np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + LAYER_NORM_EPS)  # (n, 1)
    x_hat = centred / sigma  # (n, h)
    return gamma * x_hat + beta, x_hat, sigma


def layer_norm_vjp(grad_y: np.ndarray, x_hat: np.ndarray, sigma: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """VJP of :func:`layer_norm` with respect to x: (g - mean(g) - x_hat mean(g x_hat)) / sigma, g = gamma dE/dy."""
    g = grad_y * gamma  # (n, h)
    return (g - np.mean(g, axis=-1, keepdims=True) - x_hat * np.mean(g * x_hat, axis=-1, keepdims=True)) / sigma


def layer_norm_mlp(x: np.ndarray, W: tuple, bias: tuple, norm: tuple):
    """mace-torch's RadialMLP: x <- silu(LayerNorm(x W_k + b_k)) for the hidden layers, x W_L + b_L for the last.

    Parameters: W: ((h_0, h_1), ..., (h_{L-1}, h_L)); bias: ((h_1,), ..., (h_L,)); norm: ((gamma_k, beta_k) per
    hidden layer). Returns (output (n, h_L), per hidden layer (x_hat, sigma, LayerNorm output) for the VJP).
    """
    saved = []
    for k, (W_k, b_k) in enumerate(zip(W, bias, strict=True)):
        x = x @ W_k + b_k  # (n, h_k)
        if k < len(W) - 1:
            y, x_hat, sigma = layer_norm(x, *norm[k])  # (n, h_k)
            saved.append((x_hat, sigma, y))
            x = silu(y)  # (n, h_k)
    return x, saved


def layer_norm_mlp_vjp(grad_out: np.ndarray, saved: list, W: tuple, norm: tuple, x=None):
    """VJP of :func:`layer_norm_mlp`: (dE/dx, the weights' gradients or None). With the MLP's input ``x`` the
    gradients of every W_k, b_k, gamma_k and beta_k are returned too: ((dW_k), (db_k), ((dgamma_k, dbeta_k)))."""
    inputs = None if x is None else [x] + [silu(y) for _, _, y in saved]  # the input of every layer
    grads_W, grads_b, grads_norm = [None] * len(W), [None] * len(W), [None] * len(norm)
    g = grad_out  # (n, h_L)
    for k in range(len(W) - 1, -1, -1):
        if inputs is not None:
            grads_W[k], grads_b[k] = inputs[k].T @ g, np.sum(g, axis=0)  # (h_{k-1}, h_k), (h_k,)
        g = g @ W[k].T  # (n, h_{k-1})
        if k > 0:
            x_hat, sigma, y = saved[k - 1]
            g_y = g * silu_derivative(y)  # dE/d(LayerNorm output)
            if inputs is not None:
                grads_norm[k - 1] = (np.sum(g_y * x_hat, axis=0), np.sum(g_y, axis=0))
            g = layer_norm_vjp(g_y, x_hat, sigma, norm[k - 1][0])
    weights = None if inputs is None else (tuple(grads_W), tuple(grads_b), tuple(grads_norm))
    return g, weights


def gate(blocks: list, irreps: list, K: int, c_scalars: float, c_gates: float):
    """e3nn's Gate on features given as blocks (n, mul, 2l+1) of ``irreps`` (the first is 0e with K (1 + G) channels,
    the other G blocks have K channels each): scalars -> c silu(scalars); block g -> block g * c' sigmoid(gate g).

    Returns (the output (n, K, sum(2l+1)) in macetutor's layout, the sigmoid of every gate (n, G K))."""
    x = blocks[0][:, :, 0]  # (n, K (1 + G)): K scalars, then K gates per gated block
    scalars, gates = x[:, :K], c_gates * sigmoid(x[:, K:])  # (n, K), (n, G K)
    out = [c_scalars * silu(scalars)[:, :, None]]  # (n, K, 1)
    for g, block in enumerate(blocks[1:]):
        out.append(block * gates[:, g * K : (g + 1) * K, None])  # (n, K, 2l+1)
    return np.concatenate(out, axis=2), gates


def gate_vjp(grad_out: np.ndarray, blocks: list, gates: np.ndarray, irreps: list, K: int, c_scalars, c_gates):
    """VJP of :func:`gate`: the adjoint of every input block."""
    slices = offsets(irreps[:1] + irreps[1:])
    x = blocks[0][:, :, 0]  # (n, K (1 + G))
    grad_x = np.zeros(x.shape, dtype=np.result_type(grad_out, x))  # (n, K (1 + G))
    grad_x[:, :K] = grad_out[:, :, 0] * c_scalars * silu_derivative(x[:, :K])
    sig = gates / c_gates  # (n, G K): sigmoid(gates)
    grads = [None]
    for g, (block, s_out) in enumerate(zip(blocks[1:], slices[1:], strict=True)):
        grad_block = grad_out[:, :, s_out]  # (n, K, 2l+1)
        grads.append(grad_block * gates[:, g * K : (g + 1) * K, None])
        d_gate = np.sum(grad_block * block, axis=2)  # (n, K)
        grad_x[:, K + g * K : K + (g + 1) * K] = (
            d_gate * c_gates * sig[:, g * K : (g + 1) * K] * (1.0 - sig[:, g * K : (g + 1) * K])
        )
    grads[0] = grad_x[:, :, None]
    return grads


class NonLinearBasis(NamedTuple):
    """What :func:`nonlinear_atomic_basis` computes: A and the values its VJP needs."""

    A: np.ndarray  # (n_atoms, K, dim_A)
    h_up: np.ndarray  # (n_atoms, K_edge, dim_edge)
    R: np.ndarray  # (n_edges, n_paths, K_edge), times the envelope if kept apart
    R_mlp: np.ndarray  # (n_edges, n_paths, K_edge): the MLP's output
    x_edge: np.ndarray  # (n_edges, N + 2 K): radial features and element embeddings
    radial_saved: list
    density_saved: list
    density_out: np.ndarray  # (n_edges,): MLP_LN'(x_ij)
    divisor: np.ndarray  # (n_atoms,): beta rho_i + alpha
    rho: np.ndarray  # (n_atoms,): the edge density summed over neighbours
    Phi: list  # (n_atoms, K_edge, 2l3+1) per path: the neighbour sums
    blocks: list  # the gate's input blocks X_i
    gates: np.ndarray  # (n_atoms, G K): c' sigmoid of the gates
    gate_out: np.ndarray  # (n_atoms, K, dim_A): Gate(X)


def _mix(Phi: list, paths: list, irreps_gate: list, W: tuple) -> list:
    """The paths mixed into the gate's input blocks: block b = sum_{paths -> b} W_path^T Phi_path / sqrt(K_e n_b)."""
    blocks = []
    for irrep in irreps_gate:
        into = [(Phi_k, W_k) for path, Phi_k, W_k in zip(paths, Phi, W, strict=True) if path.irrep == irrep]
        norm = np.sqrt(sum(W_k.shape[0] for _, W_k in into))
        blocks.append(sum(mix_channels(W_k, Phi_k) for Phi_k, W_k in into) / norm)  # (n, mul_b, 2l+1)
    return blocks


def _residual_blocks(h_up: np.ndarray, irreps_edge: list, irreps_gate: list, W_res: tuple) -> list:
    """W_res h~: one (K_e, mul_b) map for each gate block whose irrep h~ has (others get nothing), 1/sqrt(K_e)."""
    slices = dict(zip(irreps_edge, offsets(irreps_edge), strict=True))
    shared = [irrep for irrep in irreps_gate if irrep in slices]
    out = {
        irrep: mix_channels(W, h_up[:, :, slices[irrep]]) / np.sqrt(W.shape[0])  # "uw,ium->iwm"
        for irrep, W in zip(shared, W_res, strict=True)
    }
    return [out.get(irrep) for irrep in irreps_gate]


def nonlinear_atomic_basis(h: np.ndarray, graph, w, s, config, backend) -> NonLinearBasis:
    """A of the ResidualNonLinear block (module docstring). Same parameters as :func:`macetutor.basis.atomic_basis`."""
    n_atoms, n_edges, K = len(h), len(graph.senders), s.channels
    h_up = linear(h, s.irreps_in, w.W_up)  # (n_atoms, K_edge, dim_edge): h~ = W h
    z, n_el = graph.element_index, w.source_embedding.shape[0]
    x_edge = np.concatenate(
        [
            graph.radial_basis,
            w.source_embedding[z[graph.senders]] / np.sqrt(n_el),
            w.target_embedding[z[graph.receivers]] / np.sqrt(n_el),
        ],
        axis=1,
    )  # (n_edges, N + 2K)
    R, radial_saved = layer_norm_mlp(x_edge, w.radial, w.radial_bias, w.radial_norm)  # (n_edges, n_paths K_e)
    R_mlp = R.reshape(n_edges, len(s.paths), s.channels_edge)  # (n_edges, n_paths, K_edge)
    R = R_mlp if graph.envelope is None else R_mlp * graph.envelope[:, None, None]
    density_out, density_saved = layer_norm_mlp(x_edge, w.W_density, w.density_bias, w.density_norm)  # (n_edges, 1)
    rho_e = np.tanh(density_out[:, 0] ** 2)  # (n_edges,)
    if graph.envelope is not None:
        rho_e = rho_e * graph.envelope
    rho = segment_sum(rho_e, graph.receivers, n_atoms)  # (n_atoms,)
    divisor = w.beta * rho + w.alpha  # (n_atoms,)
    Phi = backend.edge_tensor_product_sum(h_up, graph.Y, R, graph.senders, graph.receivers, n_atoms, s, w.C)
    blocks = _mix(Phi, s.paths, s.irreps_A, w.W_paths)  # the gate's input, block by block
    residual = _residual_blocks(h_up, s.irreps_edge, s.irreps_A, w.W_res)
    blocks = [b / divisor[:, None, None] + (0.0 if r is None else r) for b, r in zip(blocks, residual, strict=True)]
    gate_out, gates = gate(blocks, s.irreps_A, K, config.radial_activation_constant, config.gate_activation_constant)
    A = linear(gate_out, s.irreps_A, w.W_out)  # (n_atoms, K, dim_A)
    return NonLinearBasis(
        A,
        h_up,
        R,
        R_mlp,
        x_edge,
        radial_saved,
        density_saved,
        density_out[:, 0],
        divisor,
        rho,
        Phi,
        blocks,
        gates,
        gate_out,
    )


def nonlinear_atomic_basis_vjp(grad_A, values: NonLinearBasis, graph, w, s, config, backend, h=None):
    """VJP of :func:`nonlinear_atomic_basis`: (dE/dh, dE/dY, dE/d(radial basis), dE/d(envelope) or None, the weights'
    gradients {field of LayerWeights: ...} or None: they need the layer's input ``h``)."""
    K, N = s.channels, graph.radial_basis.shape[1]
    grads = None if h is None else {}
    if h is not None:
        grads["W_out"] = linear_weight_grads(grad_A, values.gate_out, s.irreps_A, w.W_out)
    grad_gate_out = linear_vjp(grad_A, s.irreps_A, w.W_out)  # (n_atoms, K, dim_A)
    c_s, c_g = config.radial_activation_constant, config.gate_activation_constant
    grad_blocks = gate_vjp(grad_gate_out, values.blocks, values.gates, s.irreps_A, K, c_s, c_g)
    d = values.divisor[:, None, None]  # (n_atoms, 1, 1)
    grad_h_up, grad_W_res = _residual_vjp(grad_blocks, values.h_up, s, w.W_res, with_weights=h is not None)
    residual = _residual_blocks(values.h_up, s.irreps_edge, s.irreps_A, w.W_res)
    grad_divisor = (
        -sum(
            np.sum(g * (X - (0.0 if r is None else r)), axis=(1, 2))
            for g, X, r in zip(grad_blocks, values.blocks, residual, strict=True)
        )
        / values.divisor
    )  # (n_atoms,): X = mix / d + res, d(mix / d)/dd = -(mix / d) / d
    grad_Phi, grad_W_paths = [], []
    for path, W_k, Phi_k in zip(s.paths, w.W_paths, values.Phi, strict=True):
        b = list(s.irreps_A).index(path.irrep)
        norm = np.sqrt(W_k.shape[0] * sum(1 for other in s.paths if other.irrep == path.irrep))
        grad_Phi.append(mix_channels(W_k.T, grad_blocks[b] / d) / norm)  # "uw,iwm->ium"
        if h is not None:
            grad_W_paths.append(channel_contraction(Phi_k, grad_blocks[b] / d) / norm)
    grad_h_tp, grad_Y, grad_R = backend.edge_tensor_product_sum_vjp(
        grad_Phi, values.h_up, graph.Y, values.R, graph.senders, graph.receivers, s, w.C
    )
    grad_h_up = grad_h_up + grad_h_tp
    grad_envelope = None
    if graph.envelope is not None:
        grad_envelope = np.sum(grad_R * values.R_mlp, axis=(1, 2))  # (n_edges,)
        grad_R = grad_R * graph.envelope[:, None, None]
    grad_R = grad_R.reshape(len(grad_R), grad_R.shape[1] * grad_R.shape[2])  # (n_edges, n_paths K_edge)
    x_in = None if h is None else values.x_edge
    grad_x, radial_grads = layer_norm_mlp_vjp(grad_R, values.radial_saved, w.radial, w.radial_norm, x=x_in)
    # the density: divisor = beta rho_i + alpha, rho_i = sum_j tanh(o_ij^2) [f_ij]
    grad_rho_e = (w.beta * grad_divisor)[graph.receivers]  # (n_edges,)
    t = np.tanh(values.density_out**2)  # (n_edges,)
    if graph.envelope is not None:
        grad_envelope = grad_envelope + grad_rho_e * t
        grad_rho_e = grad_rho_e * graph.envelope
    grad_o = grad_rho_e * 2.0 * values.density_out * (1.0 - t * t)  # (n_edges,)
    grad_x_density, density_grads = layer_norm_mlp_vjp(
        grad_o[:, None], values.density_saved, w.W_density, w.density_norm, x=x_in
    )
    grad_x = grad_x + grad_x_density
    if h is not None:
        n_el = w.source_embedding.shape[0]
        grads["radial"], grads["radial_bias"], grads["radial_norm"] = radial_grads
        grads["W_density"], grads["density_bias"], grads["density_norm"] = density_grads
        grads["W_paths"], grads["W_res"] = tuple(grad_W_paths), grad_W_res
        grads["alpha"], grads["beta"] = np.sum(grad_divisor), np.sum(grad_divisor * values.rho)
        z = graph.element_index
        grads["source_embedding"] = segment_sum(grad_x[:, N : N + K], z[graph.senders], n_el) / np.sqrt(n_el)
        grads["target_embedding"] = segment_sum(grad_x[:, N + K :], z[graph.receivers], n_el) / np.sqrt(n_el)
        grads["W_up"] = linear_weight_grads(grad_h_up, h, s.irreps_in, w.W_up)
    grad_h = linear_vjp(grad_h_up, s.irreps_in, w.W_up)  # (n_atoms, K, dim_in)
    return grad_h, grad_Y, grad_x[:, :N], grad_envelope, grads


def _residual_vjp(grad_blocks: list, h_up: np.ndarray, s, W_res: tuple, with_weights: bool):
    """VJP of :func:`_residual_blocks`: (dE/dh~ through W_res, dE/dW_res or None)."""
    slices = dict(zip(s.irreps_edge, offsets(s.irreps_edge), strict=True))
    grad_h_up = np.zeros(h_up.shape, dtype=np.result_type(h_up, *grad_blocks))  # (n_atoms, K_edge, dim_edge)
    shared = [(irrep, g) for irrep, g in zip(s.irreps_A, grad_blocks, strict=True) if irrep in slices]
    grad_W = []
    for (irrep, g), W in zip(shared, W_res, strict=True):
        grad_h_up[:, :, slices[irrep]] += mix_channels(W.T, g) / np.sqrt(W.shape[0])  # "uw,iwm->ium"
        if with_weights:
            grad_W.append(channel_contraction(h_up[:, :, slices[irrep]], g) / np.sqrt(W.shape[0]))
    return grad_h_up, (tuple(grad_W) if with_weights else None)
