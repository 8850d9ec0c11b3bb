"""Body order on 3bpa-xtb (the 3BPA protocol): correlation order nu = 1, 2, 3 at equal other settings, trained at
300 K and tested at 300, 600 and 1200 K and on the dihedral scans, macetutor and mace-torch's ``mace_run_train``.

    python figures/exp_body_order.py [--orders 1 2 3] [--epochs 40] [--no-mace-torch] [--data DIR]

writes figures/results/body_order.json (with provenance) and figures/exp_body_order.png (test RMSE against
temperature per nu; the energy profile of one dihedral scan against the GFN2-xTB reference). Seeded; the validation
set is the last 10 frames of a seeded permutation of the 300 K pool, the rest trains; E0s by least squares on the
training set (mace-torch's ``--E0s average``), the same numbers for both implementations. With mace-torch, both
start from ``mace_run_train``'s initial model and take its batches in the same order
(:func:`macetutor.experiments.train_both`).
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

RESULTS = HERE / "results" / "body_order.json"
ELEMENTS = (1, 6, 7, 8)
TESTS = ("test_300K", "test_600K", "test_1200K")


def scan_profile(model, scan) -> dict:
    """Energies along the dihedral scans, relative to each scan's lowest reference energy (eV)."""
    from macetutor.training import predictions

    predicted = np.array([p.energy for p in predictions(model, scan, forces=False, backend="numba")])
    reference = np.array([s.energy for s in scan])
    return {"predicted": predicted.tolist(), "reference": reference.tolist()}


def run(orders, epochs, with_mace_torch, data=None, seed=0, control=0.0) -> dict:
    pool = datasets.load("3bpa-xtb", "train", data)
    order = np.random.default_rng(seed).permutation(len(pool))
    train_frames, valid_frames = [pool[k] for k in order[:-10]], [pool[k] for k in order[-10:]]
    train, valid = structures_from_atoms(train_frames), structures_from_atoms(valid_frames)
    tests = {name: structures_from_atoms(datasets.load("3bpa-xtb", name, data)) for name in TESTS}
    scan_frames = datasets.load("3bpa-xtb", "dihedral_scan", data)
    scan = structures_from_atoms(scan_frames)
    scan_labels = [
        {"scan": a.info["config_type"], "beta_deg": float(a.info["beta_deg"]), "gamma_deg": float(a.info["gamma_deg"])}
        for a in scan_frames
    ]
    E0 = dict(zip(ELEMENTS, average_E0s(train, ELEMENTS), strict=True))
    rows = []
    for nu in orders:
        recipe = Recipe(correlation=nu, max_num_epochs=epochs)
        with tempfile.TemporaryDirectory() as work:
            trained = train_both(recipe, train_frames, valid_frames, E0, work, with_mace_torch, control)
        row = {"correlation": nu, "parameter_difference": trained.pop("parameter_difference", None)}
        row["validation"] = trained.pop("validation", None)
        for impl, (model, seconds) in trained.items():
            row[impl] = {
                "seconds": seconds,
                **{name: test_errors(model, structures) for name, structures in tests.items()},
                "dihedral_scan": {**test_errors(model, scan), **scan_profile(model, scan)},
            }
        rows.append(row)
        print(
            {nu: {impl: row[impl]["test_300K"] for impl in trained}, "difference": row["parameter_difference"]},
            flush=True,
        )
    return {
        "experiment": "body order, 3bpa-xtb",
        "provenance": provenance(
            Recipe(max_num_epochs=epochs),
            data="3bpa-xtb " + ("(shipped small)" if data is None else str(data)),
            n_train=len(train),
            n_valid=len(valid),
            n_test={name: len(s) for name, s in tests.items()},
            seed=seed,
            control=control,
            initialisation=initialisation(with_mace_torch),
            scan_labels=scan_labels,
        ),
        "rows": rows,
    }


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    temperatures = [300, 600, 1200]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for row in rows:
        for impl, style in (("macetutor", "o-"), ("mace-torch", "s--")):
            if impl in row:
                left.semilogy(
                    temperatures,
                    [row[impl][name]["rmse_f_meV_per_A"] for name in TESTS],
                    style,
                    label=f"nu = {row['correlation']} ({impl})",
                )
    left.set_xlabel("test temperature (K)")
    left.set_ylabel("force RMSE (meV/Å)")
    left.legend(fontsize=7)
    reference = np.array(rows[0]["macetutor"]["dihedral_scan"]["reference"])
    labels = results["provenance"]["scan_labels"]
    first = np.array([label["scan"] == labels[0]["scan"] for label in labels])  # the first scan (one beta)
    x = np.array([label["gamma_deg"] for label in labels])[first]
    right.plot(x, 1000 * (reference[first] - reference[first].min()), "k-", lw=2, label="GFN2-xTB")
    for row in rows:
        predicted = np.array(row["macetutor"]["dihedral_scan"]["predicted"])
        right.plot(x, 1000 * (predicted[first] - predicted[first].min()), "-", label=f"nu = {row['correlation']}")
    right.set_xlabel(f"gamma (degrees), {labels[0]['scan']}")
    right.set_ylabel("E - E_min of each curve (meV)")
    right.legend(fontsize=7)
    fig.suptitle("3bpa-xtb (GFN2-xTB labels): body order and temperature transfer")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--no-mace-torch", action="store_true")
    parser.add_argument(
        "--control",
        type=float,
        default=1e-15,
        help="relative perturbation of the initial weights for the control run of macetutor (0: none; default 1e-15)",
    )
    parser.add_argument("--data", default=None, help="a generated 3bpa-xtb directory (default: the shipped one)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from the results file")
    args = parser.parse_args()
    if args.plot_only:
        import json

        plot(json.loads(Path(args.out).read_text()), HERE / "exp_body_order.png")
        return
    results = run(args.orders, args.epochs, not args.no_mace_torch, args.data, control=args.control)
    write_results(args.out, results)
    plot(results, HERE / "exp_body_order.png")
    print(f"wrote {args.out} and {HERE / 'exp_body_order.png'}")


if __name__ == "__main__":
    main()
