"""Agreement of macetutor with mace-torch on every published MACE architecture (float64, random weights).

    python benchmarks/table_published_architectures.py [--write-docs]

For each family of tests/published_families.py (small channel counts, the published block types and options),
and the reduced-CG model of tests/data/reduced_cg/ when present: the largest relative difference over the
structures of tests/mace_torch_models.py, every head, and (for embedding models) several charges and spins, of

    energy          |E_int - E_int^torch| / |E_int^torch|
    forces          max |F - F^torch| / max |F^torch|
    stress          max |sigma - sigma^torch| / max |sigma^torch|        (periodic structures)
    intermediates   the worst of node energies and of A and h of every layer (max |x - x^torch| / max |x^torch|)

and the constants the imported model keeps because they are not macetutor's exact ones (float32 rounding), with
their largest deviation. ``--write-docs`` puts the table into docs/models.md between its markers.
Needs the `verify` extra. Not a test: it prints measurements (the tests assert the bounds).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
BEGIN, END = "<!-- table:published-architectures:begin -->", "<!-- table:published-architectures:end -->"


def relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0), 1e-300))


def measure(torch_model, elements, charge_spin) -> dict:
    """The four largest relative differences (see the module docstring) of one mace-torch model."""
    from mace_torch_models import evaluate_torch, structures

    from macetutor.interop import from_mace_torch
    from macetutor.irreps import to_e3nn_layout

    ours = from_mace_torch(torch_model)
    worst = {"energy": 0.0, "forces": 0.0, "stress": 0.0, "intermediates": 0.0}
    for positions, numbers, cell, pbc in structures(elements).values():
        for head in ours.config.heads:
            for charge, spin in charge_spin if ours.config.embedding_specs else [(0, 1)]:
                info = {"charge": charge, "spin": spin}
                ref = evaluate_torch(torch_model, positions, numbers, cell, pbc, head=head, info=info)
                got = ours.evaluate(
                    positions,
                    numbers,
                    cell,
                    pbc,
                    forces=True,
                    stress=True,
                    head=head,
                    total_charge=charge,
                    total_spin=spin,
                )
                E_ref = ref["interaction_energy"]
                worst["energy"] = max(worst["energy"], abs(got.interaction_energy - E_ref) / max(abs(E_ref), 1e-300))
                if np.any(ref["forces"]):
                    worst["forces"] = max(worst["forces"], relative(got.forces, ref["forces"]))
                if "stress" in ref:
                    worst["stress"] = max(worst["stress"], relative(got.stress, ref["stress"]))
                inner = [relative(got.node_energies, ref["node_energy"])]
                for t, layer in enumerate(got.intermediates):
                    inner.append(relative(layer.A.reshape(len(numbers), -1), ref["A"][t].reshape(len(numbers), -1)))
                    inner.append(relative(to_e3nn_layout(layer.h, layer.irreps_out), ref["h"][t]))
                worst["intermediates"] = max(worst["intermediates"], *inner)
    deviation = ours.constants_deviation()
    worst["constants"] = f"{len(deviation)} stored, max {max(deviation.values()):.1e}" if deviation else "exact"
    return worst


def rows() -> list:
    import published_families as F

    out = []
    for family in F.FAMILIES:
        out.append((family, measure(F.build(family), F.ELEMENTS, F.CHARGE_SPIN)))
    reduced = ROOT / "tests" / "data" / "reduced_cg" / "reduced_cg.model"
    if reduced.exists():
        import torch

        model = torch.load(reduced, map_location="cpu", weights_only=False).double()
        out.append(("MP-0a, reduced CG (cuequivariance basis)", measure(model, F.ELEMENTS, F.CHARGE_SPIN)))
    return out


def table(results) -> str:
    lines = [
        "| family (as built for the test) | energy | forces | stress | worst intermediate | constants |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for family, r in results:
        lines.append(
            f"| {family} | {r['energy']:.1e} | {r['forces']:.1e} | {r['stress']:.1e} | {r['intermediates']:.1e} "
            f"| {r['constants']} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/models.md")
    args = parser.parse_args()
    import mace  # noqa: F401  (must precede e3nn)
    import torch

    warnings.filterwarnings("ignore")
    text = table(rows())
    print(f"mace-torch {mace.__version__}, torch {torch.__version__}, float64; maximal relative differences:\n")
    print(text)
    if args.write_docs:
        docs = ROOT / "docs" / "models.md"
        page = docs.read_text()
        start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
        stamp = (
            f"\n(`python benchmarks/table_published_architectures.py --write-docs`, mace-torch {mace.__version__})\n\n"
        )
        docs.write_text(page[:start] + stamp + text + "\n" + page[end:])
        print(f"\nwrote {docs}")


if __name__ == "__main__":
    main()
