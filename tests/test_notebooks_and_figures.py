"""The tutorial notebooks run, the figure scripts draw, and the notebook sources are in jupytext's canonical form.

* every numbered ``notebooks/NN_*.md`` (a MyST notebook, the course's source) executes from a clean kernel, in order
  (nbclient, kernel "python3", cwd notebooks/), and every exercise's solution passes its check;
* every ``figures/fig_*.py`` writes a non-trivial PNG into the directory given by ``--out``;
* every source reads and writes back unchanged with jupytext, so saving it from Jupyter (jupytext) gives no diff,
  and no ``.ipynb`` is kept next to the sources (they are derived: ``macetutor course build`` / ``exercises``).
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FIGURE_DIR = ROOT / "figures"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.md"))
FIGURE_SCRIPTS = sorted(FIGURE_DIR.glob("fig_*.py"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_PNG_BYTES = 10_000


def test_there_is_something_to_test():
    assert [path.name for path in NOTEBOOKS][:3] == [
        "01_spherical_harmonics.md",
        "02_wigner_D.md",
        "03_clebsch_gordan.md",
    ]
    assert "10_molecular_dynamics.md" in [path.name for path in NOTEBOOKS]
    assert len(FIGURE_SCRIPTS) >= 3


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_executes(path, executed_notebooks):
    pytest.importorskip("jupytext", reason="reading the notebook sources needs jupytext (the `test` extra)")
    pytest.importorskip("nbclient", reason="executing the notebooks needs nbclient (the `test` extra)")
    pytest.importorskip("ipykernel", reason="executing the notebooks needs ipykernel (the `test` extra)")
    from macetutor import course

    notebook = executed_notebooks.get(path)
    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    feedback = course.exercise_feedback(notebook)
    assert feedback, f"{path.name} has no exercise with a check"
    assert all(line == "correct" for line in feedback.values()), f"{path.name}: a solution fails its check: {feedback}"
    if path.stem in executed_notebooks.seconds:
        print(f"{path.stem}: executed in {executed_notebooks.seconds[path.stem]:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("script", FIGURE_SCRIPTS, ids=[path.stem for path in FIGURE_SCRIPTS])
def test_figure_script_writes_png(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout}\n{result.stderr}"
    written = list(tmp_path.glob("*.png"))
    assert len(written) == 1, f"{script.name} should write exactly one PNG, wrote {[p.name for p in written]}"
    data = written[0].read_bytes()
    assert data[: len(PNG_MAGIC)] == PNG_MAGIC, f"{written[0].name} is not a PNG"
    assert len(data) > MIN_PNG_BYTES, f"{written[0].name} is suspiciously small ({len(data)} bytes)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_source_is_canonical(path):
    jupytext = pytest.importorskip("jupytext", reason="reading the notebook sources needs jupytext (the `test` extra)")
    text = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst")
    assert notebook.cells, f"{path.name} has no cells"
    rewritten = jupytext.writes(notebook, fmt="md:myst")
    strip = [line for line in text.splitlines() if not line.strip().startswith("jupytext_version:")]
    rewritten_lines = [line for line in rewritten.splitlines() if not line.strip().startswith("jupytext_version:")]
    assert rewritten_lines == strip, (
        f"{path.name} is not in jupytext's canonical MyST form: open and save it in Jupyter, or run "
        f"`jupytext --to md:myst {path.name}` (cell markers: ```{{code-cell}}, +++ between markdown cells)"
    )


def test_no_notebook_copies_next_to_the_sources():
    copies = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
    tracked = subprocess.run(
        ["git", "ls-files", "notebooks/*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    assert not tracked, f"notebooks are kept as MyST text only; remove {tracked} from git"
    if copies:
        pytest.skip(f"untracked {copies} next to the sources (ignored by .gitignore)")
