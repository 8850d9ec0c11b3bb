"""Cold and warm cost of the sympy-derived coefficient cache, each in a fresh Python process.

    python benchmarks/bench_cache.py

cold: an empty cache directory, so sympy computes every table; warm: the same directory again, so every
table is read from disk. Work measured: all 175 real Clebsch-Gordan triples with l <= 6, and the
recurrence constants of the harmonics up to l = 12 (one evaluation of l = 0..12). Prints the median of
three runs of each and the ratio warm / cold; also the import time of the package.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

WORK = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
import macetutor as mt
t1 = time.perf_counter()
mt.spherical_harmonics(list(range(13)), np.ones((1, 3)))
t2 = time.perf_counter()
for l1 in range(7):
    for l2 in range(7):
        for l3 in range(abs(l1 - l2), min(l1 + l2, 6) + 1):
            mt.clebsch_gordan(l1, l2, l3)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "harmonics l<=12": t2 - t1, "CG l<=6 (175 triples)": t3 - t2}))
"""


def run(cache_dir):
    env = dict(os.environ, MACETUTOR_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", WORK], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    cold, warm = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as cache_dir:
            cold.append(run(cache_dir))
            warm.append(run(cache_dir))
    print(f"{'stage':28s} {'cold (s)':>10s} {'warm (s)':>10s} {'warm/cold':>10s}")
    for stage in cold[0]:
        c = statistics.median(r[stage] for r in cold)
        w = statistics.median(r[stage] for r in warm)
        print(f"{stage:28s} {c:10.4f} {w:10.4f} {w / c:10.3f}")


if __name__ == "__main__":
    main()
