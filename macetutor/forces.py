r"""Forces, virial and stress from the edge gradients g_e = dE/dv_e of the hand-written reverse pass.

Derivation (in the spirit of ASE's ``lj.py``). The model's energy depends on the positions only through the edge
vectors v_e = r_{i(e)} - r_{j(e)} + S_e @ cell (receiver i, sender j). By the chain rule

.. math::

    \mathbf F_a = -\frac{\partial E}{\partial \mathbf r_a}
    = -\sum_e \mathbf g_e \big(\delta_{a, i(e)} - \delta_{a, j(e)}\big),

so each edge pushes its receiver by -g_e and its sender by +g_e (Newton's third law holds edge by edge: the
forces of an isolated system sum to zero). A homogeneous strain eps deforms positions and cell alike,
r -> (1 + eps) r, cell^T -> (1 + eps) cell^T, hence every edge vector v_e -> (1 + eps) v_e and

    dE/d eps_xy = sum_e g_{e,x} v_{e,y},     virial W = -dE/d eps = -sum_e g_e (x) v_e   (eV; symmetrised),

    stress sigma = (1/V) dE/d eps = -W / V   (eV/Å^3), V = |det cell|.

This is ASE's sign (a stretched crystal that wants to contract has positive stress) and mace-torch's ``stress``;
ASE's calculators report it in Voigt order (xx, yy, zz, yz, xz, xy). The stress is defined only for a cell
periodic in all three directions (otherwise there is no volume); the virial is defined for any structure.
"""

from __future__ import annotations

import numpy as np

__all__ = ["forces_virial_stress"]


def forces_virial_stress(grad_vectors: np.ndarray, graph, cell=None, pbc=False):
    """F = -dE/dr (n_atoms, 3) eV/Å, virial (3, 3) eV and stress (3, 3) eV/Å^3 (None unless periodic in 3-D).

    Parameters:
        grad_vectors: (n_edges, 3), g_e = dE/dv_e; graph: :class:`macetutor.graph.Graph`;
        cell: (3, 3) lattice vectors as rows, or None; pbc: bool or 3 bools.
    """
    forces = np.zeros((graph.n_atoms, 3), dtype=grad_vectors.dtype)  # (n_atoms, 3)
    np.add.at(forces, graph.receivers, -grad_vectors)  # v_e = r_i - r_j + ...: dv_e/dr_i = +1
    np.add.at(forces, graph.senders, grad_vectors)  # dv_e/dr_j = -1
    virial = -np.einsum("ex,ey->xy", grad_vectors, graph.vectors)  # (3, 3): -dE/d eps, x y Cartesian
    virial = 0.5 * (virial + virial.T)  # the energy depends on the symmetric part of the strain only
    stress = None
    if cell is not None and np.all(np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))):
        det = np.linalg.det(np.asarray(cell))
        volume = det if np.real(det) > 0 else -det  # |det cell|, written so that a complex cell also works
        stress = -virial / volume  # (3, 3)
    return forces, virial, stress
