"""An ASE calculator for a macetutor MACE model (needs ``ase``, in the `verify` extra).

    from macetutor.calculator import MACECalculator
    atoms.calc = MACECalculator(model)            # or MACECalculator("model.npz")
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()

Properties follow ASE's conventions: ``energy`` and ``free_energy`` (the same, eV), ``energies`` (per atom, eV,
E0 included), ``forces`` (eV/Å, F = -dE/dr), ``stress`` (eV/Å^3, Voigt order xx, yy, zz, yz, xz, xy, sign such that
stress = (1/V) dE/d(strain); only for cells periodic in all three directions).
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from macetutor.model import MACE

__all__ = ["MACECalculator"]


class MACECalculator(Calculator):
    """ASE calculator evaluating a :class:`macetutor.MACE` (NumPy specification or numba backend)."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model, backend: str = "numba", **kwargs):
        super().__init__(**kwargs)
        self.model = MACE.load(model) if not isinstance(model, MACE) else model
        if backend not in ("numpy", "numba"):
            raise ValueError(f"backend must be 'numpy' or 'numba', got {backend!r}")
        self.backend = backend

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pbc = np.asarray(self.atoms.pbc, dtype=bool)
        want_stress = "stress" in properties
        if want_stress and not pbc.all():
            raise PropertyNotImplementedError("stress needs a cell periodic in all three directions")
        cell = np.asarray(self.atoms.cell[:], dtype=np.float64) if pbc.any() else None
        result = self.model.evaluate(
            self.atoms.positions,
            self.atoms.numbers,
            cell=cell,
            pbc=pbc.tolist() if pbc.any() else False,
            forces=True,
            stress=want_stress,
            backend=self.backend,
        )
        self.results["energy"] = self.results["free_energy"] = result.energy
        self.results["energies"] = result.node_energies.copy()
        self.results["forces"] = result.forces
        if want_stress:
            s = result.stress
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
