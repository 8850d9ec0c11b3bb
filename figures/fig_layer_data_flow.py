"""Figure: the data flow of one MACE interaction layer, box by box, with the function that computes each step.

Each box names the paper's equation and the macetutor function (read from the functions themselves, so a
renamed function shows here); each arrow carries the shape of the array it transports, measured by evaluating
a small three-layer model (water, 8x0e+8x1o, max_ell 3, correlation 3) and reading its middle layer.

Usage: python figures/fig_layer_data_flow.py [--out DIR]   (writes DIR/layer_data_flow.png)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import command_line, save  # noqa: E402

import macetutor as mt  # noqa: E402
from macetutor import basis, layer, product, readout  # noqa: E402

FILENAME = "layer_data_flow.png"


def measured_shapes() -> dict:
    """Shapes of the middle layer's arrays for water (n = 3 atoms, 6 directed edges) in a small three-layer model."""
    config = mt.MACEConfig(
        elements=(1, 8),
        hidden_irreps="8x0e+8x1o",
        correlation=(3, 3, 3),
        r_max=4.0,
        radial_mlp=(16, 16),
        atomic_energies=(0.0, 0.0),
    )
    water = np.array([[0.0, 0.0, 0.0], [0.757, 0.586, 0.0], [-0.757, 0.586, 0.0]])
    result = mt.MACE.init(config).evaluate(water, [8, 1, 1])
    values = result.intermediates[1]
    return {
        "h_in": values.h_in.shape,
        "Y": result.graph.Y.shape,
        "radial": result.graph.radial_basis.shape,
        "R": values.R.shape,
        "A": values.A.shape,
        "B": values.B[0, 1][3].shape,
        "m": values.message.shape,
        "h": values.h.shape,
        "E": values.node_energy.shape,
    }


def name(function) -> str:
    return f"{function.__module__}.{function.__name__}"


def box(ax, x, y, title, subtitle, color):
    ax.text(
        x,
        y,
        f"{title}\n{subtitle}",
        ha="center",
        va="center",
        fontsize=8.5,
        bbox=dict(boxstyle="round,pad=0.5", facecolor=color, edgecolor="0.3"),
    )


def arrow(ax, start, end, label):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=1.2, color="0.25"))
    middle = (0.5 * (start[0] + end[0]), 0.5 * (start[1] + end[1]))
    horizontal = abs(end[1] - start[1]) < 1e-9
    position = (middle[0], middle[1] + 0.2) if horizontal else (middle[0] + 0.1, middle[1])
    ax.text(*position, label, fontsize=7.5, color="0.15", va="center", ha="center" if horizontal else "left")


def main(out_dir: Path) -> Path:
    shapes = measured_shapes()
    fig, ax = plt.subplots(figsize=(12, 8.5))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 10)
    ax.axis("off")
    blue, green, orange, grey = "#dbe9f6", "#def2de", "#fde9d4", "#eeeeee"
    box(ax, 2.2, 9.3, "edges: Y(r_ij / |r_ij|), b(r_ij) f(r_ij)", "macetutor.graph.build_graph", grey)
    box(ax, 6.0, 9.3, "h^(t)", "node features of layer t", grey)
    box(ax, 6.0, 7.7, "eq. (8): h~ = W h;  R = MLP(b f);  Phi = sum_j C (R Y h~_j)", name(basis.atomic_basis), blue)
    box(ax, 6.0, 6.1, "eq. (8)/(9): A = W_paths Phi / avg  [first layer: W_z A]", name(basis.mix_paths), blue)
    box(ax, 6.0, 4.5, "eq. (10): B = U : A (x) ... (x) A,   nu = 1..3", name(product.product_basis), green)
    box(ax, 6.0, 2.9, "eq. (11): m = sum_nu sum_q W_{z_i q k} B", name(product.message), green)
    box(ax, 3.0, 1.2, "eq. (12): h^(t+1) = W m + W_z h^(t)", name(readout.update), orange)
    box(ax, 9.2, 1.2, "eq. (13): E_i^(t) = readout(h^(t+1))", name(readout.readout), orange)
    arrow(ax, (2.2, 8.95), (4.0, 8.0), f"Y {shapes['Y']}, b f {shapes['radial']}")
    arrow(ax, (6.0, 9.0), (6.0, 8.05), f"h^(t) {shapes['h_in']}")
    arrow(ax, (6.0, 7.35), (6.0, 6.45), f"Phi per path; R {shapes['R']}")
    arrow(ax, (6.0, 5.75), (6.0, 4.85), f"A {shapes['A']}")
    arrow(ax, (6.0, 4.15), (6.0, 3.25), f"B[0e][nu=3] {shapes['B']}")
    arrow(ax, (5.2, 2.55), (3.6, 1.55), f"m {shapes['m']}")
    arrow(ax, (4.6, 1.2), (7.4, 1.2), f"h^(t+1) {shapes['h']}")
    arrow(ax, (9.2, 0.85), (9.2, 0.25), f"E^(t) {shapes['E']}")
    ax.text(
        0.2,
        0.1,
        f"one layer = {name(layer.interaction_layer)}; its reverse pass = {name(layer.interaction_layer_vjp)}",
        fontsize=8,
        color="0.3",
    )
    ax.set_title("One MACE interaction layer (arXiv:2206.07697, eqs. 8-13): what flows where, with shapes", fontsize=11)
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    command_line(main, __doc__)
