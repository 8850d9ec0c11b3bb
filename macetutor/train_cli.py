"""``macetutor train``: mace-torch's ``mace_run_train`` in NumPy, with its flag names for the options they share.

    macetutor train --name water --train_file train.xyz --valid_fraction 0.1 --test_file test.xyz \\
        --num_channels 32 --max_L 1 --r_max 5.0 --max_num_epochs 100 --model_dir runs

writes ``runs/water.npz`` (the best model, macetutor's format), ``runs/water.model`` (its mace-torch export, when
the `verify` extra is installed), ``runs/water.log.csv``, ``runs/water_learning_curve.png`` and a resumable
checkpoint, and prints the error table (train / valid / test) at the end, as mace-torch does. The model is mace-torch's
``--model MACE``: a first RealAgnosticInteractionBlock, then RealAgnosticResidualInteractionBlocks, scale = rms of the
training forces, shift 0, E0s by least squares (``--E0s average``) or given.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """mace-torch's flags (same names and defaults) for the options macetutor implements."""
    a = parser.add_argument
    a("--name", required=True, help="the run's name: files <model_dir>/<name>.*")
    a("--train_file", required=True, help="training set, any file ASE reads (extended XYZ)")
    a("--valid_file", default=None, help="validation set (default: --valid_fraction of the training set)")
    a("--valid_fraction", type=float, default=0.1, help="fraction of the training set held out (default 0.1)")
    a("--test_file", default=None, help="test set, evaluated at the end")
    a("--model_dir", default=".", help="directory of the outputs (default .)")
    a("--E0s", default="average", help="'average' (least squares) or a dict {Z: E0} in eV (default average)")
    a("--energy_key", default="REF_energy")
    a("--forces_key", default="REF_forces")
    a("--stress_key", default="REF_stress")
    a("--virials_key", default="REF_virials")
    a("--hidden_irreps", default=None, help="e.g. '32x0e+32x1o' (default: from --num_channels and --max_L)")
    a("--num_channels", type=int, default=128, help="channels K (default 128)")
    a("--max_L", type=int, default=1, help="largest l of the node features (default 1)")
    a("--max_ell", type=int, default=3, help="largest l of the spherical harmonics (default 3)")
    a("--r_max", type=float, default=5.0, help="cutoff in Å (default 5.0)")
    a("--num_radial_basis", type=int, default=8)
    a("--num_cutoff_basis", type=int, default=5)
    a("--radial_MLP", default="[64, 64, 64]")
    a("--MLP_irreps", default="16x0e", help="the last readout's hidden layer (default 16x0e)")
    a("--correlation", type=int, default=3, help="correlation order nu of the product basis (default 3)")
    a("--num_interactions", type=int, default=2)
    a("--loss", default="weighted", choices=["weighted", "stress", "virials"])
    a("--energy_weight", type=float, default=1.0)
    a("--forces_weight", type=float, default=100.0)
    a("--stress_weight", type=float, default=1.0)
    a("--virials_weight", type=float, default=1.0)
    a("--batch_size", type=int, default=10)
    a("--valid_batch_size", type=int, default=10)
    a("--max_num_epochs", type=int, default=2048)
    a("--patience", type=int, default=2048)
    a("--eval_interval", type=int, default=1)
    a("--lr", type=float, default=0.01)
    a("--weight_decay", type=float, default=5e-7)
    a("--amsgrad", action=argparse.BooleanOptionalAction, default=True)
    a("--beta", type=float, default=0.9)
    a("--clip_grad", type=float, default=10.0)
    a("--ema", action="store_true")
    a("--ema_decay", type=float, default=0.99)
    a("--lr_factor", type=float, default=0.8)
    a("--scheduler_patience", type=int, default=50)
    a("--swa", action="store_true", help="stage two: switch the loss weights and the learning rate")
    a("--start_swa", type=int, default=None)
    a("--swa_lr", type=float, default=1e-3)
    a("--swa_energy_weight", type=float, default=1000.0)
    a("--swa_forces_weight", type=float, default=100.0)
    a("--swa_stress_weight", type=float, default=10.0)
    a("--swa_virials_weight", type=float, default=10.0)
    a("--scaling", default="rms_forces_scaling", choices=["rms_forces_scaling", "no_scaling"])
    a("--seed", type=int, default=123)
    a("--backend", default="numba", choices=["numpy", "numba"], help="numba (default) or the NumPy specification")


def _read(path, args, what):
    from macetutor.interop.files import InputFileError
    from macetutor.training import read_structures

    if not Path(path).is_file():
        raise InputFileError(f"{what} {path} does not exist")
    try:
        return read_structures(
            path,
            energy_key=args.energy_key,
            forces_key=args.forces_key,
            stress_key=args.stress_key,
            virials_key=args.virials_key,
        )
    except ImportError:
        raise
    except Exception as err:  # ASE's many reader errors: one line that names the file
        raise InputFileError(f"cannot read {what} {path}: {type(err).__name__}: {err}") from err


def _hidden_irreps(args) -> str:
    from macetutor.trainer import hidden_irreps_of

    if args.hidden_irreps:
        return args.hidden_irreps.replace(" ", "")
    return hidden_irreps_of(args.num_channels, args.max_L)


def _data(args) -> tuple[list, list, list]:
    """The training, validation (a file, or --valid_fraction of the training set, seeded) and test structures."""
    train_set = _read(args.train_file, args, "training file")
    if args.valid_file:
        valid_set = _read(args.valid_file, args, "validation file")
    else:
        order = np.random.default_rng(args.seed).permutation(len(train_set))
        n_valid = max(1, int(round(args.valid_fraction * len(train_set))))
        if n_valid >= len(train_set):
            raise ValueError(f"--valid_fraction {args.valid_fraction} leaves no training structure")
        valid_set = [train_set[k] for k in order[:n_valid]]
        train_set = [train_set[k] for k in order[n_valid:]]
    test_set = _read(args.test_file, args, "test file") if args.test_file else []
    return train_set, valid_set, test_set


def _config(args, train_set, elements):
    """mace-torch's ``--model MACE`` for this training set: E0s, avg_num_neighbors and scale from the data."""
    from macetutor.trainer import average_E0s, config_from_data

    if args.E0s == "average":
        if any(s.energy is None for s in train_set):
            raise ValueError("--E0s average needs an energy label on every training structure")
        E0 = dict(zip(elements, average_E0s(train_set, elements), strict=True))
    else:
        given = ast.literal_eval(args.E0s)
        absent = sorted(set(elements) - set(given))
        if absent:
            raise ValueError(f"--E0s lacks elements {absent}")
        E0 = {z: float(given[z]) for z in elements}
    return config_from_data(
        train_set,
        E0,
        hidden_irreps=_hidden_irreps(args),
        max_ell=args.max_ell,
        correlation=args.correlation,
        num_interactions=args.num_interactions,
        r_max=args.r_max,
        num_radial_basis=args.num_radial_basis,
        num_cutoff_basis=args.num_cutoff_basis,
        radial_MLP=ast.literal_eval(args.radial_MLP),
        MLP_irreps=args.MLP_irreps,
        scaling=args.scaling,
    )


def _options(args):
    from macetutor.trainer import TrainingOptions

    shared = {name: getattr(args, name) for name in TrainingOptions.__dataclass_fields__ if hasattr(args, name)}
    shared |= {
        "stress_weight": args.stress_weight if args.loss == "stress" else 0.0,
        "virials_weight": args.virials_weight if args.loss == "virials" else 0.0,
        "beta1": args.beta,
    }
    return TrainingOptions(**shared)


def _error_table(best, sets: dict, backend) -> None:
    """mace-torch's closing table: RMSE of energy per atom, forces and stress on each set, in meV."""
    from macetutor.trainer import errors

    def meV(x):
        return "--" if x is None else f"{1000 * x:.2f}"

    print("Error-table on TRAIN, VALID and TEST:")
    print(
        f"  {'set':<6} {'structures':>10} {'RMSE E / meV/atom':>18} {'RMSE F / meV/Å':>15} {'RMSE stress / meV/Å^3':>22}"
    )
    for label, structures in sets.items():
        if structures:
            e = errors(best, structures, backend)
            print(
                f"  {label:<6} {e['n']:>10} {meV(e['rmse_e_per_atom']):>18} {meV(e['rmse_f']):>15} "
                f"{meV(e['rmse_stress']):>22}"
            )


def run(args) -> int:
    from macetutor import MACE
    from macetutor.trainer import plot_learning_curve, train

    train_set, valid_set, test_set = _data(args)
    elements = tuple(sorted({int(z) for s in train_set for z in s.numbers}))
    missing = sorted({int(z) for s in valid_set + test_set for z in s.numbers} - set(elements))
    if missing:
        raise ValueError(f"the validation or test set contains elements {missing} that the training set lacks")
    config, options, directory = _config(args, train_set, elements), _options(args), Path(args.model_dir)
    print(
        f"macetutor train {args.name}: {len(train_set)} training, {len(valid_set)} validation, {len(test_set)} test "
        f"structures; elements {list(elements)}; {config.hidden_irreps}, correlation {args.correlation}, "
        f"r_max {args.r_max}; avg_num_neighbors {config.avg_num_neighbors:.3f}, scale {config.scale:.4f}; "
        f"E0 {np.round(config.atomic_energies, 4)}"
    )
    best = train(MACE.init(config, seed=args.seed), train_set, valid_set, options, directory, args.name)
    figure = directory / f"{args.name}_learning_curve.png"
    plot_learning_curve(directory / f"{args.name}.log.csv", figure)
    print(f"best model: {directory / (args.name + '.npz')}; learning curve: {figure}")
    try:
        from macetutor.interop.to_mace_torch import save_mace_torch

        save_mace_torch(best, directory / f"{args.name}.model")
        print(f"mace-torch export: {directory / (args.name + '.model')}")
    except ImportError:
        print("(no mace-torch export: install the `verify` extra for <name>.model)")
    _error_table(best, {"train": train_set, "valid": valid_set, "test": test_set}, args.backend)
    sys.stdout.flush()
    return 0
