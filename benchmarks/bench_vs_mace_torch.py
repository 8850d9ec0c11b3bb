"""macetutor (numba backend) against mace-torch: same weights, float64, CPU, energy + forces + stress.

    python benchmarks/bench_vs_mace_torch.py [--sizes 1 2 3 4 5] [--repeats 5] [--threads 2]
                                             [--models default small mpa0] [--baseline DIR]

Models: mace-torch's default size (128x0e+128x1o, max_ell 3, correlation 3, 2 layers, r_max 5, 8 Bessel, p 5,
radial MLP [64, 64, 64], MLP readout 16x0e), a small one (32x0e+32x1o) and "mpa0", MACE-MPA-0's architecture
(128x0e+128x1o, density blocks, ZBL, Agnesi, r_max 6, 10 Bessel); elements H, C, O, Cu; random weights,
imported into macetutor with from_mace_torch (so both compute the same function). Structures: ethanol (9 atoms) and
rattled fcc Cu supercells n x n x n of the 4-atom cell (32, 108, 256, 500 atoms for n = 2..5).

Every (implementation, model, structure) runs in a fresh process: one warm-up call (compilation, caches), then the
median of --repeats timed calls, and the process's peak resident memory. Timed work: everything a user pays per
call -- neighbour list, model, forces and stress (mace-torch: AtomicData + batch + forward/backward, as its ASE
calculator does). Prints the times, the ratio macetutor / mace-torch and a per-stage profile of macetutor.
With ``--baseline DIR`` (another checkout of macetutor, e.g. ``git worktree add /tmp/before <commit>``), that
version's macetutor is measured in the same run and printed as one more column with its own ratio.
Needs the `verify` extra. Not a test: it prints measurements.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODELS = {"default": "128x0e+128x1o", "small": "32x0e+32x1o", "mpa0": "128x0e+128x1o"}
# extra constructor arguments: "mpa0" has MACE-MPA-0's architecture (density blocks, ZBL, Agnesi, r_max 6, 10 Bessel)
OPTIONS = {
    "mpa0": dict(
        interaction_first="RealAgnosticDensityInteractionBlock",
        interaction="RealAgnosticDensityResidualInteractionBlock",
        pair_repulsion=True,
        distance_transform="Agnesi",
        r_max=6.0,
        num_bessel=10,
    )
}
ELEMENTS = [1, 6, 8, 29]

WORKER = r"""
import os
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(THREAD_COUNT)  # before numpy, torch and numba start their thread pools
import json, resource, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
sys.path.insert(0, ROOT)
import mace, torch  # mace first: it must precede e3nn
torch.set_default_dtype(torch.float64)  # float64 data for mace-torch's forward pass
torch.set_num_threads(THREAD_COUNT)
from macetutor.interop.mace_torch import random_mace_torch_model

impl, hidden, structure, repeats, options = IMPL, HIDDEN, STRUCTURE, REPEATS, OPTIONS_
model = random_mace_torch_model(
    ELEMENTS, hidden, 3, 3, 2, atomic_energies=[-13.6, -1029.8, -2041.9, -1640.0], avg_num_neighbors=30.0,
    perturbation=0.1, **options)
r_max = float(model.r_max)

if structure == "ethanol":
    positions = np.array([[0.0, 0.0, 0.0], [1.52, 0.0, 0.0], [2.0, 1.35, 0.0], [-0.4, 1.0, 0.1], [-0.4, -0.5, 0.9],
                          [-0.4, -0.5, -0.9], [1.9, -0.5, 0.9], [1.9, -0.5, -0.9], [2.95, 1.3, 0.1]])
    numbers = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1]); cell = None; pbc = False
else:
    n = int(structure.split("_")[1]); a = 3.61
    base = a * np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    positions = np.concatenate([base + a * np.array([i, j, k]) for i in range(n) for j in range(n) for k in range(n)])
    positions = positions + 0.05 * np.random.default_rng(0).standard_normal(positions.shape)
    numbers = np.full(len(positions), 29); cell = a * n * np.eye(3); pbc = True

if impl == "mace-torch":
    from ase import Atoms
    from mace.data import AtomicData, config_from_atoms
    from mace.tools import AtomicNumberTable, torch_geometric
    z_table = AtomicNumberTable(ELEMENTS)
    def run():
        atoms = Atoms(numbers=numbers, positions=positions, cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc)
        data = AtomicData.from_config(config_from_atoms(atoms), z_table=z_table, cutoff=r_max, heads=["Default"])
        batch = torch_geometric.Batch.from_data_list([data]).to_dict()
        out = model(batch, compute_force=True, compute_stress=pbc)
        return float(out["energy"].detach()[0])
else:
    from macetutor.interop import from_mace_torch
    ours = from_mace_torch(model)
    def run():
        return ours.evaluate(positions, numbers, cell, pbc, forces=True, stress=pbc, backend="numba").energy

t0 = time.perf_counter(); energy = run(); first = time.perf_counter() - t0
times = []
for _ in range(repeats):
    t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
profile = None
if impl == "macetutor":
    import cProfile, pstats, io
    pr = cProfile.Profile(); pr.enable(); run(); pr.disable()
    stats = pstats.Stats(pr)
    stages = {"neighbour list": "neighbors.py", "harmonics": "so3.py", "radial MLP": "radial.py",
              "edge TP + neighbour sum (numba)": "kernels.py:1", "product basis (numba)": "kernels.py:",
              "linear maps / self-connections": "basis.py"}
    profile = {}
    for (file, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        key = f"{Path(file).name}:{line}({name})"
        profile[key] = profile.get(key, 0.0) + tt
    profile = dict(sorted(profile.items(), key=lambda kv: -kv[1])[:8])
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n_atoms": len(positions), "first": first, "median": statistics.median(times), "peak_mb": peak_mb,
                  "energy": energy, "profile": profile}))
"""


def measure(impl: str, model: str, structure: str, repeats: int, root: Path = ROOT, threads: int = 2) -> dict:
    code = (
        WORKER.replace("THREAD_COUNT", str(threads))
        .replace("IMPL", repr(impl))
        .replace("OPTIONS_", repr(OPTIONS.get(model, {})))
        .replace("HIDDEN", repr(MODELS[model]))
        .replace("STRUCTURE", repr(structure))
        .replace("REPEATS", str(repeats))
        .replace("ROOT", repr(str(root)))
        .replace("ELEMENTS", repr(ELEMENTS))
    )
    code = code.replace("from pathlib import Path", "")
    code = "from pathlib import Path\n" + code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[2, 3, 4, 5], help="Cu supercells n x n x n (4 n^3 atoms)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="threads of numpy/BLAS, numba and torch (default 2)")
    parser.add_argument("--models", nargs="*", default=["small", "default"], choices=list(MODELS))
    parser.add_argument("--baseline", type=Path, help="another macetutor checkout to measure in the same run")
    args = parser.parse_args()
    structures = ["ethanol"] + [f"cu_{n}" for n in args.sizes]
    print(f"{args.threads} thread(s) for numpy/BLAS, numba and torch; median of {args.repeats} calls after a warm-up")
    print(
        f"{'model':8s} {'structure':9s} {'atoms':>5s} {'mace-torch (s)':>14s} {'macetutor (s)':>13s} {'ratio':>6s} "
        f"{'|dE|/|E|':>9s} {'peak MB torch':>13s} {'peak MB ours':>12s} {'ours first call (s)':>19s}"
        + (f" {'baseline (s)':>12s} {'ratio':>6s}" if args.baseline else ""),
        flush=True,
    )
    profiles = {}
    for model in args.models:
        for structure in structures:
            ref = measure("mace-torch", model, structure, args.repeats, threads=args.threads)
            ours = measure("macetutor", model, structure, args.repeats, threads=args.threads)
            profiles[(model, structure)] = ours["profile"]
            baseline = ""
            if args.baseline:
                before = measure("macetutor", model, structure, args.repeats, args.baseline.resolve(), args.threads)
                baseline = f" {before['median']:12.3f} {before['median'] / ref['median']:6.2f}"
            print(
                f"{model:8s} {structure:9s} {ours['n_atoms']:5d} {ref['median']:14.3f} {ours['median']:13.3f} "
                f"{ours['median'] / ref['median']:6.2f} {abs(ours['energy'] - ref['energy']) / abs(ref['energy']):9.1e} "
                f"{ref['peak_mb']:13.0f} {ours['peak_mb']:12.0f} {ours['first']:19.2f}{baseline}",
                flush=True,
            )
    for (model, structure), profile in profiles.items():
        if structure == structures[-1]:
            print(f"\nmacetutor profile, {model} model, {structure} (self time per function, s):")
            for name, seconds in profile.items():
                print(f"  {seconds:8.3f}  {name}")


if __name__ == "__main__":
    main()
