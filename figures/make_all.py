"""Regenerate every figure: run each ``fig_*.py`` next to this file, in name order, with the same ``--out``.

Usage: python figures/make_all.py [--out DIR]   (default: this directory, figures/)

Each script is run in its own Python process (the interpreter running this one), so a failure
in one figure is reported with its name; the exit status is non-zero if any figure failed.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(out_dir: Path) -> int:
    scripts = sorted(HERE.glob("fig_*.py"))
    failed = []
    for script in scripts:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), "--out", str(out_dir)], check=False)
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"{script.name}: {status} in {time.perf_counter() - start:.1f} s", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"{len(failed)} of {len(scripts)} figure scripts failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: figures/)")
    sys.exit(main(parser.parse_args().out.resolve()))
