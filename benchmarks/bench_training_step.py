"""Time per training step, macetutor against mace-torch, on the same model and batch (float64, CPU).

    python benchmarks/bench_training_step.py [--repeats 5] [--threads 2] [--models small default]

One step = loss (energy + forces, mace-torch's weights 1 and 100) and its gradient with respect to every parameter,
gradient clipping, Adam/AMSGrad update: macetutor's ``trainer.optimiser_step`` (exact hand-derived gradient, the
complex step through the reverse pass, numba kernels) against mace-torch's own ``mace.tools.train.take_step``
(autograd with create_graph) with its batch collated from pre-built AtomicData, as its DataLoader does (neighbour
lists built once, before training; macetutor builds each structure's graph inside the step, and that is timed).
The batch: 10 clusters of 8 water molecules (24 atoms each, r_max 5 Å). Models: mace-torch's default size
(128x0e+128x1o, max_ell 3, correlation 3, 2 layers) and a small one (32x0e+32x1o), random weights imported into
macetutor. Each implementation runs in a fresh process (one warm-up step, then the median of --repeats steps) that
reports its peak resident memory. Not a test: it prints measurements and the ratio macetutor / mace-torch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"small": "32x0e+32x1o", "default": "128x0e+128x1o"}

WORKER = r"""
import os
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(THREADS)
import json, resource, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
sys.path.insert(0, ROOT)
import mace, torch
torch.set_default_dtype(torch.float64)
torch.set_num_threads(THREADS)
from macetutor.interop.mace_torch import random_mace_torch_model
from macetutor.training import Structure

model = random_mace_torch_model([1, 8], HIDDEN, 3, 3, 2, avg_num_neighbors=10.0, perturbation=0.1,
                                atomic_energies=[-13.6, -2041.9])
rng = np.random.default_rng(0)
water = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
def cluster():
    centres = []
    while len(centres) < 8:
        c = rng.uniform(0, 5.5, 3)
        if all(np.linalg.norm(c - d) > 2.6 for d in centres):
            centres.append(c)
    positions = np.concatenate([water + c for c in centres]) + 0.05 * rng.normal(size=(24, 3))
    return Structure(positions, [8, 1, 1] * 8, energy=-600 + rng.normal(), forces=rng.normal(size=(24, 3)))
batch = [cluster() for _ in range(10)]
weights = {"energy": 1.0, "forces": 100.0}

if IMPL == "mace-torch":
    from mace.data import AtomicData, KeySpecification, config_from_atoms
    from mace.tools import AtomicNumberTable, torch_geometric
    from mace.tools.train import take_step
    from macetutor.interop.mace_torch_training import mace_torch_loss_function, to_atoms
    z_table = AtomicNumberTable([1, 8])
    data = [AtomicData.from_config(config_from_atoms(to_atoms(s), key_specification=KeySpecification.from_defaults()),
                                   z_table=z_table, cutoff=5.0, heads=["Default"]) for s in batch]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-9, amsgrad=True)
    loss_fn = mace_torch_loss_function(weights)
    def step():
        collated = torch_geometric.Batch.from_data_list(data)
        take_step(model, loss_fn, collated, optimizer, None, {"forces": True, "virials": False, "stress": False},
                  10.0, "cpu")
else:
    from macetutor.interop import from_mace_torch
    from macetutor.trainer import Adam, TrainingOptions, optimiser_step
    ours = from_mace_torch(model)
    options = TrainingOptions(lr=1e-9, backend="numba")
    parameters = {n: np.array(p) for n, p in ours.parameters.items()}
    adam = Adam(parameters, 1e-9, {})
    def step():
        optimiser_step(ours, parameters, batch, weights, adam, None, options)

t0 = time.perf_counter(); step(); first = time.perf_counter() - t0
times = []
for _ in range(REPEATS):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
print(json.dumps({"first": first, "median": statistics.median(times),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(impl: str, model: str, repeats: int, threads: int) -> dict:
    code = (
        WORKER.replace("THREADS", str(threads))
        .replace("IMPL", repr(impl))
        .replace("HIDDEN", repr(MODELS[model]))
        .replace("REPEATS", str(repeats))
        .replace("ROOT", repr(str(ROOT)))
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=["small", "default"], choices=list(MODELS))
    args = parser.parse_args()
    print(
        f"{args.threads} thread(s); batch of 10 structures x 24 atoms, energy + forces loss; median of {args.repeats}"
    )
    print(
        f"{'model':8} {'mace-torch (s)':>15} {'macetutor (s)':>14} {'ratio':>6} {'peak MB torch':>14} "
        f"{'peak MB ours':>13} {'first step ours (s)':>20}"
    )
    for model in args.models:
        theirs = measure("mace-torch", model, args.repeats, args.threads)
        ours = measure("macetutor", model, args.repeats, args.threads)
        print(
            f"{model:8} {theirs['median']:15.3f} {ours['median']:14.3f} {ours['median'] / theirs['median']:6.2f} "
            f"{theirs['peak_mb']:14.0f} {ours['peak_mb']:13.0f} {ours['first']:20.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
