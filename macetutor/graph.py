"""The graph of one structure, with everything eq. (8) needs from its edges, and the chain rule back to the edges.

For each directed edge e (sender j -> receiver i, periodic shift S @ cell), as mace-torch builds it:

    v_e = r_i - r_j + S @ cell          the edge vector: centre minus neighbour ("r_ij" of the paper)
    r_e = |v_e|                         its length
    Y_e = Y(v_e / r_e)                  spherical harmonics of its direction (macetutor.so3, 'component')
    b_e = b(r_e) f_p(r_e)               radial basis times the cutoff envelope (macetutor.radial.RadialBasis; with
                                        apply_cutoff=False b_e = b(r_e) and the envelope f_e is kept apart)

:func:`edge_features_vjp` turns the adjoints dE/dY_e, dE/db_e and dE/df_e, collected over all layers by the
reverse pass (plus dE/dr_e of a pair potential), into dE/dv_e; :mod:`macetutor.forces` turns those into forces,
virial and stress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from macetutor.neighbors import neighbor_list

__all__ = ["Graph", "build_graph", "edge_features_vjp", "segment_sum", "concatenate_graphs"]


def segment_sum(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """out[k] = sum of values[e] over the e with index[e] == k, for k < n (the sum over neighbours; real or complex)."""
    out = np.zeros((n,) + values.shape[1:], dtype=values.dtype)
    np.add.at(out, index, values)
    return out


@dataclass(frozen=True, eq=False)
class Graph:
    """One structure as MACE sees it: atoms (by element index) and directed edges within r_max."""

    element_index: np.ndarray  # (n_atoms,): position of each atom's element in the model's element table
    numbers: np.ndarray  # (n_atoms,): atomic numbers
    head: np.ndarray  # (n_atoms,): the readout head of each atom (its structure's), an index into config.heads
    senders: np.ndarray  # (n_edges,): the neighbour j of each edge
    receivers: np.ndarray  # (n_edges,): the centre i of each edge (edges are sorted by receiver)
    shifts: np.ndarray  # (n_edges, 3) Å: periodic shift S @ cell
    unit_shifts: np.ndarray  # (n_edges, 3) int: S
    vectors: np.ndarray  # (n_edges, 3) Å: v_e = r_i - r_j + shift
    lengths: np.ndarray  # (n_edges,) Å
    Y: np.ndarray  # (n_edges, (l_max+1)^2): spherical harmonics of the edge directions
    radial_basis: np.ndarray  # (n_edges, num_bessel): b(r) f(r) (or b(r)), the input of the radial MLP
    envelope: np.ndarray | None = None  # (n_edges,): f(r), when it multiplies the radial MLP's output instead
    dY: np.ndarray | None = None  # (n_edges, (l_max+1)^2, 3): dY/dv (when derivatives are needed)
    radial_basis_dr: np.ndarray | None = None  # (n_edges, num_bessel): d(radial basis)/dr (when needed)
    envelope_dr: np.ndarray | None = None  # (n_edges,): df/dr (when needed and the envelope is kept apart)

    @property
    def n_atoms(self) -> int:
        return len(self.element_index)


def build_graph(
    positions, element_index, numbers, head, cell, pbc, l_max: int, radial, backend, derivatives: bool
) -> Graph:
    """Neighbour list, edge vectors, harmonics and radial features (and their derivatives if ``derivatives``).

    Parameters:
        positions: (n_atoms, 3) Å; element_index, numbers, head: (n_atoms,); cell: (3, 3) lattice vectors as rows, or None;
        pbc: bool or 3 bools; l_max: the largest degree of Y; radial: :class:`macetutor.radial.RadialBasis`;
        backend: :class:`macetutor.backends.Backend`.
    """
    senders, receivers, shifts, unit_shifts = neighbor_list(
        np.real(positions),
        radial.r_max,
        cell=None if cell is None else np.real(cell),
        pbc=pbc,
        method=backend.neighbor_search,
    )  # the edges come from the real positions; complex ones (a complex-step perturbation) only move them
    if np.iscomplexobj(positions) or np.iscomplexobj(cell):
        shifts = unit_shifts @ np.asarray(cell) if cell is not None else shifts.astype(complex)
    vectors = positions[receivers] - positions[senders] + shifts  # (n_edges, 3): r_i - r_j, centre minus neighbour
    lengths = np.sqrt(np.sum(vectors * vectors, axis=1))  # (n_edges,)
    D = (l_max + 1) ** 2
    if len(vectors):
        Y, dY = backend.spherical_harmonics_with_gradient(list(range(l_max + 1)), vectors)  # (n_edges, D), (.., 3)
        b, db, f, df = backend.radial_features(radial, lengths, numbers[senders], numbers[receivers])
    else:
        dtype = vectors.dtype
        Y, dY = np.zeros((0, D), dtype), np.zeros((0, D, 3), dtype)
        b = db = np.zeros((0, radial.num_basis), dtype)
        f = df = None if radial.apply_cutoff else np.zeros(0, dtype)
    return Graph(
        element_index=element_index,
        numbers=numbers,
        head=head,
        senders=senders,
        receivers=receivers,
        shifts=shifts,
        unit_shifts=unit_shifts,
        vectors=vectors,
        lengths=lengths,
        Y=Y,
        radial_basis=b,
        envelope=f,
        dY=dY if derivatives else None,
        radial_basis_dr=db if derivatives else None,
        envelope_dr=df if derivatives else None,
    )


def edge_features_vjp(grad_Y, grad_radial_basis, graph: Graph, grad_envelope=None, grad_lengths=None) -> np.ndarray:
    """dE/dv_e from the adjoints of Y_e = Y(v_e / |v_e|), of the radial features b_e(|v_e|), of the envelope f_e(|v_e|)
    (when it is kept apart) and of any other function of the length (``grad_lengths``, e.g. a pair potential):

        dE/dr_e = sum_n dE/db_{e,n} db_{e,n}/dr + dE/df_e df_e/dr + dE/dr_e|other
        dE/dv_e = sum_b dE/dY_{e,b} dY_{e,b}/dv_e  +  dE/dr_e v_e / r_e                (d r / d v = v / r)

    Returns (n_edges, 3).
    """
    grad_r = np.sum(grad_radial_basis * graph.radial_basis_dr, axis=1)  # (n_edges,): dE/dr_e
    if grad_envelope is not None:
        grad_r = grad_r + grad_envelope * graph.envelope_dr
    if grad_lengths is not None:
        grad_r = grad_r + grad_lengths
    return grad_r[:, None] * graph.vectors / graph.lengths[:, None] + np.einsum("eb,ebx->ex", grad_Y, graph.dY)


def concatenate_graphs(graphs: list[Graph]) -> tuple[Graph, np.ndarray, np.ndarray]:
    """Several structures as one disjoint graph (mace-torch's batch): atoms and edges side by side, the edges' atom
    indices shifted by the atoms before them (receivers stay sorted). Returns (the graph, the structure of each atom
    (n_atoms,), the structure of each edge (n_edges,))."""
    offsets = np.cumsum([0] + [g.n_atoms for g in graphs])

    def joined(name, shift=False):
        parts = [getattr(g, name) for g in graphs]
        if parts[0] is None:
            return None
        if shift:
            parts = [p + offset for p, offset in zip(parts, offsets, strict=False)]
        return np.concatenate(parts)

    graph = Graph(
        element_index=joined("element_index"),
        numbers=joined("numbers"),
        head=joined("head"),
        senders=joined("senders", shift=True),
        receivers=joined("receivers", shift=True),
        shifts=joined("shifts"),
        unit_shifts=joined("unit_shifts"),
        vectors=joined("vectors"),
        lengths=joined("lengths"),
        Y=joined("Y"),
        radial_basis=joined("radial_basis"),
        envelope=joined("envelope"),
        dY=joined("dY"),
        radial_basis_dr=joined("radial_basis_dr"),
        envelope_dr=joined("envelope_dr"),
    )
    atom_structure = np.repeat(np.arange(len(graphs)), [g.n_atoms for g in graphs])  # (n_atoms,)
    edge_structure = np.repeat(np.arange(len(graphs)), [len(g.senders) for g in graphs])  # (n_edges,)
    return graph, atom_structure, edge_structure
