r"""The update (MACE paper eq. 12), the readouts (eq. 13) and the energy, each with its vector-Jacobian product.

.. math::

    h^{(t+1)}_{i,kLM} = \sum_{k'} W_{kL,k'}\, m_{i,k'LM} + \sum_{k'} W_{z_i kL,k'}\, h^{(t)}_{i,k'LM}
    \qquad \text{(eq. 12)}

.. math::

    E_i^{(t)} = \sum_k W_k\, h^{(t+1)}_{i,k00} \quad (t < T-1,\ \text{linear}) \qquad \text{(eq. 13)}

    E_i^{(T-1)} = \mathrm{MLP}\big(h^{(T)}_{i,:,00}\big) \quad \text{(the last layer: one hidden SiLU layer)}

.. math::

    E = \sum_i E^0_{z_i} + \sum_i E_i^\text{int}, \qquad
    E_i^\text{int} = \text{scale}\,\Big(V_i + \sum_t E_i^{(t)}\Big) + \text{shift}

The self-connection W_z h^(t) of eq. (12) is present in residual layers only (mace-torch's default first layer
is not residual). scale and shift are mace-torch's ScaleShiftMACE (1 and 0 for a plain MACE), V_i the optional ZBL
pair energy (macetutor.pair). Only the scalar channels (the first block, 0e) of h enter a readout; a multi-head
model has one readout output per head and each atom takes its structure's head.
"""

from __future__ import annotations

import numpy as np

from macetutor.basis import linear, linear_vjp, self_connection, self_connection_vjp
from macetutor.radial import silu, silu_derivative

__all__ = ["update", "update_vjp", "readout", "readout_vjp", "readout_weight_grads", "site_energies"]


def update(m: np.ndarray, h: np.ndarray, element_index: np.ndarray, w, s) -> tuple[np.ndarray, np.ndarray | None]:
    """h^(t+1) = W_update m + W_{z_i} h^(t) (eq. 12). Returns (h^(t+1) (n, K, dim_out), the self-connection or None).

    Parameters:
        m: message (n, K, dim_out); h: h^(t) (n, K, dim_in); w: :class:`macetutor.parameters.LayerWeights`;
        s: :class:`macetutor.config.LayerShapes`.
    """
    h_new = linear(m, s.irreps_out, w.W_update)  # (n, K, dim_out)
    if not s.residual:
        return h_new, None
    sc = self_connection(h, s.irreps_in, s.irreps_out, element_index, w.W_self)  # (n, K, dim_out)
    return h_new + sc, sc


def update_vjp(grad_h_new: np.ndarray, element_index: np.ndarray, w, s) -> tuple[np.ndarray, np.ndarray | None]:
    """VJP of :func:`update`: returns (dE/dm, dE/dh^(t) through the self-connection, or None)."""
    grad_m = linear_vjp(grad_h_new, s.irreps_out, w.W_update)  # (n, K, dim_out)
    if not s.residual:
        return grad_m, None
    return grad_m, self_connection_vjp(grad_h_new, s.irreps_in, s.irreps_out, element_index, w.W_self)


def readout(h: np.ndarray, W: tuple, c: float, head: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """E_i^(t) from the scalar channels x_i = h_{i,:,0} of h^(t+1) (eq. 13), for the readout head of each atom.

    linear (``W = (W_1,)``, W_1 (K, H) for H heads):   E_i = x_i W_1[:, head_i] / sqrt(K)
    MLP (``W = (W_1, W_2)``, (K, H w) and (H w, H)):    y_i = x_i W_1 / sqrt(K),
                                                        E_i = sum_{c in head_i} c silu(y_ic) W_2[c, head_i] / sqrt(H w)

    c is e3nn's normalize2mom constant of SiLU; hidden channel c belongs to head floor(c / w) (mace-torch's
    ``mask_head``: the other heads' channels are zeroed). With one head this is the plain linear / MLP readout.
    Returns (E^(t) (n,), the MLP's pre-activation y (n, H w) or None).
    """
    x = h[:, :, 0]  # (n, K): the 0e channels
    y = x @ W[0] / np.sqrt(W[0].shape[0])  # (n, H) or (n, H w)
    if len(W) == 1:
        return y[np.arange(len(y)), head], None
    E = (c * silu(y) * _head_mask(head, W[1].shape)) @ W[1] / np.sqrt(W[1].shape[0])  # (n, H)
    return E[np.arange(len(E)), head], y


def _head_mask(head: np.ndarray, shape: tuple) -> np.ndarray:
    """(n, H w): 1 on the hidden channels of each atom's head, 0 elsewhere (mace-torch's ``mask_head``)."""
    width = shape[0] // shape[1]  # w channels per head
    return (np.arange(shape[0])[None, :] // width == head[:, None]).astype(float)  # (n, H w)


def readout_vjp(grad_E: np.ndarray, y, W: tuple, c: float, head: np.ndarray, shape) -> np.ndarray:
    """VJP of :func:`readout`: dE/dh (zero outside the scalar channels). ``shape`` is that of h; y the pre-activation."""
    n = len(grad_E)
    grad_out = np.zeros((n, W[-1].shape[1]), dtype=np.result_type(grad_E, W[0]))  # (n, H): only each atom's head
    grad_out[np.arange(n), head] = grad_E
    grad_y = grad_out  # (n, H)
    if len(W) == 2:
        grad_act = grad_out @ W[1].T / np.sqrt(W[1].shape[0]) * _head_mask(head, W[1].shape)  # (n, H w)
        grad_y = grad_act * c * silu_derivative(y)  # (n, H w)
    grad_h = np.zeros(shape, dtype=np.result_type(grad_E, W[0]))  # (n, K, dim)
    grad_h[:, :, 0] = grad_y @ W[0].T / np.sqrt(W[0].shape[0])  # (n, K)
    return grad_h


def readout_weight_grads(grad_E: np.ndarray, h: np.ndarray, y, W: tuple, c: float, head: np.ndarray) -> tuple:
    """dE/dW of :func:`readout`: linear: x^T G / sqrt(K) with G the (n, H) cotangent placed in each atom's head column;
    MLP: x^T dE/dy / sqrt(K) and (c silu(y) mask)^T G / sqrt(H w)."""
    x, n = h[:, :, 0], len(grad_E)  # (n, K)
    G = np.zeros((n, W[-1].shape[1]), dtype=np.result_type(grad_E, h))  # (n, H)
    G[np.arange(n), head] = grad_E
    if len(W) == 1:
        return (x.T @ G / np.sqrt(W[0].shape[0]),)
    mask = _head_mask(head, W[1].shape)  # (n, H w)
    grad_W2 = (c * silu(y) * mask).T @ G / np.sqrt(W[1].shape[0])  # (H w, H)
    grad_y = (G @ W[1].T / np.sqrt(W[1].shape[0])) * mask * c * silu_derivative(y)  # (n, H w)
    return (x.T @ grad_y / np.sqrt(W[0].shape[0]), grad_W2)


def site_energies(
    E0: np.ndarray, layer_energies: list, pair: np.ndarray, scale, shift
) -> tuple[np.ndarray, np.ndarray]:
    """E_i = E0_{z_i} + E_i^int with E_i^int = scale (V_i + sum_t E_i^(t)) + shift. Returns (E_i, E_i^int), both (n,).

    V_i is the ZBL pair energy of atom i (zero without pair repulsion); scale and shift may differ per atom (per
    head). The derivative of E_i^int with respect to V_i and to each E_i^(t) is ``scale`` (where the reverse pass
    starts).
    """
    E_int = scale * (pair + np.sum(layer_energies, axis=0)) + shift  # (n,)
    return E0 + E_int, E_int
