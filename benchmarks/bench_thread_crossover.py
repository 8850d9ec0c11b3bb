"""Where two numba threads start to pay: one energy + forces + stress evaluation with every kernel forced serial
against every kernel forced parallel (2 threads), over structure sizes around the switch point.

    python benchmarks/bench_thread_crossover.py [--repeats 5] [--models small default]

The kernels pick their variant by the number of rows (atoms) of their first argument against
``macetutor.kernels.PARALLEL_MIN_ROWS``; this script overrides the switch (0: always parallel, a huge value: always
serial) in one process per model, alternating the two settings call by call so that a load change on the machine
hits both, and prints the median times, their ratio parallel / serial, and the smallest size from which parallel is
faster at every larger size: the measured crossover, to set PARALLEL_MIN_ROWS by. The numpy/BLAS parts (radial MLP,
linear maps) use 2 threads in both settings. Structures: rattled fcc Cu supercells (4 atoms per cell) from 1 x 1 x 2
to 5 x 5 x 5. Not a test: it prints measurements.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(1, 1, 2), (1, 2, 2), (2, 2, 2), (2, 2, 3), (2, 3, 3), (3, 3, 3), (3, 3, 4), (4, 4, 4), (5, 5, 5)]
MODELS = {"small": "32x0e+32x1o", "default": "128x0e+128x1o"}

WORKER = r"""
import os
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = "2"
import statistics, sys, time
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCHMARKS)
import numpy as np
import macetutor as mt
from macetutor import kernels
from structures import fcc_cu

config = mt.MACEConfig(elements=(29,), hidden_irreps=HIDDEN, max_ell=3, correlation=(3, 3), avg_num_neighbors=40.0,
                       atomic_energies=(0.0,))
model = mt.MACE.init(config, seed=0)
for n1, n2, n3 in SIZES:
    positions, numbers, cell, _ = fcc_cu(n1, n2, n3)
    times = {"serial": [], "parallel": []}
    for setting in ("serial", "parallel"):  # warm-up: compile / load both variants
        kernels.PARALLEL_MIN_ROWS = 10**9 if setting == "serial" else 0
        model.evaluate(positions, numbers, cell, True, forces=True, stress=True, backend="numba")
    for _ in range(REPEATS):
        for setting in ("serial", "parallel"):
            kernels.PARALLEL_MIN_ROWS = 10**9 if setting == "serial" else 0
            t0 = time.perf_counter()
            model.evaluate(positions, numbers, cell, True, forces=True, stress=True, backend="numba")
            times[setting].append(time.perf_counter() - t0)
    s, p = statistics.median(times["serial"]), statistics.median(times["parallel"])
    print(f"{len(positions)} {s} {p}", flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    from macetutor import kernels

    print(f"PARALLEL_MIN_ROWS is {kernels.PARALLEL_MIN_ROWS}; {os.cpu_count()} cores")
    for name in args.models:
        code = (
            WORKER.replace("ROOT", repr(str(ROOT)))
            .replace("BENCHMARKS", repr(str(ROOT / "benchmarks")))
            .replace("HIDDEN", repr(MODELS[name]))
            .replace("SIZES", repr(SIZES))
            .replace("REPEATS", str(args.repeats))
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        rows = [line.split() for line in done.stdout.split("\n") if line.strip()]
        print(f"\n{name} ({MODELS[name]}): one evaluation, median of {args.repeats}")
        print(f"{'atoms':>6} {'serial (s)':>11} {'2 threads (s)':>14} {'ratio':>6}")
        ratios = []
        for atoms, serial, parallel in rows:
            ratio = float(parallel) / float(serial)
            ratios.append((int(atoms), ratio))
            print(f"{atoms:>6} {float(serial):11.4f} {float(parallel):14.4f} {ratio:6.2f}")
        crossover = next((atoms for k, (atoms, _) in enumerate(ratios) if all(r < 1.0 for _, r in ratios[k:])), None)
        print(f"two threads faster from {crossover} atoms on" if crossover else "two threads never faster here")


if __name__ == "__main__":
    main()
