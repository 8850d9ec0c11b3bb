"""Write the golden values of the torch-free suite: tests/data/mace_torch_golden/<architecture>.{model,reference}.npz.

For each architecture of tests/mace_torch_models.py: the mace-torch model (random weights, float64) is imported
with macetutor.interop.from_mace_torch and saved (<arch>.model.npz); mace-torch's own outputs for every
structure (interaction energy, node energies, node features h of every layer in e3nn's layout, forces,
stress) are saved beside it (<arch>.reference.npz). tests/test_model_golden.py checks macetutor against them.
Regenerate with

    python tests/data/make_mace_torch_golden.py

(needs the `verify` extra).
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import mace_torch_models as M  # noqa: E402

from macetutor.interop import from_mace_torch  # noqa: E402

OUT = HERE / "mace_torch_golden"


def main():
    import mace
    import torch

    OUT.mkdir(exist_ok=True)
    for name, spec in M.ARCHITECTURES.items():
        model = M.build(name)
        from_mace_torch(model).save(OUT / f"{name}.model.npz")
        arrays = {"mace_torch_version": np.array(mace.__version__), "torch_version": np.array(torch.__version__)}
        for structure, (positions, numbers, cell, pbc) in M.structures(spec["elements"]).items():
            ref = M.evaluate_torch(model, positions, numbers, cell, pbc)
            p = f"{structure}/"
            arrays[p + "positions"], arrays[p + "numbers"] = positions, numbers
            arrays[p + "cell"] = np.zeros((3, 3)) if cell is None else cell
            arrays[p + "pbc"] = np.array(bool(pbc))
            for key in ("interaction_energy", "energy", "node_energy", "forces"):
                arrays[p + key] = np.asarray(ref[key])
            if "stress" in ref:
                arrays[p + "stress"] = ref["stress"]
            for t, h in enumerate(ref["h"]):
                arrays[p + f"h{t}"] = h
        np.savez_compressed(OUT / f"{name}.reference.npz", **arrays)
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
