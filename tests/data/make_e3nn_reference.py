"""Write tests/data/e3nn_reference.npz: e3nn's spherical harmonics, wigner_3j and Wigner D, in float64.

The torch-free test suite (tests/test_golden_e3nn.py) compares macetutor with these arrays; the live
comparison (tests/test_e3nn_live.py) recomputes them from the installed e3nn. Regenerate with

    python tests/data/make_e3nn_reference.py

(needs the `verify` extra: torch, mace-torch, which pins e3nn 0.4.4).
"""

from pathlib import Path

import mace  # noqa: F401  (must precede e3nn: sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD for e3nn's constants.pt)
import numpy as np
import torch
from e3nn import __version__ as e3nn_version
from e3nn import o3

L_MAX_Y, L_MAX_W3J, L_MAX_D = 11, 6, 11
OUT = Path(__file__).with_name("e3nn_reference.npz")


def main():
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(7)
    points = rng.standard_normal((64, 3))
    arrays = {"points": points, "e3nn_version": np.array(e3nn_version)}
    for normalization in ("integral", "component", "norm"):
        for normalize in (True, False):
            Y = o3.spherical_harmonics(
                list(range(L_MAX_Y + 1)), torch.tensor(points), normalize, normalization=normalization
            )
            arrays[f"Y_{normalization}_{'normalized' if normalize else 'raw'}"] = Y.numpy()
    for l1 in range(L_MAX_W3J + 1):
        for l2 in range(L_MAX_W3J + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, L_MAX_W3J) + 1):
                arrays[f"w3j_{l1}_{l2}_{l3}"] = o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
    rotations = []
    for improper in (False, False, True):
        Q, upper = np.linalg.qr(rng.standard_normal((3, 3)))
        Q = Q * np.sign(np.diag(upper))
        Q = Q * np.sign(np.linalg.det(Q))
        rotations.append(-Q if improper else Q)
    arrays["rotations"] = np.stack(rotations)
    for l in range(L_MAX_D + 1):
        irrep = o3.Irrep(l, (-1) ** l)  # the parity of Y_l, so an improper R gives (-1)^l D
        arrays[f"D_{l}"] = np.stack([irrep.D_from_matrix(torch.tensor(R)).numpy() for R in rotations])
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) from e3nn {e3nn_version}")


if __name__ == "__main__":
    main()
