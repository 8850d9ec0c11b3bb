"""``macetutor course``: the exercises' versions, the command line, and the course site in a real browser.

* ``course exercises`` writes a student and an instructor notebook per source, with one-line errors otherwise;
* ``course build`` renders the site from the notebooks executed once per session (shared with the notebook tests);
  headless Chromium (Debian's chromium + chromium-driver, driven by selenium) opens every page over a local HTTP
  server: no console errors, every equation typeset by the local MathJax (no ``mjx-merror``), every image loaded;
  two screenshots are kept in ``build/test-artefacts/`` (printed). The browser test skips only when Chromium is not
  installed, and fails instead when ``CI`` is set.
"""

import contextlib
import dataclasses
import functools
import http.server
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "build" / "test-artefacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)
SCREENSHOT_PAGES = ("notebooks/01_spherical_harmonics", "api")
PAGE_TIMEOUT = 60  # seconds for a page to load and MathJax to finish


def _cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "macetutor", *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def test_exercises_command_writes_both_versions(tmp_path):
    pytest.importorskip("jupytext", reason="the course needs jupytext (the `course` extra)")
    import nbformat

    done = _cli("course", "exercises", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
    for kind in ("student", "instructor"):
        assert sorted(p.stem for p in (tmp_path / kind).glob("*.ipynb")) == [p.stem for p in sources]
    student = nbformat.read(tmp_path / "student" / "01_spherical_harmonics.ipynb", as_version=4)
    instructor = nbformat.read(tmp_path / "instructor" / "01_spherical_harmonics.ipynb", as_version=4)
    student_text = "".join(cell.source for cell in student.cells if cell.cell_type == "code")
    instructor_text = "".join(cell.source for cell in instructor.cells if cell.cell_type == "code")
    assert "BEGIN SOLUTION" not in student_text and "answer = ..." in student_text
    assert "BEGIN SOLUTION" in instructor_text and "check_parity(answer)" in student_text
    from macetutor.exercises import CHECKS

    assert f"{sum(len(checks) for checks in CHECKS.values())} exercises" in done.stdout  # one per check


def test_course_errors_are_one_line_with_exit_codes(tmp_path):
    missing = _cli("course", "exercises", "--out", str(tmp_path / "out"), "--root", str(tmp_path))
    assert missing.returncode == 3 and len(missing.stderr.strip().splitlines()) == 1
    assert "no course sources" in missing.stderr
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert _cli("course", "build", "--out", str(a_file)).returncode == 3
    assert _cli("course", "build", "--out", str(tmp_path / "o"), "--executed", str(tmp_path / "nope")).returncode == 3
    assert _cli("course").returncode == 2  # argparse: a course command is required


def test_missing_course_dependency_is_exit_code_5(monkeypatch, tmp_path, capsys):
    from macetutor import cli, course

    def missing(module, package=None):
        raise course.CourseDependencyError(f"the course needs {package or module} (the `course` extra)")

    monkeypatch.setattr(course, "_require", missing)
    assert cli.main(["course", "exercises", "--out", str(tmp_path)]) == cli.EXIT_DEPENDENCY
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_failing_notebook_is_exit_code_6(tmp_path):
    pytest.importorskip("nbclient", reason="executing notebooks needs nbclient (the `course` extra)")
    pytest.importorskip("sphinx", reason="the course site needs Sphinx (the `course` extra)")
    (tmp_path / "docs").mkdir()
    (tmp_path / "notebooks").mkdir()
    header = "---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
    (tmp_path / "notebooks" / "01_broken.md").write_text(header + "# Broken\n\n```{code-cell}\n1 / 0\n```\n")
    done = _cli("course", "build", "--out", str(tmp_path / "site"), "--root", str(tmp_path))
    assert done.returncode == 6, done.stderr
    assert "01_broken.md failed" in done.stderr and "ZeroDivisionError" in done.stderr


# --------------------------------------------------------------------------------------------
# the site
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Site:
    out: Path
    pages: list
    printed: str  # what `macetutor course build` printed: per-page times, warnings, the total


@pytest.fixture(scope="session")
def course_site(executed_notebooks, tmp_path_factory):
    """The site built once per session by ``macetutor course build --executed`` from the notebooks executed once per
    session (shared with the notebook tests)."""
    pytest.importorskip("sphinx", reason="the course site needs Sphinx (the `course` extra)")
    pytest.importorskip("myst_nb", reason="the course site needs myst-nb (the `course` extra)")
    pytest.importorskip("mathjax", reason="the course site needs django-static-mathjax (the `course` extra)")
    from macetutor import cli, course

    sources = course.notebook_sources(ROOT)
    for source in sources:
        executed_notebooks.get(source)
    out = tmp_path_factory.mktemp("course_site") / "site"
    printed = io.StringIO()
    arguments = [
        "course",
        "build",
        "--out",
        str(out),
        "--root",
        str(ROOT),
        "--executed",
        str(executed_notebooks.directory),
    ]
    with contextlib.redirect_stdout(printed):
        code = cli.main(arguments)
    print("\n" + printed.getvalue())
    assert code == cli.EXIT_OK, printed.getvalue()
    return Site(out=out, pages=course.site_pages([source.stem for source in sources]), printed=printed.getvalue())


@pytest.mark.slow
@pytest.mark.notebook
def test_site_has_every_page_offline(course_site):
    out = course_site.out
    for page in course_site.pages:
        assert (out / f"{page}.html").is_file(), f"{page}.html was not built"
    notebooks = [page for page in course_site.pages if page.startswith("notebooks/")]
    assert course_site.printed.count("executed: reused") == len(notebooks), "the site re-executed notebooks"
    assert "warning: the solution" not in course_site.printed, course_site.printed
    assert (out / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    for html in out.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        for remote in ('src="http', "src='http", 'href="http://fonts', 'href="https://fonts', "cdn.jsdelivr"):
            assert remote not in text, f"{html.relative_to(out)} loads {remote}... from the network"
        assert 'class="problematic"' not in text, f"{html.relative_to(out)} shows a reStructuredText error"
    notebook_page = (out / "notebooks" / "01_spherical_harmonics.html").read_text(encoding="utf-8")
    assert "<img" in notebook_page and "correct" in notebook_page, "outputs and figures of the executed notebook"
    api = (out / "api.html").read_text(encoding="utf-8")
    assert "spherical_harmonics" in api and 'class="math' in api, "the API reference, with its equations"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _browser(user_data_dir: str):
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium (the `test` extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const started = Date.now();
const finish = (mathjax) => done({
  mathjax: mathjax,
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  errors: document.querySelectorAll('mjx-merror').length,
  images: Array.from(document.images).map(img => [img.getAttribute('src'), img.complete && img.naturalWidth > 0]),
});
const wait = () => {
  if (document.readyState !== 'complete') { setTimeout(wait, 50); return; }
  if (!document.querySelector('.math')) { finish(true); return; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => finish(true));
    return;
  }
  if (Date.now() - started > 10000) { finish(false); return; }  // equations, but no MathJax on the page
  setTimeout(wait, 50);
};
wait();
"""


@pytest.mark.slow
@pytest.mark.notebook
def test_site_in_headless_chromium(course_site):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        reason = (
            f"headless Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium chromium-driver"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the browser test: README's ci:browser-command installs them)")
        pytest.skip(reason)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    user_data_dir = tempfile.mkdtemp(prefix="macetutor-chromium-")
    driver = _browser(user_data_dir)
    driver.set_script_timeout(PAGE_TIMEOUT)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    problems, timings = [], {}
    try:
        with _serve(course_site.out) as base:
            for page in course_site.pages:
                start = time.perf_counter()
                driver.get(f"{base}/{page}.html")
                state = driver.execute_async_script(WAIT_FOR_MATHJAX)
                timings[page] = time.perf_counter() - start
                errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
                if errors:
                    problems.append(f"{page}: console errors {errors}")
                if not state["mathjax"]:
                    problems.append(f"{page}: {state['math']} equations but MathJax never loaded")
                elif state["math"] and (state["typeset"] < state["math"] or state["errors"]):
                    problems.append(
                        f"{page}: {state['math']} equations, {state['typeset']} typeset, {state['errors']} errors"
                    )
                broken = [src for src, loaded in state["images"] if not loaded]
                if broken:
                    problems.append(f"{page}: images not loaded {broken}")
                print(
                    f"  {page:45s} rendered in {timings[page]:5.2f} s: {state['typeset']:4d} equations typeset, "
                    f"{len(state['images'])} images"
                )
                if page in SCREENSHOT_PAGES:
                    shot = ARTEFACTS / f"{page.replace('/', '_')}.png"
                    driver.save_screenshot(str(shot))
                    print(f"  screenshot: {shot}")
    finally:
        driver.quit()
        shutil.rmtree(user_data_dir, ignore_errors=True)
    assert not problems, "\n".join(problems)
    for page in SCREENSHOT_PAGES:
        assert (ARTEFACTS / f"{page.replace('/', '_')}.png").stat().st_size > 10_000
