"""The course: notebook sources, the student's and the instructor's versions, and the rendered course site.

The notebooks' sources are MyST markdown notebooks (``notebooks/NN_name.md``, jupytext's ``myst`` format): text a
teacher edits and git diffs, which Jupyter opens as a notebook (with jupytext) and Sphinx reads (with myst-nb).

* An **exercise cell** is a code cell tagged ``exercise`` whose solution sits between ``# BEGIN SOLUTION`` and
  ``# END SOLUTION`` and that ends with a check, ``mt.exercises.check_<name>(answer)``. The sources are the
  instructor's version; :func:`student_version` replaces each solution by ``answer = ...``.
* :func:`write_exercises` writes both versions as ``.ipynb`` (``macetutor course exercises --out DIR``).
* :func:`build_site` executes every notebook once, from a clean kernel, and renders the course site with Sphinx and
  myst-nb: the outline, the notebooks with their outputs, docs/, the README's figures and the API reference, with
  MathJax served from the build (``macetutor course build --out DIR``). Nothing is fetched from the network.

These need the ``course`` extra (jupytext, nbclient, ipykernel, Sphinx, myst-nb, the theme and a local MathJax);
:class:`CourseDependencyError` names what is missing.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NOTEBOOK_GLOB = "[0-9][0-9]_*.md"
EXERCISE_TAG = "exercise"
SOLUTION_BEGIN = "# BEGIN SOLUTION"
SOLUTION_END = "# END SOLUTION"
STUDENT_PLACEHOLDER = "answer = ...  # your answer: replace ... (see the exercise above)"
CELL_TIMEOUT = 600  # seconds per cell
DOC_PAGES = ("architecture.md", "conventions.md", "models.md", "training.md")  # from docs/, in the order of the site


class CourseSourceError(ValueError):
    """The course sources (notebooks/, docs/) are missing or malformed; the message says what to do."""


class CourseDependencyError(ImportError):
    """A package of the ``course`` extra is missing."""


class CourseBuildError(RuntimeError):
    """A notebook raised while executing, or Sphinx failed; the message names the notebook or the log."""


def _require(module: str, package: str | None = None):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise CourseDependencyError(
            f"the course needs {package or module} (the `course` extra): pip install 'macetutor[course]'"
        ) from err


# --------------------------------------------------------------------------------------------
# the sources
# --------------------------------------------------------------------------------------------


def find_root(root=None) -> Path:
    """The folder holding ``notebooks/NN_*.md`` and ``docs/``: ``root``, else the working directory or one of its
    parents, else the clone this package was installed from (editable installs)."""
    candidates = [Path(root)] if root is not None else [Path.cwd(), *Path.cwd().parents, Path(__file__).parents[1]]
    for candidate in candidates:
        if any((candidate / "notebooks").glob(NOTEBOOK_GLOB)) and (candidate / "docs").is_dir():
            return candidate.resolve()
    where = f"{root}" if root is not None else "the working directory (or its parents)"
    raise CourseSourceError(
        f"no course sources in {where}: run this from a clone of macetutor (it needs notebooks/NN_*.md and docs/), "
        "or pass --root"
    )


def notebook_sources(root: Path) -> list[Path]:
    """The numbered MyST notebooks, in course order."""
    return sorted((Path(root) / "notebooks").glob(NOTEBOOK_GLOB))


def read_notebook(path: Path):
    """A MyST notebook as an ``nbformat`` notebook (no outputs)."""
    jupytext = _require("jupytext")
    return jupytext.read(path, fmt="md:myst")


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and EXERCISE_TAG in cell.metadata.get("tags", [])


def _solution_span(lines: list[str], name: str) -> tuple[int, int]:
    begins = [i for i, line in enumerate(lines) if line.strip() == SOLUTION_BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == SOLUTION_END]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise CourseSourceError(f"{name}: an exercise cell needs one '{SOLUTION_BEGIN}' ... '{SOLUTION_END}' block")
    return begins[0], ends[0]


def check_name(cell) -> str:
    """The check an exercise cell calls, e.g. ``check_parity``."""
    found = re.findall(r"exercises\.(check_\w+)\(", cell.source)
    return found[-1] if found else ""


def student_version(notebook, name: str = "notebook"):
    """A copy of ``notebook`` whose exercise solutions are replaced by ``answer = ...``."""
    student = copy.deepcopy(notebook)
    for cell in student.cells:
        if is_exercise(cell):
            lines = cell.source.split("\n")
            begin, end = _solution_span(lines, name)
            cell.source = "\n".join([*lines[:begin], STUDENT_PLACEHOLDER, *lines[end + 1 :]])
    return student


def instructor_version(notebook, name: str = "notebook"):
    """A copy of ``notebook`` with its solutions (the sources are the instructor's version); checks the markers."""
    instructor = copy.deepcopy(notebook)
    for cell in instructor.cells:
        if is_exercise(cell):
            _solution_span(cell.source.split("\n"), name)
    return instructor


def write_exercises(out, root=None) -> dict[str, list[str]]:
    """Write ``out/student/NN_name.ipynb`` and ``out/instructor/NN_name.ipynb``; return {notebook: its checks}."""
    nbformat = _require("nbformat")
    root = find_root(root)
    out = Path(out)
    checks = {}
    for source in notebook_sources(root):
        notebook = read_notebook(source)
        for kind, version in (("student", student_version), ("instructor", instructor_version)):
            target = out / kind / f"{source.stem}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(version(notebook, source.name), target)
        checks[source.stem] = [check_name(cell) for cell in notebook.cells if is_exercise(cell)]
    return checks


# --------------------------------------------------------------------------------------------
# executing
# --------------------------------------------------------------------------------------------


def _code_sources(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def execute_notebook(source: Path, timeout: int = CELL_TIMEOUT):
    """Execute the instructor's version of ``source`` from a clean kernel (cwd: its folder); return the notebook.

    Raises :class:`CourseBuildError` naming the cell that failed."""
    nbclient = _require("nbclient")
    _require("ipykernel")
    notebook = instructor_version(read_notebook(source), source.name)
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel start-up notices in the build's output
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise CourseBuildError(f"{source.name} failed: {first}") from err
    return notebook


def reusable(executed_path: Path, source: Path):
    """The executed notebook at ``executed_path`` if its code cells are exactly those of ``source``, else None."""
    if not executed_path.is_file():
        return None
    nbformat = _require("nbformat")
    executed = nbformat.read(executed_path, as_version=4)
    return executed if _code_sources(executed) == _code_sources(read_notebook(source)) else None


def exercise_feedback(notebook) -> dict[str, str]:
    """{check name: the first line its exercise cell printed} of an executed notebook."""
    feedback = {}
    for cell in notebook.cells:
        if is_exercise(cell):
            text = "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("name") == "stdout")
            lines = [line for line in text.splitlines() if line.startswith(("correct", "not correct", "not answered"))]
            feedback[check_name(cell)] = lines[-1] if lines else ""
    return feedback


# --------------------------------------------------------------------------------------------
# the site
# --------------------------------------------------------------------------------------------

CONF_PY = '''\
"""Sphinx configuration of the macetutor course site (written by macetutor.course.build_site)."""

import sys

sys.path.insert(0, {package_root!r})
project = "macetutor course"
author = "macetutor"
copyright = "macetutor contributors (MIT)"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.duration"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # executed once by macetutor.course, before Sphinx
nb_merge_streams = True
exclude_patterns = ["_build"]
duration_n_slowest = 0  # sphinx.ext.duration: list every page's reading time
suppress_warnings = ["myst.header", "misc.highlighting_failure", "myst.xref_missing", "ref.python"]
autodoc_member_order = "bysource"
autodoc_default_options = {{"members": True, "undoc-members": False}}
mathjax_path = "mathjax/tex-mml-chtml.js"  # served from the build: no network
html_static_path = ["_static"]
html_theme = {theme!r}
html_title = "macetutor course"
html_theme_options = {theme_options!r}
html_context = {{"default_mode": "light"}}  # the pydata theme logs a console error on a first visit without it
html_show_sourcelink = False
html_favicon = "_static/favicon.svg"  # declared, so that browsers do not ask for a missing /favicon.ico
html_css_files = ["course.css"]


def _docstring_as_written(app, what, name, obj, options, lines):
    """macetutor's docstrings are plain text (aligned ASCII equations, |x| norms, "Parameters:" lists): show them as
    written, in a preformatted block, and render only their ``.. math::`` blocks as equations."""
    out, text, i = [], [], 0

    def flush():
        while text and not text[-1].strip():
            text.pop()
        while text and not text[0].strip():
            text.pop(0)
        if text:
            out.extend(["", ".. code-block:: text", ""] + ["    " + line for line in text] + [""])
        text.clear()

    while i < len(lines):
        if lines[i].strip().startswith(".. math::"):
            flush()
            indent = len(lines[i]) - len(lines[i].lstrip())
            out.extend(["", ".. math::"])
            i += 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                out.append(lines[i][indent:])
                i += 1
            out.append("")
            continue
        text.append(lines[i])
        i += 1
    flush()
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _docstring_as_written)
    app.set_html_assets_policy("always")  # MathJax on every page: the navigation's titles hold equations too
'''

COURSE_CSS = """/* docstrings are shown as written (preformatted): wrap their long lines instead of scrolling */
div.highlight-text pre { white-space: pre-wrap; }
"""

FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f4e79"/>'
    '<text x="16" y="23" font-size="20" text-anchor="middle" fill="#fff" font-family="sans-serif">M</text></svg>'
)

API_MODULES = (
    ("so3", "real spherical harmonics, Wigner D"),
    ("cg", "Clebsch–Gordan coefficients and the generalised coefficients U"),
    ("irreps", "irreps and layouts"),
    ("config", "the model's configuration"),
    ("neighbors", "the neighbour list"),
    ("graph", "the graph of a structure"),
    ("radial", "radial basis, envelope, radial MLP"),
    ("basis", "the atomic basis A (eq. 8)"),
    ("product", "the product basis B (eq. 10) and the message (eq. 11)"),
    ("readout", "update (eq. 12) and readouts (eq. 13)"),
    ("layer", "one interaction layer"),
    ("model", "the MACE model"),
    ("forces", "forces, virial and stress"),
    ("gradcheck", "checking derivatives"),
    ("training", "the loss and its exact gradient"),
    ("trainer", "mace-torch's training recipe"),
    ("exercises", "the exercises' checks"),
    ("course", "the course tools"),
)


@dataclass
class SiteReport:
    """What :func:`build_site` did and how long each step took (seconds)."""

    out: Path
    pages: list[str] = field(default_factory=list)
    execution_seconds: dict[str, float] = field(default_factory=dict)  # notebook -> seconds (0 when reused)
    reused: list[str] = field(default_factory=list)
    read_seconds: dict[str, float] = field(default_factory=dict)  # page -> Sphinx's reading time
    sphinx_seconds: float = 0.0
    total_seconds: float = 0.0
    feedback: dict[str, dict[str, str]] = field(default_factory=dict)  # notebook -> {check: first line}
    warnings: list[str] = field(default_factory=list)


def _mathjax_dir() -> Path:
    module = _require("mathjax", "django-static-mathjax (MathJax 3, served locally)")
    path = Path(module.__file__).parent / "static" / "mathjax" / "es5"
    if not (path / "tex-mml-chtml.js").is_file():
        raise CourseDependencyError("django-static-mathjax has no es5/tex-mml-chtml.js: reinstall the `course` extra")
    return path


def _theme() -> tuple[str, dict]:
    import importlib.util

    if importlib.util.find_spec("sphinx_book_theme"):
        return "sphinx_book_theme", {"show_toc_level": 2, "home_page_in_toc": True}
    return "alabaster", {}


def _outline(root: Path) -> str:
    """notebooks/README.md with its notebook names turned into links to the rendered pages."""
    text = (root / "notebooks" / "README.md").read_text(encoding="utf-8")
    return re.sub(r"`(\d\d_\w+)\.md`", r"[`\1`](notebooks/\1.ipynb)", text)


def _figures_page(root: Path) -> str:
    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = ["# Figures", "", "The figures of the README; each is drawn by one seeded script in `figures/`.", ""]
    for title, path in re.findall(r"!\[([^\]]*)\]\((figures/[^)\s]+)\)", readme):
        lines += [f"## {title}", "", f"![{title}]({path})", ""]
    return "\n".join(lines)


def _api_page() -> str:
    lines = ["# API reference", "", "Generated from the docstrings of `macetutor`.", ""]
    for module, what in API_MODULES:
        lines += [
            f"## `macetutor.{module}`: {what}",
            "",
            "```{eval-rst}",
            f".. automodule:: macetutor.{module}",
            "```",
            "",
        ]
    return "\n".join(lines)


def _index_page(notebooks: list[str]) -> str:
    toc_notebooks = "\n".join(f"notebooks/{name}" for name in notebooks)
    return f"""# macetutor course

MACE (Batatia et al., NeurIPS 2022, arXiv:2206.07697) as readable, exact NumPy: {len(notebooks)} notebooks, one equation each,
with their outputs and figures, the exercises with their checks (solutions behind "Show the solution"), the
conventions, how to read the code, and the API reference.

```{{toctree}}
:maxdepth: 1
:caption: Course

outline
{toc_notebooks}
```

```{{toctree}}
:maxdepth: 1
:caption: Reference

docs/architecture
docs/conventions
docs/models
docs/training
figures
api
```
"""


def _stage(root: Path, staging: Path, executed: dict[str, object]) -> list[str]:
    """Write the Sphinx source tree into ``staging``; return the page names."""
    nbformat = _require("nbformat")
    (staging / "notebooks").mkdir(parents=True)
    theme, options = _theme()
    (staging / "conf.py").write_text(
        CONF_PY.format(package_root=str(Path(__file__).parents[1]), theme=theme, theme_options=options),
        encoding="utf-8",
    )
    shutil.copytree(_mathjax_dir(), staging / "_static" / "mathjax")
    (staging / "_static" / "favicon.svg").write_text(FAVICON_SVG, encoding="utf-8")
    (staging / "_static" / "course.css").write_text(COURSE_CSS, encoding="utf-8")
    shutil.copytree(root / "figures", staging / "figures", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (staging / "docs").mkdir()
    for page in DOC_PAGES:
        shutil.copy(root / "docs" / page, staging / "docs" / page)
    for name, notebook in executed.items():
        notebook = copy.deepcopy(notebook)
        for cell in notebook.cells:
            if is_exercise(cell):  # the solution behind a "show" button; its check's verdict stays visible
                tags = cell.metadata.get("tags", [])
                cell.metadata["tags"] = tags if "hide-input" in tags else [*tags, "hide-input"]
                cell.metadata["mystnb"] = {
                    "code_prompt_show": "Show the solution",
                    "code_prompt_hide": "Hide the solution",
                }
        nbformat.write(notebook, staging / "notebooks" / f"{name}.ipynb")
    (staging / "index.md").write_text(_index_page(list(executed)), encoding="utf-8")
    (staging / "outline.md").write_text(_outline(root), encoding="utf-8")
    (staging / "figures.md").write_text(_figures_page(root), encoding="utf-8")
    (staging / "api.md").write_text(_api_page(), encoding="utf-8")
    return site_pages(list(executed))


def site_pages(notebooks: list[str]) -> list[str]:
    """The pages of the site (paths without ``.html``), in the order of its table of contents."""
    pages = ["index", "outline", *(f"notebooks/{name}" for name in notebooks)]
    return pages + [f"docs/{page[:-3]}" for page in DOC_PAGES] + ["figures", "api"]


def _read_durations(log: str) -> dict[str, float]:
    """Per-page reading times from sphinx.ext.duration's table (lines '0.123s docname')."""
    table = log.split("slowest reading durations")[-1]
    return {name: float(seconds) for seconds, name in re.findall(r"^\s*(\d+\.\d+)s?\s+(\S+)\s*$", table, re.MULTILINE)}


def build_site(out, root=None, executed_dir=None, progress=print) -> SiteReport:
    """Build the course site into ``out`` (open ``out/index.html``); return the report with the timings.

    ``executed_dir``: a folder of notebooks executed before (``NN_name.ipynb``, e.g. by the test suite); each one
    whose code cells equal its source's is reused instead of being executed again. (A little longer than most
    functions: the build's steps -- execute, stage, write the pages, run Sphinx, time it -- in their order.)"""
    start = time.perf_counter()
    root = find_root(root)
    _require("sphinx")
    _require("myst_nb", "myst-nb")
    _mathjax_dir()
    out = Path(out).resolve()
    report = SiteReport(out=out)
    executed = {}
    for source in notebook_sources(root):
        previous = reusable(Path(executed_dir) / f"{source.stem}.ipynb", source) if executed_dir else None
        if previous is not None:
            executed[source.stem] = previous
            report.reused.append(source.stem)
            report.execution_seconds[source.stem] = 0.0
            progress(f"  {source.stem}: reused the executed notebook from {executed_dir}")
            continue
        tick = time.perf_counter()
        progress(f"  {source.stem}: executing ...")
        executed[source.stem] = execute_notebook(source)
        report.execution_seconds[source.stem] = time.perf_counter() - tick
        progress(f"  {source.stem}: executed in {report.execution_seconds[source.stem]:.1f} s")
    report.feedback = {name: exercise_feedback(notebook) for name, notebook in executed.items()}

    with tempfile.TemporaryDirectory(prefix="macetutor-course-") as tmp:
        staging = Path(tmp) / "source"
        report.pages = _stage(root, staging, executed)
        tick = time.perf_counter()
        progress("  rendering the site with Sphinx ...")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sphinx",
                "-b",
                "html",
                "-E",
                "-d",
                str(Path(tmp) / "doctrees"),
                str(staging),
                str(out),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        report.sphinx_seconds = time.perf_counter() - tick
        report.warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
        if done.returncode != 0 or not (out / "index.html").is_file():
            out.mkdir(parents=True, exist_ok=True)
            log = out / "sphinx.log"
            log.write_text(done.stdout + done.stderr, encoding="utf-8")
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise CourseBuildError(f"Sphinx failed ({last}); the whole log is in {log}")
        (out / "_executed").mkdir(exist_ok=True)  # reusable by --executed
        for name in executed:
            shutil.copy(staging / "notebooks" / f"{name}.ipynb", out / "_executed" / f"{name}.ipynb")
    report.read_seconds = _read_durations(done.stdout)
    report.total_seconds = time.perf_counter() - start
    return report
