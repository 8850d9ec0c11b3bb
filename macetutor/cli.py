"""The ``macetutor`` command line.

macetutor tour           walk through the theory on the bonds of a water molecule, with measured checks
macetutor convert        a mace-torch model file -> macetutor's .npz
macetutor verify         compare a mace-torch model with macetutor, block by block
macetutor course build   execute the notebooks and render the course site; course exercises: student/instructor
macetutor dataset        list the labelled data sets; generate one with GFN2-xTB (``macetutor/datasets.py``)
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import macetutor as mt

# Water (experimental gas-phase geometry: r(OH) = 0.9572 Å, angle HOH = 104.52°), in the xy plane.
WATER_SYMBOLS = ("O", "H", "H")
_HALF_ANGLE = np.deg2rad(104.52 / 2)
WATER_POSITIONS = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.9572 * np.sin(_HALF_ANGLE), 0.9572 * np.cos(_HALF_ANGLE), 0.0],
        [-0.9572 * np.sin(_HALF_ANGLE), 0.9572 * np.cos(_HALF_ANGLE), 0.0],
    ]
)  # (3, 3) Å


def _heading(number: int, title: str) -> None:
    print(f"\n{'=' * 100}\n{number}. {title}\n{'=' * 100}")


def _number(value: float) -> str:
    """4 significant digits in a notation that shows the size (0.0002 -> 2.000e-04), never '-0'."""
    value = float(value) + 0.0  # -0.0 -> 0.0
    return f"{value:.4f}" if value == 0.0 or 1e-2 <= abs(value) < 1e4 else f"{value:.3e}"


def _fmt(array: np.ndarray, indent: str = "    ") -> str:
    """A vector on one line; a matrix row by row, indented."""
    text = np.array2string(np.asarray(array, dtype=float), formatter={"float_kind": _number}, max_line_width=110)
    return text if np.ndim(array) < 2 else indent + text.replace("\n", "\n" + indent)


def tour(seed: int = 0, l_max: int = 12) -> dict:
    """Print the tour of the SO(3) toolkit; return the measured residuals (used by the tests).

    (Longer than most functions: it is the printed walk-through itself, a few lines under each numbered heading, in
    the order the reader sees them.)"""
    rng = np.random.default_rng(seed)
    residuals = {}
    start = time.perf_counter()
    print("macetutor tour: the rotation-group mathematics of MACE (Batatia et al. 2022, arXiv:2206.07697)")
    print(f"macetutor {mt.__version__}; conventions: docs/conventions.md")

    _heading(1, "A molecule and its bond vectors")
    for symbol, position in zip(WATER_SYMBOLS, WATER_POSITIONS, strict=True):
        print(f"  {symbol}  {_fmt(position)} Å")
    pairs = [(0, 1), (0, 2), (1, 2)]
    r = np.array([WATER_POSITIONS[j] - WATER_POSITIONS[i] for i, j in pairs])  # (3, 3): r_ij = r_j - r_i
    for (i, j), r_ij in zip(pairs, r, strict=True):
        print(f"  r_{i}{j} = r_{j} - r_{i} = {_fmt(r_ij)}   |r_{i}{j}| = {np.linalg.norm(r_ij):.4f} Å")

    _heading(2, "Real spherical harmonics of the bond directions   Y_lm(r_hat)   (e3nn order, 'component')")
    print("  Each degree l has 2l+1 components m = -l..l; the l = 1 block is sqrt(3) r_hat: it rotates like a vector.")
    for l in range(4):
        Y = mt.spherical_harmonics(l, r)  # (3, 2l+1)
        print(f"  l = {l}:  Y_l(r_01) = {_fmt(Y[0])}   sum_m Y_lm^2 = {np.sum(Y[0] ** 2):.12f} (= 2l+1)")
    print(f"  the exact polynomials behind l = 2 (sympy): {mt.harmonic_polynomials(2)}")

    _heading(3, "A rotation R and its Wigner D-matrices   Y(R x) = D(R) Y(x)")
    R = mt.random_rotation(rng)
    print(f"  R (random, det = {np.linalg.det(R):+.0f}) =\n{_fmt(R)}")
    print(f"  D^1(R) is R itself: max |D^1(R) - R| = {np.max(np.abs(mt.wigner_D(1, R) - R)):.2e}")
    print(f"  D^2(R) =\n{_fmt(mt.wigner_D(2, R))}")
    for improper in (False, True):
        Rk = mt.random_rotation(rng, improper=improper)
        worst = 0.0
        with _Progress(f"checking Y(Rx) = D(R) Y(x) for l = 0..{l_max} (sympy tables on first use)"):
            for l in range(l_max + 1):
                lhs = mt.spherical_harmonics(l, r @ Rk.T)  # (3, 2l+1)
                rhs = mt.spherical_harmonics(l, r) @ mt.wigner_D(l, Rk).T  # (3, 2l+1)
                worst = max(worst, float(np.max(np.abs(lhs - rhs)) / np.max(np.abs(rhs))))
        kind = "improper (det -1, parity (-1)^l)" if improper else "proper"
        residuals[f"equivariance_{'improper' if improper else 'proper'}"] = worst
        print(f"  equivariance residual max_l<={l_max} |Y(Rx) - D(R)Y(x)| / |Y|, {kind} R: {worst:.2e}")

    _heading(4, "Coupling two harmonics with Clebsch-Gordan coefficients   (Y1 (x) Y2)_l3 = sum_ab C[a,b,M] Y1_a Y2_b")
    Y1_a, Y1_b = mt.spherical_harmonics(1, r[0]), mt.spherical_harmonics(1, r[1])  # (3,), (3,)
    for l3, meaning in (
        (0, "a scalar: sqrt(3) cos(angle H-O-H)"),
        (1, "a vector: the cross product, normal to the plane"),
        (2, "a traceless symmetric tensor"),
    ):
        C = mt.clebsch_gordan(1, 1, l3)  # (3, 3, 2l3+1)
        coupled = np.einsum("abM,a,b->M", C, Y1_a, Y1_b)  # (2l3+1,)
        print(f"  1 (x) 1 -> {l3}: {_fmt(coupled)}   {meaning}")
    angle = np.degrees(np.arccos(np.einsum("abM,a,b->M", mt.clebsch_gordan(1, 1, 0), Y1_a, Y1_b)[0] / np.sqrt(3)))
    print(f"  -> the invariant recovers the bond angle: {angle:.2f} degrees")
    worst = 0.0
    Rk = mt.random_rotation(rng, improper=True)
    with _Progress("checking the invariance of every coupling with l <= 3 (sympy tables on first use)"):
        for l1 in range(4):
            for l2 in range(4):
                for l3 in range(abs(l1 - l2), l1 + l2 + 1):
                    C = mt.clebsch_gordan(l1, l2, l3)
                    D1, D2, D3 = (mt.wigner_D(l, Rk) for l in (l1, l2, l3))
                    rotated = np.einsum("abM,ad,bf,MN->dfN", C, D1, D2, D3)
                    worst = max(worst, float(np.max(np.abs(rotated - (-1) ** (l1 + l2 + l3) * C))))
    residuals["cg_invariance"] = worst
    print(f"  invariance residual max |C (D1 x D2 x D3) - C| over all triples l <= 3 (improper R): {worst:.2e}")

    residuals.update(_model_tour(rng))

    _heading(11, "Summary")
    failed = []
    for name, value in residuals.items():
        bound = TOUR_BOUNDS.get(name, 1e-12)
        ok = value <= bound
        failed += [] if ok else [name]
        print(f"  {name:28s} {value:.2e}   (bound {bound:.0e})  {'ok' if ok else 'FAILED'}")
    verdict = (
        f"all {len(residuals)} checks passed" if not failed else f"{len(failed)} check(s) failed: {', '.join(failed)}"
    )
    print(f"\n  {verdict}; the tour took {time.perf_counter() - start:.1f} s.")
    for line in _next_steps():
        print("  " + line)
    return residuals


TOUR_BOUNDS = {"finite_difference_forces": 1e-6}  # every other residual: 1e-12 (round-off)


def _next_steps() -> list[str]:
    """What to do next, according to what is installed."""
    import importlib.util

    steps = []
    if importlib.util.find_spec("jupyterlab") or importlib.util.find_spec("notebook"):
        steps.append("Next: jupyter lab notebooks/   (the course outline is notebooks/README.md)")
    else:
        steps.append(
            "Next: the notebooks in notebooks/ (pip install 'macetutor[notebooks]' for Jupyter; outline in notebooks/README.md)"
        )
    if importlib.util.find_spec("sphinx") and importlib.util.find_spec("myst_nb"):
        steps.append(
            "Or the course site: macetutor course build --out course-site   (then open course-site/index.html)"
        )
    if importlib.util.find_spec("mace") is None:
        steps.append(
            "To compare with mace-torch: pip install torch==2.13.0 'macetutor[verify]' (then macetutor verify MODEL STRUCTURE)"
        )
    else:
        steps.append("Check your own mace-torch model: macetutor verify MODEL.model STRUCTURE.xyz")
    return steps


class _Progress:
    """Announces a step before it runs and reports its duration when it took more than a second."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        print(f"  ... {self.what}", end="", flush=True)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = time.perf_counter() - self.start
        print(f" done ({elapsed:.1f} s)" if elapsed > 1.0 else " done", flush=True)


def _model_tour(rng) -> dict:
    """Steps 5-10 of the tour: the MACE model on the water molecule, every equation with its check.

    (Longer than most functions for the same reason as :func:`tour`: one printed step after another.)"""
    from macetutor.gradcheck import check_vjp
    from macetutor.irreps import wigner_D_irreps
    from macetutor.model import MACE, MACEConfig

    residuals = {}
    numbers = np.array([8, 1, 1])
    config = MACEConfig(
        elements=(1, 8),
        hidden_irreps="8x0e+8x1o",
        max_ell=3,
        correlation=(3, 3),
        r_max=4.0,
        num_bessel=8,
        radial_mlp=(16, 16),
        mlp_width=8,
        avg_num_neighbors=2.0,
        atomic_energies=(-13.6, -2041.9),
    )
    _heading(5, "A MACE model (random weights, seed 0) and the neighbour graph")
    with _Progress("building the model (its U tensors come from sympy on first use, then from the cache)"):
        model = MACE.init(config, seed=0)
    print(
        f"  hidden irreps {config.hidden_irreps}, max_ell {config.max_ell}, correlation {config.correlation}, "
        f"r_max {config.r_max} Å, {sum(v.size for v in model.parameters.values())} weights"
    )
    with _Progress("evaluating the model with forces (NumPy specification)"):
        result = model.evaluate(WATER_POSITIONS, numbers, forces=True)
    graph = result.graph
    print(
        f"  {len(graph.senders)} directed edges (sender -> receiver): "
        + ", ".join(f"{j}->{i}" for j, i in zip(graph.senders, graph.receivers, strict=True))
    )

    _heading(6, "Radial basis and atomic basis A   (paper eq. 8: A = sum_j C (R(r_ij) Y(r_ij) h_j))")
    print(f"  radial basis b_n(r) f(r) of edge 0 (r = {graph.lengths[0]:.4f} Å): {_fmt(graph.radial_basis[0])}")
    A = result.intermediates[0].A
    print(f"  A of layer 0: shape {A.shape} = (atoms, channels, (l_max+1)^2); O atom, channel 0: {_fmt(A[0, 0])}")

    _heading(7, "Product basis B and messages   (eqs. 10, 11: B = U : A (x) ... (x) A,  m = sum W B)")
    for nu, B in result.intermediates[0].B[0, 1].items():
        print(
            f"  nu = {nu}: B[0e] shape {B.shape} (atoms, channels, coupling paths, 2L+1); O, channel 0: {_fmt(B[0, 0, :4, 0])}..."
        )
    print(f"  message m of layer 0, O atom, channel 0: {_fmt(result.intermediates[0].message[0, 0])}")

    _heading(8, "Equivariance of every intermediate under a random rotation + reflection")
    R = mt.random_rotation(rng, improper=True)
    with _Progress("evaluating the rotated molecule"):
        moved = model.evaluate(WATER_POSITIONS @ R.T, numbers, forces=True)
    worst = 0.0
    for layer, layer_moved in zip(result.intermediates, moved.intermediates, strict=True):
        for key, irreps in (("A", layer.irreps_A), ("message", layer.irreps_out), ("h", layer.irreps_out)):
            expected = getattr(layer, key) @ wigner_D_irreps(irreps, R).T
            difference = getattr(layer_moved, key) - expected
            worst = max(worst, float(np.max(np.abs(difference)) / np.max(np.abs(expected))))
    residuals["model_equivariance"] = worst
    residuals["energy_invariance"] = abs(moved.energy - result.energy) / abs(result.energy)
    residuals["force_equivariance"] = float(
        np.max(np.abs(moved.forces - result.forces @ R.T)) / np.max(np.abs(result.forces))
    )
    print(
        f"  max relative residual of A, m, h: {worst:.2e}; energy {residuals['energy_invariance']:.2e}; "
        f"forces (F(Rx) = R F(x)) {residuals['force_equivariance']:.2e}"
    )

    _heading(9, "Energy and forces   (E = sum E0 + sum_i sum_t E_i^(t);  F = -dE/dr by the hand-written reverse pass)")
    print(f"  E = {result.energy:.6f} eV, interaction energy {result.interaction_energy:.6f} eV")
    print(f"  node energies: {_fmt(result.node_energies)} eV")
    print(f"  forces (eV/Å):\n{_fmt(result.forces)}\n  sum of forces: {_fmt(result.forces.sum(axis=0))}")
    with _Progress("finite-difference check of the forces (central differences, steps 1e-1 .. 1e-6)"):
        check = check_vjp(
            lambda x: np.array(model.evaluate(x, numbers).interaction_energy),
            lambda x, g: -g * model.evaluate(x, numbers, forces=True).forces,
            WATER_POSITIONS,
            steps=np.logspace(-1, -6, 6),
        )
    print("  " + check.table().replace("\n", "\n  "))
    residuals["finite_difference_forces"] = check.best_error

    _heading(10, "Agreement with mace-torch")
    import importlib.util

    if importlib.util.find_spec("mace") is None:
        print(
            "  mace-torch is not installed: skipped (install the `verify` extra: torch==2.13.0, then macetutor[verify])."
        )
    else:
        with _Progress("building a small mace-torch model and importing it"), _quiet():
            torch_model = _small_mace_torch_model()
            from macetutor.interop import from_mace_torch
            from macetutor.interop.verify import compare

            rows = compare(torch_model, from_mace_torch(torch_model), WATER_POSITIONS, numbers)
        for row in rows:
            print(f"  {row.name:24s} max |diff| {row.difference:.2e}   relative {row.difference / row.scale:.2e}")
        residuals["mace_torch_agreement"] = max(row.difference / row.scale for row in rows if row.scale > 0)
    return residuals


class _quiet:
    """Silence what optional dependencies print while they load (torch and e3nn warnings, mace's notices)."""

    def __enter__(self):
        import contextlib
        import io
        import warnings

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        self._stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        import logging

        self._level = logging.root.level
        logging.disable(logging.WARNING)
        return self

    def __exit__(self, *exc):
        import logging

        logging.disable(logging.NOTSET)
        return self._stack.__exit__(*exc)


def _small_mace_torch_model():
    """A small mace-torch ScaleShiftMACE for H and O with perturbed random weights (float64)."""
    from macetutor.interop.mace_torch import random_mace_torch_model

    return random_mace_torch_model(
        (1, 8),
        "8x0e+8x1o",
        3,
        3,
        2,
        r_max=4.0,
        radial_mlp=(16, 16),
        mlp_irreps="8x0e",
        atomic_energies=(-13.6, -2041.9),
        avg_num_neighbors=2.0,
    )


# exit codes of the command line (documented in `macetutor --help` and README.md)
EXIT_OK, EXIT_TOLERANCE, EXIT_USAGE, EXIT_INPUT, EXIT_UNSUPPORTED, EXIT_DEPENDENCY, EXIT_BUILD = 0, 1, 2, 3, 4, 5, 6
EXIT_CALCULATION = 7
EXIT_CODES = """exit codes:
  0  success
  1  macetutor verify: some block differs from mace-torch by more than the tolerance
  2  usage error (a wrong option or argument, an unknown or missing head name, an unknown data set)
  3  an input file is missing, unreadable or of the wrong kind (its message says what to pass instead),
     or an output file or directory cannot be written
  4  the mace-torch model uses features macetutor does not implement (all of them are named)
  5  an optional dependency is missing (the `verify` extra: torch, mace-torch, ase; the `course` extra; the `data` extra: tblite, ase)
  6  macetutor course build: a notebook raised while executing, or Sphinx failed (the message says which)
  7  macetutor dataset make: a GFN2-xTB single point failed (no file is left looking complete)"""


def convert(model_path: str, out_path: str) -> int:
    """Load a mace-torch model file (trusted: torch.load runs pickle), import it, save it as macetutor's .npz."""
    from pathlib import Path

    from macetutor.interop.files import InputFileError, load_mace_torch_model
    from macetutor.interop.mace_torch import from_mace_torch

    target = Path(out_path)
    if target.is_dir() or not target.parent.exists():
        raise InputFileError(f"cannot write {out_path}: its directory does not exist or it is a directory")
    model = from_mace_torch(load_mace_torch_model(model_path).double())
    try:
        model.save(out_path)
    except OSError as err:
        raise InputFileError(f"cannot write {out_path}: {err.strerror or err}") from err
    config = model.config
    print(
        f"wrote {out_path}: {config.hidden_irreps}, max_ell {config.max_ell}, correlation {config.correlation}, "
        f"elements {config.elements}, heads {list(config.heads)}, {sum(v.size for v in model.parameters.values())} weights"
    )
    return EXIT_OK


def course(command: str, out: str, root: str | None = None, executed: str | None = None) -> int:
    """``macetutor course build`` (the site) and ``macetutor course exercises`` (student and instructor notebooks)."""
    from pathlib import Path

    from macetutor import course as course_tools

    target = Path(out)
    if target.exists() and not target.is_dir():
        raise course_tools.CourseSourceError(f"cannot write into {out}: it is a file, pass a directory")
    if executed is not None and not Path(executed).is_dir():
        raise course_tools.CourseSourceError(f"--executed {executed}: no such directory")
    if command == "exercises":
        checks = course_tools.write_exercises(target, root)
        for name, names in checks.items():
            print(f"  {name:40s} {len(names)} exercise(s) with checks: {', '.join(names)}")
        total = sum(len(names) for names in checks.values())
        print(f"wrote {len(checks)} student and {len(checks)} instructor notebooks ({total} exercises) into {out}/")
        return EXIT_OK
    print(f"building the course site into {out}/")
    report = course_tools.build_site(target, root, executed)
    for page in report.pages:
        name = page.removeprefix("notebooks/")
        ran = report.execution_seconds.get(name)
        ran_text = "" if ran is None else ("executed: reused" if name in report.reused else f"executed in {ran:6.1f} s")
        read = report.read_seconds.get(page)
        read_text = "" if read is None else f"read in {read:5.2f} s"
        print(f"  {page:45s} {ran_text:22s} {read_text}")
    wrong = {
        f"{notebook}: {check}": line
        for notebook, lines in report.feedback.items()
        for check, line in lines.items()
        if line != "correct"
    }
    for where, line in wrong.items():
        print(f"  warning: the solution of {where} printed {line!r}")
    print(
        f"built {len(report.pages)} pages in {report.total_seconds:.1f} s (Sphinx {report.sphinx_seconds:.1f} s, "
        f"{len(report.warnings)} Sphinx warnings); open {report.out / 'index.html'}"
    )
    return EXIT_OK


def _run_course(*args) -> int:
    """Run a course command; one line on stderr and a distinct exit code for what a user can cause."""
    from macetutor.course import CourseBuildError, CourseDependencyError, CourseSourceError

    try:
        return course(*args)
    except CourseSourceError as err:
        print(f"macetutor: {err}", file=sys.stderr)
        return EXIT_INPUT
    except CourseDependencyError as err:
        print(f"macetutor: {err}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except CourseBuildError as err:
        print(f"macetutor: {err}", file=sys.stderr)
        return EXIT_BUILD


def dataset_list() -> int:
    """Print the known data sets, their splits and sizes."""
    from macetutor import datasets

    for name in datasets.names():
        small, full = datasets.recipe(name, "small"), datasets.recipe(name, "full")
        print(f"{name}: {small.description}")
        for split in small.splits:
            print(f"  {split:14s} {_frames(small, split):5d} frames small (shipped), {_frames(full, split):5d} full")
    print("make one: macetutor dataset make NAME --out DIR [--size small|full] [--seed N]   (the `data` extra)")
    print("read one: macetutor.datasets.load(NAME, split='train', directory=None)   (None: the shipped small version)")
    return EXIT_OK


def _frames(recipe, split: str) -> int:
    """Frames of one split of a recipe (the dihedral scan: number of betas x gamma points)."""
    if split == "dihedral_scan":
        return len(recipe.scan.betas_deg) * len(np.arange(0.0, 360.0, recipe.scan.gamma_step_deg))
    return next(t.frames for t in recipe.trajectories if t.split == split)


def dataset_make(name: str, out: str, size: str, seed: int) -> int:
    """Generate a data set with GFN2-xTB (single-threaded unless OMP_NUM_THREADS is set: reproducible trajectories)."""
    import os

    from macetutor import datasets

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by tblite's OpenMP runtime when it loads
    written = datasets.make(name, out, size=size, seed=seed, log=lambda line: print(line, flush=True))
    for split, path in written.items():
        print(f"wrote {path} ({split})")
    return EXIT_OK


def _run(command, *args) -> int:
    """Run a command; turn the errors a user can cause into one line on stderr and a distinct exit code."""
    from macetutor.datasets import CalculationError, MissingDependencyError
    from macetutor.interop.files import InputFileError

    try:
        from macetutor.interop.mace_torch import UnsupportedModelError
    except ImportError:  # pragma: no cover (interop needs nothing optional at import time)
        UnsupportedModelError = ValueError
    try:
        return command(*args)
    except InputFileError as err:
        print(f"macetutor: {err}", file=sys.stderr)
        return EXIT_INPUT
    except UnsupportedModelError as err:
        print(f"macetutor: cannot import the model: {err}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except MissingDependencyError as err:
        print(f"macetutor: {err}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except CalculationError as err:
        print(f"macetutor: {err}; no output file was written", file=sys.stderr)
        return EXIT_CALCULATION
    except ImportError as err:
        print(
            f"macetutor: this command needs the `verify` extra ({err.name or err}): "
            "pip install torch==2.13.0 'macetutor[verify]'",
            file=sys.stderr,
        )
        return EXIT_DEPENDENCY
    except ValueError as err:  # e.g. an unknown head name
        print(f"macetutor: {err}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    """The command line: every command and its options. (Longer than most functions: argparse's definitions of the
    commands, one after the other.)"""
    parser = argparse.ArgumentParser(
        prog="macetutor",
        description="MACE as readable, exact NumPy.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"macetutor {mt.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    tour_parser = commands.add_parser("tour", help="walk through the theory on a water molecule, with measured checks")
    tour_parser.add_argument("--seed", type=int, default=0, help="seed of the random rotations (default 0)")
    convert_parser = commands.add_parser("convert", help="convert a mace-torch model file to macetutor's .npz format")
    convert_parser.add_argument("model", help="a mace-torch model saved with torch.save (e.g. MACE.model)")
    convert_parser.add_argument("out", help="output file (.npz)")
    verify_parser = commands.add_parser(
        "verify",
        help="compare a mace-torch model with macetutor, block by block",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify_parser.add_argument("model", help="a mace-torch model saved with torch.save (e.g. MACE.model)")
    verify_parser.add_argument("structure", help="a structure file ASE can read (extended XYZ, CIF, POSCAR...)")
    verify_parser.add_argument("--tolerance", type=float, default=1e-9, help="relative tolerance (default 1e-9)")
    verify_parser.add_argument("--index", default=":", help="frames to compare, ASE's syntax (default ':', all)")
    verify_parser.add_argument("--head", default=None, help="the readout head of a multi-head model")
    from macetutor import train_cli

    train_parser = commands.add_parser(
        "train",
        help="train a MACE model with mace-torch's recipe and flag names (exact gradients, NumPy)",
        description=train_cli.__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train_cli.add_arguments(train_parser)
    course_parser = commands.add_parser(
        "course",
        help="build the course site, or write the exercises (needs the `course` extra)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    course_commands = course_parser.add_subparsers(dest="course_command", required=True)
    build_parser = course_commands.add_parser(
        "build", help="execute the notebooks and render the course site (open OUT/index.html)"
    )
    exercises_parser = course_commands.add_parser(
        "exercises", help="write the student's and the instructor's notebooks (OUT/student, OUT/instructor)"
    )
    for sub in (build_parser, exercises_parser):
        sub.add_argument("--out", required=True, help="output directory")
        sub.add_argument(
            "--root", default=None, help="the clone with notebooks/ and docs/ (default: the working directory's)"
        )
    build_parser.add_argument(
        "--executed", default=None, help="reuse the notebooks executed before into this directory (NN_name.ipynb)"
    )
    dataset_parser = commands.add_parser(
        "dataset",
        help="labelled data sets (GFN2-xTB): list them, or generate one",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dataset_commands = dataset_parser.add_subparsers(dest="dataset_command", required=True)
    dataset_commands.add_parser("list", help="the data sets, their splits and sizes")
    make_parser = dataset_commands.add_parser(
        "make",
        help="generate a data set with GFN2-xTB (needs the `data` extra: tblite, ase)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    make_parser.add_argument("name", help="the data set (macetutor dataset list)")
    make_parser.add_argument("--out", required=True, help="output directory: one extended-XYZ file per split")
    make_parser.add_argument("--size", choices=("small", "full"), default="small", help="small (shipped) or full")
    make_parser.add_argument("--seed", type=int, default=0, help="seed of every random stream (default 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "train":
        from macetutor import train_cli

        return _run(train_cli.run, args)
    if args.command == "course":
        return _run_course(args.course_command, args.out, args.root, getattr(args, "executed", None))
    if args.command == "dataset":
        if args.dataset_command == "list":
            return _run(dataset_list)
        return _run(dataset_make, args.name, args.out, args.size, args.seed)
    if args.command == "verify":
        from macetutor.interop.verify import main as verify_main

        return _run(verify_main, args.model, args.structure, args.tolerance, args.index, args.head)
    if args.command == "tour":
        residuals = tour(seed=args.seed)
        ok = all(value <= TOUR_BOUNDS.get(name, 1e-12) for name, value in residuals.items())
        return EXIT_OK if ok else EXIT_TOLERANCE
    if args.command == "convert":
        return _run(convert, args.model, args.out)
    return EXIT_USAGE  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":
    sys.exit(main())
