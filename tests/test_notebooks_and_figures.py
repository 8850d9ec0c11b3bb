"""The tutorial notebooks run, the figure scripts draw, and the notebooks match their generator.

* every numbered ``notebooks/NN_*.ipynb`` executes from a clean kernel, in order (nbclient, kernel "python3", cwd
  notebooks/);
* every ``figures/fig_*.py`` writes a non-trivial PNG into the directory given by ``--out``;
* the generators ``notebooks/build_notebooks*.py --out DIR`` together reproduce every committed notebook's cells
  exactly, and the committed notebooks carry no outputs (edit the cells in the generator, then run it).
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FIGURE_DIR = ROOT / "figures"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
GENERATORS = sorted(NOTEBOOK_DIR.glob("build_notebooks*.py"))
FIGURE_SCRIPTS = sorted(FIGURE_DIR.glob("fig_*.py"))
CELL_TIMEOUT = 300  # seconds per cell
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_PNG_BYTES = 10_000


def test_there_is_something_to_test():
    assert [path.name for path in NOTEBOOKS][:3] == [
        "01_spherical_harmonics.ipynb",
        "02_wigner_D.ipynb",
        "03_clebsch_gordan.ipynb",
    ]
    assert "10_molecular_dynamics.ipynb" in [path.name for path in NOTEBOOKS]
    assert len(FIGURE_SCRIPTS) >= 3


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_executes(path):
    nbformat = pytest.importorskip("nbformat", reason="executing the notebooks needs nbformat (the `test` extra)")
    nbclient = pytest.importorskip("nbclient", reason="executing the notebooks needs nbclient (the `test` extra)")
    pytest.importorskip("ipykernel", reason="executing the notebooks needs ipykernel (the `test` extra)")

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the traceback, if a cell fails
    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors


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


def test_notebooks_match_their_generator(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook generator needs nbformat (the `test` extra)")
    for generator in GENERATORS:
        result = subprocess.run(
            [sys.executable, str(generator), "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{generator.name} failed:\n{result.stdout}\n{result.stderr}"

    generated = sorted(tmp_path.glob("*.ipynb"))
    assert [path.name for path in generated] == [path.name for path in NOTEBOOKS]
    hint = "regenerate them with `python notebooks/build_notebooks*.py` (edit the cells there, not in the .ipynb)"
    for new_path, committed_path in zip(generated, NOTEBOOKS, strict=True):
        new = nbformat.read(new_path, as_version=4)
        committed = nbformat.read(committed_path, as_version=4)
        new_cells = [(cell.cell_type, cell.source) for cell in new.cells]
        committed_cells = [(cell.cell_type, cell.source) for cell in committed.cells]
        assert committed_cells == new_cells, f"{committed_path.name} differs from its generator: {hint}"
        for cell in committed.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{committed_path.name} is stored with outputs: {hint}"
                )
