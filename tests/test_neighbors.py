"""Neighbour list: the edge set (i, j, S) equals ASE's primitive_neighbor_list for molecules, crystals,
cells smaller than the cutoff, triclinic and mixed-pbc cells and atoms outside the cell; edge vectors;
linear scaling; and clear errors for bad input."""

import time

import numpy as np
import pytest

from macetutor.neighbors import neighbor_list

CU_A = 3.61  # fcc Cu lattice constant (Å)


def ase_edges(positions, r_max, cell, pbc):
    """ASE's reference: (i, j, S, D) with D = r_j - r_i + S @ cell, self-edges with S = 0 excluded."""
    neighborlist = pytest.importorskip("ase.neighborlist", reason="ASE is needed as the reference neighbour list")
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=float)
    i, j, S, D = neighborlist.primitive_neighbor_list(
        "ijSD", pbc, cell, np.asarray(positions, dtype=float), cutoff=r_max, self_interaction=False
    )
    return i, j, S, D


def as_set(i, j, S):
    return {(int(a), int(b), *map(int, s)) for a, b, s in zip(i, j, S, strict=True)}


def check_against_ase(positions, r_max, cell=None, pbc=False):
    """Same edge set as ASE, consistent arrays, sorted, vectors shorter than r_max and equal to ASE's D."""
    senders, receivers, shifts, unit_shifts = neighbor_list(positions, r_max, cell=cell, pbc=pbc)
    n_edges = len(senders)
    assert senders.dtype == receivers.dtype == unit_shifts.dtype == np.int64
    assert shifts.dtype == np.float64
    assert senders.shape == receivers.shape == (n_edges,)
    assert shifts.shape == unit_shifts.shape == (n_edges, 3)

    i, j, S, D = ase_edges(positions, r_max, cell, pbc)
    ours = as_set(senders, receivers, unit_shifts)
    assert len(ours) == n_edges, "duplicate edges"
    reference = as_set(i, j, S)
    assert ours == reference, f"missing {sorted(reference - ours)[:5]}, extra {sorted(ours - reference)[:5]}"

    # shifts = S @ cell, and S is zero in non-periodic directions
    pbc3 = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    assert np.all(unit_shifts[:, ~pbc3] == 0)
    if cell is not None:
        np.testing.assert_allclose(shifts, unit_shifts @ np.asarray(cell, dtype=float), rtol=0, atol=1e-12)

    # edge vectors: shorter than r_max, equal to ASE's D for the same (i, j, S)
    positions = np.asarray(positions, dtype=float)
    vectors = positions[receivers] - positions[senders] + shifts  # (n_edges, 3)
    assert np.all(np.linalg.norm(vectors, axis=1) < r_max)
    ase_order = np.lexsort((S[:, 2], S[:, 1], S[:, 0], i, j))
    np.testing.assert_allclose(vectors, D[ase_order], rtol=0, atol=1e-10)

    # sorted by receiver, then sender, then unit shift; both directions present
    keys = np.column_stack([receivers, senders, unit_shifts])  # (n_edges, 5)
    assert [tuple(k) for k in keys] == sorted(tuple(k) for k in keys)
    assert as_set(receivers, senders, -unit_shifts) == ours
    return senders, receivers, shifts, unit_shifts


def fcc_cu(repeats, rng=None, rattle=0.0):
    basis = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])  # conventional fcc cell
    grid = np.array([[a, b, c] for a in range(repeats) for b in range(repeats) for c in range(repeats)])
    positions = CU_A * (grid[:, None, :] + basis[None, :, :]).reshape(-1, 3)  # (4 repeats^3, 3)
    if rattle:
        positions = positions + rattle * rng.standard_normal(positions.shape)
    return positions, CU_A * repeats * np.eye(3)


# --------------------------------------------------------------------------------------------
# agreement with ASE
# --------------------------------------------------------------------------------------------


def test_molecule_with_open_boundaries(rng):
    positions = rng.uniform(-3.0, 3.0, size=(20, 3))
    senders, *_ = check_against_ase(positions, 2.5)
    assert len(senders) > 0


def test_molecule_ignores_a_given_cell_when_not_periodic(rng):
    positions = rng.uniform(-3.0, 3.0, size=(20, 3))
    with_cell = neighbor_list(positions, 2.5, cell=2.0 * np.eye(3), pbc=False)
    without = neighbor_list(positions, 2.5)
    for a, b in zip(with_cell, without, strict=True):
        np.testing.assert_array_equal(a, b)


def test_rattled_fcc_copper(rng):
    positions, cell = fcc_cu(2, rng, rattle=0.05)
    senders, receivers, _, unit_shifts = check_against_ase(positions, 5.0, cell, True)
    assert len(positions) == 32
    # 12 + 6 + 24 + 12 neighbours within 5 Å of perfect fcc Cu (shells at 2.55, 3.61, 4.42, 5.11 Å)
    assert 40 <= len(senders) / len(positions) <= 50
    assert np.any(unit_shifts != 0)


def test_perfect_fcc_copper_coordination():
    positions, cell = fcc_cu(2)
    senders, receivers, _, _ = neighbor_list(positions, 4.0, cell, True)  # shells at 2.55 and 3.61 Å
    assert np.all(np.bincount(receivers, minlength=len(positions)) == 12 + 6)
    assert np.all(np.bincount(senders, minlength=len(positions)) == 12 + 6)


def test_cell_smaller_than_cutoff_bcc_primitive():
    """One atom, primitive bcc cell (a = 2.87), r_max = 6: many images of the same atom."""
    a = 2.87
    cell = 0.5 * a * np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]])
    senders, receivers, _, unit_shifts = check_against_ase(np.zeros((1, 3)), 6.0, cell, True)
    assert np.all(senders == 0) and np.all(receivers == 0)
    # bcc shells below 6 Å (a = 2.87): 8, 6, 12, 24, 8, 6 = 64 neighbours (at 2.49, 2.87, 4.06, 4.76, 4.97, 5.74 Å)
    assert len(senders) == 64
    assert np.abs(unit_shifts).max() >= 2  # needs more than one image per direction


def test_several_atoms_in_a_cell_smaller_than_cutoff(rng):
    cell = np.array([[2.1, 0.0, 0.0], [0.4, 1.9, 0.0], [0.3, -0.5, 2.3]])
    positions = rng.uniform(0, 1, size=(3, 3)) @ cell
    check_against_ase(positions, 5.5, cell, True)


def test_triclinic_cell(rng):
    cell = np.array([[5.0, 0.0, 0.0], [2.3, 4.6, 0.0], [-1.4, 1.9, 4.8]])
    positions = rng.uniform(0, 1, size=(25, 3)) @ cell
    check_against_ase(positions, 4.0, cell, True)


def test_very_skewed_triclinic_cell(rng):
    cell = np.array([[6.0, 0.0, 0.0], [5.5, 1.5, 0.0], [5.0, 1.0, 1.2]])
    positions = rng.uniform(0, 1, size=(6, 3)) @ cell
    check_against_ase(positions, 3.5, cell, True)


@pytest.mark.parametrize("pbc", [(True, True, False), (False, True, False), (True, False, True)])
def test_mixed_pbc_slab(rng, pbc):
    cell = np.array([[6.0, 0.0, 0.0], [1.5, 5.5, 0.0], [0.0, 0.0, 20.0]])
    positions = rng.uniform(0, 1, size=(20, 3)) @ cell
    positions[:, 2] = rng.uniform(5.0, 11.0, size=20)  # a slab in the middle of the vacuum
    check_against_ase(positions, 4.0, cell, pbc)


def test_slab_with_zero_cell_row_in_the_open_direction(rng):
    """The non-periodic cell row may be zero; the result equals the one with any other row there."""
    cell = np.array([[4.0, 0.0, 0.0], [0.0, 4.5, 0.0], [0.0, 0.0, 0.0]])
    positions = rng.uniform(0, 4.0, size=(8, 3))
    ours = neighbor_list(positions, 5.0, cell, (True, True, False))
    reference_cell = cell.copy()
    reference_cell[2] = [0.3, 0.2, 17.0]
    check_against_ase(positions, 5.0, reference_cell, (True, True, False))
    other = neighbor_list(positions, 5.0, reference_cell, (True, True, False))
    for a, b in zip(ours, other, strict=True):
        np.testing.assert_array_equal(a, b)


def test_atoms_outside_the_cell(rng):
    """Unit shifts refer to the positions as given, not to wrapped ones."""
    cell = np.array([[5.0, 0.0, 0.0], [1.0, 5.0, 0.0], [0.5, 0.5, 5.0]])
    frac = rng.uniform(0, 1, size=(15, 3)) + rng.integers(-3, 4, size=(15, 3))
    positions = frac @ cell
    check_against_ase(positions, 4.5, cell, True)
    check_against_ase(positions, 4.5, cell, (True, False, True))


def test_isolated_atom_has_no_edges(rng):
    positions = np.vstack([rng.uniform(0, 3, size=(6, 3)), [[50.0, 50.0, 50.0]]])
    senders, receivers, _, _ = check_against_ase(positions, 3.0)
    assert 6 not in senders and 6 not in receivers


def test_isolated_atom_in_a_large_periodic_box(rng):
    positions = np.vstack([rng.uniform(0, 3, size=(6, 3)), [[12.0, 12.0, 12.0]]])
    senders, receivers, _, _ = check_against_ase(positions, 3.0, 20.0 * np.eye(3), True)
    assert 6 not in senders and 6 not in receivers


def test_single_atom_in_a_periodic_box_sees_its_images():
    senders, receivers, shifts, unit_shifts = check_against_ase([[0.3, 0.2, 0.1]], 3.0, 2.0 * np.eye(3), True)
    assert np.all(senders == 0) and np.all(receivers == 0)
    assert len(senders) == 6 + 12  # images at 2 and 2 sqrt(2) Å; 2 sqrt(3) > 3
    assert not np.any(np.all(unit_shifts == 0, axis=1))


@pytest.mark.parametrize("n_atoms", [0, 1])
def test_zero_or_one_atom_without_pbc(n_atoms):
    senders, receivers, shifts, unit_shifts = neighbor_list(np.zeros((n_atoms, 3)), 5.0)
    assert senders.shape == receivers.shape == (0,)
    assert shifts.shape == unit_shifts.shape == (0, 3)
    assert senders.dtype == receivers.dtype == unit_shifts.dtype == np.int64


def test_no_atoms_in_a_periodic_box():
    senders, _, shifts, unit_shifts = neighbor_list(np.zeros((0, 3)), 5.0, 3.0 * np.eye(3), True)
    assert senders.shape == (0,) and shifts.shape == unit_shifts.shape == (0, 3)


def test_cutoff_is_strict():
    positions = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]])
    assert len(neighbor_list(positions, 1.5)[0]) == 0
    assert len(neighbor_list(positions, 1.5 + 1e-9)[0]) == 2


def test_accepts_lists_and_numpy_bools(rng):
    positions, cell = fcc_cu(1)
    a = neighbor_list(positions.tolist(), 3.0, cell.tolist(), [True, True, True])
    b = neighbor_list(positions, 3.0, cell, np.array([True, True, True]))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------------------------
# scaling
# --------------------------------------------------------------------------------------------

DENSITY = 0.085  # atoms / Å^3, like liquid copper
GAS_R_MAX = 5.0


def random_gas(n_atoms, seed=0):
    rng = np.random.default_rng(seed)
    length = (n_atoms / DENSITY) ** (1 / 3)
    return rng.uniform(0, length, size=(n_atoms, 3)), length * np.eye(3)


def interleaved_best_times(systems, rounds):
    """Fastest of `rounds` runs of each system, alternating between them so that load from other
    processes affects all of them alike."""
    best = [np.inf] * len(systems)
    for _ in range(rounds):
        for index, (positions, cell) in enumerate(systems):
            start = time.perf_counter()
            neighbor_list(positions, GAS_R_MAX, cell, True)
            best[index] = min(best[index], time.perf_counter() - start)
    return best


@pytest.mark.slow
def test_runtime_scales_linearly():
    """8x the atoms at fixed density: linear scaling takes ~8x as long (measured 8-10x; the final sort is
    O(e log e)), an O(N^2) pair search ~64x. The bound 20x leaves room for a noisy machine."""
    t_small, t_large = interleaved_best_times([random_gas(500), random_gas(4000)], rounds=7)
    assert t_large / t_small < 20.0, f"500 atoms: {t_small:.4f} s, 4000 atoms: {t_large:.4f} s"


def test_random_gas_against_ase():
    positions, cell = random_gas(300, seed=1)
    check_against_ase(positions, GAS_R_MAX, cell, True)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("positions", [np.zeros(3), np.zeros((4, 2)), np.zeros((2, 3, 1))])
def test_wrong_position_shape(positions):
    with pytest.raises(ValueError, match=r"positions must have shape \(n_atoms, 3\)"):
        neighbor_list(positions, 3.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_positions(bad):
    positions = np.zeros((3, 3))
    positions[1] = [1.0, 2.0, 0.0]
    positions[2, 1] = bad
    with pytest.raises(ValueError, match=r"positions must be finite; atoms \[2\]"):
        neighbor_list(positions, 3.0)


@pytest.mark.parametrize("r_max", [0.0, -1.0, np.nan, np.inf])
def test_bad_cutoff(r_max):
    with pytest.raises(ValueError, match="r_max must be finite and > 0"):
        neighbor_list(np.zeros((2, 3)) + [[0, 0, 0], [1, 0, 0]], r_max)


def test_cutoff_must_be_scalar():
    with pytest.raises(ValueError, match="r_max must be a scalar"):
        neighbor_list(np.zeros((1, 3)), [3.0, 4.0])


@pytest.mark.parametrize("cell", [np.eye(2), np.zeros(3), np.zeros((3, 4))])
def test_wrong_cell_shape(cell):
    with pytest.raises(ValueError, match=r"cell must have shape \(3, 3\)"):
        neighbor_list(np.zeros((1, 3)), 3.0, cell, True)


@pytest.mark.parametrize("pbc", [(True, False), "yes", (1, 0, 1)])
def test_wrong_pbc(pbc):
    with pytest.raises(ValueError, match="pbc must be a bool or 3 bools"):
        neighbor_list(np.zeros((1, 3)), 3.0, np.eye(3), pbc)


def test_periodic_without_cell():
    with pytest.raises(ValueError, match="a \\(3, 3\\) cell is required"):
        neighbor_list(np.zeros((1, 3)), 3.0, None, (True, False, False))


@pytest.mark.parametrize("pbc", [True, False, (True, True, False)])
def test_cell_with_nan(pbc):
    cell = 4.0 * np.eye(3)
    cell[2, 2] = np.nan
    with pytest.raises(ValueError, match="cell must be finite"):
        neighbor_list(np.zeros((1, 3)), 3.0, cell, pbc)


@pytest.mark.parametrize(
    "cell, pbc",
    [
        (np.zeros((3, 3)), True),
        (np.diag([4.0, 4.0, 0.0]), True),
        (np.array([[4.0, 0, 0], [0, 4.0, 0], [4.0, 4.0, 0]]), True),  # coplanar
        (np.array([[4.0, 0, 0], [0, 4.0, 0], [4.0, 4.0, 1e-12]]), True),  # nearly coplanar
        (np.array([[4.0, 0, 0], [8.0, 0, 0], [0, 0, 0]]), (True, True, False)),  # parallel in-plane vectors
        (np.diag([4.0, 0.0, 4.0]), (True, True, False)),  # zero periodic vector
    ],
)
def test_degenerate_periodic_cell(cell, pbc):
    with pytest.raises(ValueError, match=r"linearly dependent: their \d-dimensional volume is"):
        neighbor_list(np.zeros((1, 3)), 3.0, cell, pbc)


def test_zero_cell_row_is_fine_in_an_open_direction():
    senders, *_ = neighbor_list(np.zeros((1, 3)), 3.0, np.diag([2.0, 2.0, 0.0]), (True, True, False))
    assert len(senders) == 8  # 4 images at 2 Å, 4 at 2 sqrt(2) Å


def test_overlapping_atoms():
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1e-9]])
    with pytest.raises(ValueError, match=r"atoms 1 and 2 are .* closer than 1e-08"):
        neighbor_list(positions, 3.0)


def test_atom_on_the_periodic_image_of_another():
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [4.0, 1e-10, 0.0]])  # atom 2 sits on atom 0 + a_1
    with pytest.raises(ValueError, match=r"atom \d and the periodic image of atom \d shifted by S = \(-?1, 0, 0\)"):
        neighbor_list(positions, 3.0, 4.0 * np.eye(3), True)


def test_atom_on_its_own_periodic_image():
    with pytest.raises(ValueError, match="closer than that to its own periodic image"):
        neighbor_list(np.zeros((1, 3)), 3.0, np.diag([4.0, 4.0, 1e-9]), True)


def test_cell_far_too_small_for_the_cutoff():
    with pytest.raises(ValueError, match="the cell is far too small for r_max"):
        neighbor_list(np.zeros((1, 3)), 100.0, 0.5 * np.eye(3), True)
