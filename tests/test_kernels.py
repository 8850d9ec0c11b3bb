"""The numba backend equals the NumPy specification (<= 1e-12), intermediates, energy, forces and stress."""

from pathlib import Path

import numpy as np
import pytest
from test_model import CONFIG, NUMBERS, POSITIONS

from macetutor import kernels
from macetutor.cg import generalized_clebsch_gordan
from macetutor.irreps import spherical_harmonics_irreps
from macetutor.model import MACE, MACEConfig

KERNEL_RTOL = 1e-12


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("nu", [1, 2, 3, 4])
def test_symmetric_terms_reproduce_the_dense_contraction(nu, rng):
    irreps = spherical_harmonics_irreps(2)
    A = rng.standard_normal((4, 3, 9))
    for irrep in [(0, 1), (1, -1), (2, 1)]:
        U = generalized_clebsch_gordan(irreps, irrep, nu)
        if U.shape[-1] == 0:
            continue
        dense = np.einsum("M" + "abcd"[:nu] + "e," + ",".join(f"ik{x}" for x in "abcd"[:nu]) + "->ikeM", U, *([A] * nu))
        factors, M_of, values = kernels.symmetric_terms(U)
        sparse = np.zeros_like(dense)
        for t in range(len(M_of)):
            sparse[:, :, :, M_of[t]] += np.prod(A[:, :, factors[t]], axis=-1)[:, :, None] * values[t]
        assert rel(sparse, dense) <= KERNEL_RTOL


@pytest.mark.parametrize("periodic", [False, True])
def test_numba_backend_equals_numpy_backend(periodic):
    model = MACE.init(CONFIG, seed=2)
    cell = np.array([[5.5, 0.0, 0.0], [0.8, 6.0, 0.0], [0.3, 0.5, 6.2]]) if periodic else None
    kwargs = dict(cell=cell, pbc=periodic, forces=True, stress=True)
    spec = model.evaluate(POSITIONS, NUMBERS, **kwargs)
    fast = model.evaluate(POSITIONS, NUMBERS, backend="numba", **kwargs)
    assert abs(fast.energy - spec.energy) <= KERNEL_RTOL * abs(spec.energy)
    assert rel(fast.forces, spec.forces) <= KERNEL_RTOL
    if periodic:
        assert rel(fast.stress, spec.stress) <= KERNEL_RTOL
    for a, b in zip(fast.intermediates, spec.intermediates, strict=True):
        for key in ("A", "message", "h"):
            assert rel(getattr(a, key), getattr(b, key)) <= KERNEL_RTOL, key
        assert a.B is None  # the folded kernels never form B


def test_numba_backend_on_a_one_element_three_layer_model():
    config = MACEConfig(
        elements=(29,),
        hidden_irreps="3x0e+3x1o",
        max_ell=2,
        correlation=(1, 2, 3),
        r_max=3.5,
        num_bessel=4,
        radial_mlp=(8,),
        mlp_width=4,
        avg_num_neighbors=6.0,
        atomic_energies=(-1.0,),
    )
    model = MACE.init(config, seed=3)
    a = 3.61
    positions = a * np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    positions = positions + 0.05 * np.random.default_rng(5).standard_normal(positions.shape)  # rattled: F != 0
    spec = model.evaluate(positions, [29] * 4, a * np.eye(3), True, forces=True, stress=True)
    fast = model.evaluate(positions, [29] * 4, a * np.eye(3), True, forces=True, stress=True, backend="numba")
    assert abs(fast.energy - spec.energy) <= KERNEL_RTOL * abs(spec.energy)
    assert rel(fast.forces, spec.forces) <= KERNEL_RTOL and rel(fast.stress, spec.stress) <= KERNEL_RTOL


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be"):
        MACE.init(CONFIG).evaluate(POSITIONS, NUMBERS, backend="cuda")


def test_edge_kernels_equal_the_numpy_harmonics_and_radial_basis(rng):
    import macetutor as mt
    from macetutor import radial

    vectors = rng.standard_normal((50, 3)) * 2.0
    for l_max in (0, 1, 3, 6):
        Y, dY = kernels.spherical_harmonics_with_gradient(list(range(l_max + 1)), vectors)
        Y_ref, dY_ref = mt.spherical_harmonics_with_gradient(list(range(l_max + 1)), vectors)
        assert rel(Y, Y_ref) <= KERNEL_RTOL and rel(dY, dY_ref) <= KERNEL_RTOL
    r = np.linalg.norm(vectors, axis=1)
    Z = np.ones(len(r), dtype=int)
    out, dout, _, _ = kernels.radial_features(radial.RadialBasis("bessel", 4.0, 6, 5, True), r, Z, Z)
    b, f = radial.bessel_basis(r, 4.0, 6), radial.polynomial_envelope(r, 4.0, 5)
    db, df = radial.bessel_basis_derivative(r, 4.0, 6), radial.polynomial_envelope_derivative(r, 4.0, 5)
    assert rel(out, b * f[:, None]) <= KERNEL_RTOL and rel(dout, db * f[:, None] + b * df[:, None]) <= KERNEL_RTOL


@pytest.mark.parametrize("parallel_min_rows", [0, 10**9], ids=["parallel", "serial"])
def test_serial_and_parallel_kernel_variants_agree_with_numpy(monkeypatch, parallel_min_rows):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_ROWS", parallel_min_rows)
    model = MACE.init(CONFIG, seed=4)
    cell = np.array([[5.5, 0.0, 0.0], [0.8, 6.0, 0.0], [0.3, 0.5, 6.2]])
    spec = model.evaluate(POSITIONS, NUMBERS, cell, True, forces=True, stress=True)
    fast = model.evaluate(POSITIONS, NUMBERS, cell, True, forces=True, stress=True, backend="numba")
    assert abs(fast.energy - spec.energy) <= KERNEL_RTOL * abs(spec.energy)
    assert rel(fast.forces, spec.forces) <= KERNEL_RTOL and rel(fast.stress, spec.stress) <= KERNEL_RTOL


def test_parameters_are_read_only(rng):
    model = MACE.init(CONFIG, seed=4)
    with pytest.raises(ValueError):
        model.parameters["embedding"][0, 0] = 1.0
    with pytest.raises(TypeError):
        model.parameters["embedding"] = np.zeros((3, 4))


@pytest.mark.parametrize("case", ["molecule", "small_cell", "triclinic", "slab", "sparse_box"])
def test_cell_list_neighbour_search_equals_the_kdtree(case, rng):
    from macetutor.neighbors import neighbor_list

    if case == "molecule":
        positions, cell, pbc = rng.uniform(0, 6, (40, 3)), None, False
    elif case == "small_cell":  # a cell smaller than the cutoff: many images
        positions, cell, pbc = rng.uniform(0, 2.5, (3, 3)), 2.5 * np.eye(3), True
    elif case == "triclinic":
        cell = np.array([[4.2, 0.0, 0.0], [1.1, 3.9, 0.0], [0.7, 0.9, 4.4]])
        positions, pbc = rng.uniform(0, 1, (12, 3)) @ cell, True
    elif case == "slab":
        cell = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
        positions, pbc = rng.uniform(0, 5, (10, 3)), [True, True, False]
    else:  # a few atoms far apart in a big empty region
        positions, cell, pbc = np.array([[0.0, 0, 0], [1.0, 0, 0], [40.0, 0, 0], [40.0, 30.0, 0]]), None, False
    reference = neighbor_list(positions, 4.0, cell, pbc, method="kdtree")
    cells = neighbor_list(positions, 4.0, cell, pbc, method="cells")
    for a, b in zip(reference, cells, strict=True):
        np.testing.assert_array_equal(a, b)  # same edges, same (sorted) order


FAMILY_FILES = sorted((Path(__file__).parent / "data" / "mace_torch_golden").glob("family_*.model.npz"))


@pytest.mark.parametrize("path", FAMILY_FILES, ids=[p.name.split(".")[0] for p in FAMILY_FILES])
def test_numba_backend_equals_numpy_on_every_published_family(path):
    """The published architectures (density, non-linear blocks, ZBL, Agnesi, heads, charge/spin...) through the
    numba backend: the same numbers as the NumPy specification (<= 1e-12), periodic cell included."""
    from test_model_golden import structures_of

    model = MACE.load(path)
    for positions, numbers, cell, pbc in structures_of(path):
        kwargs = dict(cell=cell, pbc=pbc, forces=True, stress=True, head=model.config.heads[0])
        spec, fast = (
            model.evaluate(positions, numbers, **kwargs),
            model.evaluate(positions, numbers, backend="numba", **kwargs),
        )
        assert abs(fast.energy - spec.energy) <= KERNEL_RTOL * abs(spec.energy)
        if np.any(spec.forces):
            assert rel(fast.forces, spec.forces) <= KERNEL_RTOL
        if spec.stress is not None:
            assert rel(fast.stress, spec.stress) <= KERNEL_RTOL


def test_the_parallel_threshold_comes_from_the_environment(monkeypatch):
    """Off ("never") unless MACETUTOR_PARALLEL_MIN_ROWS sets it; a value that is not a number is refused by name."""
    monkeypatch.delenv("MACETUTOR_PARALLEL_MIN_ROWS", raising=False)
    assert kernels._parallel_min_rows() == 2**62
    monkeypatch.setenv("MACETUTOR_PARALLEL_MIN_ROWS", "512")
    assert kernels._parallel_min_rows() == 512
    monkeypatch.setenv("MACETUTOR_PARALLEL_MIN_ROWS", "many")
    with pytest.raises(ValueError, match="MACETUTOR_PARALLEL_MIN_ROWS must be a whole number of atoms, got 'many'"):
        kernels._parallel_min_rows()
