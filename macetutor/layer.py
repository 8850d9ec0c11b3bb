"""One interaction layer of MACE, eqs. (8)-(13) in the paper's order, and its reverse pass.

    A        = atomic_basis(h^(t))                    eq. (8); eq. (9) in the first layer     macetutor.basis
    B, m     = product_basis_and_message(A)           eqs. (10) and (11)                      macetutor.product
    h^(t+1)  = update(m, h^(t))                       eq. (12)                                 macetutor.readout
    E^(t)    = readout(h^(t+1))                       eq. (13)                                 macetutor.readout

:func:`interaction_layer_vjp` runs the same four steps backwards, each through the VJP written beside its
forward. The backend (``macetutor.backends``) decides only how the two hot loops run (the neighbour sum of
eq. 8 and the product basis of eqs. 10-11): the NumPy specification or the numba kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from macetutor.basis import (
    AtomicBasis,
    atomic_basis,
    atomic_basis_vjp,
    linear_weight_grads,
    self_connection_weight_grads,
)
from macetutor.nonlinear import nonlinear_atomic_basis, nonlinear_atomic_basis_vjp
from macetutor.parameters import ProductWeights
from macetutor.readout import readout, readout_vjp, readout_weight_grads, update, update_vjp

__all__ = ["LayerValues", "interaction_layer", "interaction_layer_vjp"]


@dataclass(frozen=True, eq=False)
class LayerValues:
    """Every array interaction layer t computed (macetutor's layout: (n_atoms, K, sum(2l+1)), blocks side by side)."""

    t: int  # the layer, counted from 0
    irreps_in: list  # blocks of h_in
    irreps_A: list  # blocks of A
    irreps_out: list  # blocks of message and h
    h_in: np.ndarray  # (n_atoms, K, dim_in): h^(t)
    h_up: np.ndarray  # (n_atoms, K, dim_in): W_up h^(t), the h~ of eq. (8)
    R: np.ndarray  # (n_edges, n_paths, K): the radial functions of eq. (8)
    A: np.ndarray  # (n_atoms, K, dim_A): the atomic basis, eq. (8)
    B: dict | None  # {irrep: {nu: (n_atoms, K, n_paths, 2L+1)}}: the product basis, eq. (10); None on numba
    message: np.ndarray  # (n_atoms, K, dim_out): m, eq. (11)
    self_connection: np.ndarray | None  # (n_atoms, K, dim_out): W_z h^(t) of eq. (12) (residual layers)
    h: np.ndarray  # (n_atoms, K, dim_out): h^(t+1), eq. (12)
    node_energy: np.ndarray  # (n_atoms,): E_i^(t), eq. (13), before scale and shift


@dataclass(frozen=True, eq=False)
class _Saved:
    """What the reverse pass needs beyond :class:`LayerValues`."""

    basis: AtomicBasis  # the atomic basis' intermediate values (a NonLinearBasis for the ResidualNonLinear block)
    readout_pre: np.ndarray | None  # the readout MLP's pre-activation


def _product_elements(element_index: np.ndarray, s) -> np.ndarray:
    """The element of each atom as the product basis sees it: all atoms alike for an element-agnostic product."""
    return element_index if s.product_elements > 1 else np.zeros_like(element_index)


def interaction_layer(h: np.ndarray, graph, w, s, config, backend) -> tuple[LayerValues, _Saved]:
    """Layer t: h^(t) -> (A, B, m, h^(t+1), E^(t)). See the module docstring for the four steps.

    Parameters:
        h: (n_atoms, K, dim_in); graph: :class:`macetutor.graph.Graph`; w: :class:`macetutor.parameters.LayerWeights`;
        s: :class:`macetutor.config.LayerShapes`; config: :class:`macetutor.MACEConfig`;
        backend: :class:`macetutor.backends.Backend`.
    """
    z = graph.element_index
    basis = (nonlinear_atomic_basis if s.nonlinear else atomic_basis)(h, graph, w, s, config, backend)  # eqs. (8)-(9)
    m, B = backend.product_basis_and_message(basis.A, _product_elements(z, s), w.products)  # eqs. (10)-(11)
    h_new, sc = update(m, h, z, w, s)  # eq. (12)
    E_t, readout_pre = readout(h_new, w.readout, config.readout_activation_constant, graph.head)  # eq. (13)
    values = LayerValues(
        s.t, s.irreps_in, s.irreps_A, s.irreps_out, h, basis.h_up, basis.R, basis.A, B, m, sc, h_new, E_t
    )
    return values, _Saved(basis, readout_pre)


def interaction_layer_vjp(
    grad_E_t, grad_h_new, values: LayerValues, saved: _Saved, graph, w, s, config, backend, weights: bool = False
):
    """The reverse of :func:`interaction_layer`: from dE/dE_i^(t) (n,) and dE/dh^(t+1) (what the later layers sent
    back) to dE/dh^(t), dE/dY, dE/d(radial basis) and dE/d(envelope) (None unless it is kept apart) of this layer.

    ``weights=True`` (training) adds a fifth value: dE/dW of every learnable weight of the layer, as a
    :class:`macetutor.parameters.LayerWeights` whose arrays are the gradients (constants C and U are the layer's own).
    Each weight's gradient is the contraction of its block's input with the cotangent of its block's output, written
    beside the block (``*_weight_grads``).
    """
    z = graph.element_index
    grad_h_new = grad_h_new + readout_vjp(
        grad_E_t, saved.readout_pre, w.readout, config.readout_activation_constant, graph.head, values.h.shape
    )  # eq. (13)
    grad_m, grad_h_self = update_vjp(grad_h_new, z, w, s)  # eq. (12)
    z_product = _product_elements(z, s)
    grad_A = backend.product_basis_and_message_vjp(grad_m, values.A, z_product, w.products)
    basis_vjp = nonlinear_atomic_basis_vjp if s.nonlinear else atomic_basis_vjp
    grad_h, grad_Y, grad_radial, grad_envelope, grads = basis_vjp(
        grad_A, saved.basis, graph, w, s, config, backend, h=values.h_in if weights else None
    )
    if grad_h_self is not None:
        grad_h = grad_h + grad_h_self
    if not weights:
        return grad_h, grad_Y, grad_radial, grad_envelope
    c = config.readout_activation_constant
    grads["readout"] = readout_weight_grads(grad_E_t, values.h, saved.readout_pre, w.readout, c, graph.head)
    grads["W_update"] = linear_weight_grads(grad_h_new, values.message, s.irreps_out, w.W_update)  # eq. (12)
    if s.residual:  # eq. (12)'s W_{z_i} h^(t)
        grads["W_self"] = self_connection_weight_grads(grad_h_new, values.h_in, s.irreps_in, s.irreps_out, z, w.W_self)
    product_grads = backend.product_basis_and_message_weight_grads(
        grad_m, values.A, z_product, w.products, values.B
    )  # eq. (11)
    grads["products"] = tuple(
        ProductWeights(p.irrep, p.U, tuple(g)) for p, g in zip(w.products, product_grads, strict=True)
    )
    return grad_h, grad_Y, grad_radial, grad_envelope, replace(w, **grads)
