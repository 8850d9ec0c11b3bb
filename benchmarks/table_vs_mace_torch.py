"""Print the agreement table of macetutor with mace-torch (needs the `verify` extra):

* for every architecture x structure of tests/mace_torch_models.py, the relative error of the interaction
  energy and the maximal relative error of A and h over the layers;
* the number of generalised Clebsch-Gordan paths (U) per (irreps of A, L, nu), macetutor vs mace-torch.

    python benchmarks/table_vs_mace_torch.py
"""

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
warnings.filterwarnings("ignore")

import mace_torch_models as M  # noqa: E402

from macetutor.cg import generalized_clebsch_gordan  # noqa: E402
from macetutor.interop import from_mace_torch  # noqa: E402
from macetutor.irreps import irreps_string, to_e3nn_layout  # noqa: E402
from macetutor.model import layer_shapes  # noqa: E402


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) if np.size(b) else 0.0


def main():
    print(
        f"{'architecture':16s} {'structure':24s} {'E_int (eV)':>12s} {'rel. err E':>10s} {'max rel. err A':>14s} "
        f"{'max rel. err h':>14s}"
    )
    counts = {}
    for name, spec in M.ARCHITECTURES.items():
        torch_model = M.build(name)
        ours = from_mace_torch(torch_model)
        for structure, (pos, num, cell, pbc) in M.structures(spec["elements"]).items():
            ref = M.evaluate_torch(torch_model, pos, num, cell, pbc)
            res = ours.evaluate(pos, num, cell, pbc)
            e = abs(res.interaction_energy - ref["interaction_energy"]) / max(abs(ref["interaction_energy"]), 1e-300)
            eA = max(
                rel(layer.A.reshape(len(pos), -1), ref["A"][t].reshape(len(pos), -1))
                for t, layer in enumerate(res.intermediates)
            )
            eh = max(
                rel(to_e3nn_layout(layer.h, layer.irreps_out), ref["h"][t]) for t, layer in enumerate(res.intermediates)
            )
            print(f"{name:16s} {structure:24s} {ref['interaction_energy']:12.6f} {e:10.1e} {eA:14.1e} {eh:14.1e}")
        for t, prod in enumerate(torch_model.products):
            s = layer_shapes(ours.config, t)
            for irrep, contraction in zip(s.irreps_out, prod.symmetric_contractions.contractions, strict=True):
                for nu in range(1, contraction.correlation + 1):
                    key = (irreps_string(1, s.irreps_A).replace("1x", ""), irreps_string(1, [irrep])[2:], nu)
                    counts[key] = (
                        generalized_clebsch_gordan(s.irreps_A, irrep, nu).shape[-1],
                        getattr(contraction, f"U_matrix_{nu}").shape[-1],
                    )
    print(f"\n{'irreps of A':16s} {'L':>3s} {'nu':>3s} {'paths (macetutor)':>18s} {'paths (mace-torch)':>19s}")
    for (irreps, L, nu), (a, b) in sorted(counts.items()):
        print(f"{irreps:16s} {L:>3s} {nu:3d} {a:18d} {b:19d}")


if __name__ == "__main__":
    main()
