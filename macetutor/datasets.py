"""Labelled data sets for training MACE, generated as a user would: GFN2-xTB molecular dynamics, scans and strains.

The MACE paper's experiments use DFT data (rMD17, 3BPA) that cannot be downloaded here. This module reproduces their
*protocols* with a semi-empirical quantum-chemistry method anyone can install from the package index: GFN2-xTB, through
the ASE calculator of ``tblite`` (the ``data`` extra: ``pip install 'macetutor[data]'``). The labels are therefore
GFN2-xTB energies and forces, not DFT: the trends of the paper can be reproduced, not its numbers.

Three data sets (``macetutor dataset list``):

* ``ethanol-xtb``  -- rMD17-style: configurations of ethanol from Langevin dynamics at 500 K; a training and a test
  split, each from its own trajectory (different random streams), so test frames are not neighbours of training frames.
* ``3bpa-xtb``     -- the 3BPA protocol: 3-(benzyloxy)pyridin-2-amine; training frames from 300 K dynamics, test sets
  from dynamics at 300, 600 and 1200 K, and 1-D dihedral scans (gamma at fixed beta = 120, 150, 180 degrees, every
  other coordinate relaxed under the constraint).
* ``silicon-xtb``  -- periodic, with stress: an 8-atom cubic cell of diamond silicon (GFN2-xTB at the Gamma point),
  800 K dynamics; every sampled frame is strained by a random symmetric strain before it is labelled, so the stress
  varies in all six components.

Every frame is labelled with the keys mace-torch's ``mace_run_train`` reads by default (mace-torch 0.3.16,
``mace/tools/default_keys.py``): ``info["REF_energy"]`` (eV), ``arrays["REF_forces"]`` (eV/Å) and, for periodic frames,
``info["REF_stress"]`` (3 x 3, eV/Å^3, ASE's sign: ``sigma = (1/V) dE/d(strain)``), plus ``info["config_type"]`` (the
split, or ``dihedral_beta120``... for the scans; mace-torch reports test errors per config_type). Every frame also
carries its provenance in ``info``: the method, the tblite and ASE versions, the temperature, time step, friction,
equilibration, sampling interval, the seed and random stream, and the command that regenerates it (no date, so that a
regeneration gives the same file).

Files: ``macetutor dataset make NAME --out DIR`` writes one extended-XYZ file per split, ``DIR/<split>.xyz``, and
``DIR/isolated_atoms.xyz`` (one frame per element, config_type ``IsolatedAtom``, the energies mace-torch calls E0s).
They are written to ``DIR/.<split>.xyz.partial`` and renamed only when every split is complete; on a failure the
partial files are removed. The small versions ship in the package (``macetutor/data/<name>/``, made by
``macetutor/data/make_small.sh``) and are read by :func:`load`.

Reproducibility: a trajectory is chaotic, so bit-identical regeneration needs the same tblite version and the same
number of OpenMP threads (the command sets ``OMP_NUM_THREADS=1`` unless it is already set); the labels of any stored
frame can always be checked by a fresh single point (``tests/test_datasets.py`` does).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DATASETS",
    "CalculationError",
    "MissingDependencyError",
    "UnknownDatasetError",
    "atomic_energies",
    "data_directory",
    "load",
    "make",
    "names",
    "recipe",
    "splits",
]

METHOD = "GFN2-xTB"
SIZES = ("small", "full")  # "tiny" also exists, for the tests
PIP_INSTALL = "pip install 'macetutor[data]'"
_DATA = Path(__file__).with_name("data")


class UnknownDatasetError(ValueError):
    """A data-set name (or split, or size) that does not exist; the message lists the known ones."""


class MissingDependencyError(ImportError):
    """tblite or ASE is not installed; the message gives the pip command."""


class CalculationError(RuntimeError):
    """A GFN2-xTB single point failed (no convergence, a broken geometry); the message says where."""


# ----------------------------------------------------------------------------------------------------------------
# The recipes: what each data set is made of, for each size
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    """One Langevin trajectory whose sampled frames make one split."""

    split: str
    temperature_K: float
    frames: int
    stream: int  # the random stream: rng = numpy.random.default_rng([seed, stream])


@dataclass(frozen=True)
class DihedralScan:
    """Constrained relaxations along the dihedral ``gamma`` at fixed values of ``beta`` (3BPA's torsions)."""

    betas_deg: tuple[float, ...]
    gamma_step_deg: float
    fmax: float = 0.05  # eV/Å, of the constrained relaxation
    max_steps: int = 300


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a data set of a given size (all of it is written into each frame's provenance)."""

    name: str
    description: str
    trajectories: tuple[Trajectory, ...]
    timestep_fs: float
    friction_per_fs: float
    equilibration_steps: int
    interval_steps: int
    isolated_atoms: dict = field(default_factory=dict)  # element -> spin multiplicity of its ground state
    strain: float = 0.0  # periodic sets: each sampled frame strained by a symmetric strain, components in +-strain
    scan: DihedralScan | None = None

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(t.split for t in self.trajectories) + (("dihedral_scan",) if self.scan else ())


# frames per split: {data set: {size: {split: frames}}}
_FRAMES = {
    "ethanol-xtb": {
        "tiny": {"train": 3, "test": 2},
        "small": {"train": 200, "test": 200},
        "full": {"train": 1000, "test": 1000},
    },
    "3bpa-xtb": {
        "tiny": {"train": 2, "test_300K": 1, "test_600K": 1, "test_1200K": 1},
        "small": {"train": 100, "test_300K": 50, "test_600K": 50, "test_1200K": 50},
        "full": {"train": 500, "test_300K": 500, "test_600K": 500, "test_1200K": 500},
    },
    "silicon-xtb": {
        "tiny": {"train": 2, "test": 1},
        "small": {"train": 40, "test": 20},
        "full": {"train": 200, "test": 100},
    },
}


def recipe(name: str, size: str = "small") -> Recipe:
    """The recipe of data set ``name`` at ``size`` ('small' ships in the package, 'full' is for the experiments)."""
    _check_name(name)
    sizes = _FRAMES[name]
    if size not in sizes:
        raise UnknownDatasetError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    frames = sizes[size]
    tiny = size == "tiny"
    if name == "ethanol-xtb":
        return Recipe(
            name,
            "rMD17-style ethanol: Langevin MD at 500 K (train and test from separate trajectories)",
            (Trajectory("train", 500.0, frames["train"], 1), Trajectory("test", 500.0, frames["test"], 2)),
            timestep_fs=0.5,
            friction_per_fs=0.01,
            equilibration_steps=10 if tiny else 2000,
            interval_steps=5 if tiny else 40,
            isolated_atoms={"H": 2, "C": 3, "O": 3},
        )
    if name == "3bpa-xtb":
        return Recipe(
            name,
            "3BPA protocol: train from 300 K MD; test at 300, 600, 1200 K; dihedral scans of gamma at beta = 120/150/180",
            (
                Trajectory("train", 300.0, frames["train"], 1),
                Trajectory("test_300K", 300.0, frames["test_300K"], 2),
                Trajectory("test_600K", 600.0, frames["test_600K"], 3),
                Trajectory("test_1200K", 1200.0, frames["test_1200K"], 4),
            ),
            timestep_fs=0.5,
            friction_per_fs=0.01,
            equilibration_steps=10 if tiny else 2000,
            interval_steps=5 if tiny else 40,
            isolated_atoms={"H": 2, "C": 3, "N": 4, "O": 3},
            scan=DihedralScan((180.0,), 180.0, fmax=0.2, max_steps=20)
            if tiny
            else DihedralScan((120.0, 150.0, 180.0), 30.0 if size == "small" else 10.0),
        )
    return Recipe(
        name,
        "periodic 8-atom diamond-Si cell, Langevin MD at 800 K, each frame randomly strained (+-3 %), with stress",
        (Trajectory("train", 800.0, frames["train"], 1), Trajectory("test", 800.0, frames["test"], 2)),
        timestep_fs=2.0,
        friction_per_fs=0.01,
        equilibration_steps=5 if tiny else 250,
        interval_steps=2 if tiny else 10,
        isolated_atoms={"Si": 3},
        strain=0.03,
    )


DATASETS = tuple(_FRAMES)


def names() -> tuple[str, ...]:
    """The known data sets."""
    return DATASETS


def splits(name: str) -> tuple[str, ...]:
    """The splits of a data set (each is one file); ``isolated_atoms`` is there too, for the E0s."""
    return recipe(name).splits + ("isolated_atoms",)


def _check_name(name: str) -> None:
    if name not in _FRAMES:
        raise UnknownDatasetError(f"unknown data set {name!r}; known: {', '.join(_FRAMES)}")


# ----------------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------------


def data_directory(name: str) -> Path:
    """Where the small version of data set ``name`` ships inside the package."""
    _check_name(name)
    return _DATA / name


def load(name: str, split: str = "train", directory=None) -> list:
    """The frames of one split as a list of ASE ``Atoms`` (energies, forces, stress in ``info``/``arrays``).

    ``directory=None`` reads the small version shipped in the package; pass the ``--out`` directory of
    ``macetutor dataset make`` to read a generated one. Needs ASE (the ``data`` or ``verify`` extra)."""
    _check_name(name)
    if split not in splits(name):
        raise UnknownDatasetError(f"{name} has no split {split!r}; known: {', '.join(splits(name))}")
    try:
        from ase.io import read
    except ImportError as err:
        raise MissingDependencyError(f"reading data sets needs ASE: {PIP_INSTALL}") from err
    path = Path(directory if directory is not None else data_directory(name)) / f"{split}.xyz"
    if not path.is_file():
        from macetutor.interop.files import InputFileError

        raise InputFileError(f"no file {path}: make it with `macetutor dataset make {name} --out DIR`")
    return read(path, index=":", format="extxyz")


def atomic_energies(name: str, directory=None) -> dict[int, float]:
    """GFN2-xTB energies of the isolated atoms, {atomic number: eV}: the E0s for mace-torch (``--E0s``)."""
    return {int(a.numbers[0]): float(a.info["REF_energy"]) for a in load(name, "isolated_atoms", directory)}


# ----------------------------------------------------------------------------------------------------------------
# Generating
# ----------------------------------------------------------------------------------------------------------------


def _require_tblite():
    """Import tblite's ASE calculator, or say which pip command installs it."""
    try:
        import ase  # noqa: F401
        from tblite.ase import TBLite  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError(
            f"generating data sets needs tblite and ASE ({err.name or err}): {PIP_INSTALL}"
        ) from err


def _calculator(multiplicity: int | None = None):
    """A GFN2-xTB calculator (tblite), silent. Tests replace this function to make single points fail."""
    from tblite.ase import TBLite

    return TBLite(method=METHOD, multiplicity=multiplicity, verbosity=0)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import ase

    import macetutor

    try:
        tblite_version = version("tblite")
    except PackageNotFoundError:  # pragma: no cover (tblite imported, so it is installed)
        tblite_version = "unknown"
    return {
        "tblite_version": tblite_version,
        "ase_version": ase.__version__,
        "macetutor_version": macetutor.__version__,
    }


def _single_point(atoms, where: str) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy (eV), forces (eV/Å, without constraints) and, for periodic atoms, stress (3 x 3, eV/Å^3).

    Any failure of the calculator, or a non-finite result, becomes a :class:`CalculationError` that says where."""
    from ase.calculators.calculator import CalculationFailed, InputError

    try:
        energy = float(atoms.get_potential_energy())
        forces = np.array(atoms.get_forces(apply_constraint=False))
        stress = np.array(atoms.get_stress(voigt=False)) if atoms.pbc.any() else None
    except (CalculationFailed, InputError, RuntimeError) as err:
        raise CalculationError(f"{METHOD} single point failed ({where}): {err}") from err
    if not (np.isfinite(energy) and np.all(np.isfinite(forces)) and (stress is None or np.all(np.isfinite(stress)))):
        raise CalculationError(f"{METHOD} single point failed ({where}): non-finite energy, forces or stress")
    return energy, forces, stress


def _labelled(atoms, where: str, info: dict):
    """A copy of ``atoms`` (no calculator, no constraints) with REF_energy, REF_forces, REF_stress and ``info``."""
    energy, forces, stress = _single_point(atoms, where)
    frame = atoms.copy()
    frame.set_constraint()
    frame.calc = None
    for key in ("momenta", "masses", "initial_magmoms", "initial_charges"):
        frame.arrays.pop(key, None)
    frame.info = {"config_type": info["config_type"], "REF_energy": energy}
    if stress is not None:
        frame.info["REF_stress"] = stress
    frame.info.update({key: value for key, value in info.items() if key != "config_type"})
    frame.arrays["REF_forces"] = forces
    return frame


def _relax(atoms, fmax: float, steps: int = 500, where: str = "relaxation") -> bool:
    """Relax the positions with BFGS (silent); return whether it converged."""
    from ase.optimize import BFGS

    try:
        return bool(BFGS(atoms, logfile=None).run(fmax=fmax, steps=steps))
    except (RuntimeError, ValueError) as err:
        if isinstance(err, CalculationError):
            raise
        raise CalculationError(f"{METHOD} single point failed ({where}): {err}") from err


def _start_structure(name: str):
    """The starting structure of a data set, before the GFN2-xTB relaxation."""
    from ase.build import bulk, molecule
    from ase.io import read

    if name == "ethanol-xtb":
        return molecule("CH3CH2OH")  # ASE's G2 geometry
    if name == "3bpa-xtb":
        return read(_DATA / "3bpa_start.xyz")  # RDKit + MMFF94, see macetutor/data/make_3bpa_geometry.py
    return bulk("Si", "diamond", a=5.43, cubic=True)  # experimental lattice constant; relaxed with GFN2-xTB below


def _relaxed_start(name: str):
    """The starting structure relaxed with GFN2-xTB (positions; and, for the periodic cell, the cubic lattice).

    Molecules are displaced by 0.05 Å (normal, fixed seed) first, so that the relaxation can leave a symmetric saddle."""
    atoms = _start_structure(name)
    atoms.calc = _calculator()
    if atoms.pbc.any():
        from ase.filters import FrechetCellFilter
        from ase.optimize import BFGS

        try:
            BFGS(FrechetCellFilter(atoms, hydrostatic_strain=True), logfile=None).run(fmax=0.005, steps=200)
        except (RuntimeError, ValueError) as err:
            raise CalculationError(f"{METHOD} single point failed (cell relaxation of {name}): {err}") from err
    else:
        # A symmetric structure relaxes to a symmetric stationary point, which can be a saddle: 3BPA's RDKit geometry
        # (a mirror plane, the amine perpendicular to the ring) does, 0.49 eV above the minimum (planar amine,
        # N-H...O hydrogen bond). A small displacement (fixed seed, independent of --seed) breaks the symmetry.
        atoms.positions += np.random.default_rng(0).normal(0.0, 0.05, atoms.positions.shape)
        _relax(atoms, fmax=0.005, steps=2000, where=f"relaxation of the starting structure of {name}")
    return atoms


def _random_strain(rng, size: float) -> np.ndarray:
    """A symmetric strain with components uniform in [-size, size] (3 x 3)."""
    eps = rng.uniform(-size, size, (3, 3))
    return (eps + eps.T) / 2


def _trajectory_frames(start, recipe_: Recipe, trajectory: Trajectory, seed: int, provenance: dict, log) -> list:
    """Equilibrate, then sample ``trajectory.frames`` frames every ``interval_steps`` steps of Langevin dynamics."""
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, ZeroRotation

    rng = np.random.default_rng([seed, trajectory.stream])
    atoms = start.copy()
    atoms.calc = _calculator()
    atoms.set_constraint(FixCom())
    masses = atoms.get_masses()[:, None]  # Maxwell-Boltzmann momenta: each component normal, variance m k T
    atoms.set_momenta(np.sqrt(masses * units.kB * trajectory.temperature_K) * rng.standard_normal((len(atoms), 3)))
    Stationary(atoms)
    if not atoms.pbc.any():
        ZeroRotation(atoms)
    dynamics = Langevin(
        atoms,
        timestep=recipe_.timestep_fs * units.fs,
        temperature_K=trajectory.temperature_K,
        friction=recipe_.friction_per_fs / units.fs,
        fixcm=False,  # FixCom above (ASE >= 3.28 deprecates fixcm=True)
        rng=rng,
    )
    info = {
        **provenance,
        "config_type": trajectory.split,
        "temperature_K": trajectory.temperature_K,
        "timestep_fs": recipe_.timestep_fs,
        "friction_per_fs": recipe_.friction_per_fs,
        "equilibration_steps": recipe_.equilibration_steps,
        "interval_steps": recipe_.interval_steps,
        "stream": trajectory.stream,
    }
    where = f"{trajectory.split}, {trajectory.temperature_K:g} K"
    _run_dynamics(dynamics, recipe_.equilibration_steps, f"{where}, equilibration")
    frames = []
    for k in range(trajectory.frames):
        step = recipe_.equilibration_steps + (k + 1) * recipe_.interval_steps
        _run_dynamics(dynamics, recipe_.interval_steps, f"{where}, MD step {step}")
        if recipe_.strain:
            strain = _random_strain(rng, recipe_.strain)
            frame = atoms.copy()
            frame.set_constraint()
            frame.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
            frame.calc = _calculator()
            labelled = _labelled(frame, f"{where}, strained frame of MD step {step}", {**info, "md_step": step})
            labelled.info["strain"] = strain
        else:
            labelled = _labelled(atoms, f"{where}, MD step {step}", {**info, "md_step": step})
        frames.append(labelled)
        if (k + 1) % max(1, trajectory.frames // 5) == 0:
            log(f"    {trajectory.split}: {k + 1}/{trajectory.frames} frames")
    return frames


def _run_dynamics(dynamics, steps: int, where: str) -> None:
    try:
        dynamics.run(steps)
    except (RuntimeError, ValueError) as err:
        if isinstance(err, CalculationError):
            raise
        raise CalculationError(f"{METHOD} single point failed ({where}): {err}") from err


# 3BPA's rotatable bonds, in the atom order of macetutor/data/3bpa_start.xyz (0 N amine, 1 C2, 2 N1, ... 6 C3, 7 O,
# 8 CH2, 9 C ipso, 10 C ortho): alpha about C3-O, beta about O-CH2, gamma about CH2-C(ipso). The names follow the chain
# from the pyridine ring outwards (our reading of the 3BPA paper's figure).
ALPHA = (1, 6, 7, 8)
BETA = (6, 7, 8, 9)
GAMMA = (7, 8, 9, 10)


def _moving_side(atoms, a2: int, a3: int) -> list[int]:
    """The atoms on a3's side of the bond a2-a3 (found in the bond graph with the bond cut)."""
    from ase.neighborlist import NeighborList, natural_cutoffs

    neighbours = NeighborList(natural_cutoffs(atoms), self_interaction=False, bothways=True)
    neighbours.update(atoms)
    side, todo = {a3}, [a3]
    while todo:
        i = todo.pop()
        for j in neighbours.get_neighbors(i)[0]:
            if j not in side and not (i == a3 and j == a2):
                side.add(int(j))
                todo.append(int(j))
    if a2 in side:
        raise ValueError(f"the bond {a2}-{a3} is in a ring: no dihedral scan about it")
    return sorted(side)


def _dihedral_scan(start, scan: DihedralScan, provenance: dict, log) -> list:
    """For each beta: gamma from 0 to 360 degrees; at each point a relaxation with beta and gamma held fixed.

    Each point starts from the relaxed geometry of the previous one (a continuation), the first one of each beta from
    the relaxed minimum with beta and gamma rotated rigidly to their values."""
    from ase.constraints import FixInternals

    frames = []
    beta_side = _moving_side(start, BETA[1], BETA[2])
    gamma_side = _moving_side(start, GAMMA[1], GAMMA[2])
    for beta in scan.betas_deg:
        atoms = start.copy()
        atoms.set_dihedral(*BETA, beta, indices=beta_side)
        for gamma in np.arange(0.0, 360.0, scan.gamma_step_deg):
            atoms.set_constraint()
            atoms.set_dihedral(*GAMMA, gamma, indices=gamma_side)
            atoms.set_constraint(FixInternals(dihedrals_deg=[[beta, list(BETA)], [float(gamma), list(GAMMA)]]))
            atoms.calc = _calculator()
            where = f"dihedral scan, beta {beta:g}, gamma {gamma:g} degrees"
            converged = _relax(atoms, fmax=scan.fmax, steps=scan.max_steps, where=where)
            info = {
                **provenance,
                "config_type": f"dihedral_beta{beta:g}",
                "alpha_deg": round(float(atoms.get_dihedral(*ALPHA)), 4),
                "beta_deg": beta,
                "gamma_deg": float(gamma),
                "relaxation_fmax": scan.fmax,
                "relaxed": converged,
            }
            frames.append(_labelled(atoms, where, info))
        log(f"    dihedral scan: beta = {beta:g} done ({len(frames)} points so far)")
    return frames


def _isolated_atoms(multiplicities: dict, provenance: dict) -> list:
    """One frame per element: the free atom in its ground-state spin multiplicity (mace-torch's E0s)."""
    from ase import Atoms

    frames = []
    for symbol, multiplicity in multiplicities.items():
        atom = Atoms(symbol, positions=[[0.0, 0.0, 0.0]])
        atom.calc = _calculator(multiplicity)
        info = {**provenance, "config_type": "IsolatedAtom", "multiplicity": multiplicity}
        frames.append(_labelled(atom, f"isolated {symbol} atom", info))
    return frames


def _prepare_output(out, split_names) -> dict:
    """Create the output directory and an empty partial file per split: the check that they can be written, made
    before any calculation. Returns {split: (partial path, final path)}."""
    from macetutor.interop.files import InputFileError

    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise InputFileError(f"cannot write to {out}: it is a file, not a directory (--out takes a directory)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths = {s: (directory / f".{s}.xyz.partial", directory / f"{s}.xyz") for s in split_names}
        for partial, _ in paths.values():
            partial.write_text("")
    except OSError as err:
        raise InputFileError(f"cannot write to {out}: {err.strerror or err}") from err
    return paths


def make(name: str, out, size: str = "small", seed: int = 0, log: Callable = print) -> dict:
    """Generate data set ``name`` into directory ``out``; return {split: path of its .xyz file}.

    The order is: check the name and size, check that tblite is installed, check that every output file can be
    written, then compute. Frames go to partial files that are renamed only at the end (all splits at once); on any
    failure the partial files are removed, so a file named ``<split>.xyz`` is always complete.

    Raises :class:`UnknownDatasetError`, :class:`MissingDependencyError`,
    :class:`~macetutor.interop.files.InputFileError` (the output) or :class:`CalculationError`."""
    spec = recipe(name, size)
    _require_tblite()
    split_names = spec.splits + ("isolated_atoms",)
    paths = _prepare_output(out, split_names)
    try:
        written = _generate(spec, size, seed, paths, log)
    except BaseException:
        for partial, _ in paths.values():
            partial.unlink(missing_ok=True)
        raise
    for partial, final in paths.values():
        os.replace(partial, final)
    return written


def _generate(spec: Recipe, size: str, seed: int, paths: dict, log) -> dict:
    from ase.io import write

    provenance = {
        "dataset": spec.name,
        "size": size,
        "method": METHOD,
        **_versions(),
        "seed": seed,
        "command": f"macetutor dataset make {spec.name} --size {size} --seed {seed} --out DIR",
    }
    start_time = time.perf_counter()
    log(f"{spec.name} ({size}, seed {seed}): {spec.description}")
    log(f"  relaxing the starting structure with {METHOD} (tblite {provenance['tblite_version']})")
    start = _relaxed_start(spec.name)
    provenance["relaxed_start_energy"] = float(start.get_potential_energy())  # every frame lies above it
    if start.pbc.any():
        provenance["relaxed_lattice_A"] = round(float(start.cell[0, 0]), 6)
    written = {}

    def save(split: str, frames: list, seconds: float) -> None:
        partial, final = paths[split]
        write(partial, frames, format="extxyz")
        written[split] = final
        log(f"  {split}: {len(frames)} frames ({seconds:.1f} s)")

    for trajectory in spec.trajectories:
        t0 = time.perf_counter()
        frames = _trajectory_frames(start, spec, trajectory, seed, provenance, log)
        save(trajectory.split, frames, time.perf_counter() - t0)
    if spec.scan is not None:
        t0 = time.perf_counter()
        save("dihedral_scan", _dihedral_scan(start, spec.scan, provenance, log), time.perf_counter() - t0)
    t0 = time.perf_counter()
    save("isolated_atoms", _isolated_atoms(spec.isolated_atoms, provenance), time.perf_counter() - t0)
    log(f"  total {time.perf_counter() - start_time:.1f} s")
    return written
