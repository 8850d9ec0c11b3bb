"""The training checks as tables: macetutor's loss and hand-derived gradient against mace-torch's loss and autograd
(architecture x loss term), and 20 optimiser steps against mace-torch's own take_step.

    python benchmarks/table_training.py [--write-docs]

For each architecture of tests/published_families.py (small channel counts, random weights) and each loss term
combination, on the same labelled structures (two molecules, one periodic cell; random labels): the relative
difference of the loss, and the worst over parameters of max|dL/dtheta_ours - dL/dtheta_torch| / max|dL/dtheta_torch|.
Then 20 steps of Adam/AMSGrad (weight decay, clipping, with and without EMA) from the same weights and batches:
the worst relative difference of the step losses and of the final parameters. ``--write-docs`` puts the tables into
docs/training.md between its markers. Needs the `verify` extra. Not a test: it prints measurements (the tests assert
the same bounds: tests/test_training.py, tests/test_trainer.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

BEGIN, END = "<!-- table:training:begin -->", "<!-- table:training:end -->"
CASES = [
    ("E + F, molecules", {"energy": 1.0, "forces": 10.0}, "molecules"),
    ("E + F, molecules + cell", {"energy": 1.0, "forces": 10.0}, "mixed"),
    ("E + F + stress, cell", {"energy": 1.0, "forces": 10.0, "stress": 100.0}, "cell"),
    ("E + F + virials, cell", {"energy": 1.0, "forces": 10.0, "virials": 3.0}, "cell"),
]


def gradient_table() -> list[str]:
    from test_training import FAMILIES, _labelled, _mace_torch_model

    from macetutor.interop.mace_torch import from_mace_torch
    from macetutor.interop.mace_torch_training import mace_torch_loss_and_gradient
    from macetutor.training import loss_and_gradient

    header = "| architecture | " + " | ".join(name for name, _, _ in CASES) + " |"
    lines = [header, "|---" * (len(CASES) + 1) + "|"]
    for family in FAMILIES:
        torch_model = _mace_torch_model(family)
        model = from_mace_torch(torch_model)
        molecules, solid = _labelled(np.random.default_rng(7), family)
        sets = {"molecules": molecules, "mixed": [solid, *molecules], "cell": [solid]}
        cells = []
        for _, weights, which in CASES:
            L_ref, G_ref = mace_torch_loss_and_gradient(torch_model, sets[which], weights)
            L, G = loss_and_gradient(model, sets[which], weights)
            worst = max(
                np.max(np.abs(G[n] - G_ref[n]), initial=0.0) / max(np.max(np.abs(G_ref[n]), initial=0.0), 1e-300)
                for n in G
            )
            cells.append(f"{abs(L - L_ref) / abs(L_ref):.0e} / {worst:.0e}")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def steps_table() -> list[str]:
    from test_trainer import labelled_molecules

    from macetutor.interop.mace_torch import from_mace_torch, random_mace_torch_model
    from macetutor.interop.mace_torch_training import mace_torch_training_steps
    from macetutor.trainer import EMA, Adam, TrainingOptions, decayed, optimiser_step

    lines = [
        "| run | steps | max rel. diff. of the step losses | max rel. diff. of the parameters | of the EMA weights "
        "| loss first -> last | time macetutor / mace-torch (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for ema in (False, True):
        torch_model = random_mace_torch_model(
            (1, 6, 8),
            "4x0e+4x1o",
            2,
            2,
            2,
            r_max=4.0,
            num_bessel=6,
            radial_mlp=(16, 16),
            scale_shift=(1.3, 0.0),
            avg_num_neighbors=3.0,
        )
        model = from_mace_torch(torch_model)
        rng = np.random.default_rng(0)
        data = labelled_molecules(rng, 12)
        batches = [[data[k] for k in rng.permutation(12)[:3]] for _ in range(20)]
        options = TrainingOptions(lr=0.01, weight_decay=5e-3, clip_grad=2.0, ema=ema, forces_weight=10.0)
        started = time.perf_counter()
        ref_losses, ref, ref_ema = mace_torch_training_steps(torch_model, batches, options)
        t_ref = time.perf_counter() - started
        parameters = {n: np.array(p) for n, p in model.parameters.items()}
        wd = {n: options.weight_decay for n in parameters if decayed(n, model.config)}
        adam = Adam(parameters, options.lr, wd)
        averaged = EMA(parameters, options.ema_decay) if ema else None
        started, losses = time.perf_counter(), []
        for batch in batches:
            L, parameters = optimiser_step(model, parameters, batch, options.loss_weights(), adam, averaged, options)
            losses.append(L)
        t_ours = time.perf_counter() - started

        def worst(a, b):
            return max(np.max(np.abs(a[n] - b[n])) / np.max(np.abs(b[n])) for n in a)

        loss_diff = np.max(np.abs(np.array(losses) - ref_losses) / np.abs(ref_losses))
        ema_cell = f"{worst(averaged.shadow, ref_ema):.0e}" if ema else "--"
        lines.append(
            f"| Adam/AMSGrad, wd 5e-3, clip 2{', EMA 0.99' if ema else ''} | 20 | {loss_diff:.0e} "
            f"| {worst(parameters, ref):.0e} | {ema_cell} | {losses[0]:.3f} -> {losses[-1]:.3f} | {t_ours:.1f} / {t_ref:.1f} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/training.md")
    args = parser.parse_args()
    import mace  # noqa: F401  (before e3nn)

    print("loss rel. diff. / worst parameter-gradient rel. diff., macetutor vs mace-torch autograd", flush=True)
    grads = gradient_table()
    print("20 optimiser steps, macetutor vs mace-torch's take_step", flush=True)
    steps = steps_table()
    if args.write_docs:
        path = ROOT / "docs" / "training.md"
        text = path.read_text()
        head, rest = text.split(BEGIN)
        _, tail = rest.split(END)
        block = (
            f"{BEGIN}\n(`python benchmarks/table_training.py --write-docs`, mace-torch {mace.__version__}; each cell: "
            "loss rel. diff. / worst parameter-gradient rel. diff.)\n\n"
            + "\n".join(grads)
            + "\n\n"
            + "\n".join(steps)
            + f"\n{END}"
        )
        path.write_text(head + block + tail)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
