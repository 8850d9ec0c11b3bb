"""Every published MACE architecture (tests/published_families.py) against mace-torch, live: energies, node energies,
forces, stress and the features of every layer, in float64, to round-off.

Bounds (the issue's): energies and intermediates <= 1e-10 relative, forces and stress <= 1e-9.
"""

import numpy as np
import pytest
from mace_torch_models import evaluate_torch, structures
from published_families import CHARGE_SPIN, ELEMENTS, FAMILIES, build

pytest.importorskip("mace", reason="needs the `verify` extra (torch, mace-torch)")
pytest.importorskip("ase", reason="needs the `verify` extra (ase)")

from macetutor.gradcheck import check_vjp  # noqa: E402
from macetutor.interop import from_mace_torch  # noqa: E402
from macetutor.irreps import to_e3nn_layout  # noqa: E402

pytestmark = pytest.mark.verify
ENERGY_RTOL = 1e-10
FORCE_RTOL = 1e-9
STRUCTURES = ["molecule", "small_periodic_crystal", "triclinic", "isolated_atom"]


def relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0), 1e-300))


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request):
    torch_model = build(request.param)
    return request.param, torch_model, from_mace_torch(torch_model)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_family_agrees_with_mace_torch(family, structure):
    name, torch_model, ours = family
    positions, numbers, cell, pbc = structures(ELEMENTS)[structure]
    charges = CHARGE_SPIN if ours.config.embedding_specs else [(0, 1)]
    for head, (charge, spin) in ((head, q) for head in ours.config.heads for q in charges):
        info = {"charge": charge, "spin": spin}
        ref = evaluate_torch(torch_model, positions, numbers, cell, pbc, head=head, info=info)
        result = ours.evaluate(
            positions, numbers, cell, pbc, forces=True, stress=True, head=head, total_charge=charge, total_spin=spin
        )
        errors = {
            "energy": abs(result.interaction_energy - ref["interaction_energy"]) / abs(ref["interaction_energy"]),
            "node energies": relative(result.node_energies, ref["node_energy"]),
        }
        for t, layer in enumerate(result.intermediates):
            errors[f"A{t}"] = relative(layer.A.reshape(len(numbers), -1), ref["A"][t].reshape(len(numbers), -1))
            errors[f"h{t}"] = relative(to_e3nn_layout(layer.h, layer.irreps_out), ref["h"][t])
        print(name, structure, head, charge, spin, {k: f"{v:.1e}" for k, v in errors.items()})
        assert max(errors.values()) <= ENERGY_RTOL, errors
        assert relative(result.forces, ref["forces"]) <= FORCE_RTOL
        if "stress" in ref:
            assert relative(result.stress, ref["stress"]) <= FORCE_RTOL


def test_float32_built_model_keeps_its_rounded_constants_and_says_by_how_much():
    ours = from_mace_torch(build("MPA-0, built in float32"))
    deviation = ours.constants_deviation()
    for name in ("radial.bessel_weights", "radial.agnesi_q", "zbl.c", "layer0.U.0e.nu3"):
        assert 1e-9 < deviation[name] < 1e-6, (name, deviation.get(name))  # float32 rounding, not round-off
    exact = from_mace_torch(build("MPA-0"))
    assert exact.constants_deviation() == {}  # a float64 build uses macetutor's exact constants throughout


def test_unknown_head_is_refused_with_the_available_heads():
    ours = from_mace_torch(build("fine-tune (multi-head)"))
    positions, numbers, _, _ = structures(ELEMENTS)["molecule"]
    with pytest.raises(ValueError, match=r"unknown head 'nope'.*\['pt_head', 'Default'\]"):
        ours.evaluate(positions, numbers, head="nope")
    default = ours.evaluate(positions, numbers)  # mace-torch's rule: the head named "default", any case
    assert default.energy == ours.evaluate(positions, numbers, head="Default").energy


def test_chebyshev_energies_agree_and_forces_are_the_true_gradient():
    """mace-torch's Chebyshev radial basis: energies agree to round-off, but torch.special.chebyshev_polynomial_t has
    no derivative, so mace-torch's autograd forces drop the radial-basis term; macetutor's forces are -dE/dr
    (finite differences), and differ from mace-torch's by O(1)."""
    from macetutor.interop.mace_torch import random_mace_torch_model

    torch_model = random_mace_torch_model(
        ELEMENTS, "4x0e+4x1o", 2, 3, 2, radial_type="chebyshev", r_max=3.0, num_bessel=4, radial_mlp=(8,)
    )
    ours = from_mace_torch(torch_model)
    positions, numbers, _, _ = structures(ELEMENTS)["molecule"]
    ref = evaluate_torch(torch_model, positions, numbers, None, False)
    result = ours.evaluate(positions, numbers, forces=True)
    assert abs(result.interaction_energy - ref["interaction_energy"]) <= ENERGY_RTOL * abs(ref["interaction_energy"])
    check = check_vjp(
        lambda x: np.array(ours.evaluate(x, numbers).interaction_energy),
        lambda x, g: -g * ours.evaluate(x, numbers, forces=True).forces,
        positions,
        steps=np.logspace(-2, -6, 5),
    )
    assert check.best_error < 1e-7, check.table()
    assert relative(result.forces, ref["forces"]) > 1e-2  # mace-torch's forces are not -dE/dr here


def test_a_model_built_with_cuequivariances_reduced_basis_is_mapped_onto_the_exact_U():
    """tests/data/reduced_cg/ (made by tests/data/make_reduced_cg_model.py where cuequivariance was installed): its U
    tensors have fewer paths (cuequivariance's reduced basis); the importer maps macetutor's exact U onto them by a
    linear map per path block, and the model agrees with mace-torch's stored outputs and with mace-torch live."""
    from pathlib import Path

    import torch

    folder = Path(__file__).parent / "data" / "reduced_cg"
    torch_model = torch.load(folder / "reduced_cg.model", map_location="cpu", weights_only=False).double()
    contraction = torch_model.products[0].symmetric_contractions.contractions[0]
    assert contraction.U_matrix_3.shape[-1] < 11  # the e3nn basis has 11 paths for 0e at nu = 3 (0e+1o+2e)
    ours = from_mace_torch(torch_model)
    assert ours.constants_deviation() == {}  # the reduced basis spans the same space: nothing to store
    with np.load(folder / "reduced_cg.reference.npz") as ref:
        for structure in STRUCTURES:
            p = f"{structure}/"
            pbc = bool(ref[p + "pbc"])
            cell = ref[p + "cell"] if pbc else None
            result = ours.evaluate(ref[p + "positions"], ref[p + "numbers"], cell, pbc, forces=True, stress=True)
            E = float(ref[p + "interaction_energy"])
            assert abs(result.interaction_energy - E) <= ENERGY_RTOL * abs(E)
            assert relative(result.forces, ref[p + "forces"]) <= FORCE_RTOL
            if pbc:
                assert relative(result.stress, ref[p + "stress"]) <= FORCE_RTOL
            live = evaluate_torch(torch_model, ref[p + "positions"], ref[p + "numbers"], cell, pbc)
            assert abs(live["interaction_energy"] - E) <= ENERGY_RTOL * abs(E)  # the stored outputs are mace-torch's
