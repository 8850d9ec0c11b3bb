"""macetutor against the installed mace-torch (the `verify` extra; CI installs it): 5 architectures x 5 structures,
interaction energy and node features of every layer to <= 1e-10 relative in float64; unsupported models refused."""

import numpy as np
import pytest
from mace_torch_models import ARCHITECTURES, build, evaluate_torch, structures

pytest.importorskip("mace", reason="needs the `verify` extra (torch, mace-torch)")
pytest.importorskip("ase", reason="needs the `verify` extra (ase)")

from macetutor.interop import from_mace_torch  # noqa: E402
from macetutor.interop.mace_torch import UnsupportedModelError  # noqa: E402
from macetutor.irreps import to_e3nn_layout  # noqa: E402

pytestmark = pytest.mark.verify
RTOL = 1e-10


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def pair(request):
    torch_model = build(request.param)
    return request.param, torch_model, from_mace_torch(torch_model)


@pytest.mark.parametrize(
    "structure", ["molecule", "small_periodic_crystal", "triclinic", "single_atom", "isolated_atom"]
)
def test_energy_and_every_layer_agree(pair, structure):
    name, torch_model, ours = pair
    positions, numbers, cell, pbc = structures(ARCHITECTURES[name]["elements"])[structure]
    ref = evaluate_torch(torch_model, positions, numbers, cell, pbc)
    result = ours.evaluate(positions, numbers, cell, pbc, forces=True, stress=True)
    if np.max(np.abs(ref["forces"])) > 0:
        force_error = np.max(np.abs(result.forces - ref["forces"])) / np.max(np.abs(ref["forces"]))
        print(f"{name} {structure}: relative force error {force_error:.2e}")
        assert force_error <= 1e-9
    if "stress" in ref:
        assert np.max(np.abs(result.stress - ref["stress"])) <= 1e-9 * np.max(np.abs(ref["stress"]))
    error = abs(result.interaction_energy - ref["interaction_energy"]) / max(abs(ref["interaction_energy"]), 1e-12)
    print(f"{name} {structure}: relative energy error {error:.2e}")
    assert error <= RTOL
    for t, layer in enumerate(result.intermediates):
        A = to_e3nn_layout(layer.A, layer.irreps_A)
        A_ref = ref["A"][t].reshape(len(A), -1)  # mace-torch returns A as (n, C, D): compare in (n, C, D) order
        A_ours = layer.A.reshape(len(A), -1)
        assert np.max(np.abs(A_ours - A_ref)) <= RTOL * max(np.max(np.abs(A_ref)), 1e-12)
        h = to_e3nn_layout(layer.h, layer.irreps_out)
        assert np.max(np.abs(h - ref["h"][t])) <= RTOL * max(np.max(np.abs(ref["h"][t])), 1e-12)


def test_the_product_weights_map_is_a_signed_identity_and_U_counts_match(pair):
    """macetutor's U tensors are mace-torch's, path by path, up to a sign: count the paths per (irreps, L, nu)."""
    from macetutor.cg import generalized_clebsch_gordan
    from macetutor.model import layer_shapes

    _, torch_model, ours = pair
    for t, prod in enumerate(torch_model.products):
        s = layer_shapes(ours.config, t)
        for irrep, contraction in zip(s.irreps_out, prod.symmetric_contractions.contractions, strict=True):
            for nu in range(1, contraction.correlation + 1):
                U_torch = getattr(contraction, f"U_matrix_{nu}").numpy()
                U_ours = generalized_clebsch_gordan(s.irreps_A, irrep, nu)
                assert U_ours.shape[-1] == U_torch.shape[-1]
                ours_flat, torch_flat = U_ours.reshape(-1, U_ours.shape[-1]), U_torch.reshape(-1, U_torch.shape[-1])
                signs = np.sign(np.sum(ours_flat * torch_flat, axis=0))
                np.testing.assert_allclose(ours_flat * signs, torch_flat, atol=1e-14)


def test_a_float32_built_model_is_imported(capsys):
    """A model built in float32 keeps float32-rounded constants (U, E0...): agreement is then ~1e-7, not round-off."""
    torch_model = build("B_l2_block", dtype="float32").double()
    ours = from_mace_torch(torch_model)
    positions, numbers, cell, pbc = structures(ARCHITECTURES["B_l2_block"]["elements"])["molecule"]
    ref = evaluate_torch(torch_model, positions, numbers, cell, pbc)
    error = abs(ours.evaluate(positions, numbers).interaction_energy - ref["interaction_energy"])
    print(f"float32-built model: relative energy error {error / abs(ref['interaction_energy']):.2e}")
    assert error / abs(ref["interaction_energy"]) < 1e-5


@pytest.mark.parametrize("block", ["RealAgnosticAttResidualInteractionBlock"])
def test_unsupported_interaction_blocks_are_refused_by_name(block):
    import torch
    from e3nn import o3
    from mace import modules

    torch.set_default_dtype(torch.float64)
    try:
        model = modules.MACE(
            r_max=4.0,
            num_bessel=4,
            num_polynomial_cutoff=5,
            max_ell=1,
            interaction_cls=modules.interaction_classes[block],
            interaction_cls_first=modules.interaction_classes[block],
            num_interactions=2,
            num_elements=1,
            hidden_irreps=o3.Irreps("4x0e+4x1o"),
            MLP_irreps=o3.Irreps("4x0e"),
            atomic_energies=np.zeros(1),
            avg_num_neighbors=3.0,
            atomic_numbers=[1],
            correlation=2,
            gate=torch.nn.functional.silu,
        )
    except Exception as err:  # noqa: BLE001  (some blocks need extra arguments in some versions)
        pytest.skip(f"could not build a {block} model: {err}")
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(UnsupportedModelError, match=block):
        from_mace_torch(model)


def test_convert_command_writes_a_model_that_reproduces_mace_torch(tmp_path, capsys):
    import torch

    from macetutor import cli
    from macetutor.model import MACE

    torch_model = build("A_default_like")
    torch.save(torch_model, tmp_path / "MACE.model")
    assert cli.main(["convert", str(tmp_path / "MACE.model"), str(tmp_path / "out.npz")]) == 0
    assert "wrote" in capsys.readouterr().out
    positions, numbers, cell, pbc = structures(ARCHITECTURES["A_default_like"]["elements"])["triclinic"]
    ref = evaluate_torch(torch_model, positions, numbers, cell, pbc)
    ours = MACE.load(tmp_path / "out.npz").evaluate(positions, numbers, cell, pbc)
    assert abs(ours.interaction_energy - ref["interaction_energy"]) <= RTOL * abs(ref["interaction_energy"])


def test_verify_command_prints_the_table_and_sets_the_exit_code(tmp_path, capsys):
    import ase.io
    import torch
    from ase import Atoms

    from macetutor import cli

    torch_model = build("B_l2_block")
    torch.save(torch_model, tmp_path / "MACE.model")
    positions, numbers, cell, pbc = structures(ARCHITECTURES["B_l2_block"]["elements"])["triclinic"]
    ase.io.write(tmp_path / "s.extxyz", Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc))
    assert cli.main(["verify", str(tmp_path / "MACE.model"), str(tmp_path / "s.extxyz")]) == 0
    out = capsys.readouterr().out
    for block in (
        "interaction energy",
        "layer 1: A (eq. 8)",
        "layer 1: h (eq. 12)",
        "forces",
        "stress",
        "all blocks agree",
    ):
        assert block in out
    # an impossible tolerance must fail
    assert cli.main(["verify", str(tmp_path / "MACE.model"), str(tmp_path / "s.extxyz"), "--tolerance", "0"]) == 1
