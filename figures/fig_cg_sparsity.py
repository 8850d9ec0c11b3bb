"""Figure: sparsity of the real Clebsch-Gordan coefficients C[a, b, c] (macetutor's = e3nn's basis).

Top: C for a few triples (l1, l2, l3), drawn as a matrix with rows c (m3 = -l3..l3) and columns
the flattened pair (a, b) (m1 major, m2 minor). Bottom: the number of non-zero coefficients for
every triple with l1 <= l2 <= 3, in the real basis (selection rule |m3| in {|m1|+|m2|,
||m1|-|m2||}) and in the complex basis (m3 = m1 + m2), against the size of the dense array.

Usage: python figures/fig_cg_sparsity.py [--out DIR]   (writes DIR/cg_sparsity.png)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import command_line, save  # noqa: E402

import macetutor as mt  # noqa: E402

TRIPLES_SHOWN = [(1, 1, 1), (1, 1, 2), (2, 2, 2), (1, 2, 3)]
L_MAX_COUNT = 3
FILENAME = "cg_sparsity.png"


def count_complex_nonzeros(l1: int, l2: int, l3: int) -> int:
    """Number of non-zero <l1 m1 l2 m2 | l3 m3> (exact, from sympy): only m3 = m1 + m2 can be non-zero."""
    return sum(
        mt.clebsch_gordan_complex(l1, m1, l2, m2, l3, m1 + m2) != 0
        for m1 in range(-l1, l1 + 1)
        for m2 in range(-l2, l2 + 1)
        if abs(m1 + m2) <= l3
    )


def main(out_dir: Path) -> Path:
    fig = plt.figure(figsize=(13.0, 6.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[0.62, 1.0])

    axes = top.subplots(1, len(TRIPLES_SHOWN), width_ratios=[(2 * a + 1) * (2 * b + 1) for a, b, _ in TRIPLES_SHOWN])
    for ax, (l1, l2, l3) in zip(axes, TRIPLES_SHOWN, strict=True):
        C = mt.clebsch_gordan(l1, l2, l3)  # (2l1+1, 2l2+1, 2l3+1)
        matrix = C.reshape(-1, 2 * l3 + 1).T  # (2l3+1, (2l1+1)(2l2+1)): rows c, columns (a, b)
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
        for a in range(1, 2 * l1 + 1):  # separate the blocks of equal m1
            ax.axvline(a * (2 * l2 + 1) - 0.5, color="0.6", lw=0.5)
        ax.set_yticks(range(2 * l3 + 1), [str(m) for m in range(-l3, l3 + 1)], fontsize=7)
        ax.set_xticks(
            [a * (2 * l2 + 1) + l2 for a in range(2 * l1 + 1)], [str(m) for m in range(-l1, l1 + 1)], fontsize=7
        )
        ax.set_xlabel("$(m_1, m_2)$, ticks: $m_1$ at $m_2 = 0$", fontsize=8)
        ax.set_ylabel("$m_3$", fontsize=8)
        ax.set_title(f"$({l1}, {l2}, {l3})$: {np.count_nonzero(C)} of {C.size} non-zero", fontsize=10)
    top.colorbar(image, ax=axes, shrink=0.9, aspect=12, pad=0.01, label="$C[a, b, c]$")
    top.suptitle("real Clebsch-Gordan $C[a, b, c]$ for a few triples $(l_1, l_2, l_3)$", fontsize=11)

    triples = [
        (l1, l2, l3)
        for l1 in range(L_MAX_COUNT + 1)
        for l2 in range(l1, L_MAX_COUNT + 1)
        for l3 in range(l2 - l1, l1 + l2 + 1)
    ]
    dense = np.array([(2 * l1 + 1) * (2 * l2 + 1) * (2 * l3 + 1) for l1, l2, l3 in triples])
    real = np.array([np.count_nonzero(mt.clebsch_gordan(*t)) for t in triples])
    complex_ = np.array([count_complex_nonzeros(*t) for t in triples])

    ax = bottom.subplots()
    positions = np.arange(len(triples))
    ax.bar(positions - 0.27, dense, width=0.27, color="0.75", label="dense size $(2l_1+1)(2l_2+1)(2l_3+1)$")
    ax.bar(positions, real, width=0.27, color="C3", label="non-zeros, real basis (macetutor / e3nn)")
    ax.bar(positions + 0.27, complex_, width=0.27, color="C0", label="non-zeros, complex basis ($m_3 = m_1 + m_2$)")
    ax.set_yscale("log")
    ax.set_xticks(positions, [f"{t[0]}{t[1]}{t[2]}" for t in triples], fontsize=8, rotation=90)
    ax.set_xlim(-0.7, len(triples) - 0.3)
    ax.set_xlabel("triple $l_1 l_2 l_3$ ($l_1 \\leq l_2 \\leq 3$)")
    ax.set_ylabel("number of coefficients")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    total = f"{real.sum()} real, {complex_.sum()} complex non-zeros of {dense.sum()} in all"
    bottom.suptitle(f"count of non-zero coefficients ({total})", fontsize=11)

    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    command_line(main, __doc__)
