"""The one switch between the readable NumPy specification and the compiled numba kernels.

``MACE.evaluate(..., backend="numpy")`` runs every step in the NumPy functions that state the paper's equations
(the specification); ``backend="numba"`` replaces the hot steps below by kernels of the same name and signature
from :mod:`macetutor.kernels` (tests hold the two equal to 1e-12). Nothing else differs between them.

    step                                   numpy                                     numba
    edge harmonics Y(v/|v|) and dY/dv      so3.spherical_harmonics_with_gradient     kernels.spherical_harmonics_with_gradient
    radial basis b(r) f(r) and d/dr        radial.radial_features                    kernels.radial_features
    eq. (8): sum over neighbours (+ VJP)   basis.edge_tensor_product_sum             kernels.edge_tensor_product_sum
    eqs. (10)-(11) (+ VJP)                 product.product_basis_and_message         kernels.product_basis_and_message
    neighbour search                       scipy k-d tree                            numba cell list

With numba, B is never formed (``LayerValues.B`` is None): U and the weights are folded into one tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

from macetutor import basis, product, radial, so3

__all__ = ["Backend", "get_backend", "BACKENDS"]

BACKENDS = ("numpy", "numba")


@dataclass(frozen=True)
class Backend:
    """The implementations of the hot steps (see the module docstring); every field has one signature per step."""

    name: str
    neighbor_search: str  # method of macetutor.neighbor_list: "kdtree" or "cells"
    spherical_harmonics_with_gradient: Callable
    radial_features: Callable
    edge_tensor_product_sum: Callable
    edge_tensor_product_sum_vjp: Callable
    product_basis_and_message: Callable
    product_basis_and_message_vjp: Callable
    product_basis_and_message_weight_grads: Callable  # (training) dE/dW of the product weights


NUMPY = Backend(
    name="numpy",
    neighbor_search="kdtree",
    spherical_harmonics_with_gradient=so3.spherical_harmonics_with_gradient,
    radial_features=radial.radial_features,
    edge_tensor_product_sum=basis.edge_tensor_product_sum,
    edge_tensor_product_sum_vjp=basis.edge_tensor_product_sum_vjp,
    product_basis_and_message=product.product_basis_and_message,
    product_basis_and_message_vjp=product.product_basis_and_message_vjp,
    product_basis_and_message_weight_grads=product.product_basis_and_message_weight_grads,
)


@cache
def get_backend(name: str) -> Backend:
    """``"numpy"`` (the specification) or ``"numba"`` (compiled kernels, imported on first use)."""
    if name == "numpy":
        return NUMPY
    if name == "numba":
        from macetutor import kernels  # compiling / loading the kernels costs time: only when asked for

        return Backend(
            name="numba",
            neighbor_search="cells",
            spherical_harmonics_with_gradient=kernels.spherical_harmonics_with_gradient,
            radial_features=kernels.radial_features,
            edge_tensor_product_sum=kernels.edge_tensor_product_sum,
            edge_tensor_product_sum_vjp=kernels.edge_tensor_product_sum_vjp,
            product_basis_and_message=kernels.product_basis_and_message,
            product_basis_and_message_vjp=kernels.product_basis_and_message_vjp,
            product_basis_and_message_weight_grads=kernels.product_basis_and_message_weight_grads,
        )
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


@cache
def complex_step_backend(name: str) -> Backend:
    """The backend of the training's complex-step pass (macetutor.training): ``name``'s, except that the edge
    harmonics and radial features are NumPy's (their numba kernels are written for real numbers; the hot loops, the
    neighbour sums and the product basis, are generic in their number type and compile for complex arguments too)."""
    return replace(
        get_backend(name),
        spherical_harmonics_with_gradient=NUMPY.spherical_harmonics_with_gradient,
        radial_features=NUMPY.radial_features,
    )
