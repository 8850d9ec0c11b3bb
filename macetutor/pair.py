"""The ZBL pair repulsion of the published MACE models (MACE-MP-0b and later), with its derivative.

Ziegler-Biersack-Littmark universal screened Coulomb repulsion between nuclei (J. F. Ziegler, J. P. Biersack,
U. Littmark, "The Stopping and Range of Ions in Solids", 1985), as mace-torch's ``ZBLBasis`` evaluates it on every
directed edge e = (j -> i) with r = |r_ij|, atomic numbers Z_i, Z_j:

    a      = a_prefactor 0.529 / (Z_i^a_exp + Z_j^a_exp)                     screening length, Å (0.529: Bohr radius)
    phi(x) = c_1 e^{-3.2 x} + c_2 e^{-0.9423 x} + c_3 e^{-0.4028 x} + c_4 e^{-0.2016 x},   x = r / a
    V_e    = 1/2 * 14.3996 Z_i Z_j phi(r / a) / r * f_p(r; r_cut = cov_i + cov_j)         (14.3996 eV Å = e^2 / 4 pi eps0)

and V_i = sum_{e into i} V_e: half of each pair's energy on each atom (both directions of a pair are edges).
The envelope f_p is the radial envelope with the sum of the two covalent radii as its cutoff. In a ScaleShiftMACE the
ZBL energy is added to the readouts *before* the scale (so it is scaled); in a plain MACE it is not scaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from macetutor.elements import COVALENT_RADII
from macetutor.radial import polynomial_envelope, polynomial_envelope_derivative

__all__ = ["ZBL", "zbl_edge_energies"]

COULOMB = 14.3996  # e^2 / (4 pi eps0) in eV Å, as mace-torch writes it
BOHR = 0.529  # Å, as mace-torch writes it
EXPONENTS = (3.2, 0.9423, 0.4028, 0.2016)


@dataclass(frozen=True, eq=False)
class ZBL:
    """The constants of the ZBL repulsion as a model stores them (float32-built models store them rounded)."""

    p: int  # envelope exponent (mace-torch: num_polynomial_cutoff)
    c: np.ndarray = field(default_factory=lambda: np.array([0.1818, 0.5099, 0.2802, 0.02817]))  # (4,) weights of phi
    a_exp: float = 0.300
    a_prefactor: float = 0.4543
    covalent_radii: np.ndarray = field(default_factory=lambda: COVALENT_RADII)  # (119,) Å, by atomic number


def zbl_edge_energies(r: np.ndarray, Z_sender: np.ndarray, Z_receiver: np.ndarray, zbl: ZBL):
    """V_e (n_edges,) eV and dV_e/dr (n_edges,) for every directed edge (see the module docstring).

    dV/dr by the product rule on  V = K phi(r/a) f(r) / r,  K = 7.1998 Z_i Z_j:
        dV/dr = K [phi'(r/a) f / (a r) + phi f' / r - phi f / r^2].
    """
    Z_i, Z_j = Z_receiver.astype(float), Z_sender.astype(float)
    a = zbl.a_prefactor * BOHR / (Z_j**zbl.a_exp + Z_i**zbl.a_exp)  # (n_edges,)
    x = r / a  # (n_edges,)
    exponentials = np.exp(-np.multiply.outer(x, EXPONENTS))  # (n_edges, 4)
    phi = exponentials @ zbl.c  # (n_edges,)
    dphi_dx = -(exponentials * np.array(EXPONENTS)) @ zbl.c  # (n_edges,)
    r_cut = zbl.covalent_radii[Z_sender] + zbl.covalent_radii[Z_receiver]  # (n_edges,)
    f, df = polynomial_envelope(r, r_cut, zbl.p), polynomial_envelope_derivative(r, r_cut, zbl.p)  # (n_edges,)
    K = 0.5 * COULOMB * Z_i * Z_j  # (n_edges,)
    V = K * phi * f / r  # (n_edges,)
    dV = K * (dphi_dx * f / (a * r) + phi * df / r - phi * f / r**2)  # (n_edges,)
    return V, dV
