"""The exercises' checks: every solution passes its check, wrong answers are rejected without the answer given away.

* every exercise cell of the notebook sources is self-contained: its solution, run on its own (cwd notebooks/),
  makes its check print "correct"; the student's version of the cell prints "not answered yet";
* every check rejects at least one wrong answer (``WRONG_ANSWERS``) with "not correct: ..." and a message that does
  not contain the right answer (when it is a number that is not whole; arrays are only ever summarised);
* the checks the notebooks call are exactly those in ``macetutor.exercises.CHECKS``, notebook by notebook.
"""

import contextlib
import inspect
import io
import os
from pathlib import Path

import numpy as np
import pytest

from macetutor import exercises

jupytext = pytest.importorskip("jupytext", reason="reading the notebook sources needs jupytext (the `test` extra)")
from macetutor import course  # noqa: E402 (after the skip: course reads notebooks with jupytext)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = course.notebook_sources(ROOT)
EXERCISE_CELLS = [
    (source, cell) for source in SOURCES for cell in course.read_notebook(source).cells if course.is_exercise(cell)
]
IDS = [f"{source.stem[:2]}-{course.check_name(cell)}" for source, cell in EXERCISE_CELLS]


def _gate_by_x_component(scalars, vectors):  # not equivariant: the x component is no scalar
    return vectors[..., :1] * vectors


def _gate_ignoring_scalars(scalars, vectors):  # equivariant, but it gates nothing
    return 2.0 * vectors


WRONG_ANSWERS = {
    "check_learning_curve_slope": [0.6, -0.1, -2.0],
    "check_parity": [[1, 1, 1, 1, 1, 1, 1], [1, -1, 1], [1, -1, 1, -1, 1, -1, 0.5]],
    "check_addition_theorem": [1.0, 0.0, -3.2],
    "check_inversion_D": [np.eye(7), np.eye(5)],
    "check_y_rotation_block": [
        np.eye(2),
        np.array([[np.cos(0.8), np.sin(0.8)], [-np.sin(0.8), np.cos(0.8)]]).T * -1,
    ],
    "check_cross_product_factor": [1.0, 0.5, "one"],
    "check_envelope_degree": [7, 2, 2.5],
    "check_bessel_gram": [np.zeros((4, 4)), np.ones((4, 4)), np.eye(3)],
    "check_cutoff_smoothness": [0, 5, -1],
    "check_symmetric_invariants": [46, 1],
    "check_receptive_field": [[0, 1, 2], list(range(8)), "all"],
    "check_optimal_step": [1e-8, 0.1],
    "check_porting_permutation": [np.eye(3), np.ones((3, 3))],
    "check_verlet_order": [1, 4, 2.5],
    "check_gate": [_gate_by_x_component, _gate_ignoring_scalars, 3.0],
    "check_agnesi_limit": [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]],
    "check_complex_step": [
        (
            np.exp(0.7 + 1e-5) * np.sin(3 * (0.7 + 1e-5)) / (1 + (0.7 + 1e-5) ** 2)
            - np.exp(0.7 - 1e-5) * np.sin(3 * (0.7 - 1e-5)) / (1 + (0.7 - 1e-5) ** 2)
        )
        / 2e-5,
        0.0,
        "f'",
    ],
}


def _run_cell(source: str) -> tuple[str, dict]:
    """Execute a cell's source on its own, in notebooks/; return what it printed and its namespace."""
    namespace = {"__name__": "__exercise__"}
    printed = io.StringIO()
    previous = Path.cwd()
    os.chdir(ROOT / "notebooks")
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(source, "<exercise cell>", "exec"), namespace)
    finally:
        os.chdir(previous)
    return printed.getvalue(), namespace


def _check_function(name):
    return getattr(exercises, name)


def test_every_notebook_has_checked_exercises_and_the_index_matches():
    by_notebook = {}
    for source, cell in EXERCISE_CELLS:
        by_notebook.setdefault(source.stem[:2], []).append(course.check_name(cell))
    assert sorted(by_notebook) == sorted(source.stem[:2] for source in SOURCES), "a notebook has no exercise cell"
    assert {key: [check.__name__ for check in checks] for key, checks in exercises.CHECKS.items()} == by_notebook
    defined = {name for name, value in inspect.getmembers(exercises, inspect.isfunction) if name.startswith("check_")}
    assert defined == {name for names in by_notebook.values() for name in names}
    assert set(WRONG_ANSWERS) == defined, "every check needs at least one wrong answer here"


@pytest.mark.parametrize(("source", "cell"), EXERCISE_CELLS, ids=IDS)
def test_solution_passes_its_check(source, cell):
    printed, namespace = _run_cell(cell.source)
    assert printed.strip().splitlines()[-1] == "correct", f"{source.name}: {printed}"
    assert _check_function(course.check_name(cell))(namespace["answer"]).ok


@pytest.mark.parametrize(("source", "cell"), EXERCISE_CELLS, ids=IDS)
def test_student_version_runs_and_asks_for_an_answer(source, cell):
    student = course.student_version(course.read_notebook(source), source.name)
    name = course.check_name(cell)
    (student_cell,) = [c for c in student.cells if course.is_exercise(c) and course.check_name(c) == name]
    assert course.SOLUTION_BEGIN not in student_cell.source and "answer = ..." in student_cell.source
    printed, _ = _run_cell(student_cell.source)
    assert printed.strip().startswith("not answered yet")


@pytest.mark.parametrize(("source", "cell"), EXERCISE_CELLS, ids=IDS)
def test_wrong_answers_are_rejected_without_the_answer(source, cell, capsys):
    name = course.check_name(cell)
    _, namespace = _run_cell(cell.source)
    right = namespace["answer"]
    for wrong in WRONG_ANSWERS[name]:
        feedback = _check_function(name)(wrong)
        assert not feedback.ok, f"{name} accepted the wrong answer {wrong!r}"
        assert feedback.message.startswith("not correct: "), feedback.message
        # a number that is not a whole number would show in the message (arrays are only ever summarised)
        if isinstance(right, (float, np.floating)) and float(right) != round(float(right)):
            for text in (f"{float(right):.3g}", f"{float(right):.2g}", repr(right)):
                assert text not in feedback.message, f"{name} gives the answer away: {feedback.message}"
    capsys.readouterr()


def test_feedback_is_printed_and_truthy(capsys):
    feedback = exercises.check_optimal_step(...)
    assert not feedback and "not answered yet" in capsys.readouterr().out
    feedback = exercises.check_envelope_degree("three")
    assert not feedback and capsys.readouterr().out.startswith("not correct: the degree should be a single number")


def test_malformed_exercise_cell_is_refused():
    notebook = jupytext.reads(
        "```{code-cell}\n:tags: [exercise]\n\nanswer = 1\nmt.exercises.check_parity(answer)\n```\n", fmt="md:myst"
    )
    with pytest.raises(course.CourseSourceError, match="BEGIN SOLUTION"):
        course.student_version(notebook)
