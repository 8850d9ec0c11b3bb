"""macetutor (numba backend) against mace-torch, and optionally fastatomstruct: same weights, float64, CPU,
energy + forces + stress; times and their ratios at 1 and 2 threads, FLOPs and the fraction of the machine's peak,
peak memory, and the first call (cold start) with warm caches.

    python benchmarks/bench_vs_mace_torch.py [--sizes 2 3 4 5] [--repeats 5] [--threads 1 2]
                                             [--models small default mpa0] [--baseline DIR] [--no-fastatomstruct]

Models: mace-torch's default size (128x0e+128x1o, max_ell 3, correlation 3, 2 layers, r_max 5, 8 Bessel, p 5,
radial MLP [64, 64, 64], MLP readout 16x0e), a small one (32x0e+32x1o) and "mpa0", MACE-MPA-0's architecture
(128x0e+128x1o, density blocks, ZBL, Agnesi, r_max 6, 10 Bessel); elements H, C, O, Cu; random weights (seeded),
written once per model with torch.save to a temporary file that every worker loads: mace-torch with torch.load,
macetutor through from_mace_torch, fastatomstruct directly (so all compute the same function). Structures: ethanol
(9 atoms) and rattled fcc Cu supercells n x n x n of the 4-atom cell (32, 108, 256, 500 atoms for n = 2..5).

Every (implementation, model, structure, thread count) runs in a fresh process: one warm-up call (compilation,
caches), then the median of --repeats timed calls, and the process's peak resident memory. ``--threads 1 2``
measures at 1 and at 2 threads: the worker sets OMP/MKL/OPENBLAS/NUMBA/RAYON threads, torch.set_num_threads and
fastatomstruct.set_num_threads, and pins itself to that many CPUs (sched_setaffinity; fastatomstruct's XLA runtime
has its own thread pool). Timed work: everything a user pays per call -- neighbour list, model, forces and stress
(mace-torch: AtomicData + batch + forward/backward, as its ASE calculator does; fastatomstruct:
MACECalculator.calculate_properties on an ase.Atoms).

Sections printed:
  1. times (s) per thread count: mace-torch, macetutor and its ratio to mace-torch, fastatomstruct and its ratio
     ("-" when it is not installed or cannot load the model; the reason is printed once), and the relative energy
     difference of macetutor and of fastatomstruct from mace-torch;
  2. FLOPs of one evaluation (benchmarks/flops.py: the algorithm as macetutor implements it, the same count for all)
     and the fraction of the machine's peak each implementation reaches, flops / time / peak, where the peak is
     the GFLOP/s of a large numpy DGEMM measured in the same run at the same thread count (the theoretical peak
     from /proc/cpuinfo is printed too);
  3. peak resident memory per process (the largest thread count) and MB per atom between the two largest sizes
     (and the two before them: equal slopes mean linear growth);
  4. cold start: in a fresh process after the runs above warmed the on-disk caches (numba's and macetutor's
     coefficient cache), the import, the model set-up, the first call of the new model, a second call, the first
     call on a new structure size and a second call on it;
  5. macetutor's per-function profile on the largest structure.
With ``--baseline DIR`` (another checkout of macetutor, e.g. ``git worktree add /tmp/before <commit>``), that
version's macetutor is measured in the same run and printed as one more column with its own ratio.
Needs the `verify` extra; fastatomstruct is optional (the `bench` extra). Not a test: it prints measurements.
fastatomstruct sends anonymous telemetry unless FASTATOMSTRUCT_NO_TELEMETRY=1: the workers set it before importing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent

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
IMPLEMENTATIONS = ("mace-torch", "macetutor", "fastatomstruct")

WORKER = r"""
import os
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[variable] = str(THREAD_COUNT)  # before numpy, torch and numba start their thread pools
os.environ["FASTATOMSTRUCT_NO_TELEMETRY"] = "1"  # fastatomstruct sends anonymous telemetry otherwise
if hasattr(os, "sched_setaffinity"):  # at most THREAD_COUNT cores for every thread pool (XLA has its own)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:THREAD_COUNT])
import time
t_start = time.perf_counter()
import json, resource, statistics, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
sys.path.insert(0, ROOT)

impl, hidden, structures, repeats, options, model_file = IMPL, HIDDEN, STRUCTURES, REPEATS, OPTIONS_, MODEL_FILE


sys.path.insert(0, BENCHMARKS)
from structures import structure  # noqa: E402


if impl == "save":  # build the seeded random model once and write it for the other workers
    import mace, torch  # mace first: it must precede e3nn
    torch.set_default_dtype(torch.float64)
    from macetutor.interop.mace_torch import random_mace_torch_model
    model = random_mace_torch_model(
        ELEMENTS, hidden, 3, 3, 2, atomic_energies=[-13.6, -1029.8, -2041.9, -1640.0], avg_num_neighbors=30.0,
        perturbation=0.1, **options)
    torch.save(model, model_file)
    print(json.dumps({"saved": model_file}))
    sys.exit(0)

if impl == "fastatomstruct":
    from ase import Atoms
    try:
        import fastatomstruct as fs
        fs.disable_telemetry()
        fs.set_num_threads(THREAD_COUNT)
        t_imported = time.perf_counter()
        calc = fs.MACECalculator(model_file, device="cpu", default_dtype="float64")  # reads the mace-torch file
        setup = time.perf_counter() - t_imported
        engine = f"{calc.engine}, {calc.dtype}"
    except Exception as error:  # not installed, or it cannot read this model
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        sys.exit(0)

    def make_run(positions, numbers, cell, pbc):
        def run():
            atoms = Atoms(numbers=numbers, positions=positions, cell=cell if cell is not None else np.zeros((3, 3)),
                          pbc=pbc)
            return calc.calculate_properties(atoms)["energy"].value
        return run
else:
    import mace, torch  # mace first: it must precede e3nn
    torch.set_default_dtype(torch.float64)  # float64 data for mace-torch's forward pass
    torch.set_num_threads(THREAD_COUNT)
    t_imported = time.perf_counter()
    model = torch.load(model_file, weights_only=False)
    setup, engine = time.perf_counter() - t_imported, None  # mace-torch's set-up: loading the model file
    if impl == "mace-torch":
        from mace.data import AtomicData, config_from_atoms
        from mace.tools import AtomicNumberTable, torch_geometric
        from ase import Atoms
        z_table = AtomicNumberTable(ELEMENTS)
        r_max = float(model.r_max)

        def make_run(positions, numbers, cell, pbc):
            def run():
                atoms = Atoms(numbers=numbers, positions=positions,
                              cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc)
                data = AtomicData.from_config(config_from_atoms(atoms), z_table=z_table, cutoff=r_max,
                                              heads=["Default"])
                batch = torch_geometric.Batch.from_data_list([data]).to_dict()
                out = model(batch, compute_force=True, compute_stress=pbc)
                return float(out["energy"].detach()[0])
            return run
    else:
        t0 = time.perf_counter()
        from macetutor.interop import from_mace_torch
        ours = from_mace_torch(model)
        setup = time.perf_counter() - t0  # macetutor's set-up: the conversion (a user would load its .npz)

        def make_run(positions, numbers, cell, pbc):
            def run():
                return ours.evaluate(positions, numbers, cell, pbc, forces=True, stress=pbc, backend="numba").energy
            return run

results = []
for name in structures:
    positions, numbers, cell, pbc = structure(name)
    run = make_run(positions, numbers, cell, pbc)
    t0 = time.perf_counter(); energy = run(); first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
    flops = None
    if impl == "macetutor" and COUNT_FLOPS:
        sys.path.insert(0, BENCHMARKS)
        from flops import count_flops_for_structure
        flops = count_flops_for_structure(ours, positions, numbers, cell, pbc, stress=pbc)
    results.append({"structure": name, "n_atoms": len(positions), "first": first, "median": statistics.median(times),
                    "energy": energy, "flops": flops})
profile = None
if impl == "macetutor" and PROFILE:
    import cProfile, pstats
    pr = cProfile.Profile(); pr.enable(); run(); pr.disable()
    stats = pstats.Stats(pr)
    profile = {}
    for (file, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        key = f"{os.path.basename(file)}:{line}({name})"
        profile[key] = profile.get(key, 0.0) + tt
    profile = dict(sorted(profile.items(), key=lambda kv: -kv[1])[:8])
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"results": results, "peak_mb": peak_mb, "profile": profile, "engine": engine,
                  "import": t_imported - t_start, "setup": setup}))
"""

PEAK_WORKER = r"""
import os
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = str(THREAD_COUNT)
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:THREAD_COUNT])
import json, time
import numpy as np
rng = np.random.default_rng(0)
a, b = rng.standard_normal((SIZE, SIZE)), rng.standard_normal((SIZE, SIZE))
a @ b  # warm-up
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
print(json.dumps({"gflops": 2 * SIZE**3 / best / 1e9}))
"""


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    impl: str,
    model: str,
    structures: list[str],
    repeats: int,
    threads: int,
    model_file: Path,
    root: Path = ROOT,
    count_flops: bool = True,
    profile: bool = False,
) -> dict:
    """Run WORKER in a fresh process: {"results": [per structure], "peak_mb", "profile", "import", "setup"} or
    {"error": why} (fastatomstruct only)."""
    code = (
        WORKER.replace("THREAD_COUNT", str(threads))
        .replace("IMPL", repr(impl))
        .replace("OPTIONS_", repr(OPTIONS.get(model, {})))
        .replace("HIDDEN", repr(MODELS[model]))
        .replace("STRUCTURES", repr(list(structures)))
        .replace("REPEATS", str(repeats))
        .replace("MODEL_FILE", repr(str(model_file)))
        .replace("COUNT_FLOPS", repr(count_flops))
        .replace("PROFILE", repr(profile))
        .replace("BENCHMARKS", repr(str(BENCHMARKS)))
        .replace("ROOT", repr(str(root)))
        .replace("ELEMENTS", repr(ELEMENTS))
    )
    return _run(code)


def dgemm_peak(threads: int, size: int) -> float:
    """The machine's practical double-precision peak: GFLOP/s of a numpy DGEMM (size x size), best of 3."""
    return _run(PEAK_WORKER.replace("THREAD_COUNT", str(threads)).replace("SIZE", str(size)))["gflops"]


def theoretical_peak() -> tuple[float | None, str]:
    """(GFLOP/s per core or None, how it was derived): clock x 16 DP flops/cycle (two 256-bit FMA pipes; AMD's
    Zen 4 runs AVX-512 as two 256-bit halves, so 16 there too). The clock is /proc/cpuinfo's "cpu MHz" (under a
    hypervisor the nominal clock; boost unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, "no /proc/cpuinfo: clock unknown"
    mhz = [float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    model = next((line.split(":")[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    if not mhz:
        return None, f"{model}: clock unknown"
    if " fma" not in flags or " avx2" not in flags:
        return None, f"{model}: no AVX2 FMA, peak per cycle unknown"
    ghz = max(mhz) / 1000
    return ghz * 16, f"{model}, {ghz:.2f} GHz (cpuinfo) x 16 DP flops/cycle (AVX2 FMA)"


def _ratio(a, b) -> str:
    return f"{a / b:6.2f}" if a is not None and b else f"{'-':>6s}"


def _seconds(value, width: int = 8) -> str:
    return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}s}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[2, 3, 4, 5], help="Cu supercells n x n x n (4 n^3 atoms)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="thread counts to measure at (default: 1 and 2)"
    )
    parser.add_argument("--models", nargs="*", default=["small", "default"], choices=list(MODELS))
    parser.add_argument("--baseline", type=Path, help="another macetutor checkout to measure in the same run")
    parser.add_argument("--no-fastatomstruct", action="store_true", help="skip fastatomstruct even if installed")
    parser.add_argument("--peak-size", type=int, default=2000, help="matrix size of the DGEMM peak (default 2000)")
    args = parser.parse_args()
    structures = ["ethanol"] + [f"cu_{n}" for n in args.sizes]
    threads = list(dict.fromkeys(args.threads))
    with_fas = not args.no_fastatomstruct and importlib.util.find_spec("fastatomstruct") is not None
    skipped = {}  # model -> why fastatomstruct is not measured
    if not with_fas:
        why = "--no-fastatomstruct" if args.no_fastatomstruct else "not installed (pip install fastatomstruct)"
        skipped = dict.fromkeys(args.models, why)

    per_core, derivation = theoretical_peak()
    peaks = {T: dgemm_peak(T, args.peak_size) for T in threads}
    print(f"peak double precision: DGEMM {args.peak_size}^2 (numpy, best of 3) ", end="")
    print(", ".join(f"{peaks[T]:.1f} GFLOP/s at {T} thread(s)" for T in threads))
    if per_core is None:
        print(f"theoretical peak: {derivation}")
    else:
        print(
            f"theoretical peak: {per_core:.1f} GFLOP/s per core ({derivation}); "
            + ", ".join(f"{per_core * T:.1f} at {T}" for T in threads)
        )
        if any(peaks[T] > per_core * T for T in threads):
            print("  (the DGEMM exceeds it: the cores run above cpuinfo's nominal clock; fractions use the DGEMM peak)")
    print(
        f"median of {args.repeats} calls after a warm-up, each case in a fresh process; times in s; ratio = / mace-torch"
    )

    runs = {}  # (model, structure, T) -> {impl: worker output, its single structure's result under "r"}
    header = f"{'model':8s} {'structure':9s} {'atoms':>5s}"
    for T in threads:
        header += f" | {T}T: {'torch':>7s} {'ours':>7s} {'ratio':>6s} {'fas':>7s} {'ratio':>6s}"
        header += f" {'base':>7s} {'ratio':>6s}" if args.baseline else ""
    header += f" | {'dE/E ours':>9s} {'dE/E fas':>9s}"
    with tempfile.TemporaryDirectory(prefix="bench_vs_mace_torch_") as tmp:
        files = {model: Path(tmp) / f"{model}.model" for model in args.models}
        for model in args.models:
            measure("save", model, [], 0, 1, files[model])
        print("\n1. times\n" + header, flush=True)
        for model in args.models:
            for structure in structures:
                line = f"{model:8s} {structure:9s}"
                errors = {}
                for T in threads:
                    case = {}
                    for impl in IMPLEMENTATIONS:
                        if impl == "fastatomstruct" and model in skipped:
                            continue
                        out = measure(
                            impl, model, [structure], args.repeats, T, files[model],
                            profile=impl == "macetutor" and structure == structures[-1] and T == threads[-1],
                        )  # fmt: skip
                        if "error" in out:
                            skipped[model] = out["error"]
                            continue
                        case[impl] = out | {"r": out["results"][0]}
                    if args.baseline:
                        out = measure("macetutor", model, [structure], args.repeats, T, files[model],
                                      args.baseline.resolve(), count_flops=False)  # fmt: skip
                        case["baseline"] = out | {"r": out["results"][0]}
                    runs[(model, structure, T)] = case
                    ref = case["mace-torch"]["r"]["median"]
                    times = {impl: case[impl]["r"]["median"] if impl in case else None for impl in case}
                    fas, base = times.get("fastatomstruct"), times.get("baseline")
                    line = line if T != threads[0] else f"{line} {case['macetutor']['r']['n_atoms']:5d}"
                    line += f" | {'':3s} {ref:7.3f} {times['macetutor']:7.3f} {_ratio(times['macetutor'], ref)}"
                    line += f" {_seconds(fas, 7)} {_ratio(fas, ref)}"
                    line += f" {_seconds(base, 7)} {_ratio(base, ref)}" if args.baseline else ""
                    energy = case["mace-torch"]["r"]["energy"]
                    for impl in ("macetutor", "fastatomstruct"):
                        if impl in case:
                            errors[impl] = abs(case[impl]["r"]["energy"] - energy) / abs(energy)
                line += f" | {errors['macetutor']:9.1e}"
                line += f" {errors['fastatomstruct']:9.1e}" if "fastatomstruct" in errors else f" {'-':>9s}"
                print(line, flush=True)
        for model, why in skipped.items():
            print(f"fastatomstruct skipped for the {model} model: {why}")
        engines = {c["fastatomstruct"]["engine"] for c in runs.values() if "fastatomstruct" in c}
        if engines:
            print(f"fastatomstruct engine: {', '.join(sorted(engines))}")

        _flops_table(runs, args.models, structures, threads, peaks)
        _memory_table(runs, args.models, structures, threads[-1])
        _cold_start(args.models, structures, threads[-1], files, skipped)
    for (model, structure, T), case in runs.items():
        if structure == structures[-1] and T == threads[-1] and case["macetutor"]["profile"]:
            print(f"\n5. macetutor profile, {model} model, {structure}, {T} thread(s) (self time per function, s):")
            for name, seconds in case["macetutor"]["profile"].items():
                print(f"  {seconds:8.3f}  {name}")


def _flops_table(runs: dict, models, structures, threads, peaks: dict) -> None:
    """Section 2: FLOPs per evaluation (benchmarks/flops.py) and flops / time / DGEMM peak per implementation."""
    print("\n2. FLOPs of one energy + forces (+ stress) evaluation and the fraction of the DGEMM peak reached")
    header = f"{'model':8s} {'structure':9s} {'GFLOP':>7s} {'TP+VJP':>6s} {'prod':>5s} {'MLP':>5s} {'lin':>5s}"
    for T in threads:
        header += f" | {T}T: {'torch':>6s} {'ours':>6s} {'fas':>6s}"
    print(header + "    (TP+VJP, prod, MLP, lin: shares of the count)")
    for model in models:
        for structure in structures:
            first = runs[(model, structure, threads[0])]["macetutor"]["r"]["flops"]
            total = sum(first.values())
            share = {
                "TP": first["edge TP + neighbour sum"] + first["edge TP VJP"],
                "prod": first["product basis + message"] + first["product basis VJP"],
                "MLP": first["radial MLP"] + first["radial MLP VJP"],
                "lin": first["linear maps"] + first["linear maps VJP"],
            }
            line = f"{model:8s} {structure:9s} {total / 1e9:7.3f} " + " ".join(
                f"{share[k] / total:{w}.0%}" for k, w in (("TP", 6), ("prod", 5), ("MLP", 5), ("lin", 5))
            )
            for T in threads:
                case = runs[(model, structure, T)]
                fractions = [
                    f"{total / case[impl]['r']['median'] / 1e9 / peaks[T]:6.1%}" if impl in case else f"{'-':>6s}"
                    for impl in IMPLEMENTATIONS
                ]
                line += f" | {'':3s} " + " ".join(fractions)
            print(line)


def _memory_table(runs: dict, models, structures, T: int) -> None:
    """Section 3: peak resident memory per process, and MB per atom between consecutive large sizes."""
    print(f"\n3. peak resident memory (MB, {T} thread(s); torch and mace-torch imported by the torch and macetutor")
    print("   workers, not by fastatomstruct's) and its growth per atom between the largest sizes")
    print(f"{'model':8s} {'structure':9s} {'atoms':>5s} " + " ".join(f"{impl:>14s}" for impl in IMPLEMENTATIONS))
    for model in models:
        for structure in structures:
            case = runs[(model, structure, T)]
            print(
                f"{model:8s} {structure:9s} {case['macetutor']['r']['n_atoms']:5d} "
                + " ".join(f"{case[i]['peak_mb']:14.0f}" if i in case else f"{'-':>14s}" for i in IMPLEMENTATIONS)
            )
        cu = [s for s in structures if s.startswith("cu_")]
        for a, b in list(zip(cu[:-1], cu[1:], strict=True))[-2:]:
            x, y = runs[(model, a, T)], runs[(model, b, T)]
            atoms = y["macetutor"]["r"]["n_atoms"] - x["macetutor"]["r"]["n_atoms"]
            slopes = [
                f"{(y[i]['peak_mb'] - x[i]['peak_mb']) / atoms:14.3f}" if i in x and i in y else f"{'-':>14s}"
                for i in IMPLEMENTATIONS
            ]
            label = f"MB/atom {a[3:]}->{b[3:]}"
            print(f"{model:8s} {label:15s} " + " ".join(slopes))


def _cold_start(models, structures, T: int, files: dict, skipped: dict) -> None:
    """Section 4: first calls in a fresh process whose on-disk caches the runs above have warmed."""
    if len(structures) < 2:
        return
    first, second = structures[-2], structures[-1]
    print(f"\n4. cold start ({T} thread(s); fresh process, caches warmed by the runs above): import (s), model")
    print(f"   set-up (s), first call of the new model on {first}, a second call, first call on a new size {second},")
    print("   a second call; steady state = the second calls")
    print(
        f"{'model':8s} {'implementation':15s} {'import':>7s} {'set-up':>7s} {'1st new model':>13s} {'2nd':>7s} "
        f"{'1st new size':>12s} {'2nd':>7s}"
    )
    for model in models:
        for impl in IMPLEMENTATIONS:
            if impl == "fastatomstruct" and model in skipped:
                continue
            out = measure(impl, model, [first, second], 1, T, files[model], count_flops=False)
            if "error" in out:
                continue
            a, b = out["results"]
            print(
                f"{model:8s} {impl:15s} {out['import']:7.2f} {out['setup']:7.2f} {a['first']:13.3f} "
                f"{a['median']:7.3f} {b['first']:12.3f} {b['median']:7.3f}"
            )


if __name__ == "__main__":
    main()
