"""Radius graph: every (receiver, sender, lattice translation) within a cutoff, with periodic images.

Convention (the one of mace-torch's ``mace/data/neighborhood.py``, which calls matscipy's
``neighbour_list("ijS", ...)``): :func:`neighbor_list` returns one directed edge

    sender = i,  receiver = j,  unit_shift = S (3 integers),  shift = S @ cell

for every ordered pair of atoms (i, j) and every lattice translation S with

    | positions[j] - positions[i] + S @ cell |  <  r_max,

so that the edge vector the model uses is ``positions[receivers] - positions[senders] + shifts``.

* ``cell`` rows are the lattice vectors; S has zeros in the directions that are not periodic
  (there are no images there, and the cell row of such a direction is never used).
* Both directions of every pair appear: (i, j, S) and (j, i, -S).
* The self-edge i == j is dropped only for S == 0; an atom's periodic images are neighbours
  (a single atom in a small periodic box has edges to itself).
* S refers to the positions *as given*, even when atoms lie outside the cell.
* Edges are sorted by receiver, then sender, then S (lexicographically); indices are int64.

Algorithm (linear in the number of atoms at fixed density):

1. wrap the fractional coordinates of the periodic directions into [0, 1) (remembering the
   integer part w_i that was removed);
2. build the periodic images that can be within r_max of the wrapped cell: along periodic
   direction k an image is needed only if its fractional coordinate lies in
   (-r_max |b_k|, 1 + r_max |b_k|), where b_k is the reciprocal vector and 1 / |b_k| the
   spacing between lattice planes; hence |S_k| <= ceil(r_max |b_k|) images per direction,
   several when the cell is smaller than r_max;
3. find all (atom, image) pairs closer than r_max with two ``scipy.spatial.cKDTree``;
4. translate back to the original positions: S = S_wrapped + w_i - w_j.

Index legend for the shape comments: n atoms, k periodic directions, m image points, e edges.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["neighbor_list", "MIN_DISTANCE"]

# Two atoms (or an atom and a periodic image) closer than this are an input error (Å).
MIN_DISTANCE = 1e-8
# Periodic lattice vectors whose normalised Gram volume is below this are "linearly dependent".
_RELATIVE_VOLUME_TOL = 1e-8
# Refuse to enumerate more lattice translations than this (the cell is absurdly small for r_max).
_MAX_TRANSLATIONS = 1_000_000
# Relative slack on the search radius so that round-off (wrapping, images) never loses an edge;
# the final selection is exact, on the vectors that are returned.
_SEARCH_SLACK = 1e-6
# Image points processed at once while building images (bounds temporary memory).
_CHUNK_POINTS = 1 << 20


def neighbor_list(positions, r_max, cell=None, pbc=False, method="kdtree"):
    """All directed edges (sender i, receiver j, lattice translation S) with |r_j - r_i + S @ cell| < r_max.

    Args:
        positions: (n, 3) finite Cartesian coordinates (Å).
        r_max: cutoff radius (Å), finite and > 0; the comparison is strict (< r_max).
        cell: (3, 3) lattice vectors as rows, or None (only allowed when nothing is periodic).
            Rows of non-periodic directions are ignored (they may be zero).
        pbc: a bool, or 3 bools (one per cell row).
        method: "kdtree" (scipy's cKDTree) or "cells" (a numba cell list, macetutor.kernels.cell_list_pairs);
            both return the same edges.

    Returns:
        senders: (e,) int64, receivers: (e,) int64,
        shifts: (e, 3) float64 equal to ``unit_shifts @ cell`` (zeros without a cell),
        unit_shifts: (e, 3) int64.
        Edge vectors are ``positions[receivers] - positions[senders] + shifts``.

    Raises:
        ValueError: wrong shapes, non-finite positions / cell / r_max, r_max <= 0, a cell whose
            periodic lattice vectors are (nearly) linearly dependent, or two atoms (or an atom and a
            periodic image) closer than ``MIN_DISTANCE``.
    """
    positions, r_max, cell, pbc = _validate(positions, r_max, cell, pbc)
    lattice = cell[pbc]  # (k, 3) the periodic lattice vectors
    _check_lattice(lattice, pbc)

    frac, wrap = _wrapped_fractional(positions, lattice)  # (n, k) in [0, 1), (n, k) integers
    wrapped = positions - wrap @ lattice  # (n, 3)
    r_search = max(r_max, MIN_DISTANCE) * (1.0 + _SEARCH_SLACK)

    image_atom, image_shift = _periodic_images(frac, lattice, r_search)  # (m,), (m, k)
    image_points = wrapped[image_atom] + image_shift @ lattice  # (m, 3)
    if method == "kdtree":
        senders, image_index = _pairs_within(wrapped, image_points, r_search)  # (e,), (e,)
    elif method == "cells":
        from macetutor.kernels import cell_list_pairs

        if len(wrapped) and len(image_points):
            senders, image_index = cell_list_pairs(wrapped, np.ascontiguousarray(image_points), r_search)
        else:
            senders, image_index = np.zeros(0, np.int64), np.zeros(0, np.int64)
    else:
        raise ValueError(f"method must be 'kdtree' or 'cells', got {method!r}")
    receivers = image_atom[image_index]  # (e,)
    unit_shifts = np.zeros((len(senders), 3), dtype=np.int64)  # (e, 3) zero in non-periodic directions
    # (e, k) translations refer to the original, unwrapped positions
    unit_shifts[:, pbc] = image_shift[image_index] + wrap[senders] - wrap[receivers]

    order = _lexicographic_order(receivers, senders, unit_shifts)  # (e,)
    senders, receivers, unit_shifts = senders[order], receivers[order], unit_shifts[order]  # (e,), (e,), (e, 3)
    shifts = unit_shifts @ cell  # (e, 3) non-periodic rows of the cell are multiplied by S = 0
    lengths = np.linalg.norm(positions[receivers] - positions[senders] + shifts, axis=1)  # (e,) |edge vector|

    is_self = (senders == receivers) & np.all(unit_shifts == 0, axis=1)  # (e,)
    _check_min_distance(senders, receivers, unit_shifts, lengths, is_self)
    keep = ~is_self & (lengths < r_max)  # (e,) exact cutoff on the vectors the model will use
    return senders[keep], receivers[keep], shifts[keep], unit_shifts[keep]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _validate(positions, r_max, cell, pbc):
    """Convert and check the inputs; returns float64 (n, 3), float, float64 (3, 3), bool (3,)."""
    positions = np.asarray(positions, dtype=np.float64)  # (n, 3)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (n_atoms, 3), got {positions.shape}")
    bad = ~np.all(np.isfinite(positions), axis=1)  # (n,)
    if bad.any():
        raise ValueError(f"positions must be finite; atoms {np.flatnonzero(bad)[:10].tolist()} have NaN or inf")

    if np.ndim(r_max) != 0:
        raise ValueError(f"r_max must be a scalar, got an array of shape {np.shape(r_max)}")
    r_max = float(r_max)
    if not np.isfinite(r_max) or r_max <= 0:
        raise ValueError(f"r_max must be finite and > 0, got {r_max}")

    pbc = np.asarray(pbc)
    if pbc.shape not in ((), (3,)) or pbc.dtype != bool:
        raise ValueError(f"pbc must be a bool or 3 bools, got {pbc!r}")
    pbc = np.broadcast_to(pbc, (3,)).copy()  # (3,)

    if cell is None:
        if pbc.any():
            raise ValueError(f"pbc = {pbc.tolist()} has periodic directions, so a (3, 3) cell is required")
        cell = np.zeros((3, 3))  # (3, 3) never used: no direction is periodic
    cell = np.asarray(cell, dtype=np.float64)  # (3, 3)
    if cell.shape != (3, 3):
        raise ValueError(f"cell must have shape (3, 3) (lattice vectors as rows), got {cell.shape}")
    if not np.all(np.isfinite(cell)):
        raise ValueError(f"cell must be finite (no NaN or inf), got\n{cell}")
    return positions, r_max, cell, pbc


def _check_lattice(lattice, pbc):
    """The periodic lattice vectors must be linearly independent and longer than MIN_DISTANCE."""
    if len(lattice) == 0:
        return
    lengths = np.linalg.norm(lattice, axis=1)  # (k,)
    volume = np.sqrt(max(np.linalg.det(lattice @ lattice.T), 0.0))  # k-dimensional volume (length, area, volume)
    relative = volume / np.prod(lengths) if np.all(lengths > 0) else 0.0
    if relative < _RELATIVE_VOLUME_TOL:
        raise ValueError(
            f"the periodic lattice vectors (cell rows {np.flatnonzero(pbc).tolist()}) are (nearly) linearly "
            f"dependent: their {len(lattice)}-dimensional volume is {volume:.3e} (lengths {lengths.tolist()}); "
            "a cell with (near-)zero volume in its periodic directions defines no lattice"
        )
    short = np.flatnonzero(lengths < MIN_DISTANCE)  # (n_short,)
    if len(short):
        row = int(np.flatnonzero(pbc)[short[0]])
        raise ValueError(
            f"cell row {row} has length {lengths[short[0]]:.3e} < {MIN_DISTANCE} Å: every atom (e.g. atom 0) "
            "is closer than that to its own periodic image"
        )


def _check_min_distance(senders, receivers, unit_shifts, lengths, is_self):
    """Raise if two distinct atoms, or an atom and any periodic image, are closer than MIN_DISTANCE."""
    too_close = np.flatnonzero(~is_self & (lengths < MIN_DISTANCE))  # (n_bad,)
    if len(too_close) == 0:
        return
    e = too_close[0]
    i, j, S, d = int(senders[e]), int(receivers[e]), tuple(unit_shifts[e].tolist()), lengths[e]
    if i == j:
        what = f"atom {i} and its own periodic image shifted by S = {S}"
    elif S == (0, 0, 0):
        what = f"atoms {min(i, j)} and {max(i, j)}"
    else:
        what = f"atom {i} and the periodic image of atom {j} shifted by S = {S}"
    raise ValueError(f"{what} are {d:.3e} Å apart, closer than {MIN_DISTANCE} Å (overlapping atoms)")


# --------------------------------------------------------------------------------------------
# periodic images and pair search
# --------------------------------------------------------------------------------------------


def _wrapped_fractional(positions, lattice):
    """Fractional coordinates along the periodic lattice vectors, wrapped into [0, 1).

    With k < 3 periodic directions the coordinates come from the pseudo-inverse (the dual basis
    inside the span of the periodic vectors); the non-periodic rows of the cell are never needed.
    Returns (frac, wrap) with frac = raw - wrap, wrap integer.
    """
    raw = positions @ np.linalg.pinv(lattice)  # (n, k)
    wrap = np.floor(raw)  # (n, k)
    frac = raw - wrap  # (n, k)
    overflow = frac >= 1.0  # (n, k) round-off: raw = -1e-17 gives frac = 1.0
    wrap[overflow] += 1.0
    frac[overflow] -= 1.0
    return frac, wrap.astype(np.int64)


def _periodic_images(frac, lattice, r_search):
    """Atom index and integer translation of every image that can be within r_search of the wrapped cell.

    Translation S (including S = 0, the atoms themselves) is kept for atom a when, along every
    periodic direction k, frac[a, k] + S_k lies in (-r_search |b_k|, 1 + r_search |b_k|).
    """
    n, k = frac.shape
    reciprocal = np.linalg.pinv(lattice).T  # (k, 3) b_k . a_l = delta_kl
    reach = r_search * np.linalg.norm(reciprocal, axis=1)  # (k,) r_search / (lattice-plane spacing)
    n_images = np.ceil(reach).astype(np.int64)  # (k,)
    n_translations = int(np.prod(2 * n_images + 1))  # 1 when k = 0
    if n_translations > _MAX_TRANSLATIONS:
        spacings = 1.0 / np.linalg.norm(reciprocal, axis=1)  # (k,)
        raise ValueError(
            f"the cell is far too small for r_max: {n_translations} lattice translations would be needed "
            f"(images per direction {n_images.tolist()}, lattice-plane spacings {spacings.tolist()} Å)"
        )
    ranges = [range(-c, c + 1) for c in n_images]
    translations = np.array(list(itertools.product(*ranges)), dtype=np.int64).reshape(n_translations, k)  # (t, k)

    atoms, shifts = [], []
    chunk = max(1, _CHUNK_POINTS // max(n, 1))
    for start in range(0, len(translations), chunk):
        block = translations[start : start + chunk]  # (c, k)
        image_frac = frac[None, :, :] + block[:, None, :]  # (c, n, k)
        inside = np.all((image_frac > -reach) & (image_frac < 1.0 + reach), axis=2)  # (c, n)
        which_translation, which_atom = np.nonzero(inside)  # (m_c,), (m_c,)
        atoms.append(which_atom)
        shifts.append(block[which_translation])  # (m_c, k)
    return np.concatenate(atoms).astype(np.int64), np.concatenate(shifts)  # (m,), (m, k)


def _pairs_within(points, image_points, radius):
    """All (point index, image index) pairs with distance <= radius, via two k-d trees (linear scaling)."""
    if len(points) == 0 or len(image_points) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    from scipy.spatial import cKDTree  # imported here: scipy.spatial takes ~0.3 s to import

    pairs = cKDTree(points).sparse_distance_matrix(cKDTree(image_points), radius, output_type="ndarray")
    return pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)  # (e,), (e,)


def _lexicographic_order(receivers, senders, unit_shifts):
    """Permutation sorting edges by receiver, then sender, then unit shift (S_0, S_1, S_2).

    Same result as ``np.lexsort`` on the five columns, but computed as one argsort of a single
    int64 key (mixed radix: receiver, sender, S_0, S_1, S_2), which is several times faster.
    """
    n = int(max(receivers.max(initial=-1), senders.max(initial=-1))) + 1
    low = unit_shifts.min(axis=0, initial=0)  # (3,)
    radix = unit_shifts.max(axis=0, initial=0) - low + 1  # (3,)
    if float(n) ** 2 * float(np.prod(radix)) >= 2.0**62:  # the key would overflow int64
        return np.lexsort((unit_shifts[:, 2], unit_shifts[:, 1], unit_shifts[:, 0], senders, receivers))
    key = receivers * n + senders  # (e,)
    for k in range(3):
        key = key * radix[k] + (unit_shifts[:, k] - low[k])  # (e,)
    return np.argsort(key)
