"""The graph of one structure, with everything eq. (8) needs from its edges, and the chain rule back to the edges.

For each directed edge e (sender j -> receiver i, periodic shift S @ cell), as mace-torch builds it:

    v_e = r_i - r_j + S @ cell          the edge vector: centre minus neighbour ("r_ij" of the paper)
    r_e = |v_e|                         its length
    Y_e = Y(v_e / r_e)                  spherical harmonics of its direction (macetutor.so3, 'component')
    b_e = b(r_e) f_p(r_e)               Bessel basis times the cutoff envelope (macetutor.radial)

:func:`edge_features_vjp` turns the adjoints dE/dY_e and dE/db_e, collected over all layers by the reverse
pass, into dE/dv_e; :mod:`macetutor.forces` turns those into forces, virial and stress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from macetutor.neighbors import neighbor_list

__all__ = ["Graph", "build_graph", "edge_features_vjp"]


@dataclass(frozen=True, eq=False)
class Graph:
    """One structure as MACE sees it: atoms (by element index) and directed edges within r_max."""

    element_index: np.ndarray  # (n_atoms,): position of each atom's element in the model's element table
    senders: np.ndarray  # (n_edges,): the neighbour j of each edge
    receivers: np.ndarray  # (n_edges,): the centre i of each edge (edges are sorted by receiver)
    shifts: np.ndarray  # (n_edges, 3) Å: periodic shift S @ cell
    unit_shifts: np.ndarray  # (n_edges, 3) int: S
    vectors: np.ndarray  # (n_edges, 3) Å: v_e = r_i - r_j + shift
    lengths: np.ndarray  # (n_edges,) Å
    Y: np.ndarray  # (n_edges, (l_max+1)^2): spherical harmonics of the edge directions
    radial_basis: np.ndarray  # (n_edges, num_bessel): b(r) f(r), the input of the radial MLP
    dY: np.ndarray | None = None  # (n_edges, (l_max+1)^2, 3): dY/dv (when derivatives are needed)
    radial_basis_dr: np.ndarray | None = None  # (n_edges, num_bessel): d(b f)/dr (when derivatives are needed)

    @property
    def n_atoms(self) -> int:
        return len(self.element_index)


def build_graph(positions, element_index, cell, pbc, config, backend, derivatives: bool) -> Graph:
    """Neighbour list, edge vectors, harmonics and radial basis (and their derivatives if ``derivatives``).

    Parameters:
        positions: (n_atoms, 3) Å; element_index: (n_atoms,); cell: (3, 3) lattice vectors as rows, or None;
        pbc: bool or 3 bools; config: :class:`macetutor.MACEConfig`; backend: :class:`macetutor.backends.Backend`.
    """
    senders, receivers, shifts, unit_shifts = neighbor_list(
        positions, config.r_max, cell=cell, pbc=pbc, method=backend.neighbor_search
    )
    vectors = positions[receivers] - positions[senders] + shifts  # (n_edges, 3): r_i - r_j, centre minus neighbour
    lengths = np.sqrt(np.sum(vectors * vectors, axis=1))  # (n_edges,)
    l_max, D = config.max_ell, (config.max_ell + 1) ** 2
    if len(vectors):
        Y, dY = backend.spherical_harmonics_with_gradient(list(range(l_max + 1)), vectors)  # (n_edges, D), (.., 3)
        radial_basis, radial_basis_dr = backend.radial_basis_with_derivative(
            lengths, config.r_max, config.num_bessel, config.num_polynomial_cutoff
        )  # (n_edges, num_bessel) each
    else:
        Y, dY = np.zeros((0, D)), np.zeros((0, D, 3))
        radial_basis = radial_basis_dr = np.zeros((0, config.num_bessel))
    return Graph(
        element_index=element_index,
        senders=senders,
        receivers=receivers,
        shifts=shifts,
        unit_shifts=unit_shifts,
        vectors=vectors,
        lengths=lengths,
        Y=Y,
        radial_basis=radial_basis,
        dY=dY if derivatives else None,
        radial_basis_dr=radial_basis_dr if derivatives else None,
    )


def edge_features_vjp(grad_Y: np.ndarray, grad_radial_basis: np.ndarray, graph: Graph) -> np.ndarray:
    """dE/dv_e from the adjoints of Y_e = Y(v_e / |v_e|) and b_e = b(|v_e|) f(|v_e|):

        dE/dv_e = sum_b dE/dY_{e,b} dY_{e,b}/dv_e  +  (sum_n dE/db_{e,n} db_{e,n}/dr_e) v_e / r_e      (d r / d v = v / r)

    Returns (n_edges, 3).
    """
    grad_r = np.sum(grad_radial_basis * graph.radial_basis_dr, axis=1)  # (n_edges,): dE/dr_e
    return grad_r[:, None] * graph.vectors / graph.lengths[:, None] + np.einsum("eb,ebx->ex", grad_Y, graph.dY)
