"""``macetutor verify MODEL STRUCTURE``: compare a user's mace-torch model with its macetutor import, block by block.

Prints one row per compared array — energies, the atomic basis A and node features h of every layer, forces and
(for periodic structures) the stress — with the largest absolute and relative difference, and returns a non-zero
exit code when any relative difference exceeds the tolerance (default 1e-9; float32-built models need ~1e-6).
"""

from __future__ import annotations

import numpy as np

from macetutor.irreps import to_e3nn_layout

DEFAULT_TOLERANCE = 1e-9


def compare(torch_model, positions, numbers, cell=None, pbc=False) -> list[tuple[str, float, float]]:
    """[(block, max |difference|, max |difference| / max |reference|)] between mace-torch and macetutor."""
    from macetutor.interop.mace_torch import evaluate_mace_torch, from_mace_torch

    periodic = bool(np.any(pbc))
    reference = evaluate_mace_torch(torch_model, positions, numbers, cell, pbc)
    ours = from_mace_torch(torch_model).evaluate(positions, numbers, cell, pbc, forces=True, stress=periodic)

    def row(name, a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        return name, diff, diff / scale if scale > 0 else diff

    rows = [
        row("interaction energy", ours.interaction_energy, reference["interaction_energy"]),
        row("total energy", ours.energy, reference["energy"]),
        row("node energies", ours.node_energies, reference["node_energy"]),
    ]
    n = len(numbers)
    for t, layer in enumerate(ours.intermediates):
        rows.append(row(f"layer {t}: A (eq. 8)", layer.A.reshape(n, -1), reference["A"][t].reshape(n, -1)))
        rows.append(row(f"layer {t}: h (eq. 12)", to_e3nn_layout(layer.h, layer.irreps_out), reference["h"][t]))
    rows.append(row("forces", ours.forces, reference["forces"]))
    if periodic and "stress" in reference:
        rows.append(row("stress", ours.stress, reference["stress"]))
    return rows


def main(model_path: str, structure_path: str, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Load both, print the table, return 0 if every relative difference is within ``tolerance``, else 1."""
    import ase.io
    import mace  # noqa: F401  (must precede e3nn)
    import torch

    torch_model = torch.load(model_path, map_location="cpu", weights_only=False).double()
    atoms = ase.io.read(structure_path)
    pbc = atoms.pbc.tolist() if atoms.pbc.any() else False
    cell = atoms.cell[:] if atoms.pbc.any() else None
    rows = compare(torch_model, atoms.positions, atoms.numbers, cell, pbc)
    print(
        f"macetutor verify: {model_path} on {structure_path} ({len(atoms)} atoms), tolerance {tolerance:.0e} (relative)"
    )
    print(f"{'block':24s} {'max |diff|':>12s} {'relative':>10s}  status")
    failed = False
    for name, diff, relative in rows:
        ok = relative <= tolerance
        failed |= not ok
        print(f"{name:24s} {diff:12.3e} {relative:10.2e}  {'ok' if ok else 'EXCEEDS TOLERANCE'}")
    print("all blocks agree" if not failed else "some blocks differ by more than the tolerance")
    return 1 if failed else 0
