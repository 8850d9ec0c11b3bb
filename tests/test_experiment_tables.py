"""The experiments' tables in the README are rendered from the results files (figures/exp_tables.py), not typed in:
the README holds exactly what the script renders from the files in figures/results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from macetutor.experiments import CONTROL

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
            assert {"macetutor", "mace-torch", CONTROL} <= set(row)
            assert set(row["validation"]) == {"macetutor", "mace-torch", CONTROL}


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


def test_stage_two_starts_where_mace_run_train_starts_it():
    """mace-torch's rule (tools/scripts_utils.py): start_swa = max(1, max_num_epochs // 4 * 3); with start_swa >=
    max_num_epochs stage two never runs and mace_run_train writes no stage-two model."""
    from macetutor.experiments import Recipe

    assert Recipe(max_num_epochs=60).stage_two_from == 45
    assert Recipe(max_num_epochs=4).stage_two_from == 3
    assert Recipe(max_num_epochs=2).stage_two_from == 1
    assert Recipe(max_num_epochs=1).stage_two_from is None
    assert Recipe(max_num_epochs=60, swa=False).stage_two_from is None
