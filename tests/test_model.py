"""The NumPy MACE model: symmetry of every intermediate, invariances of the energy, locality, bad input, files.

Agreement with mace-torch itself is in test_model_vs_mace_torch.py (live) and test_model_golden.py (stored values).
"""

import numpy as np
import pytest
from conftest import EQUIVARIANCE_RTOL, relative_residual

import macetutor as mt
from macetutor.cg import generalized_clebsch_gordan
from macetutor.irreps import spherical_harmonics_irreps, wigner_D_irreps
from macetutor.model import MACE, MACEConfig

CONFIG = MACEConfig(
    elements=(1, 6, 8),
    hidden_irreps="4x0e+4x1o+4x2e",
    max_ell=3,
    correlation=(3, 2),
    r_max=4.0,
    num_bessel=6,
    radial_mlp=(16, 16),
    mlp_width=8,
    avg_num_neighbors=5.0,
    atomic_energies=(-13.6, -1029.8, -2041.9),
    scale=1.1,
    shift=0.05,
)
# a non-planar molecule with all three elements
POSITIONS = np.array(
    [[0.0, 0.0, 0.0], [1.2, 0.1, -0.2], [-0.3, 1.1, 0.4], [0.4, -0.6, 1.0], [2.1, 0.9, 0.5], [1.5, -1.0, -0.7]]
)
NUMBERS = np.array([6, 8, 1, 1, 6, 1])


@pytest.fixture(scope="module")
def model():
    return MACE.init(CONFIG, seed=1)


def test_every_intermediate_is_equivariant_under_O3(model, rng):
    """A, B (every nu, every output irrep), messages and h transform with wigner_D under rotations and reflections."""
    base = model.evaluate(POSITIONS, NUMBERS)
    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        moved = model.evaluate(POSITIONS @ R.T, NUMBERS)
        assert moved.energy == pytest.approx(base.energy, rel=1e-13)
        for layer, layer_moved in zip(base.intermediates, moved.intermediates, strict=True):
            D_A = wigner_D_irreps(layer.irreps_A, R)
            D_out = wigner_D_irreps(layer.irreps_out, R)
            assert relative_residual(layer_moved.A, layer.A @ D_A.T) <= EQUIVARIANCE_RTOL
            assert relative_residual(layer_moved.message, layer.message @ D_out.T) <= EQUIVARIANCE_RTOL
            assert relative_residual(layer_moved.h, layer.h @ D_out.T) <= EQUIVARIANCE_RTOL
            for irrep in layer.irreps_out:
                key = mt.irreps.irreps_string(1, [irrep])[2:]
                D_L = wigner_D_irreps([irrep], R)
                for nu, B in layer.B[irrep].items():
                    assert relative_residual(layer_moved.B[irrep][nu], B @ D_L.T) <= EQUIVARIANCE_RTOL, (key, nu)


def test_energy_is_invariant_to_translation_and_permutation(model, rng):
    E = model.evaluate(POSITIONS, NUMBERS)
    moved = model.evaluate(POSITIONS + np.array([3.0, -7.5, 0.25]), NUMBERS)
    assert moved.energy == pytest.approx(E.energy, rel=1e-14)
    perm = rng.permutation(len(NUMBERS))
    permuted = model.evaluate(POSITIONS[perm], NUMBERS[perm])
    assert permuted.interaction_energy == pytest.approx(E.interaction_energy, rel=1e-13)
    np.testing.assert_allclose(permuted.node_energies, E.node_energies[perm], rtol=1e-13)


def test_fragments_beyond_the_receptive_field_add_up(model):
    """Two molecules farther apart than T r_max do not interact: E(A + B) = E(A) + E(B)."""
    far = np.array([0.0, 0.0, 3 * CONFIG.r_max * CONFIG.num_interactions])
    together = model.evaluate(np.vstack([POSITIONS, POSITIONS[:3] + far]), np.concatenate([NUMBERS, NUMBERS[:3]]))
    apart = model.evaluate(POSITIONS, NUMBERS).energy + model.evaluate(POSITIONS[:3], NUMBERS[:3]).energy
    assert together.energy == pytest.approx(apart, rel=1e-14)


def test_energy_bookkeeping(model):
    result = model.evaluate(POSITIONS, NUMBERS)
    E0 = np.array(CONFIG.atomic_energies)[[CONFIG.elements.index(z) for z in NUMBERS]]
    np.testing.assert_allclose(result.node_energies, E0 + result.node_interaction_energies, rtol=1e-15)
    layer_sum = sum(layer.node_energy for layer in result.intermediates)
    np.testing.assert_allclose(result.node_interaction_energies, CONFIG.scale * layer_sum + CONFIG.shift, rtol=1e-14)
    assert result.energy == pytest.approx(np.sum(result.node_energies), rel=1e-15)


def test_a_single_atom_has_only_its_self_energy_and_shift(model):
    result = model.evaluate(np.zeros((1, 3)), [8])
    layer0 = result.intermediates[0]
    assert np.all(layer0.A == 0) and all(np.all(B == 0) for B in layer0.B[0, 1].values())


@pytest.mark.parametrize("irrep_out", [(0, 1), (1, -1), (2, 1)])
@pytest.mark.parametrize("nu", [1, 2, 3])
def test_generalized_cg_is_equivariant(irrep_out, nu, rng):
    """sum_a U[M, a1..a_nu, e] prod_xi D_{a_xi b_xi} = sum_M' D^L_{M M'} U[M', b1..b_nu, e] for every path e."""
    irreps_in = spherical_harmonics_irreps(2)
    U = generalized_clebsch_gordan(irreps_in, irrep_out, nu)
    R = mt.random_rotation(rng, improper=True)
    D_in, D_out = wigner_D_irreps(irreps_in, R), wigner_D_irreps([irrep_out], R)
    letters = "abcd"[:nu]
    rotated_inputs = np.einsum(
        f"M{letters}e," + ",".join(f"{x}{x.upper()}" for x in letters) + f"->M{letters.upper()}e", U, *([D_in] * nu)
    )
    assert relative_residual(rotated_inputs, np.einsum("MN,N...->M...", D_out, U)) <= EQUIVARIANCE_RTOL


def test_generalized_cg_path_counts():
    """The number of coupling paths (eta) for A = 0e+1o+2e+3o, as mace-torch's U tensors have (docs: U_matrix shapes)."""
    sh = spherical_harmonics_irreps(3)
    counts = {(L, nu): generalized_clebsch_gordan(sh, L, nu).shape[-1] for L in [(0, 1), (1, -1)] for nu in (1, 2, 3)}
    assert counts == {
        ((0, 1), 1): 1,
        ((0, 1), 2): 4,
        ((0, 1), 3): 23,
        ((1, -1), 1): 1,
        ((1, -1), 2): 6,
        ((1, -1), 3): 51,
    }


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "model.npz"
    model.save(path)
    again = MACE.load(path)
    assert again.config == model.config
    assert again.evaluate(POSITIONS, NUMBERS).energy == model.evaluate(POSITIONS, NUMBERS).energy


def test_corrupt_truncated_and_mismatched_files_are_refused(model, tmp_path):
    """Each refusal says what the file is; none mentions pickling (macetutor never unpickles)."""
    path = tmp_path / "model.npz"
    model.save(path)
    data = path.read_bytes()
    cases = {
        "truncated.npz": (data[: len(data) // 2], "truncated or damaged zip archive"),
        "garbage.npz": (b"\x00\x01this is not a zip file\xff", "not a zip archive"),
        "notes.npz": (b"some text\n", "is a text file"),
        "torch.model": (b"\x80\x04\x95 a serialised object", "convert a mace-torch model with `macetutor convert"),
    }
    for name, (content, match) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=match) as info:
            MACE.load(tmp_path / name)
        assert "pickl" not in str(info.value)
    with pytest.raises(ValueError, match="no such file"):
        MACE.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(ValueError, match="no __metadata__"):
        MACE.load(tmp_path / "foreign.npz")
    np.savez(tmp_path / "objects.npz", __metadata__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="holds Python objects, which macetutor never loads") as info:
        MACE.load(tmp_path / "objects.npz")
    assert "allow_pickle" not in str(info.value)
    params = dict(model.parameters)
    params["layer0.linear.0"] = np.ones((3, 3))
    with pytest.raises(ValueError, match="has shape"):
        MACE(model.config, params)
    params = dict(model.parameters)
    del params["embedding"]
    with pytest.raises(ValueError, match="missing"):
        MACE(model.config, params)
    import json

    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__metadata__"]))
    meta["version"] = 99
    arrays["__metadata__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match="version 99 is not supported"):
        MACE.load(tmp_path / "future.npz")
    meta["version"] = 1
    meta["config"]["hidden_irreps"] = "8x0e+8x1o"
    arrays["__metadata__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "mismatched.npz", **arrays)
    with pytest.raises(ValueError, match="does not match its configuration"):
        MACE.load(tmp_path / "mismatched.npz")


@pytest.mark.parametrize(
    "positions, numbers, kwargs, match",
    [
        (POSITIONS, np.array([6, 8, 1, 1, 6, 26]), {}, r"atomic number \[26\]"),
        (np.vstack([POSITIONS[:2], POSITIONS[:1] + 1e-9]), np.array([6, 8, 1]), {}, "closer than"),
        (np.where(np.arange(18).reshape(6, 3) == 4, np.nan, POSITIONS), NUMBERS, {}, "NaN"),
        (np.where(np.arange(18).reshape(6, 3) == 4, np.inf, POSITIONS), NUMBERS, {}, "inf"),
        (POSITIONS[:, :2], NUMBERS, {}, "shape"),
        (POSITIONS, NUMBERS[:5], {}, "shape"),
        (POSITIONS, NUMBERS, {"cell": np.zeros((3, 3)), "pbc": True}, "volume"),
        (POSITIONS, NUMBERS.astype(float), {}, "atomic numbers"),
    ],
    ids=[
        "unknown-element",
        "overlapping",
        "nan",
        "inf",
        "bad-shape",
        "length-mismatch",
        "zero-volume-cell",
        "float-numbers",
    ],
)
def test_bad_input_gives_a_clear_error(model, positions, numbers, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model.evaluate(positions, numbers, **kwargs)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="same multiplicity"):
        MACEConfig(elements=(1,), hidden_irreps="4x0e+8x1o", atomic_energies=(0.0,))
    with pytest.raises(ValueError, match="start with scalars"):
        MACEConfig(elements=(1,), hidden_irreps="4x1o+4x0e", atomic_energies=(0.0,))
    with pytest.raises(ValueError, match="one atomic energy"):
        MACEConfig(elements=(1, 6), atomic_energies=(0.0,))


def test_reference_dump_holds_every_intermediate(model, tmp_path):
    import json

    path = tmp_path / "ref.npz"
    index = mt.reference.dump(model, POSITIONS, NUMBERS, path=path)
    result = model.evaluate(POSITIONS, NUMBERS)
    with np.load(path) as data:
        assert json.loads(str(data["index"])) == index
        assert set(index) <= set(data.files)
        np.testing.assert_array_equal(data["layer0/A"], result.intermediates[0].A)
        np.testing.assert_array_equal(data["layer1/B/0e/nu2"], result.intermediates[1].B[0, 1][2])
        np.testing.assert_array_equal(data["layer1/h"], result.intermediates[1].h)
        assert float(data["energy"]) == result.energy
        # B is U contracted with nu copies of A (eq. 10): check one entry from the stored arrays alone
        U, A = data["U/layer0/1o/nu2"], data["layer0/A"]
        B = np.einsum("Mabe,ika,ikb->ikeM", U, A, A)
        np.testing.assert_allclose(data["layer0/B/1o/nu2"], B, rtol=1e-13, atol=1e-13)


def test_a_file_written_before_the_typed_weights_still_loads():
    """tests/data/legacy/A_default_like.written_by_f421cf5.model.npz was written (commit f421cf5) before the weights
    became typed structures and before the published-architecture options (its configuration still says
    ``first_layer_residual``): it loads, every named array lands in the typed structure, and the names come back."""
    from pathlib import Path

    path = Path(__file__).parent / "data" / "legacy" / "A_default_like.written_by_f421cf5.model.npz"
    with np.load(path) as data:
        stored = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("parameters/")}
    model = MACE.load(path)
    named = model.weights.named()
    assert set(named) == set(stored) == set(model.parameters)
    for name, value in named.items():
        assert value is model.parameters[name]  # the typed structure holds the very arrays of the mapping
        np.testing.assert_array_equal(value, stored[name])
    assert model.weights.layers[1].products[0].W[2] is model.parameters["layer1.product.0e.nu3"]
    assert model.config.interaction_first == "RealAgnosticInteractionBlock"  # first_layer_residual: false
