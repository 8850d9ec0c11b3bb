"""An ASE calculator for a macetutor MACE model (needs ``ase``, in the `verify` extra).

    from macetutor.calculator import MACECalculator
    atoms.calc = MACECalculator(model)            # or MACECalculator("model.npz"), or a mace-torch "MACE.model"
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()

Properties follow ASE's conventions: ``energy`` and ``free_energy`` (the same, eV), ``energies`` (per atom, eV,
E0 included), ``forces`` (eV/Å, F = -dE/dr), ``stress`` (eV/Å^3, Voigt order xx, yy, zz, yz, xz, xy, sign such that
stress = (1/V) dE/d(strain); only for cells periodic in all three directions). One evaluation computes all of them
(the reverse pass gives forces and stress together), so ASE's usual sequence of getters, and a cell relaxation,
pays for one model evaluation per structure, as with mace-torch's calculator.

As mace-torch's calculator, it reads the total charge and spin of models with charge/spin embeddings from
``atoms.info["charge"]`` and ``atoms.info["spin"]`` (defaults 0 and 1).
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from macetutor.model import MACE

__all__ = ["MACECalculator"]


def _load(model) -> MACE:
    """A MACE, a macetutor .npz path, or a mace-torch model file (imported with the `verify` extra)."""
    if isinstance(model, MACE):
        return model
    from macetutor.interop.files import describe

    if describe(model) in ("pickle", "torch-zip"):  # a mace-torch .model: import it (torch.load runs pickle)
        try:
            from macetutor.interop.files import load_mace_torch_model
            from macetutor.interop.mace_torch import from_mace_torch
        except ImportError as err:
            raise ValueError(
                f"{model} is a mace-torch model: install the `verify` extra to import it here, or convert it once "
                "with `macetutor convert MODEL out.npz` and pass out.npz"
            ) from err
        return from_mace_torch(load_mace_torch_model(model).double())
    return MACE.load(model)


class MACECalculator(Calculator):
    """ASE calculator evaluating a :class:`macetutor.MACE` (NumPy specification or numba backend)."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model, backend: str = "numba", head: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.model = _load(model)
        if backend not in ("numpy", "numba"):
            raise ValueError(f"backend must be 'numpy' or 'numba', got {backend!r}")
        self.backend = backend
        self.head = self.model.config.heads[self.model.head_index(head)]  # an unknown head: ValueError now

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pbc = np.asarray(self.atoms.pbc, dtype=bool)
        if "stress" in properties and not pbc.all():
            raise PropertyNotImplementedError("stress needs a cell periodic in all three directions")
        cell = np.asarray(self.atoms.cell[:], dtype=np.float64) if pbc.any() else None
        result = self.model.evaluate(
            self.atoms.positions,
            self.atoms.numbers,
            cell=cell,
            pbc=pbc.tolist() if pbc.any() else False,
            forces=True,
            stress=bool(pbc.all()),  # computed with the forces, in the same reverse pass
            backend=self.backend,
            head=self.head,
            total_charge=self.atoms.info.get("charge", 0.0),
            total_spin=self.atoms.info.get("spin", 1.0),
        )
        self.results["energy"] = self.results["free_energy"] = result.energy
        self.results["energies"] = result.node_energies.copy()
        self.results["forces"] = result.forces
        if result.stress is not None:
            s = result.stress
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
