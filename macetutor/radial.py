r"""The radial part of MACE: Bessel basis, polynomial cutoff envelope, and the radial MLP giving R(r_ij).

MACE paper (Batatia et al. 2022, arXiv:2206.07697), eq. (8): the learnable radial functions
R^{(t)}_{k l1 l2 l3}(r_ij) are an MLP applied to a radial basis of the edge length. As in
mace-torch (and NequIP, Batzner et al. 2022), the basis is

.. math::

    b_n(r) = \sqrt{\frac{2}{r_{\max}}}\, \frac{\sin(n \pi r / r_{\max})}{r},
    \qquad n = 1, \dots, N_\text{bessel},

multiplied by the smooth polynomial envelope of DimeNet (Gasteiger et al. 2020, eq. 8), with u = r/r_max:

.. math::

    f_p(u) = 1 - \frac{(p+1)(p+2)}{2} u^p + p(p+2)\, u^{p+1} - \frac{p(p+1)}{2} u^{p+2}
    \quad (u < 1), \qquad f_p(u) = 0 \quad (u \ge 1),

which goes to zero at r_max with its first and second derivatives. The MLP is e3nn's
``FullyConnectedNet``: no biases, weights normalised by the fan-in, and the activation SiLU rescaled
by a constant c so that its second moment under a unit Gaussian is one ("normalize2mom").

Every function here also accepts complex input (used by the training issue's complex-step derivative): nothing
takes an absolute value, and comparisons look at the real part only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from macetutor.elements import COVALENT_RADII

__all__ = [
    "SILU_NORMALIZE2MOM",
    "RadialBasis",
    "agnesi_transform",
    "bessel_basis",
    "bessel_basis_derivative",
    "chebyshev_basis",
    "gaussian_basis",
    "soft_transform",
    "polynomial_envelope",
    "polynomial_envelope_derivative",
    "radial_features",
    "radial_mlp",
    "radial_mlp_vjp",
    "sigmoid",
    "matmul",
    "silu",
    "silu_derivative",
]

# e3nn's normalize2mom constant for SiLU: c = E[silu(z)^2]^(-1/2), z ~ N(0, 1), estimated by e3nn 0.4.4 with
# 10^6 Monte-Carlo samples (torch seed 0). The exact integral gives 1.676532470331091; mace-torch uses the
# Monte-Carlo value, so it is the one that reproduces its numbers (models imported from mace-torch carry
# their own constant, read from the checkpoint).
SILU_NORMALIZE2MOM = 1.6791767923989418


def sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + e^-x), written as (1 + tanh(x/2)) / 2: no overflow for large |x|.

    Complex x is a complex-step perturbation a + i b with |b| ~ 1e-20 (macetutor.training): sigma(a + i b) =
    sigma(a) + i b sigma'(a) + O(b^2), and the O(b^2) term (1e-40 relative) is below round-off, so the first-order
    expansion is the exact value in float64 and much cheaper than a complex tanh.
    """
    if np.iscomplexobj(x):
        s = 0.5 * (1.0 + np.tanh(0.5 * x.real))
        return s + 1j * x.imag * s * (1.0 - s)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def matmul(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """x @ W for a real W: a complex x (the complex step) as two real products, not one complex one (4x the work)."""
    if np.iscomplexobj(x) and not np.iscomplexobj(W):
        return (x.real @ W) + 1j * (x.imag @ W)
    return x @ W


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish): x sigma(x)."""
    return x * sigmoid(x)


def silu_derivative(x: np.ndarray) -> np.ndarray:
    """d silu / dx = sigma(x) (1 + x (1 - sigma(x)))."""
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def bessel_basis(r: np.ndarray, r_max: float, num_bessel: int, w=None, prefactor=None) -> np.ndarray:
    """b_n(r) = sqrt(2/r_max) sin(w_n r) / r with w_n = n pi / r_max, n = 1..num_bessel.

    Parameters:
        r: edge lengths (n_edges,), all > 0.
        w, prefactor: the frequencies w_n (num_bessel,) and sqrt(2/r_max) as a model file stores them (float32-built
            models store them rounded); by default the exact values.
    Returns:
        (n_edges, num_bessel)
    """
    w = np.arange(1, num_bessel + 1) * np.pi / r_max if w is None else w  # (num_bessel,): frequencies
    prefactor = np.sqrt(2.0 / r_max) if prefactor is None else prefactor
    return prefactor * np.sin(w * r[:, None]) / r[:, None]  # (n_edges, num_bessel)


def bessel_basis_derivative(r: np.ndarray, r_max: float, num_bessel: int, w=None, prefactor=None) -> np.ndarray:
    """d b_n / dr = sqrt(2/r_max) (w_n cos(w_n r) / r - sin(w_n r) / r^2). (n_edges, num_bessel)"""
    w = np.arange(1, num_bessel + 1) * np.pi / r_max if w is None else w  # (num_bessel,)
    prefactor = np.sqrt(2.0 / r_max) if prefactor is None else prefactor
    wr = w * r[:, None]  # (n_edges, num_bessel)
    return prefactor * (w * np.cos(wr) / r[:, None] - np.sin(wr) / r[:, None] ** 2)


def gaussian_basis(r: np.ndarray, centres: np.ndarray, coefficient: float):
    """Gaussians g_n(r) = exp(c (r - mu_n)^2) with mu_n = linspace(0, r_max, N) and c = -1/2 (r_max/(N-1))^-2
    (mace-torch's GaussianBasis). Returns (g (n_edges, N), dg/dr (n_edges, N))."""
    x = r[:, None] - centres  # (n_edges, N)
    g = np.exp(coefficient * x * x)  # (n_edges, N)
    return g, 2.0 * coefficient * x * g


def chebyshev_basis(r: np.ndarray, num_basis: int):
    """Chebyshev polynomials T_n(r), n = 1..N, of the raw length r (mace-torch's ChebychevBasis, no rescaling), by
    T_{n+1} = 2 r T_n - T_{n-1}; their derivatives by T'_{n+1} = 2 T_n + 2 r T'_n - T'_{n-1}.
    Returns (T (n_edges, N), dT/dr (n_edges, N))."""
    T, dT = [np.ones_like(r), r], [np.zeros_like(r), np.ones_like(r)]  # T_0, T_1 and their derivatives
    for n in range(1, num_basis):
        T.append(2.0 * r * T[n] - T[n - 1])
        dT.append(2.0 * T[n] + 2.0 * r * dT[n] - dT[n - 1])
    return np.stack(T[1 : num_basis + 1], axis=1), np.stack(dT[1 : num_basis + 1], axis=1)


def agnesi_transform(r: np.ndarray, r_0: np.ndarray, q: float, p: float, a: float):
    """The Agnesi distance transform (ACEpotentials.jl; mace-torch's AgnesiTransform), x = r / r_0:

        r' = 1 / (1 + a x^q / (1 + x^(q - p)))

    with r_0 = (cov_i + cov_j) / 2 from the covalent radii of the edge's two atoms. r' falls from 1 to 0 as r grows;
    the Bessel basis is evaluated at r' (the envelope stays on r). Returns (r' (n_edges,), dr'/dr (n_edges,)).
    """
    x = r / r_0  # (n_edges,)
    g = a * x**q / (1.0 + x ** (q - p))  # (n_edges,)
    dg_dx = (
        a * (q * x ** (q - 1) * (1.0 + x ** (q - p)) - x**q * (q - p) * x ** (q - p - 1)) / (1.0 + x ** (q - p)) ** 2
    )
    return 1.0 / (1.0 + g), -dg_dx / (r_0 * (1.0 + g) ** 2)


def soft_transform(r: np.ndarray, r_0: np.ndarray, alpha: float):
    """mace-torch's SoftTransform (since 0.3.11), r_0 = cov_i + cov_j, p_0 = 3 r_0 / 4, p_1 = 4 r_0 / 3,
    m = (p_0 + p_1) / 2, alpha' = alpha / (p_1 - p_0):

        r' = p_0 + (r - p_0) s,   s = (1 + tanh(alpha' (r - m))) / 2

    close to p_0 for r << p_0 and to r for r >> p_1. Returns (r', dr'/dr)."""
    p_0, p_1 = 0.75 * r_0, (4.0 / 3.0) * r_0  # (n_edges,)
    m, slope = 0.5 * (p_0 + p_1), alpha / (p_1 - p_0)  # (n_edges,)
    t = np.tanh(slope * (r - m))  # (n_edges,)
    s = 0.5 * (1.0 + t)
    return p_0 + (r - p_0) * s, s + (r - p_0) * 0.5 * slope * (1.0 - t * t)


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


def radial_mlp(x: np.ndarray, weights: list[np.ndarray], activation_constant: float = SILU_NORMALIZE2MOM):
    """e3nn FullyConnectedNet without biases: z_k = x_{k-1} W_k / sqrt(h_{k-1}), x_k = c silu(z_k), last layer linear.

    The learnable radial functions R_{k l1 l2 l3}(r_ij) of eq. (8), for every tensor-product path and channel.

    Parameters:
        x: (n_edges, h_0) radial basis times envelope.
        weights: [W_1 (h_0, h_1), ..., W_L (h_{L-1}, h_L)].
    Returns:
        (R (n_edges, h_L), [(z_k, sigma(z_k)) for the hidden layers k = 1..L-1]: the pre-activations and their
        sigmoids, kept for :func:`radial_mlp_vjp`).
    """
    pre = []
    for k, W in enumerate(weights):
        x = matmul(x, W) / np.sqrt(W.shape[0])  # (n_edges, h_k): fan-in normalisation
        if k < len(weights) - 1:
            s = sigmoid(x)  # (n_edges, h_k)
            pre.append((x, s))
            x = activation_constant * x * s  # (n_edges, h_k): c silu(z)
    return x, pre


def radial_mlp_vjp(grad_R, pre: list, weights: list, activation_constant: float = SILU_NORMALIZE2MOM, x=None):
    """Vector-Jacobian product of :func:`radial_mlp`: given dE/dR, return (dE/dx, dE/dW_1..dE/dW_L or None).

    Layer by layer in reverse: through z = x_in W / sqrt(h_in) the gradient is g W^T / sqrt(h_in) for the input and
    x_in^T g / sqrt(h_in) for W; through x = c silu(z) it is multiplied by c silu'(z). The weight gradients need the
    MLP's input ``x`` (its hidden activations are recomputed from the saved pre-activations and sigmoids); without it
    they are skipped.
    """
    inputs = None if x is None else [x] + [activation_constant * z * s for z, s in pre]  # the input of every layer
    g, grad_weights = grad_R, [None] * len(weights)  # g: (n_edges, h_L)
    for k in range(len(weights) - 1, -1, -1):
        W = weights[k]
        if inputs is not None:
            grad_weights[k] = inputs[k].T @ g / np.sqrt(W.shape[0])  # (h_{k-1}, h_k)
        g = matmul(g, W.T) / np.sqrt(W.shape[0])  # (n_edges, h_{k-1})
        if k > 0:
            z, s = pre[k - 1]
            g = g * activation_constant * s * (1.0 + z * (1.0 - s))  # c silu'(z) = c sigma (1 + z (1 - sigma))
    return g, (None if inputs is None else tuple(grad_weights))


@dataclass(frozen=True, eq=False)
class RadialBasis:
    """How an edge length r becomes the radial features of eq. (8), with the constants the model stores:

    r' = transform(r)         (None, Agnesi or Soft; element-pair dependent through covalent radii)
    b  = basis(r')            (Bessel, Gaussian or Chebyshev)
    f  = f_p(r / r_max)       (the envelope, always of the raw r)
    apply_cutoff:  features b f enter the radial MLP;   otherwise b enters it and f multiplies its output.
    """

    kind: str  # "bessel", "gaussian" or "chebyshev"
    r_max: float
    num_basis: int
    p: int  # envelope exponent
    apply_cutoff: bool
    transform: str | None = None  # None, "Agnesi" or "Soft"
    constants: dict = field(default_factory=dict)  # stored values: bessel_weights, bessel_prefactor, agnesi_q,
    # agnesi_p, agnesi_a, soft_alpha, gaussian_centres, covalent_radii (defaults: the exact / published ones)

    @property
    def is_plain_bessel(self) -> bool:
        """True for mace-torch's default (Bessel x envelope, no transform, exact frequencies): the numba kernel's case."""
        return self.kind == "bessel" and self.transform is None and self.apply_cutoff and not self.constants

    def _get(self, name, default):
        return self.constants.get(name, default)

    def features(self, r: np.ndarray, Z_sender: np.ndarray, Z_receiver: np.ndarray):
        """(input of the radial MLP (n_edges, N), its r-derivative, envelope f or None, df/dr or None)."""
        x, dx = r, np.ones_like(r)  # (n_edges,): the transformed length and its derivative
        radii = self._get("covalent_radii", COVALENT_RADII)
        if self.transform == "Agnesi":
            r_0 = 0.5 * (radii[Z_sender] + radii[Z_receiver])  # (n_edges,)
            x, dx = agnesi_transform(
                r, r_0, self._get("agnesi_q", 0.9183), self._get("agnesi_p", 4.5791), self._get("agnesi_a", 1.0805)
            )
        elif self.transform == "Soft":
            x, dx = soft_transform(r, radii[Z_sender] + radii[Z_receiver], self._get("soft_alpha", 4.0))
        if self.kind == "bessel":
            w, prefactor = self._get("bessel_weights", None), self._get("bessel_prefactor", None)
            b = bessel_basis(x, self.r_max, self.num_basis, w, prefactor)  # (n_edges, N)
            db = bessel_basis_derivative(x, self.r_max, self.num_basis, w, prefactor) * dx[:, None]
        elif self.kind == "gaussian":
            centres = self._get("gaussian_centres", np.linspace(0.0, self.r_max, self.num_basis))
            b, db = gaussian_basis(x, centres, -0.5 / (self.r_max / (self.num_basis - 1)) ** 2)
            db = db * dx[:, None]
        else:
            b, db = chebyshev_basis(x, self.num_basis)
            db = db * dx[:, None]
        f, df = polynomial_envelope(r, self.r_max, self.p), polynomial_envelope_derivative(r, self.r_max, self.p)
        if self.apply_cutoff:
            return b * f[:, None], db * f[:, None] + b * df[:, None], None, None
        return b, db, f, df


def radial_features(radial: RadialBasis, r: np.ndarray, Z_sender: np.ndarray, Z_receiver: np.ndarray):
    """The radial features of every edge: :meth:`RadialBasis.features` (the backend's hook for the numba kernel).

    Returns (input of the radial MLP (n_edges, N), its r-derivative, envelope f or None, df/dr or None).
    """
    return radial.features(r, Z_sender, Z_receiver)
