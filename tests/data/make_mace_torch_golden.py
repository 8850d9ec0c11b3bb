"""Write the golden values of the torch-free suite: tests/data/mace_torch_golden/<architecture>.{model,reference}.npz.

For each architecture of tests/mace_torch_models.py and each published family of tests/published_families.py: the
mace-torch model (random weights, float64 or float32-built as the family says) is imported with
macetutor.interop.from_mace_torch and saved (<arch>.model.npz); mace-torch's own outputs for every structure and
head (interaction energy, node energies, node features h of every layer in e3nn's layout, forces, stress) are saved
beside it (<arch>.reference.npz). tests/test_model_golden.py checks macetutor against them.
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
import published_families as F  # noqa: E402

from macetutor.interop import from_mace_torch  # noqa: E402

OUT = HERE / "mace_torch_golden"


def slug(name: str) -> str:
    """A file name for a family: 'MPA-0, built in float32' -> 'family_MPA-0_built_in_float32'."""
    for character in ",()=:+":
        name = name.replace(character, " ")
    return "family_" + "_".join(name.split())


def cases():
    for name, spec in M.ARCHITECTURES.items():
        yield name, (lambda name=name: M.build(name)), spec["elements"]
    for name in F.FAMILIES:
        yield slug(name), (lambda name=name: F.build(name)), F.ELEMENTS


def main():
    import mace
    import torch

    OUT.mkdir(exist_ok=True)
    for name, build, elements in cases():
        model = build()
        ours = from_mace_torch(model)
        ours.save(OUT / f"{name}.model.npz")
        arrays = {"mace_torch_version": np.array(mace.__version__), "torch_version": np.array(torch.__version__)}
        for structure, (positions, numbers, cell, pbc), head in (
            (structure, geometry, head)
            for structure, geometry in M.structures(elements).items()
            for head in ours.config.heads
        ):
            ref = M.evaluate_torch(model, positions, numbers, cell, pbc, head=head)
            p = f"{structure}/" if len(ours.config.heads) == 1 else f"{structure}@{head}/"
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
