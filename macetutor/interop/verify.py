"""``macetutor verify MODEL STRUCTURE``: compare a user's mace-torch model with its macetutor import, block by block.

For every frame of the structure file (or those ``--index`` selects, in ASE's slice syntax) it prints one row per
compared array -- energies, node energies, the atomic basis A and the node features h of every layer, forces and
(for periodic frames) the stress -- with the largest absolute difference and the pass criterion

    max |ours - mace-torch|  <=  tolerance * scale,
    scale = max |mace-torch's array|, and at least |E_int| / N eV/Å for forces and |E_int| / V eV/Å^3 for stress,

so that forces and stresses that vanish by symmetry (a perfect crystal) are not divided by ~0. The header names
the model's heads, the dtype its parameters were stored in, its blocks and options, and the constants it stores in
place of macetutor's exact ones. The exit code is 1 if any block of any frame exceeds the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from macetutor.irreps import to_e3nn_layout

__all__ = ["DEFAULT_TOLERANCE", "Row", "compare", "model_summary", "main"]

DEFAULT_TOLERANCE = 1e-9


@dataclass
class Row:
    """One compared block: its name, max |difference| and the scale the tolerance multiplies."""

    name: str
    difference: float
    scale: float

    def ok(self, tolerance: float) -> bool:
        return self.difference <= tolerance * self.scale


def _row(name: str, ours, reference, floor: float = 0.0) -> Row:
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    difference = float(np.max(np.abs(ours - reference), initial=0.0))
    return Row(name, difference, max(float(np.max(np.abs(reference), initial=0.0)), floor))


def compare(torch_model, ours, positions, numbers, cell=None, pbc=False, head=None, info=None) -> list[Row]:
    """The rows of one frame: macetutor's import ``ours`` of ``torch_model`` against mace-torch itself."""
    from macetutor.interop.mace_torch import evaluate_mace_torch

    info = info or {}
    periodic = bool(np.all(pbc)) and cell is not None
    reference = evaluate_mace_torch(torch_model, positions, numbers, cell, pbc, head=head, info=info)
    result = ours.evaluate(
        positions,
        numbers,
        cell,
        pbc,
        forces=True,
        stress=periodic,
        head=head,
        total_charge=info.get("charge", 0.0),
        total_spin=info.get("spin", 1.0),
    )
    n, E = len(numbers), abs(reference["interaction_energy"])
    rows = [
        _row("interaction energy", result.interaction_energy, reference["interaction_energy"]),
        _row("total energy", result.energy, reference["energy"]),
        _row("node energies", result.node_energies, reference["node_energy"]),
    ]
    for t, layer in enumerate(result.intermediates):
        rows.append(_row(f"layer {t}: A (eq. 8)", layer.A.reshape(n, -1), reference["A"][t].reshape(n, -1)))
        rows.append(_row(f"layer {t}: h (eq. 12)", to_e3nn_layout(layer.h, layer.irreps_out), reference["h"][t]))
    rows.append(_row("forces", result.forces, reference["forces"], floor=E / max(n, 1)))
    if periodic and "stress" in reference:
        volume = abs(np.linalg.det(np.asarray(cell, dtype=np.float64)))
        rows.append(_row("stress", result.stress, reference["stress"], floor=E / volume))
    return rows


def model_summary(torch_model, ours, stored_dtype) -> list[str]:
    """Header lines: heads, stored dtype, blocks and options, stored constants."""
    config = ours.config
    options = [
        name
        for name, used in (
            ("ZBL pair repulsion", config.pair_repulsion),
            (f"{config.distance_transform} distance transform", config.distance_transform),
            (f"{config.radial_type} radial basis", config.radial_type != "bessel"),
            ("apply_cutoff=False", not config.apply_cutoff),
            (f"edge_irreps {config.edge_irreps}", config.edge_irreps),
            ("edge irreps scalar in the first layer", config.use_edge_irreps_first),
            ("element-agnostic product basis", config.use_agnostic_product),
            (f"embeddings {sorted(config.embedding_specs or {})}", config.embedding_specs),
        )
        if used
    ]
    deviation = ours.constants_deviation()
    stored = (
        f"{len(deviation)} constants stored in place of the exact ones (largest deviation {max(deviation.values()):.1e})"
        if deviation
        else "macetutor's exact constants (U, Clebsch-Gordan, radial) reproduce the stored ones to round-off"
    )
    return [
        f"model: {type(torch_model).__name__}, parameters stored in {stored_dtype}, heads {list(config.heads)}",
        f"blocks: {config.interaction_first} / {config.interaction} x {config.num_interactions - 1}; "
        f"hidden {config.hidden_irreps}, max_ell {config.max_ell}, correlation {config.correlation}, r_max {config.r_max}",
        "options: " + (", ".join(options) if options else "none (the paper's model)"),
        f"constants: {stored}",
    ]


def main(
    model_path: str, structure_path: str, tolerance: float = DEFAULT_TOLERANCE, index: str = ":", head=None
) -> int:
    """Load both, print the tables, return 0 if every block of every frame is within ``tolerance``, else 1.

    Raises the errors the command line turns into one line and an exit code (macetutor.cli): InputFileError for a
    missing or wrong-kind file or an element the model lacks, UnsupportedModelError, ValueError for an unknown head.
    """
    from macetutor.interop.files import InputFileError, describe, load_mace_torch_model, read_frames
    from macetutor.interop.mace_torch import from_mace_torch

    for path in (model_path, structure_path):  # cheap checks first, before torch is imported
        if describe(path) == "missing":
            raise InputFileError(f"{path}: no such file")
    frames = read_frames(structure_path, index)
    torch_model = load_mace_torch_model(model_path)
    import mace

    known = {int(z) for z in torch_model.atomic_numbers}
    for k, atoms in enumerate(frames):
        unknown = sorted({int(z) for z in atoms.numbers} - known)
        if unknown:
            raise InputFileError(
                f"{structure_path}, frame {k}: element(s) {unknown} are not in the model (it knows {sorted(known)})"
            )
    stored_dtype = str(next(torch_model.parameters()).dtype).replace("torch.", "")
    torch_model = torch_model.double()
    ours = from_mace_torch(torch_model)
    try:
        head_name = ours.config.heads[ours.head_index(head)]
    except ValueError as err:  # an unknown or missing head name: say how to give one
        raise ValueError(f"{err} (pass --head NAME)") from err
    print(f"macetutor verify: {model_path} (mace-torch {mace.__version__}) on {structure_path}, {len(frames)} frame(s)")
    for line in model_summary(torch_model, ours, stored_dtype):
        print("  " + line)
    print(f"  head: {head_name}; criterion: max |diff| <= {tolerance:.0e} x scale (module docstring)")
    failures = []
    for k, atoms in enumerate(frames):
        periodic = bool(atoms.pbc.any())
        rows = compare(
            torch_model,
            ours,
            atoms.positions,
            atoms.numbers,
            atoms.cell[:] if periodic else None,
            atoms.pbc.tolist() if periodic else False,
            head=head_name,
            info=atoms.info,
        )
        failures += [(k, row.name) for row in rows if not row.ok(tolerance)]
        _print_frame(k, atoms, rows, tolerance)
    if failures:
        print(f"\n{len(failures)} block(s) exceed the tolerance: " + ", ".join(f"frame {k} {n}" for k, n in failures))
        return 1
    print(f"\nall blocks agree: {len(frames)} frame(s) within {tolerance:.0e}")
    return 0


def _print_frame(k: int, atoms, rows: list[Row], tolerance: float) -> None:
    """The table of one frame."""
    print(f"\nframe {k}: {len(atoms)} atoms, {atoms.get_chemical_formula()}")
    print(f"  {'block':24s} {'max |diff|':>12s} {'scale':>10s} {'diff/scale':>10s}  status")
    for row in rows:
        ratio = row.difference / row.scale if row.scale > 0 else 0.0
        status = "ok" if row.ok(tolerance) else "EXCEEDS TOLERANCE"
        print(f"  {row.name:24s} {row.difference:12.3e} {row.scale:10.2e} {ratio:10.2e}  {status}")
