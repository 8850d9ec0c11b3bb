"""Learning curves on ethanol-xtb (rMD17-style): test energy and force RMSE against the number of training
configurations, macetutor and mace-torch's ``mace_run_train`` with the same recipe.

    python figures/exp_learning_curves.py [--sizes 25 50 100 150] [--epochs 40] [--no-mace-torch] [--data DIR]

writes figures/results/learning_curves.json (with provenance) and figures/exp_learning_curves.png. Seeded: the
training subsets are the first N of a seeded permutation of the training pool (nested), the validation set is 20
frames of the pool outside every subset, the test set is the data set's separate test trajectory. E0s: least squares
on each training subset (mace-torch's ``--E0s average``), given to both implementations as the same numbers. With
mace-torch, both start from ``mace_run_train``'s initial model and take its batches in the same order
(:func:`macetutor.experiments.train_both`), so their difference is that of the implementations.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from macetutor import datasets  # noqa: E402
from macetutor.experiments import (  # noqa: E402
    Recipe,
    initialisation,
    provenance,
    structures_from_atoms,
    test_errors,
    train_both,
    write_results,
)
from macetutor.trainer import average_E0s  # noqa: E402

RESULTS = HERE / "results" / "learning_curves.json"
ELEMENTS = (1, 6, 8)


def run(sizes, epochs, with_mace_torch, data=None, seed=0, control=0.0) -> dict:
    pool = datasets.load("ethanol-xtb", "train", data)
    test = structures_from_atoms(datasets.load("ethanol-xtb", "test", data))
    order = np.random.default_rng(seed).permutation(len(pool))
    valid_frames = [pool[k] for k in order[-20:]]
    recipe = Recipe(max_num_epochs=epochs)
    rows = []
    for n in sizes:
        if n > len(pool) - 20:
            raise ValueError(f"the training pool has {len(pool)} frames: at most {len(pool) - 20} for training")
        train_frames = [pool[k] for k in order[:n]]
        train = structures_from_atoms(train_frames)
        E0 = dict(zip(ELEMENTS, average_E0s(train, ELEMENTS), strict=True))  # mace-torch's --E0s average, as a dict
        with tempfile.TemporaryDirectory() as work:
            trained = train_both(recipe, train_frames, valid_frames, E0, work, with_mace_torch, control)
        row = {"n_train": n, "parameter_difference": trained.pop("parameter_difference", None)}
        row["validation"] = trained.pop("validation", None)
        row |= {impl: {**test_errors(model, test), "seconds": seconds} for impl, (model, seconds) in trained.items()}
        rows.append(row)
        print(row, flush=True)
    return {
        "experiment": "learning curves, ethanol-xtb",
        "provenance": provenance(
            recipe,
            data="ethanol-xtb " + ("(shipped small)" if data is None else str(data)),
            n_test=len(test),
            n_valid=20,
            seed=seed,
            control=control,
            initialisation=initialisation(with_mace_torch),
        ),
        "rows": rows,
    }


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    n = [r["n_train"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, label in zip(
        axes, ("rmse_e_meV_per_atom", "rmse_f_meV_per_A"), ("E (meV/atom)", "F (meV/Å)"), strict=True
    ):
        for impl, style in (("macetutor", "o-"), ("mace-torch", "s--")):
            if all(impl in r for r in rows):
                ax.loglog(n, [r[impl][key] for r in rows], style, label=impl)
        ax.set_xlabel("training configurations")
        ax.set_ylabel(f"test RMSE {label}")
        ax.legend()
    fig.suptitle("ethanol-xtb (GFN2-xTB labels): learning curves")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[25, 50, 100, 150])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--no-mace-torch", action="store_true")
    parser.add_argument(
        "--control",
        type=float,
        default=1e-15,
        help="relative perturbation of the initial weights for the control run of macetutor (0: none; default 1e-15)",
    )
    parser.add_argument("--data", default=None, help="a generated ethanol-xtb directory (default: the shipped one)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    results = run(args.sizes, args.epochs, not args.no_mace_torch, args.data, control=args.control)
    write_results(args.out, results)
    plot(results, HERE / "exp_learning_curves.png")
    print(f"wrote {args.out} and {HERE / 'exp_learning_curves.png'}")


if __name__ == "__main__":
    main()
