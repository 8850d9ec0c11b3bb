"""Figure: MACE's radial basis — Bessel functions times the polynomial cutoff envelope, and their smooth end at r_max.

Left: b_n(r) f_p(r/r_max) for n = 1..8, r_max = 5 Å, p = 5 (mace-torch's defaults). Right: the envelope f_p and its
first two derivatives (analytic derivative from macetutor.radial, second by central differences) going to zero at r_max.

Usage: python figures/fig_radial_basis.py [--out DIR]   (writes DIR/radial_basis.png)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import command_line, save  # noqa: E402

from macetutor import radial  # noqa: E402

R_MAX, NUM_BESSEL, P = 5.0, 8, 5
FILENAME = "radial_basis.png"


def main(out_dir: Path) -> Path:
    r = np.linspace(0.05, R_MAX, 600)
    basis = radial.bessel_basis(r, R_MAX, NUM_BESSEL) * radial.polynomial_envelope(r, R_MAX, P)[:, None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for n in range(NUM_BESSEL):
        left.plot(r, basis[:, n], lw=1.2, label=f"n = {n + 1}")
    left.set_xlabel("r (Å)")
    left.set_ylabel(r"$b_n(r)\, f_p(r/r_\mathrm{max})$")
    left.set_title(f"Bessel basis x envelope (r_max = {R_MAX} Å, p = {P})")
    left.legend(fontsize=7, ncol=2)
    f = radial.polynomial_envelope(r, R_MAX, P)
    df = radial.polynomial_envelope_derivative(r, R_MAX, P)
    h = 1e-4
    d2f = (
        radial.polynomial_envelope_derivative(r + h, R_MAX, P) - radial.polynomial_envelope_derivative(r - h, R_MAX, P)
    ) / (2 * h)
    right.plot(r, f, label=r"$f_p$")
    right.plot(r, df, label=r"$f_p'$ (analytic)")
    right.plot(r[:-1], d2f[:-1], label=r"$f_p''$ (finite differences)")
    right.axvline(R_MAX, color="k", ls="--", lw=0.8)
    right.set_xlabel("r (Å)")
    right.set_title("the envelope and its first two derivatives vanish at r_max")
    right.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    command_line(main, __doc__)
