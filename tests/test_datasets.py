"""The labelled data sets (macetutor/datasets.py, ``macetutor dataset``): the shipped small files, their labels against
fresh GFN2-xTB calculations, and the command's errors.

Reading needs ASE (the `verify` or `data` extra); the checks against GFN2-xTB need tblite (the `data` extra) and are
skipped without it. The error tests replace the calculator, so they need neither tblite nor a real calculation.
"""

import sys

import numpy as np
import pytest

from macetutor import cli, datasets

pytest.importorskip("ase", reason="the data sets are read with ASE (the `verify` or `data` extra)")

NAMES = ("ethanol-xtb", "3bpa-xtb", "silicon-xtb")
PROVENANCE = ("dataset", "size", "method", "tblite_version", "ase_version", "seed", "command", "relaxed_start_energy")


def _xtb():
    pytest.importorskip("tblite", reason="needs tblite (the `data` extra)")
    return datasets._calculator()


def test_the_three_data_sets_are_known():
    assert datasets.names() == NAMES
    assert datasets.splits("3bpa-xtb") == (
        "train",
        "test_300K",
        "test_600K",
        "test_1200K",
        "dihedral_scan",
        "isolated_atoms",
    )


@pytest.mark.parametrize("name", NAMES)
def test_shipped_files_load_with_labels_of_the_right_shapes(name):
    recipe = datasets.recipe(name, "small")
    for split in datasets.splits(name):
        frames = datasets.load(name, split)
        expected = {t.split: t.frames for t in recipe.trajectories}.get(split)
        if split == "dihedral_scan":
            expected = len(recipe.scan.betas_deg) * int(360 / recipe.scan.gamma_step_deg)
        if split == "isolated_atoms":
            expected = len(recipe.isolated_atoms)
        assert len(frames) == expected, split
        for atoms in frames:
            assert atoms.calc is None  # labels under mace-torch's default keys, not as ASE results
            assert np.isfinite(atoms.info["REF_energy"])
            assert atoms.arrays["REF_forces"].shape == (len(atoms), 3)
            assert np.all(np.isfinite(atoms.arrays["REF_forces"]))
            if atoms.pbc.all():
                assert atoms.info["REF_stress"].shape == (3, 3)
                assert np.allclose(atoms.info["REF_stress"], atoms.info["REF_stress"].T, atol=1e-10)
            else:
                assert "REF_stress" not in atoms.info
            if split == "isolated_atoms":
                assert atoms.info["config_type"] == "IsolatedAtom" and len(atoms) == 1
            elif split == "dihedral_scan":
                assert atoms.info["config_type"] == f"dihedral_beta{atoms.info['beta_deg']:g}"
            else:
                assert atoms.info["config_type"] == split


@pytest.mark.parametrize("name", NAMES)
def test_every_frame_carries_its_provenance(name):
    recipe = datasets.recipe(name, "small")
    temperatures = {t.split: t.temperature_K for t in recipe.trajectories}
    for split in datasets.splits(name):
        for atoms in datasets.load(name, split):
            info = atoms.info
            assert all(key in info for key in PROVENANCE), (split, sorted(info))
            assert info["method"] == "GFN2-xTB" and info["dataset"] == name and info["size"] == "small"
            assert info["command"] == f"macetutor dataset make {name} --size small --seed 0 --out DIR"
            if split in temperatures:
                assert info["temperature_K"] == temperatures[split]
                assert info["timestep_fs"] == recipe.timestep_fs and info["interval_steps"] == recipe.interval_steps
                assert info["equilibration_steps"] == recipe.equilibration_steps


@pytest.mark.parametrize("name", NAMES)
def test_no_frame_lies_below_the_relaxed_starting_structure(name):
    """The minimum the dynamics and scans start from is the lowest point (a start that was a saddle, 0.49 eV too high
    for 3BPA, would fail), to 10 meV: the phenyl torsion is so flat that the relaxation (to 5 meV/Å) stops a few meV
    above the lowest point of the constrained scan."""
    for split in datasets.splits(name)[:-1]:
        for atoms in datasets.load(name, split):
            assert atoms.info["REF_energy"] > atoms.info["relaxed_start_energy"] - 0.01, split


def test_hotter_test_sets_are_further_from_the_minimum():
    """3BPA: the mean energy and the force scale grow with the temperature of the test set (300 < 600 < 1200 K)."""
    energies, forces = [], []
    for split in ("test_300K", "test_600K", "test_1200K"):
        frames = datasets.load("3bpa-xtb", split)
        energies.append(np.mean([a.info["REF_energy"] for a in frames]))
        forces.append(np.sqrt(np.mean([np.mean(a.arrays["REF_forces"] ** 2) for a in frames])))
    assert energies[0] < energies[1] < energies[2] and forces[0] < forces[1] < forces[2]


def test_the_dihedral_scan_holds_beta_and_gamma():
    for atoms in datasets.load("3bpa-xtb", "dihedral_scan"):
        beta, gamma = atoms.get_dihedral(*datasets.BETA), atoms.get_dihedral(*datasets.GAMMA)
        assert abs((beta - atoms.info["beta_deg"] + 180) % 360 - 180) < 1e-3
        assert abs((gamma - atoms.info["gamma_deg"] + 180) % 360 - 180) < 1e-3


def test_atomic_energies_are_the_isolated_atoms():
    e0 = datasets.atomic_energies("3bpa-xtb")
    assert sorted(e0) == [1, 6, 7, 8] and all(value < 0 for value in e0.values())


@pytest.mark.parametrize("name", NAMES)
def test_labels_agree_with_a_fresh_single_point(name):
    """Reproducibility: the first frame of every split, recomputed with tblite now, gives the stored labels.

    To the convergence of the self-consistent field: during the dynamics tblite starts each SCF from the previous
    step's solution, a fresh single point from scratch (tblite's default accuracy), and the forces differ by up to
    ~5e-4 eV/Å, far below any model's error."""
    for split in datasets.splits(name):
        atoms = datasets.load(name, split)[0]
        multiplicity = atoms.info.get("multiplicity")
        atoms.calc = _xtb() if multiplicity is None else datasets._calculator(multiplicity)
        assert abs(atoms.get_potential_energy() - atoms.info["REF_energy"]) < 1e-5, split
        assert np.max(np.abs(atoms.get_forces() - atoms.arrays["REF_forces"])) < 1e-3, split
        if atoms.pbc.all():
            assert np.max(np.abs(atoms.get_stress(voigt=False) - atoms.info["REF_stress"])) < 1e-7, split


@pytest.mark.slow
def test_forces_are_minus_the_energy_gradient():
    """Central differences of GFN2-xTB energies (error ~h^2) against the stored forces of an ethanol frame (to the
    ~5e-4 eV/Å convergence of the stored forces: a wrong sign or unit would be off by O(1))."""
    from macetutor.gradcheck import check_vjp

    atoms = datasets.load("ethanol-xtb", "test")[0]
    atoms.calc = _xtb()

    def energy(x):
        atoms.positions = x
        return np.array(atoms.get_potential_energy())

    stored = atoms.arrays["REF_forces"].copy()
    check = check_vjp(energy, lambda x, g: -g * stored, atoms.positions.copy(), steps=np.array([1e-2, 1e-3]))
    assert check.best_error < 2e-4, check.table()


@pytest.mark.slow
def test_stress_is_the_strain_derivative_of_the_energy():
    """sigma_ab = (1/V) dE/d(strain_ab) by central differences of a symmetric strain, on a silicon frame."""
    atoms = datasets.load("silicon-xtb", "test")[0]
    atoms.calc = _xtb()
    cell, positions, volume, h = atoms.cell[:].copy(), atoms.positions.copy(), atoms.get_volume(), 1e-4

    def energy(strain):
        atoms.set_cell(cell @ (np.eye(3) + strain), scale_atoms=False)
        atoms.positions = positions @ (np.eye(3) + strain)
        return atoms.get_potential_energy()

    numerical = np.zeros((3, 3))
    for a, b in ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)):
        strain = np.zeros((3, 3))
        strain[a, b] = strain[b, a] = h if a == b else h / 2
        numerical[a, b] = numerical[b, a] = (energy(strain) - energy(-strain)) / (2 * h) / volume
    assert np.max(np.abs(numerical - atoms.info["REF_stress"])) < 1e-6, (numerical, atoms.info["REF_stress"])


def test_generation_is_reproducible(tmp_path):
    """Two runs with the same seed write the same frames (no date in the files; bit for bit with OMP_NUM_THREADS=1,
    to ~1e-12 with several threads, whose OpenMP reductions inside tblite sum in varying order); another seed gives
    other frames."""
    _xtb()
    import ase.io

    first, second, other = (tmp_path / d for d in ("a", "b", "c"))
    datasets.make("ethanol-xtb", first, size="tiny", log=lambda _: None)
    datasets.make("ethanol-xtb", second, size="tiny", log=lambda _: None)
    datasets.make("ethanol-xtb", other, size="tiny", seed=1, log=lambda _: None)
    for split in datasets.splits("ethanol-xtb"):
        a = ase.io.read(first / f"{split}.xyz", index=":")
        b = ase.io.read(second / f"{split}.xyz", index=":")
        assert len(a) == len(b), split
        for x, y in zip(a, b, strict=True):
            assert x.info.keys() == y.info.keys(), split
            for key, value in x.info.items():
                if isinstance(value, float | np.floating):
                    assert abs(value - y.info[key]) < 1e-9, (split, key)
                else:
                    assert value == y.info[key], (split, key)
            np.testing.assert_allclose(x.positions, y.positions, rtol=0, atol=1e-9, err_msg=split)
            np.testing.assert_allclose(x.arrays["REF_forces"], y.arrays["REF_forces"], rtol=0, atol=1e-8, err_msg=split)
    assert (first / "train.xyz").read_bytes() != (other / "train.xyz").read_bytes()
    assert sorted(p.name for p in first.iterdir()) == ["isolated_atoms.xyz", "test.xyz", "train.xyz"]


def test_dataset_list(capsys):
    assert cli.main(["dataset", "list"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES) and "test_1200K" in out and "dihedral_scan" in out


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_unknown_data_set_lists_the_known_ones(tmp_path, capsys):
    assert cli.main(["dataset", "make", "benzene", "--out", str(tmp_path / "x")]) == cli.EXIT_USAGE
    err = _one_line(capsys)
    assert "unknown data set 'benzene'" in err and all(name in err for name in NAMES)
    assert not (tmp_path / "x").exists()
    with pytest.raises(datasets.UnknownDatasetError, match="known: train, test"):
        datasets.load("ethanol-xtb", "validation")
    from macetutor.interop.files import InputFileError

    with pytest.raises(InputFileError, match="make it with `macetutor dataset make ethanol-xtb"):
        datasets.load("ethanol-xtb", "train", directory=tmp_path)


@pytest.fixture
def no_calculation(monkeypatch):
    """tblite 'installed', but any calculation fails the test: proves the checks come before the work."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a calculation was started")

    monkeypatch.setattr(datasets, "_require_tblite", lambda: None)
    monkeypatch.setattr(datasets, "_calculator", forbidden)


def test_unwritable_output_is_refused_before_any_calculation(tmp_path, capsys, no_calculation):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a directory\n")
    for out, message in ((a_file, "it is a file, not a directory"), (a_file / "sub", "cannot write to")):
        assert cli.main(["dataset", "make", "ethanol-xtb", "--out", str(out)]) == cli.EXIT_INPUT
        assert message in _one_line(capsys)


def test_missing_tblite_is_exit_5_with_the_pip_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tblite", None)  # import tblite -> ImportError
    monkeypatch.setitem(sys.modules, "tblite.ase", None)
    assert cli.main(["dataset", "make", "ethanol-xtb", "--out", str(tmp_path / "x")]) == cli.EXIT_DEPENDENCY
    assert "pip install 'macetutor[data]'" in _one_line(capsys)
    assert not (tmp_path / "x").exists()


def _harmonic_calculator(calls: list, fail_at: int):
    """A stand-in for GFN2-xTB: harmonic springs to the first positions it sees; call number ``fail_at`` fails."""
    from ase.calculators.calculator import CalculationFailed, Calculator, all_changes

    class Harmonic(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            calls.append(1)
            if len(calls) >= fail_at:
                raise CalculationFailed("SCF did not converge in 250 iterations")
            if not hasattr(self, "x0"):
                self.x0 = self.atoms.positions.copy()
            d = self.atoms.positions - self.x0
            self.results = {"energy": float(np.sum(d**2)), "forces": -2 * d}

    return Harmonic()


@pytest.mark.parametrize("fail_at", [1, 40])
def test_a_failed_single_point_leaves_no_file_looking_complete(monkeypatch, tmp_path, capsys, fail_at):
    """fail_at = 1: in the first relaxation; 40: after the training split was written to its partial file."""
    tiny, calls = datasets.recipe("ethanol-xtb", "tiny"), []
    monkeypatch.setattr(datasets, "_require_tblite", lambda: None)
    monkeypatch.setattr(datasets, "recipe", lambda name, size="small": tiny)
    monkeypatch.setattr(datasets, "_calculator", lambda multiplicity=None: _harmonic_calculator(calls, fail_at))
    out = tmp_path / "out"
    assert cli.main(["dataset", "make", "ethanol-xtb", "--out", str(out)]) == cli.EXIT_CALCULATION
    err = _one_line(capsys)
    assert "GFN2-xTB single point failed" in err and "SCF did not converge" in err and "no output file" in err
    assert list(out.iterdir()) == []  # no <split>.xyz, and no partial file left behind
