"""First-call latency on a warm cache, in a fresh process: import, the first evaluation (coefficient cache read from
disk, numba kernels loaded from their on-disk cache), and a second evaluation for comparison.

    python benchmarks/bench_first_call.py

Run it twice: the first run may fill the caches (cold); the figures that matter are the second run's.
The same question against mace-torch and fastatomstruct (a new model, then a new structure size, in a fresh process
with warm caches) is section 4 of bench_vs_mace_torch.py.
"""

import subprocess
import sys

WORK = r"""
import time
t0 = time.perf_counter()
import numpy as np
import macetutor as mt
t1 = time.perf_counter()
config = mt.MACEConfig(elements=(1, 6, 8), hidden_irreps="32x0e+32x1o", max_ell=3, correlation=(3, 3),
                       avg_num_neighbors=8.0, atomic_energies=(0.0, 0.0, 0.0))
model = mt.MACE.init(config, seed=0)
positions = np.array([[0.0, 0.0, 0.0], [1.52, 0.0, 0.0], [2.0, 1.35, 0.0], [-0.4, 1.0, 0.1], [-0.4, -0.5, 0.9],
                      [-0.4, -0.5, -0.9], [1.9, -0.5, 0.9], [1.9, -0.5, -0.9], [2.95, 1.3, 0.1]])
numbers = [6, 6, 8, 1, 1, 1, 1, 1, 1]
t2 = time.perf_counter()
model.evaluate(positions, numbers, forces=True, backend=BACKEND)
t3 = time.perf_counter()
model.evaluate(positions, numbers, forces=True, backend=BACKEND)
t4 = time.perf_counter()
print(f"{BACKEND:6s} import {t1 - t0:6.3f} s   first evaluation {t3 - t2:6.3f} s   second evaluation {t4 - t3:6.3f} s")
"""

for run in ("fill caches", "warm caches"):
    print(f"-- {run}")
    for backend in ("numpy", "numba"):
        subprocess.run([sys.executable, "-c", WORK.replace("BACKEND", repr(backend))], check=True)
