#!/usr/bin/env bash
# Regenerate the small data sets that ship in the package (macetutor/data/<name>/<split>.xyz), with the same command a
# user runs. Needs the `data` extra (pip install 'macetutor[data]'). Single-threaded, so that the trajectories are
# reproducible to the bit with the same tblite version; prints the time of each step.
#
#   bash macetutor/data/make_small.sh            # from the repository root
set -euo pipefail
export OMP_NUM_THREADS=1
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."  # the repository root: `python -m macetutor` runs this checkout's code
for name in ethanol-xtb 3bpa-xtb silicon-xtb; do
    time "${PYTHON:-python}" -m macetutor dataset make "$name" --size small --seed 0 --out "macetutor/data/$name"
done
du -sh macetutor/data/*-xtb
