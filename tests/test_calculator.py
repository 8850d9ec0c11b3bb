"""The ASE calculator: ASE's own finite-difference helpers for forces and stress, and a short MD run."""

import numpy as np
import pytest
from test_model import CONFIG

pytest.importorskip("ase", reason="needs ase (the `verify` extra)")
from ase import Atoms  # noqa: E402
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress  # noqa: E402

from macetutor.calculator import MACECalculator  # noqa: E402
from macetutor.model import MACE  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return MACE.init(CONFIG, seed=1)


def periodic_atoms():
    cell = np.array([[5.5, 0.0, 0.0], [0.8, 6.0, 0.0], [0.3, 0.5, 6.2]])
    positions = np.array([[0.5, 0.5, 0.5], [1.7, 0.6, 0.3], [0.2, 1.6, 0.9], [0.9, -0.1, 1.5], [2.6, 1.4, 1.0]])
    return Atoms(numbers=[6, 8, 1, 1, 6], positions=positions, cell=cell, pbc=True)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_properties_follow_ase_conventions(model, backend):
    atoms = periodic_atoms()
    atoms.calc = MACECalculator(model, backend=backend)
    E = atoms.get_potential_energy()
    assert atoms.get_potential_energy(force_consistent=True) == E
    np.testing.assert_allclose(atoms.get_potential_energies().sum(), E, rtol=1e-13)
    F = atoms.get_forces()
    np.testing.assert_allclose(F, calculate_numerical_forces(atoms, eps=1e-4), rtol=1e-6, atol=1e-7)
    S = atoms.get_stress()
    assert S.shape == (6,)
    np.testing.assert_allclose(S, calculate_numerical_stress(atoms, eps=1e-5), rtol=1e-5, atol=1e-8)


def test_stress_of_a_non_periodic_system_is_refused(model):
    from ase.calculators.calculator import PropertyNotImplementedError

    atoms = Atoms(numbers=[6, 8], positions=[[0, 0, 0], [1.2, 0, 0]])
    atoms.calc = MACECalculator(model)
    atoms.get_forces()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_model_file_and_short_nve_run(model, tmp_path):
    from ase import units
    from ase.md.verlet import VelocityVerlet

    model.save(tmp_path / "model.npz")
    atoms = Atoms(numbers=[8, 1, 1], positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms.calc = MACECalculator(str(tmp_path / "model.npz"))
    atoms.set_velocities(np.random.default_rng(0).normal(0, 0.01, (3, 3)))
    energies = []
    dyn = VelocityVerlet(atoms, timestep=0.1 * units.fs)
    dyn.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    dyn.run(300)
    assert np.ptp(energies) < 1e-3 * max(1.0, abs(np.mean(energies)) * 1e-3)


def test_one_evaluation_serves_energy_forces_and_stress(model, monkeypatch):
    """ASE's getter sequence (energy, forces, stress) costs one model evaluation, as with mace-torch's calculator."""
    calls = []
    evaluate = MACE.evaluate

    def counting(self, *args, **kwargs):
        calls.append(kwargs)
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(MACE, "evaluate", counting)
    atoms = periodic_atoms()
    atoms.calc = MACECalculator(model, backend="numpy")
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(), atoms.get_potential_energies()
    assert len(calls) == 1 and calls[0]["forces"] and calls[0]["stress"]
    atoms.positions[0, 0] += 0.01  # a change: one more evaluation
    atoms.get_forces(), atoms.get_stress()
    assert len(calls) == 2


def test_a_mace_torch_model_file_is_accepted(tmp_path):
    pytest.importorskip("mace", reason="needs the `verify` extra")
    import sys

    import torch

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from mace_torch_models import build, evaluate_torch

    torch_model = build("A_default_like")
    torch.save(torch_model, tmp_path / "MACE.model")
    atoms = Atoms(numbers=[8, 1, 1], positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms.calc = MACECalculator(str(tmp_path / "MACE.model"))
    reference = evaluate_torch(torch_model, atoms.positions, atoms.numbers, None, False)
    assert atoms.get_potential_energy() == pytest.approx(reference["energy"], rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), reference["forces"], rtol=1e-9, atol=1e-12)
