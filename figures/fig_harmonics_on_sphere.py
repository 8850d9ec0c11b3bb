"""Figure: the real spherical harmonics Y_lm, l = 0..3, painted on the unit sphere.

One sphere per (l, m), rows l = 0..3 and columns m = -3..3, coloured by Y_lm(x) / max|Y_lm|
(red positive, blue negative), in macetutor's (= e3nn's) basis: the polar axis of the textbook
formulas is e3nn's y axis, which is drawn vertically here, so every m = 0 harmonic is symmetric
about the vertical axis.

Usage: python figures/fig_harmonics_on_sphere.py [--out DIR]   (writes DIR/harmonics_on_sphere.png)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import command_line, save  # noqa: E402

import macetutor as mt  # noqa: E402

L_MAX = 3
N_GRID = 64  # points per angle on the sphere
FILENAME = "harmonics_on_sphere.png"


def sphere_grid(n: int) -> np.ndarray:
    """Points (n, n, 3) on the unit sphere, parametrised with y as the polar axis (e3nn's)."""
    theta, phi = np.meshgrid(np.linspace(0.0, np.pi, n), np.linspace(0.0, 2.0 * np.pi, n), indexing="ij")
    # (x', y', z') = (z, x, y) are the textbook coordinates: polar angle measured from y
    x = np.sin(theta) * np.sin(phi)
    y = np.cos(theta)
    z = np.sin(theta) * np.cos(phi)
    return np.stack([x, y, z], axis=-1)  # (n, n, 3)


def draw_axes(ax) -> None:
    """Short labelled x, y, z axes sticking out of the sphere."""
    for k, name in enumerate("xyz"):
        tip = np.zeros(3)
        tip[k] = 1.55
        start = tip / 1.55
        ax.plot(*zip(start, tip, strict=True), color="k", lw=0.8)
        ax.text(*(tip * 1.12), name, fontsize=7, ha="center", va="center")


def main(out_dir: Path) -> Path:
    points = sphere_grid(N_GRID)  # (n, n, 3)
    Y = mt.spherical_harmonics(list(range(L_MAX + 1)), points)  # (n, n, (L_MAX+1)**2), index l*l+l+m
    cmap = plt.get_cmap("RdBu_r")

    n_cols = 2 * L_MAX + 1
    fig = plt.figure(figsize=(12.5, 8.4))
    for l in range(L_MAX + 1):
        for m in range(-l, l + 1):
            values = Y[..., l * l + l + m]  # (n, n)
            scaled = values / np.max(np.abs(values))
            ax = fig.add_subplot(L_MAX + 1, n_cols, l * n_cols + (m + L_MAX) + 1, projection="3d")
            ax.plot_surface(
                *points.transpose(2, 0, 1),
                facecolors=cmap(0.5 + 0.5 * scaled),
                rstride=1,
                cstride=1,
                linewidth=0,
                antialiased=False,
                shade=False,
            )
            draw_axes(ax)
            ax.view_init(elev=20, azim=35, vertical_axis="y")
            ax.set_box_aspect((1, 1, 1), zoom=1.45)
            ax.set_axis_off()
            ax.set_title(f"$l={l},\\ m={m}$   [{l * l + l + m}]", fontsize=9, pad=-8)

    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(-1.0, 1.0))
    cbar_ax = fig.add_axes((0.05, 0.80, 0.25, 0.022))
    fig.colorbar(sm, cax=cbar_ax, orientation="horizontal", label=r"colour: $Y_{lm}(x) / \max_x |Y_{lm}(x)|$")
    fig.text(0.05, 0.70, "[i]: flattened index $i = l^2 + l + m$\nnormalisation: component", fontsize=10)
    fig.suptitle(
        "Real spherical harmonics $Y_{lm}$ in the e3nn basis: textbook $Y$ at $(x', y', z') = (z, x, y)$,\n"
        "polar axis $y$ (drawn vertically); $l = 1$ is $\\sqrt{3}\\,(x, y, z)/r$",
        fontsize=12,
    )
    fig.subplots_adjust(left=0.0, right=1.0, bottom=0.0, top=0.89, wspace=0.0, hspace=0.12)

    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    command_line(main, __doc__)
