"""Check a hand-written derivative against central finite differences, with a sweep of step sizes.

For any function f: R^n -> R^m (arrays of any shape) and its vector-Jacobian product vjp(x, g) = J(x)^T g,
pick a random direction d and a random cotangent g and compare

    finite difference:  ( <g, f(x + h d)> - <g, f(x - h d)> ) / (2 h)      =  <g, J d>  +  O(h^2)
    analytic:           <vjp(x, g), d>                                      =  <J^T g, d>

over a geometric sweep of h. A correct derivative shows the h^2 regime -- the error falls 100x per 10x
smaller step -- until round-off (~ eps |f| / h) takes over; a wrong one stalls at a constant error.
Usable on any code (another MACE implementation, a single block, a whole model): only f and vjp are needed.

For a scalar energy E(x) and forces F = -dE/dx, use ``vjp = lambda x, g: -g * F(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["check_vjp", "GradientCheck"]


@dataclass
class GradientCheck:
    """The result of :func:`check_vjp`: one row per step size."""

    steps: np.ndarray  # (n_steps,)
    errors: np.ndarray  # (n_steps,) max over directions of |fd - analytic| / max(|analytic|, scale)
    analytic: np.ndarray  # (n_directions,) <vjp(x, g), d>
    finite_differences: np.ndarray = field(repr=False, default=None)  # (n_steps, n_directions)

    @property
    def best_error(self) -> float:
        return float(np.min(self.errors))

    @property
    def best_step(self) -> float:
        return float(self.steps[np.argmin(self.errors)])

    def shows_second_order(self) -> bool:
        """True if, somewhere before round-off, a 10x smaller step cuts the error by >= 30x (ideal: 100x)."""
        ratios = self.errors[:-1] / np.maximum(self.errors[1:], 1e-300)
        per_decade = ratios ** (1.0 / np.log10(self.steps[:-1] / self.steps[1:]))
        return bool(np.any(per_decade >= 30.0))

    def table(self) -> str:
        lines = [f"{'h':>10s} {'relative error':>15s}"]
        for h, e in zip(self.steps, self.errors, strict=True):
            lines.append(f"{h:10.1e} {e:15.3e}")
        lines.append(
            f"best {self.best_error:.2e} at h = {self.best_step:.0e}; h^2 regime seen: {self.shows_second_order()}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def check_vjp(f, vjp, x, steps=None, n_directions: int = 3, seed: int = 0) -> GradientCheck:
    """Compare vjp(x, g) with central differences of f along random directions, for a sweep of steps h.

    Parameters:
        f: x -> array (any shape), the function.
        vjp: (x, g) -> array shaped like x, the claimed J(x)^T g.
        x: the point (float array, any shape).
        steps: step sizes (default 10^-1 .. 10^-8).
        n_directions: random (direction, cotangent) pairs; the error reported is the worst.

    Returns:
        :class:`GradientCheck` with the error table; ``print(result)`` shows it.
    """
    x = np.asarray(x, dtype=np.float64)
    steps = np.logspace(-1, -8, 8) if steps is None else np.asarray(steps, dtype=np.float64)
    rng = np.random.default_rng(seed)
    y0 = np.asarray(f(x))
    directions = rng.standard_normal((n_directions,) + x.shape)
    directions /= np.sqrt(np.sum(directions**2, axis=tuple(range(1, directions.ndim)), keepdims=True))
    cotangents = rng.standard_normal((n_directions,) + y0.shape)
    analytic = np.array([np.sum(np.asarray(vjp(x, g)) * d) for d, g in zip(directions, cotangents, strict=True)])
    fd = np.zeros((len(steps), n_directions))
    for a, h in enumerate(steps):
        for b, (d, g) in enumerate(zip(directions, cotangents, strict=True)):
            fd[a, b] = (np.sum(g * np.asarray(f(x + h * d))) - np.sum(g * np.asarray(f(x - h * d)))) / (2.0 * h)
    scale = max(np.max(np.abs(analytic)), 1e-300)
    errors = np.max(np.abs(fd - analytic[None, :]), axis=1) / scale
    return GradientCheck(steps=steps, errors=errors, analytic=analytic, finite_differences=fd)
