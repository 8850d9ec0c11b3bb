"""The update (MACE paper eq. 12), the readouts (eq. 13) and the energy, each with its vector-Jacobian product.

    h^{(t+1)}_{i,kLM} = sum_k' W_{kL,k'} m_{i,k'LM} + sum_k' W_{z_i kL,k'} h^{(t)}_{i,k'LM}          (eq. 12)

    E_i^{(t)} = sum_k W_k h^{(t+1)}_{i,k00}                       for t < T-1 (linear readout)    (eq. 13)
    E_i^{(T-1)} = MLP(h^{(T)}_{i,:,00})                           for the last layer (one hidden SiLU layer)

    E = sum_i E0_{z_i} + sum_i E_i^int,   E_i^int = scale sum_t E_i^{(t)} + shift                  (site energies)

The self-connection W_z h^(t) of eq. (12) is present in residual layers only (mace-torch's default first layer
is not residual). scale and shift are mace-torch's ScaleShiftMACE (1 and 0 for a plain MACE). Only the scalar
channels (the first block, 0e) of h enter a readout.
"""

from __future__ import annotations

import numpy as np

from macetutor.basis import linear, linear_vjp, self_connection, self_connection_vjp
from macetutor.radial import silu, silu_derivative

__all__ = ["update", "update_vjp", "readout", "readout_vjp", "site_energies"]


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


def readout(h: np.ndarray, W: tuple, c: float) -> tuple[np.ndarray, np.ndarray | None]:
    """E_i^(t) from the scalar channels x_i = h_{i,:,0} of h^(t+1) (eq. 13).

    linear (``W = (W_1,)``, W_1 (K, 1)):            E_i = x_i W_1 / sqrt(K)
    MLP (``W = (W_1, W_2)``, (K, H) and (H, 1)):    y_i = x_i W_1 / sqrt(K),  E_i = c silu(y_i) W_2 / sqrt(H)

    c is e3nn's normalize2mom constant of SiLU. Returns (E^(t) (n,), the MLP's pre-activation y (n, H) or None).
    """
    x = h[:, :, 0]  # (n, K): the 0e channels
    y = x @ W[0] / np.sqrt(W[0].shape[0])  # (n, 1) or (n, H)
    if len(W) == 1:
        return y[:, 0], None
    E = c * silu(y) @ W[1] / np.sqrt(W[1].shape[0])  # (n, 1)
    return E[:, 0], y


def readout_vjp(grad_E: np.ndarray, y, W: tuple, c: float, shape) -> np.ndarray:
    """VJP of :func:`readout`: dE/dh (zero outside the scalar channels). ``shape`` is that of h; y the pre-activation."""
    grad_y = grad_E[:, None]  # (n, 1)
    if len(W) == 2:
        grad_y = (grad_y @ W[1].T / np.sqrt(W[1].shape[0])) * c * silu_derivative(y)  # (n, H)
    grad_h = np.zeros(shape, dtype=np.result_type(grad_E, W[0]))  # (n, K, dim)
    grad_h[:, :, 0] = grad_y @ W[0].T / np.sqrt(W[0].shape[0])  # (n, K)
    return grad_h


def site_energies(E0: np.ndarray, layer_energies: list, scale, shift) -> tuple[np.ndarray, np.ndarray]:
    """E_i = E0_{z_i} + E_i^int with E_i^int = scale sum_t E_i^(t) + shift. Returns (E_i, E_i^int), both (n,).

    The derivative of E_i^int with respect to each E_i^(t) is ``scale`` (what the reverse pass starts from).
    """
    E_int = scale * np.sum(layer_energies, axis=0) + shift  # (n,)
    return E0 + E_int, E_int
