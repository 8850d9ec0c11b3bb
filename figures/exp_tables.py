"""The experiments' tables, rendered from the results files (never typed in): macetutor and mace-torch side by side with
their wall times and the control run, next to the MACE paper's published numbers for the same protocols.

    python figures/exp_tables.py [--write-readme]

prints the tables (markdown); ``--write-readme`` puts them into README.md between the table markers. The paper's
numbers are quotations (Batatia et al., NeurIPS 2022, arXiv:2206.07697; Table 1: rMD17 MAE, Table 2: 3BPA RMSE,
MACE L = 2, mean (standard deviation) over three runs): DFT labels, 950 / 450 training configurations, converged
training -- not the same data, labels or budget as here, so the comparison is of trends, not of values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from macetutor.experiments import CONTROL, Recipe  # noqa: E402

README = HERE.parent / "README.md"
BEGIN, END = "<!-- table:experiments:begin -->", "<!-- table:experiments:end -->"

# The MACE paper's published numbers (quotations): rMD17 ethanol MAE, meV / meV/Å (Table 1; N = 950 + 50 and
# N = 50); 3BPA RMSE of MACE L = 2, total energy meV / meV/Å (Table 2; trained at 300 K, 450 + 50 configurations).
PAPER_ETHANOL = {1000: (0.4, 2.1), 50: (6.7, 32.6)}
PAPER_3BPA = {"test_300K": ("3.0 (0.2)", "8.8 (0.3)"), "test_600K": ("9.7 (0.5)", "21.8 (0.6)"),
              "test_1200K": ("29.8 (1.0)", "62.0 (0.7)"), "dihedral_scan": ("7.8 (0.6)", "16.5 (1.7)")}  # fmt: skip


def _pct(ours: float, theirs: float) -> str:
    return f"{100 * (ours - theirs) / theirs:+.1f} %"


def parting_epoch(row: dict, other: str, threshold: float = 1e-6) -> str:
    """The first epoch at which the validation force RMSE of macetutor and of ``other`` differ by more than
    ``threshold`` (relative): where the two paths part ("-" if they never do, or without the record)."""
    v = row.get("validation") or {}
    if other not in v:
        return "-"
    ours, theirs = v["macetutor"], v[other]
    for epoch, a, b in zip(ours["epoch"], ours["rmse_f"], theirs["rmse_f"], strict=False):
        if abs(a - b) > threshold * abs(b):
            return str(epoch)
    return "never"


def learning_curve_table(results: dict) -> str:
    e, f = "rmse_e_meV_per_atom", "rmse_f_meV_per_A"
    lines = [
        "| N | macetutor E / F | mace-torch E / F | difference E / F | control E / F | paths part (epoch) "
        "| time macetutor / mace-torch (s) |",
        "|---:|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        ours, theirs = row["macetutor"], row["mace-torch"]
        control = row.get(CONTROL)
        lines.append(
            f"| {row['n_train']} | {ours[e]:.1f} / {ours[f]:.1f} | {theirs[e]:.1f} / {theirs[f]:.1f} | "
            f"{_pct(ours[e], theirs[e])} / {_pct(ours[f], theirs[f])} | "
            + (f"{_pct(control[e], ours[e])} / {_pct(control[f], ours[f])}" if control else "-")
            + f" | {parting_epoch(row, 'mace-torch')} / {parting_epoch(row, CONTROL)}"
            + f" | {ours['seconds']:.0f} / {theirs['seconds']:.0f} |"
        )
    paper = ", ".join(f"N = {n}: {E} meV / {F} meV/Å" for n, (E, F) in PAPER_ETHANOL.items())
    lines.append("")
    lines.append(
        "Test RMSE, E in meV/atom, F in meV/Å; difference = macetutor against mace-torch; control = macetutor from the "
        "same start perturbed by 1e-15, against macetutor; paths part = the first epoch at which macetutor's validation "
        "force RMSE differs by more than 1e-6 (relative) from mace-torch's / from the control's. Paper (rMD17 "
        "ethanol, DFT, MAE of the total energy, "
        f"Table 1): {paper}."
    )
    return "\n".join(lines)


def body_order_table(results: dict) -> str:
    tests = ("test_300K", "test_600K", "test_1200K", "dihedral_scan")
    n_atoms = 27  # 3BPA, C12H12N2O: total-energy RMSE = 27 x the per-atom one
    head = " | ".join(("300 K", "600 K", "1200 K", "dihedral scan"))
    lines = [f"| nu | implementation | {head} | time (s) |", "|---:|---|---|---|---|---|---|"]
    for row in results["rows"]:
        for impl in ("macetutor", "mace-torch", CONTROL):
            if impl not in row:
                continue
            cells = [
                f"{n_atoms * row[impl][k]['rmse_e_meV_per_atom']:.0f} / {row[impl][k]['rmse_f_meV_per_A']:.0f}"
                for k in tests
            ]
            lines.append(f"| {row['correlation']} | {impl} | " + " | ".join(cells) + f" | {row[impl]['seconds']:.0f} |")
        cells = [_pct(row["macetutor"][k]["rmse_f_meV_per_A"], row["mace-torch"][k]["rmse_f_meV_per_A"]) for k in tests]
        lines.append(f"| {row['correlation']} | F: macetutor against mace-torch | " + " | ".join(cells) + " | |")
        parts = f"epoch {parting_epoch(row, 'mace-torch')} (mace-torch) / {parting_epoch(row, CONTROL)} (control)"
        lines.append(f"| {row['correlation']} | paths part | {parts} | | | | |")
    lines.append("| 3 | paper, MACE L = 2 (DFT) | " + " | ".join(f"{E} / {F}" for E, F in PAPER_3BPA.values()) + " | |")
    lines.append("")
    lines.append(
        "Test RMSE, E in meV per molecule (27 atoms) / F in meV/Å. Paper: Batatia et al. 2022, Table 2, MACE L = 2 "
        "(correlation order 3), mean (standard deviation) over three runs."
    )
    return "\n".join(lines)


def render() -> str:
    curves = json.loads((HERE / "results" / "learning_curves.json").read_text())
    body = json.loads((HERE / "results" / "body_order.json").read_text())
    parts = []
    for results, table in ((curves, learning_curve_table), (body, body_order_table)):
        p = results["provenance"]
        recipe = p["recipe"]
        stage_two = Recipe(**recipe).stage_two_from
        parts.append(
            f"**{results['experiment']}** (`{p['command']}`; {recipe['max_num_epochs']} epochs, "
            + (f"stage two from epoch {stage_two}" if stage_two is not None else "no stage two")
            + f"; {p['machine']}; mace-torch {p['versions'].get('mace-torch')})"
            f"\n\n{table(results)}"
        )
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-readme", action="store_true", help="write the tables into README.md")
    args = parser.parse_args()
    tables = render()
    print(tables)
    if args.write_readme:
        text = README.read_text()
        start, stop = text.index(BEGIN), text.index(END)
        README.write_text(text[: start + len(BEGIN)] + "\n" + tables + "\n" + text[stop:])


if __name__ == "__main__":
    main()
