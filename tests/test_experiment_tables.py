"""The experiments' tables in the README are rendered from the results files (figures/exp_tables.py), not typed in:
the README holds exactly what the script renders from the files in figures/results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tables():
    spec = importlib.util.spec_from_file_location("exp_tables", ROOT / "figures" / "exp_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_tables_are_the_rendered_results_files():
    tables = _tables()
    text = (ROOT / "README.md").read_text()
    between = text[text.index(tables.BEGIN) + len(tables.BEGIN) : text.index(tables.END)]
    assert between.strip() == tables.render().strip()


def test_the_results_files_carry_both_implementations_the_control_and_their_provenance():
    for name in ("learning_curves.json", "body_order.json"):
        results = json.loads((ROOT / "figures" / "results" / name).read_text())
        provenance = results["provenance"]
        assert provenance["labels"].startswith("GFN2-xTB")
        assert "mace_run_train" in provenance["initialisation"]
        for row in results["rows"]:
            assert {"macetutor", "mace-torch", "macetutor, perturbed start"} <= set(row)
            assert set(row["validation"]) == {"macetutor", "mace-torch", "macetutor, perturbed start"}


def test_parting_epoch_is_the_first_epoch_beyond_the_threshold():
    tables = _tables()
    row = {
        "validation": {
            "macetutor": {"epoch": [0, 1, 2, 3], "rmse_f": [1.0, 0.5, 0.25, 0.2]},
            "mace-torch": {"epoch": [0, 1, 2, 3], "rmse_f": [1.0, 0.5 * (1 + 1e-9), 0.25 * (1 + 1e-3), 0.3]},
        }
    }
    assert tables.parting_epoch(row, "mace-torch") == "2"
    assert tables.parting_epoch(row, "mace-torch", threshold=0.1) == "3"
    assert tables.parting_epoch(row, "mace-torch", threshold=1.0) == "never"
    assert tables.parting_epoch(row, "control") == "-"
