"""The radial part of MACE: Bessel basis, polynomial cutoff envelope, and the radial MLP giving R(r_ij).

MACE paper (Batatia et al. 2022, arXiv:2206.07697), eq. (8): the learnable radial functions
R^{(t)}_{k l1 l2 l3}(r_ij) are an MLP applied to a radial basis of the edge length. As in
mace-torch (and NequIP, Batzner et al. 2022), the basis is

    b_n(r) = sqrt(2 / r_max) * sin(n pi r / r_max) / r,          n = 1..N_bessel,

multiplied by the smooth polynomial envelope of DimeNet (Gasteiger et al. 2020, eq. 8), with u = r/r_max:

    f_p(u) = 1 - (p+1)(p+2)/2 u^p + p(p+2) u^(p+1) - p(p+1)/2 u^(p+2)   for u < 1, and 0 beyond,

which goes to zero at r_max with its first and second derivatives. The MLP is e3nn's
``FullyConnectedNet``: no biases, weights normalised by the fan-in, and the activation SiLU rescaled
by a constant c so that its second moment under a unit Gaussian is one ("normalize2mom").

Every function here also accepts complex input (used by the training issue's complex-step derivative): nothing
takes an absolute value, and comparisons look at the real part only.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SILU_NORMALIZE2MOM",
    "bessel_basis",
    "bessel_basis_derivative",
    "polynomial_envelope",
    "polynomial_envelope_derivative",
    "radial_basis_with_derivative",
    "radial_mlp",
    "radial_mlp_vjp",
    "sigmoid",
    "silu",
    "silu_derivative",
]

# e3nn's normalize2mom constant for SiLU: c = E[silu(z)^2]^(-1/2), z ~ N(0, 1), estimated by e3nn 0.4.4 with
# 10^6 Monte-Carlo samples (torch seed 0). The exact integral gives 1.676532470331091; mace-torch uses the
# Monte-Carlo value, so it is the one that reproduces its numbers (models imported from mace-torch carry
# their own constant, read from the checkpoint).
SILU_NORMALIZE2MOM = 1.6791767923989418


def sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + e^-x), written as (1 + tanh(x/2)) / 2: no overflow for large |x|, real or complex."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish): x sigma(x)."""
    return x * sigmoid(x)


def silu_derivative(x: np.ndarray) -> np.ndarray:
    """d silu / dx = sigma(x) (1 + x (1 - sigma(x)))."""
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def bessel_basis(r: np.ndarray, r_max: float, num_bessel: int) -> np.ndarray:
    """b_n(r) = sqrt(2/r_max) sin(n pi r / r_max) / r for n = 1..num_bessel.

    Parameters:
        r: edge lengths (n_edges,), all > 0.
    Returns:
        (n_edges, num_bessel)
    """
    w = np.arange(1, num_bessel + 1) * np.pi / r_max  # (num_bessel,): frequencies n pi / r_max
    return np.sqrt(2.0 / r_max) * np.sin(w * r[:, None]) / r[:, None]  # (n_edges, num_bessel)


def bessel_basis_derivative(r: np.ndarray, r_max: float, num_bessel: int) -> np.ndarray:
    """d b_n / dr = sqrt(2/r_max) (w_n cos(w_n r) / r - sin(w_n r) / r^2), w_n = n pi / r_max. (n_edges, num_bessel)"""
    w = np.arange(1, num_bessel + 1) * np.pi / r_max  # (num_bessel,)
    wr = w * r[:, None]  # (n_edges, num_bessel)
    return np.sqrt(2.0 / r_max) * (w * np.cos(wr) / r[:, None] - np.sin(wr) / r[:, None] ** 2)


def polynomial_envelope(r: np.ndarray, r_max: float, p: int) -> np.ndarray:
    """f_p(r/r_max), the polynomial cutoff envelope (DimeNet eq. 8); exactly 0 for r >= r_max. (n_edges,)"""
    u = r / r_max  # (n_edges,)
    f = 1.0 - (p + 1) * (p + 2) / 2 * u**p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2)  # (n_edges,)
    return np.where(np.real(u) < 1.0, f, 0.0)


def polynomial_envelope_derivative(r: np.ndarray, r_max: float, p: int) -> np.ndarray:
    """d f_p(r/r_max) / dr = -p(p+1)(p+2)/(2 r_max) u^(p-1) (1 - u)^2 for u < 1, else 0. (n_edges,)

    (The three terms of f_p' factor into this single product: f_p and its first two derivatives vanish at u = 1.)
    """
    u = r / r_max  # (n_edges,)
    df = -p * (p + 1) * (p + 2) / (2.0 * r_max) * u ** (p - 1) * (1.0 - u) ** 2  # (n_edges,)
    return np.where(np.real(u) < 1.0, df, 0.0)


def radial_basis_with_derivative(r: np.ndarray, r_max: float, num_bessel: int, p: int):
    """The edge features b_n(r) f_p(r) that enter the radial MLP, and their derivative with respect to r.

    Returns (features (n_edges, num_bessel), d features / dr (n_edges, num_bessel)): the product rule
    d(b f)/dr = b' f + b f'.
    """
    b, db = bessel_basis(r, r_max, num_bessel), bessel_basis_derivative(r, r_max, num_bessel)  # (n_edges, num_bessel)
    f, df = polynomial_envelope(r, r_max, p), polynomial_envelope_derivative(r, r_max, p)  # (n_edges,)
    return b * f[:, None], db * f[:, None] + b * df[:, None]


def radial_mlp(x: np.ndarray, weights: list[np.ndarray], activation_constant: float = SILU_NORMALIZE2MOM):
    """e3nn FullyConnectedNet without biases: z_k = x_{k-1} W_k / sqrt(h_{k-1}), x_k = c silu(z_k), last layer linear.

    The learnable radial functions R_{k l1 l2 l3}(r_ij) of eq. (8), for every tensor-product path and channel.

    Parameters:
        x: (n_edges, h_0) radial basis times envelope.
        weights: [W_1 (h_0, h_1), ..., W_L (h_{L-1}, h_L)].
    Returns:
        (R (n_edges, h_L), pre-activations [z_1, ..., z_{L-1}] for :func:`radial_mlp_vjp`).
    """
    pre = []
    for k, W in enumerate(weights):
        x = x @ W / np.sqrt(W.shape[0])  # (n_edges, h_k): fan-in normalisation
        if k < len(weights) - 1:
            pre.append(x)
            x = activation_constant * silu(x)  # (n_edges, h_k)
    return x, pre


def radial_mlp_vjp(grad_R: np.ndarray, pre: list, weights: list, activation_constant: float = SILU_NORMALIZE2MOM):
    """Vector-Jacobian product of :func:`radial_mlp`: given dE/dR, return dE/dx (its input).

    Layer by layer in reverse: through z = x W / sqrt(h_in) the gradient is g W^T / sqrt(h_in); through
    x = c silu(z) it is multiplied by c silu'(z).
    """
    g = grad_R  # (n_edges, h_L)
    for k in range(len(weights) - 1, -1, -1):
        W = weights[k]
        g = g @ W.T / np.sqrt(W.shape[0])  # (n_edges, h_{k-1})
        if k > 0:
            g = g * activation_constant * silu_derivative(pre[k - 1])
    return g
