"""Export to mace-torch (macetutor.interop.to_mace_torch): the round trip is exact, the exported model computes the
same energies and forces, and mace-torch's own calculator loads the saved file."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.verify]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["OFF23", "MPA-0", "MH-1", "OMOL"])
def test_export_round_trip_and_agreement(family):
    pytest.importorskip("mace")
    from published_families import build

    from macetutor.interop.mace_torch import evaluate_mace_torch, from_mace_torch
    from macetutor.interop.to_mace_torch import to_mace_torch

    model = from_mace_torch(build(family))
    exported = to_mace_torch(model)  # (checks from(to(model)) == model exactly, or raises)
    again = from_mace_torch(exported)
    for name, value in model.parameters.items():
        np.testing.assert_array_equal(again.parameters[name], value)
    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 3.0, (6, 3))
    numbers = np.array([1, 6, 8, 1, 1, 8])
    head = {"MH-1": "omol"}.get(family)
    info = {"charge": 1, "spin": 2} if family == "OMOL" else None  # (the keys of mace-torch's calculator)
    theirs = evaluate_mace_torch(exported, positions, numbers, head=head, info=info)
    ours = model.evaluate(
        positions, numbers, forces=True, head=head, **({"total_charge": 1, "total_spin": 2} if info else {})
    )
    assert ours.energy == pytest.approx(theirs["energy"], rel=1e-12)
    np.testing.assert_allclose(ours.forces, theirs["forces"], rtol=0, atol=1e-12 * np.max(np.abs(theirs["forces"])))


def test_a_model_made_by_macetutor_runs_in_mace_torchs_calculator(tmp_path):
    pytest.importorskip("mace")
    from ase import Atoms
    from mace.calculators import MACECalculator

    from macetutor import MACE, MACEConfig
    from macetutor.interop.to_mace_torch import save_mace_torch

    config = MACEConfig(
        elements=(1, 8),
        hidden_irreps="8x0e+8x1o",
        max_ell=2,
        correlation=(3, 2),
        r_max=4.5,
        num_bessel=6,
        radial_mlp=(16, 16),
        avg_num_neighbors=2.0,
        atomic_energies=(-13.6, -2041.0),
        scale=1.5,
        shift=0.2,
    )
    model = MACE.init(config, seed=5)
    save_mace_torch(model, tmp_path / "water.model")
    atoms = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0.05]])
    atoms.calc = MACECalculator(model_paths=str(tmp_path / "water.model"), device="cpu", default_dtype="float64")
    ours = model.evaluate(atoms.positions, atoms.numbers, forces=True)
    assert atoms.get_potential_energy() == pytest.approx(ours.energy, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), ours.forces, rtol=0, atol=1e-12 * np.max(np.abs(ours.forces)))


def test_a_model_with_stored_constants_is_refused():
    pytest.importorskip("mace")
    from published_families import build

    from macetutor.interop.mace_torch import from_mace_torch
    from macetutor.interop.to_mace_torch import to_mace_torch

    model = from_mace_torch(build("MPA-0, built in float32"))
    with pytest.raises(ValueError, match="constants"):
        to_mace_torch(model)
