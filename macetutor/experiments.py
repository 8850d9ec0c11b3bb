"""The MACE paper's experiments in miniature: one recipe trained by macetutor and by mace-torch's ``mace_run_train``
on the same data with the same hyper-parameters, and their test errors.

Used by the experiment scripts (``figures/exp_*.py``), which write results files (JSON, with their provenance) and
figures; notebooks and tests read those files and run small live versions. Labels are GFN2-xTB
(:mod:`macetutor.datasets`), not the paper's DFT: the comparisons are of trends, not of values.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from macetutor._version import __version__

__all__ = [
    "Recipe",
    "structures_from_atoms",
    "train_macetutor",
    "train_mace_torch",
    "mace_run_train_initial_model",
    "mace_run_train_batches",
    "train_both",
    "parameter_difference",
    "CONTROL",
    "initialisation",
    "test_errors",
    "provenance",
]


@dataclass
class Recipe:
    """The hyper-parameters both implementations train with (mace-torch's flag names)."""

    num_channels: int = 16
    max_L: int = 1
    max_ell: int = 2
    correlation: int = 3
    num_interactions: int = 2
    r_max: float = 5.0
    num_radial_basis: int = 8
    radial_MLP: tuple = (32, 32)
    MLP_irreps: str = "16x0e"
    batch_size: int = 5
    max_num_epochs: int = 40
    lr: float = 0.01
    energy_weight: float = 1.0
    forces_weight: float = 100.0
    ema: bool = True
    ema_decay: float = 0.99
    swa: bool = True  # stage two (mace-torch's --swa): energy weight 1000, forces 100, lr 1e-3 for the last quarter
    seed: int = 123
    extra: dict = field(default_factory=dict)

    @property
    def stage_two_from(self) -> int | None:
        """The epoch stage two starts at (mace-torch's default, 3/4 of the epochs), or None when it never runs."""
        start = max(1, self.max_num_epochs // 4 * 3)
        return start if self.swa and start < self.max_num_epochs else None

    @property
    def hidden_irreps(self) -> str:
        from macetutor.trainer import hidden_irreps_of

        return hidden_irreps_of(self.num_channels, self.max_L)


def structures_from_atoms(frames) -> list:
    """ASE frames with mace-torch's keys as :class:`macetutor.training.Structure` (one each)."""
    from macetutor.training import structure_from_atoms

    return [structure_from_atoms(atoms) for atoms in frames]


def _config(recipe: Recipe, train, E0: dict):
    from macetutor.trainer import config_from_data

    return config_from_data(
        train,
        E0,
        hidden_irreps=recipe.hidden_irreps,
        max_ell=recipe.max_ell,
        correlation=recipe.correlation,
        num_interactions=recipe.num_interactions,
        r_max=recipe.r_max,
        num_radial_basis=recipe.num_radial_basis,
        radial_MLP=recipe.radial_MLP,
        MLP_irreps=recipe.MLP_irreps,
    )


def train_macetutor(recipe: Recipe, train, valid, E0: dict, directory, initial=None, batches=None) -> tuple:
    """Train with macetutor's recipe (:mod:`macetutor.trainer`); returns (best model, wall time in s). Starts from
    ``initial`` when given (e.g. :func:`mace_run_train_initial_model`), else from ``MACE.init`` with the recipe's seed;
    ``batches`` as in :func:`macetutor.trainer.train` (e.g. :func:`mace_run_train_batches`)."""
    from macetutor import MACE
    from macetutor.trainer import TrainingOptions
    from macetutor.trainer import train as fit

    options = TrainingOptions(
        energy_weight=recipe.energy_weight,
        forces_weight=recipe.forces_weight,
        lr=recipe.lr,
        batch_size=recipe.batch_size,
        max_num_epochs=recipe.max_num_epochs,
        ema=recipe.ema,
        ema_decay=recipe.ema_decay,
        swa=recipe.swa,
        seed=recipe.seed,
    )
    started = time.perf_counter()
    model = initial if initial is not None else MACE.init(_config(recipe, train, E0), seed=recipe.seed)
    best = fit(model, train, valid, options, directory, progress=lambda *a, **k: None, batches=batches)
    return best, time.perf_counter() - started


def _mace_run_train_command(recipe: Recipe, directory: Path, E0: dict) -> list[str]:
    """mace-torch's ``mace_run_train`` command line for ``recipe`` (float64, CPU, train.xyz and valid.xyz in
    ``directory``; the given E0s; rms-forces scaling; EMA as the recipe says)."""
    command = [
        str(Path(sys.executable).with_name("mace_run_train")),
        "--name",
        "run",
        "--work_dir",
        str(directory),
        "--train_file",
        str(directory / "train.xyz"),
        "--valid_file",
        str(directory / "valid.xyz"),
        "--E0s",
        str({int(z): float(e) for z, e in E0.items()}),
        "--model",
        "MACE",
        "--num_channels",
        str(recipe.num_channels),
        "--max_L",
        str(recipe.max_L),
        "--max_ell",
        str(recipe.max_ell),
        "--correlation",
        str(recipe.correlation),
        "--num_interactions",
        str(recipe.num_interactions),
        "--r_max",
        str(recipe.r_max),
        "--num_radial_basis",
        str(recipe.num_radial_basis),
        "--radial_MLP",
        str(list(recipe.radial_MLP)),
        "--MLP_irreps",
        recipe.MLP_irreps,
        "--batch_size",
        str(recipe.batch_size),
        "--valid_batch_size",
        str(recipe.batch_size),
        "--max_num_epochs",
        str(recipe.max_num_epochs),
        "--lr",
        str(recipe.lr),
        "--energy_weight",
        str(recipe.energy_weight),
        "--forces_weight",
        str(recipe.forces_weight),
        "--seed",
        str(recipe.seed),
        "--default_dtype",
        "float64",
        "--device",
        "cpu",
        "--scaling",
        "rms_forces_scaling",
        "--loss",
        "weighted",
        "--error_table",
        "PerAtomRMSE",
    ]
    if recipe.ema:
        command += ["--ema", "--ema_decay", str(recipe.ema_decay)]
    if recipe.swa:
        command += ["--swa"]
    return command


def _run_mace_run_train(recipe: Recipe, train_frames, valid_frames, E0: dict, directory) -> float:
    """Write the data into ``directory`` and run ``mace_run_train`` there; returns its wall time (s)."""
    import ase.io

    directory = Path(directory)
    (directory / "checkpoints").mkdir(parents=True, exist_ok=True)  # mace_run_train saves there even at 0 epochs
    ase.io.write(directory / "train.xyz", train_frames, format="extxyz")
    ase.io.write(directory / "valid.xyz", valid_frames, format="extxyz")
    started = time.perf_counter()
    done = subprocess.run(_mace_run_train_command(recipe, directory, E0), capture_output=True, text=True, cwd=directory)
    if done.returncode != 0:
        raise RuntimeError(f"mace_run_train failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _import(path):
    import torch

    from macetutor.interop.mace_torch import from_mace_torch

    return from_mace_torch(torch.load(path, map_location="cpu", weights_only=False).double())


def mace_run_train_initial_model(recipe: Recipe, train_frames, valid_frames, E0: dict, directory):
    """The model ``mace_run_train`` starts training from (its seeded initialisation, its average number of
    neighbours and rms-forces scale), imported into macetutor: ``mace_run_train`` run for zero epochs saves it.
    Training both implementations from it compares the implementations, not two random initialisations."""
    _run_mace_run_train(
        Recipe(**{**asdict(recipe), "max_num_epochs": 0, "swa": False}), train_frames, valid_frames, E0, directory
    )
    return _import(Path(directory) / "run.model")


def mace_run_train_batches(n_train: int, recipe: Recipe):
    """``batches(epoch)``: the training batches (indices into the training file) that ``mace_run_train`` draws in
    each epoch. Its training loader shuffles with ``torch.Generator().manual_seed(seed)``; every pass over the loader
    draws from that generator (the loader's base seed, then the permutation), and mace_run_train passes over it twice
    before training (the average number of neighbours, then the rms-forces scale). The same torch loader over
    ``range(n_train)``, passed over twice, then yields mace_run_train's batches epoch by epoch (checked against
    mace_run_train's weights after training: tests/test_experiments.py). Needs torch (the `verify` extra)."""
    import torch

    loader = torch.utils.data.DataLoader(
        range(n_train),
        batch_size=recipe.batch_size,
        shuffle=True,
        drop_last=True,  # as mace_run_train's training loader
        generator=torch.Generator().manual_seed(recipe.seed),
    )
    for _ in range(2):
        for _ in loader:
            pass
    drawn: list = []

    def batches(epoch: int) -> list:
        while len(drawn) <= epoch:
            drawn.append([b.tolist() for b in loader])
        return drawn[epoch]

    return batches


def train_mace_torch(recipe: Recipe, train_frames, valid_frames, E0: dict, directory) -> tuple:
    """Train the same recipe with mace-torch's own ``mace_run_train`` (float64, CPU); returns (the trained model
    imported into macetutor -- the stage-two model when the recipe has stage two --, wall time in s). Needs the
    `verify` extra."""
    seconds = _run_mace_run_train(recipe, train_frames, valid_frames, E0, directory)
    stage_two = recipe.stage_two_from is not None
    return _import(Path(directory) / ("run_stagetwo.model" if stage_two else "run.model")), seconds


def train_both(
    recipe: Recipe, train_frames, valid_frames, E0: dict, directory, with_mace_torch: bool = True, control: float = 0.0
) -> dict:
    """Train ``recipe`` with macetutor and (``with_mace_torch``) with ``mace_run_train`` on the same frames:
    ``{"macetutor": (model, seconds), "mace-torch": (model, seconds), "parameter_difference": float}``.

    With mace-torch, macetutor starts from ``mace_run_train``'s initial model and takes its batches in
    ``mace_run_train``'s order, so the two train along the same path and their difference measures the
    implementations, not two random initialisations; ``parameter_difference`` is the largest relative difference
    (per parameter array, max |ours - theirs| / max |theirs|) of the two trained models, and ``validation`` holds both
    validation RMSEs per epoch (where the two paths part: round-off grows while training). macetutor's seconds do not
    include the zero-epoch ``mace_run_train`` that gives the initial model. Without mace-torch, macetutor starts
    from ``MACE.init`` with the recipe's seed.

    ``control`` > 0 (with mace-torch) adds the control run ``"macetutor, perturbed start"``: macetutor once more,
    from the same initial model with every weight multiplied by 1 +- ``control`` (random signs, the recipe's seed).
    Its distance from the first macetutor run is what round-off alone does to one implementation along this path:
    the yardstick for the distance between the two implementations."""
    directory = Path(directory)
    train, valid = structures_from_atoms(train_frames), structures_from_atoms(valid_frames)
    if not with_mace_torch:
        return {"macetutor": train_macetutor(recipe, train, valid, E0, directory / "macetutor")}
    initial = mace_run_train_initial_model(recipe, train_frames, valid_frames, E0, directory / "initial")
    batches = mace_run_train_batches(len(train_frames), recipe)
    ours = train_macetutor(recipe, train, valid, E0, directory / "macetutor", initial, batches)
    theirs = train_mace_torch(recipe, train_frames, valid_frames, E0, directory / "mace-torch")
    difference = parameter_difference(ours[0], theirs[0])
    validation = {
        "macetutor": _macetutor_validation(directory / "macetutor" / "MACE.log.csv"),
        "mace-torch": _mace_run_train_validation(directory / "mace-torch" / "results"),
    }
    trained = {"macetutor": ours, "mace-torch": theirs}
    if control > 0.0:
        from macetutor import MACE

        rng = np.random.default_rng(recipe.seed)
        perturbed = {
            n: p * (1.0 + control * rng.choice([-1.0, 1.0], size=p.shape)) for n, p in initial.parameters.items()
        }
        start = MACE(initial.config, perturbed, initial.constants)
        trained[CONTROL] = train_macetutor(recipe, train, valid, E0, directory / "control", start, batches)
        validation[CONTROL] = _macetutor_validation(directory / "control" / "MACE.log.csv")
    return {**trained, "parameter_difference": difference, "validation": validation}


CONTROL = "macetutor, perturbed start"


def initialisation(with_mace_torch: bool) -> str:
    """Where :func:`train_both` starts macetutor from, for the results' provenance."""
    if with_mace_torch:
        return "mace_run_train's initial model and batch order for both (macetutor.experiments.train_both)"
    return "MACE.init, the recipe's seed"


def parameter_difference(model, reference) -> float:
    """The largest relative difference of two models' parameters: max over the parameter arrays of
    max |model - reference| / max |reference|."""
    return max(
        float(np.max(np.abs(model.parameters[n] - p)) / max(np.max(np.abs(p)), 1e-300))
        for n, p in reference.parameters.items()
    )


def _macetutor_validation(log) -> dict:
    """Validation RMSEs per epoch from macetutor's training log: {"epoch", "rmse_e_per_atom", "rmse_f"} lists."""
    import csv

    with open(log) as f:
        rows = list(csv.DictReader(f))
    return {
        "epoch": [int(r["epoch"]) for r in rows],
        "rmse_e_per_atom": [float(r["valid_rmse_e_per_atom"]) for r in rows],
        "rmse_f": [float(r["valid_rmse_f"]) for r in rows],
    }


def _mace_run_train_validation(results) -> dict:
    """The same from mace_run_train's results file (JSON lines; its evaluations have ``mode`` "eval")."""
    rows = []
    for path in sorted(Path(results).glob("*_train.txt")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("mode") == "eval" and row.get("epoch") is not None:
                rows.append(row)
    return {
        "epoch": [int(r["epoch"]) for r in rows],
        "rmse_e_per_atom": [float(r["rmse_e_per_atom"]) for r in rows],
        "rmse_f": [float(r["rmse_f"]) for r in rows],
    }


def test_errors(model, structures) -> dict:
    """RMSE of the energy per atom (meV/atom) and of the force components (meV/Å) on ``structures``."""
    from macetutor.trainer import errors

    e = errors(model, structures, backend="numba")
    return {"rmse_e_meV_per_atom": 1000 * e["rmse_e_per_atom"], "rmse_f_meV_per_A": 1000 * e["rmse_f"], "n": e["n"]}


def provenance(recipe: Recipe, **more) -> dict:
    """What produced a results file: versions, the recipe, the command line, the machine."""
    versions = {"macetutor": __version__, "python": platform.python_version(), "numpy": np.__version__}
    try:
        import mace

        versions["mace-torch"] = mace.__version__
    except ImportError:
        pass
    return {
        "versions": versions,
        "recipe": asdict(recipe),
        "command": " ".join(sys.argv),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "labels": "GFN2-xTB (tblite), not DFT",
        **more,
    }


def write_results(path, results: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(results, f, indent=1, default=float)
    Path(f.name).replace(path)
