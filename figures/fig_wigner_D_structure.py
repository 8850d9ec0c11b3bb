"""Figure: the structure of the real Wigner D-matrices, and how exactly they rotate the harmonics.

Left: D^l(R) for l = 0..4 (block diagonal, 25 x 25) for a rotation about the y axis, e3nn's polar
axis: inside each block only m' = +-m are coupled (an "X" of cos(m t), sin(m t) entries).
Middle: the same blocks for a generic rotation, which are dense.
Right: the equivariance residual max|Y(R x) - D(R) Y(x)| / max|Y| for l = 0..12, for a proper
and an improper R, with D from :func:`macetutor.wigner_D`.

Usage: python figures/fig_wigner_D_structure.py [--out DIR]   (writes DIR/wigner_D_structure.png)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import command_line, save  # noqa: E402

import macetutor as mt  # noqa: E402

SEED = 20221011
L_BLOCKS = 4  # blocks l = 0..L_BLOCKS in the two matrix panels
L_MAX_RESIDUAL = 12
ANGLE_Y = 0.7  # radians, rotation about the y axis
FILENAME = "wigner_D_structure.png"


def rotation_about_y(angle: float) -> np.ndarray:
    """The active rotation by ``angle`` about the y axis. (3, 3)"""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def show_blocks(ax, D: np.ndarray, title: str):
    """Image of a block-diagonal D with the block boundaries drawn."""
    image = ax.imshow(D, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    for l in range(1, L_BLOCKS + 1):
        ax.axhline(l * l - 0.5, color="0.6", lw=0.5)
        ax.axvline(l * l - 0.5, color="0.6", lw=0.5)
    ticks = [l * l + l for l in range(L_BLOCKS + 1)]  # the m = 0 row of each block
    ax.set_xticks(ticks, [str(l) for l in range(L_BLOCKS + 1)], fontsize=8)
    ax.set_yticks(ticks, [str(l) for l in range(L_BLOCKS + 1)], fontsize=8)
    ax.set_xlabel("column $l^2 + l + m'$ (ticks: $l$, at $m' = 0$)", fontsize=9)
    ax.set_ylabel("row $l^2 + l + m$ (ticks: $l$, at $m = 0$)", fontsize=9)
    n_nonzero = int(np.sum(np.abs(D) > 1e-12))
    ax.set_title(f"{title}\n{n_nonzero} of {D.size} entries non-zero", fontsize=10)
    return image


def equivariance_residuals(R: np.ndarray, x: np.ndarray) -> list[float]:
    """max|Y(R x) - D(R) Y(x)| / max|Y(R x)| for l = 0..L_MAX_RESIDUAL."""
    residuals = []
    for l in range(L_MAX_RESIDUAL + 1):
        Y_rotated = mt.spherical_harmonics(l, x @ R.T)  # (n, 2l+1)
        D_times_Y = mt.spherical_harmonics(l, x) @ mt.wigner_D(l, R).T  # (n, 2l+1)
        residuals.append(float(np.max(np.abs(Y_rotated - D_times_Y)) / np.max(np.abs(Y_rotated))))
    return residuals


def main(out_dir: Path) -> Path:
    rng = np.random.default_rng(SEED)
    ls = list(range(L_BLOCKS + 1))
    R_generic = mt.random_rotation(rng)
    D_y = mt.wigner_D(ls, rotation_about_y(ANGLE_Y))  # (25, 25)
    D_generic = mt.wigner_D(ls, R_generic)  # (25, 25)

    x = rng.standard_normal((500, 3))  # (500, 3)
    degrees = np.arange(L_MAX_RESIDUAL + 1)
    proper = equivariance_residuals(R_generic, x)
    improper = equivariance_residuals(mt.random_rotation(rng, improper=True), x)

    fig, axes = plt.subplots(1, 3, figsize=(15.0, 5.2), width_ratios=[1, 1, 1.15], layout="constrained")
    show_blocks(axes[0], D_y, f"rotation by {ANGLE_Y} rad about $y$ (e3nn's polar axis)")
    image = show_blocks(axes[1], D_generic, "generic (Haar-random) rotation")
    fig.colorbar(image, ax=axes[:2], shrink=0.8, label="$D_{mm'}$")

    ax = axes[2]
    ax.semilogy(degrees, np.maximum(proper, 1e-17), "o-", label=r"proper $R$ (det $+1$)")
    ax.semilogy(degrees, np.maximum(improper, 1e-17), "s--", label=r"improper $R$ (det $-1$)")
    ax.axhline(1e-12, color="k", lw=0.8, ls=":", label="tolerance of the tests, $10^{-12}$")
    ax.set_xlabel("degree $l$")
    ax.set_ylabel(r"$\max|Y(Rx) - D(R)\,Y(x)|\ /\ \max|Y|$")
    ax.set_title("equivariance residual, 500 random points", fontsize=10)
    ax.set_xticks(degrees)
    ax.set_ylim(1e-17, 1e-10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")

    fig.suptitle(r"Real Wigner D-matrices $D^l(R)$ with $Y(Rx) = D(R)\,Y(x)$, blocks $l = 0..4$", fontsize=12)
    return save(fig, out_dir, FILENAME, bbox_inches="tight")


if __name__ == "__main__":
    command_line(main, __doc__)
