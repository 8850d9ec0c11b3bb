"""The ASE getter sequence through macetutor's calculator: get_potential_energy, get_forces, get_stress.

    python benchmarks/bench_calculator_getters.py [--repeats 5] [--baseline DIR]

A 32x0e+32x1o Cu model (MACE.init, seed 0, numba backend) on rattled fcc Cu supercells of 32 and 256 atoms. Each
repeat moves the atoms (so nothing is cached between repeats) and times the three getters in ASE's usual order;
also the time of one evaluation with forces and stress. With ``--baseline DIR`` (another macetutor checkout) that
version is measured in the same run. Every measurement runs in a fresh process after one warm-up sequence; the
median of --repeats is printed. Needs ase (the `verify` extra). Not a test: it prints measurements.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, ROOT)
import numpy as np
from ase.build import bulk
from macetutor.calculator import MACECalculator
from macetutor.model import MACE, MACEConfig

config = MACEConfig(elements=(29,), hidden_irreps="32x0e+32x1o", atomic_energies=(-1.0,), avg_num_neighbors=40.0)
model = MACE.init(config, seed=0)
n = N_CELLS
atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((n, n, n))
rng = np.random.default_rng(0)
atoms.calc = MACECalculator(model, backend="numba")

def sequence():
    atoms.positions += 0.01 * rng.standard_normal(atoms.positions.shape)
    t = time.perf_counter()
    atoms.get_potential_energy(); atoms.get_forces(); atoms.get_stress()
    return time.perf_counter() - t

def single():
    atoms.positions += 0.01 * rng.standard_normal(atoms.positions.shape)
    t = time.perf_counter()
    model.evaluate(atoms.positions, atoms.numbers, atoms.cell[:], True, forces=True, stress=True, backend="numba")
    return time.perf_counter() - t

sequence(); single()
print(json.dumps({"atoms": len(atoms), "getters": statistics.median(sequence() for _ in range(REPEATS)),
                  "one_evaluation": statistics.median(single() for _ in range(REPEATS))}))
"""


def measure(root: Path, n_cells: int, repeats: int) -> dict:
    code = WORKER.replace("ROOT", repr(str(root))).replace("N_CELLS", str(n_cells)).replace("REPEATS", str(repeats))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another macetutor checkout to measure in the same run")
    args = parser.parse_args()
    versions = [("this checkout", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    print(f"{'version':14s} {'atoms':>5s} {'getters E, F, S (s)':>20s} {'one evaluation (s)':>19s} {'ratio':>6s}")
    for n_cells in (2, 4):  # 32 and 256 atoms
        for name, root in versions:
            r = measure(root, n_cells, args.repeats)
            ratio = r["getters"] / r["one_evaluation"]
            print(
                f"{name:14s} {r['atoms']:5d} {r['getters']:20.3f} {r['one_evaluation']:19.3f} {ratio:6.2f}", flush=True
            )


if __name__ == "__main__":
    main()
