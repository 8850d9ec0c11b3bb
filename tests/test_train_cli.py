"""`macetutor train` from the command line: outputs, the error table, resuming, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from macetutor.cli import main

ase = pytest.importorskip("ase")


def write_labelled_water(path, n=10, seed=0):
    """Water molecules labelled by a random 'teacher' macetutor model (a learnable target), as extended XYZ."""
    import ase.io

    from macetutor import MACE, MACEConfig

    teacher = MACE.init(
        MACEConfig(
            elements=(1, 8),
            hidden_irreps="4x0e+4x1o",
            max_ell=2,
            correlation=(2, 2),
            r_max=4.0,
            num_bessel=4,
            radial_mlp=(8,),
            atomic_energies=(-13.6, -2041.0),
        ),
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = ase.Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]] + 0.08 * rng.normal(size=(3, 3)))
        result = teacher.evaluate(atoms.positions, atoms.numbers, forces=True)
        atoms.info["REF_energy"] = result.energy
        atoms.arrays["REF_forces"] = result.forces
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")


def test_train_writes_the_model_log_figure_and_the_error_table(tmp_path, capsys):
    write_labelled_water(tmp_path / "train.xyz", 10)
    write_labelled_water(tmp_path / "test.xyz", 3, seed=1)
    argv = [
        "train",
        "--name",
        "water",
        "--train_file",
        str(tmp_path / "train.xyz"),
        "--test_file",
        str(tmp_path / "test.xyz"),
        "--valid_fraction",
        "0.2",
        "--hidden_irreps",
        "4x0e+4x1o",
        "--max_ell",
        "2",
        "--correlation",
        "2",
        "--r_max",
        "4.0",
        "--num_radial_basis",
        "4",
        "--radial_MLP",
        "[8]",
        "--max_num_epochs",
        "3",
        "--batch_size",
        "4",
        "--model_dir",
        str(tmp_path / "run"),
        "--forces_weight",
        "10",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Error-table on TRAIN, VALID and TEST" in out
    for name in ("water.npz", "water.log.csv", "water_learning_curve.png", "water.checkpoint.npz"):
        assert (tmp_path / "run" / name).exists(), name
    assert len((tmp_path / "run" / "water.log.csv").read_text().splitlines()) == 4  # header + 3 epochs
    from macetutor import MACE

    model = MACE.load(tmp_path / "run" / "water.npz")
    assert model.config.elements == (1, 8) and model.config.hidden_irreps == "4x0e+4x1o"
    if (tmp_path / "run" / "water.model").exists():  # the verify extra: the export
        assert "mace-torch export" in out


def test_train_errors_are_one_line_with_exit_codes(tmp_path, capsys):
    assert main(["train", "--name", "x", "--train_file", str(tmp_path / "missing.xyz")]) == 3
    assert "does not exist" in capsys.readouterr().err
    import ase.io

    ase.io.write(tmp_path / "unlabelled.xyz", [ase.Atoms("OH2", positions=np.eye(3))] * 4, format="extxyz")
    assert main(["train", "--name", "x", "--train_file", str(tmp_path / "unlabelled.xyz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "energy" in err
