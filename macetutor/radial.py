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
"""

from __future__ import annotations

import numpy as np

__all__ = ["bessel_basis", "polynomial_envelope", "radial_mlp", "silu", "SILU_NORMALIZE2MOM"]

# e3nn's normalize2mom constant for SiLU: c = E[silu(z)^2]^(-1/2), z ~ N(0, 1), estimated by e3nn 0.4.4 with
# 10^6 Monte-Carlo samples (torch seed 0). The exact integral gives 1.676532470331091; mace-torch uses the
# Monte-Carlo value, so it is the one that reproduces its numbers (models imported from mace-torch carry
# their own constant, read from the checkpoint).
SILU_NORMALIZE2MOM = 1.6791767923989418


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish): x * sigmoid(x), written with exp(-|x|) so that it never overflows."""
    e = np.exp(-np.abs(x))  # in (0, 1]
    sigmoid = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return x * sigmoid


def bessel_basis(r: np.ndarray, r_max: float, num_bessel: int) -> np.ndarray:
    """b_n(r) = sqrt(2/r_max) sin(n pi r / r_max) / r for n = 1..num_bessel.

    Parameters:
        r: edge lengths (n_edges,), all > 0.
    Returns:
        (n_edges, num_bessel)
    """
    n = np.arange(1, num_bessel + 1)  # (num_bessel,)
    w = n * np.pi / r_max  # (num_bessel,): frequencies
    return np.sqrt(2.0 / r_max) * np.sin(w * r[:, None]) / r[:, None]  # (n_edges, num_bessel)


def polynomial_envelope(r: np.ndarray, r_max: float, p: int) -> np.ndarray:
    """f_p(r/r_max), the polynomial cutoff envelope (DimeNet eq. 8); exactly 0 for r >= r_max. (n_edges,)"""
    u = r / r_max  # (n_edges,)
    f = 1.0 - (p + 1) * (p + 2) / 2 * u**p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2)  # (n_edges,)
    return np.where(u < 1.0, f, 0.0)


def radial_mlp(x: np.ndarray, weights: list[np.ndarray], activation_constant: float = SILU_NORMALIZE2MOM) -> np.ndarray:
    """e3nn FullyConnectedNet without biases: x <- c silu(x W_k / sqrt(h_k)) for hidden layers, x W_L / sqrt(h_L) last.

    Parameters:
        x: (n_edges, h_0) radial basis times envelope.
        weights: [W_1 (h_0, h_1), ..., W_L (h_{L-1}, h_L)].
    Returns:
        (n_edges, h_L): the radial weights R of every tensor-product path and channel.
    """
    for k, W in enumerate(weights):
        x = x @ W / np.sqrt(W.shape[0])  # (n_edges, h_k): fan-in normalisation
        if k < len(weights) - 1:
            x = activation_constant * silu(x)  # (n_edges, h_k)
    return x
