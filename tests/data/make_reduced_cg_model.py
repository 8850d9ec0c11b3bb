"""Write tests/data/reduced_cg/: a mace-torch model whose U tensors are in cuequivariance's reduced basis.

mace-torch builds its U tensors with cuequivariance's ``reduced_symmetric_tensor_product_basis`` when the model is
built with ``use_reduced_cg=True`` (the constructor's default since 0.3.14) *and* cuequivariance is importable; the
basis and the number of product-basis weights then differ from the e3nn path. Such a model runs in plain mace-torch
afterwards (the U tensors are buffers). This script needs cuequivariance, which the project does not install, so it
is run once in a separate environment:

    python3 -m venv /tmp/venv_cueq && . /tmp/venv_cueq/bin/activate
    pip install torch==2.13.0 && pip install mace-torch cuequivariance cuequivariance-torch ase
    python tests/data/make_reduced_cg_model.py

It writes reduced_cg.model (the pickled float64 mace-torch model, MP-0a-like: Residual / Residual blocks) and
reduced_cg.reference.npz (mace-torch's outputs on the structures of tests/mace_torch_models.py, computed here),
which tests/test_published_architectures.py checks macetutor against.
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

import mace_torch_models as M  # noqa: E402

OUT = HERE / "reduced_cg"


def main():
    import cuequivariance  # noqa: F401  (the reduced basis needs it: fail here, not silently with the e3nn basis)
    import mace
    import torch
    from mace.tools import cg

    from macetutor.interop.mace_torch import random_mace_torch_model

    assert cg.CUET_AVAILABLE, "mace-torch does not see cuequivariance"
    elements = (1, 6, 8)
    model = random_mace_torch_model(
        elements,
        "4x0e+4x1o",
        2,
        3,
        2,
        r_max=4.0,
        num_bessel=6,
        radial_mlp=(16, 16),
        mlp_irreps="8x0e",
        avg_num_neighbors=7.5,
        interaction_first="RealAgnosticResidualInteractionBlock",
        scale_shift=(1.3, -0.2),
        use_reduced_cg=True,
    )
    OUT.mkdir(exist_ok=True)
    torch.save(model, OUT / "reduced_cg.model")
    arrays = {
        "mace_torch_version": np.array(mace.__version__),
        "cuequivariance_version": np.array(cuequivariance.__version__),
    }
    for structure, (positions, numbers, cell, pbc) in M.structures(elements).items():
        ref = M.evaluate_torch(model, positions, numbers, cell, pbc)
        p = f"{structure}/"
        arrays[p + "positions"], arrays[p + "numbers"] = positions, numbers
        arrays[p + "cell"] = np.zeros((3, 3)) if cell is None else cell
        arrays[p + "pbc"] = np.array(bool(pbc))
        for key in ("interaction_energy", "energy", "node_energy", "forces"):
            arrays[p + key] = np.asarray(ref[key])
        if "stress" in ref:
            arrays[p + "stress"] = ref["stress"]
    counts = {
        f"layer{t}.contraction{k}": [getattr(c, f"U_matrix_{nu}").shape[-1] for nu in range(1, c.correlation + 1)]
        for t, product in enumerate(model.products)
        for k, c in enumerate(product.symmetric_contractions.contractions)
    }
    print("paths per nu in the reduced basis:", counts)
    np.savez_compressed(OUT / "reduced_cg.reference.npz", **arrays)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
