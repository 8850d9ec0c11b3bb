"""Build small mace-torch models and structures for the cross-checks (needs the `verify` extra).

Used by tests/test_model_vs_mace_torch.py and by tests/data/make_mace_torch_golden.py.
"""

from __future__ import annotations

import numpy as np

# Architectures: (name, kwargs). Vary hidden irreps (incl. an l = 2 block), max_ell, correlation, layers,
# elements, residual and non-residual first layer, MACE and ScaleShiftMACE.
ARCHITECTURES = {
    "A_default_like": dict(
        hidden="8x0e+8x1o",
        max_ell=3,
        correlation=3,
        layers=2,
        elements=(1, 6, 8),
        residual_first=False,
        scale_shift=True,
    ),
    "B_l2_block": dict(
        hidden="4x0e+4x1o+4x2e",
        max_ell=2,
        correlation=2,
        layers=2,
        elements=(1, 8),
        residual_first=True,
        scale_shift=True,
    ),
    "C_three_layers": dict(
        hidden="4x0e+4x1o",
        max_ell=2,
        correlation=(1, 2, 3),
        layers=3,
        elements=(29,),
        residual_first=False,
        scale_shift=False,
    ),
    "D_one_layer": dict(
        hidden="6x0e", max_ell=3, correlation=3, layers=1, elements=(1, 6, 7, 8), residual_first=True, scale_shift=True
    ),
    "E_scalar_corr1": dict(
        hidden="5x0e+5x1o",
        max_ell=3,
        correlation=1,
        layers=2,
        elements=(6, 29),
        residual_first=False,
        scale_shift=False,
    ),
}


def build(name: str, seed: int = 0, dtype: str = "float64"):
    """A mace-torch model of the named architecture with random (perturbed) weights."""
    from macetutor.interop.mace_torch import random_mace_torch_model

    spec = ARCHITECTURES[name]
    return random_mace_torch_model(
        spec["elements"],
        spec["hidden"],
        spec["max_ell"],
        spec["correlation"],
        spec["layers"],
        r_max=4.0,
        num_bessel=6,
        radial_mlp=(16, 16),
        mlp_irreps="8x0e",
        residual_first=spec["residual_first"],
        scale_shift=(1.3, -0.2) if spec["scale_shift"] else None,
        avg_num_neighbors=7.5,
        seed=seed,
        dtype=dtype,
    )


def structures(elements: tuple[int, ...]) -> dict:
    """Structures (positions, numbers, cell, pbc) made of the given elements."""
    rng = np.random.default_rng(42)
    z = np.array(elements)
    out = {}
    # a molecule: ethanol-like geometry, elements cycled through the model's table
    mol = np.array(
        [
            [0.0, 0.0, 0.0],
            [1.52, 0.0, 0.0],
            [2.0, 1.35, 0.0],
            [-0.4, 1.0, 0.1],
            [-0.4, -0.5, 0.9],
            [-0.4, -0.5, -0.9],
            [1.9, -0.5, 0.9],
            [1.9, -0.5, -0.9],
            [2.95, 1.3, 0.1],
        ]
    )
    out["molecule"] = (mol, z[np.arange(len(mol)) % len(z)], None, False)
    # a rattled periodic crystal whose cell (3.61 Å) is smaller than 2 r_max (8 Å): many images
    fcc = 3.61 * np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    out["small_periodic_crystal"] = (
        fcc + 0.05 * rng.standard_normal(fcc.shape),
        z[np.arange(4) % len(z)],
        3.61 * np.eye(3),
        True,
    )
    # a triclinic cell, mixed elements
    cell = np.array([[4.2, 0.0, 0.0], [1.1, 3.9, 0.0], [0.7, 0.9, 4.4]])
    frac = rng.uniform(0, 1, (6, 3))
    out["triclinic"] = (frac @ cell, z[rng.integers(0, len(z), 6)], cell, True)
    # a single atom, in vacuum
    out["single_atom"] = (np.zeros((1, 3)), z[:1], None, False)
    # an atom with no neighbours next to a bonded pair
    out["isolated_atom"] = (np.array([[0.0, 0, 0], [1.1, 0, 0], [12.0, 0, 0]]), z[np.arange(3) % len(z)], None, False)
    return out


def evaluate_torch(model, positions, numbers, cell, pbc, head=None, info=None):
    """mace-torch's interaction energy, node energies, forces, stress and per-layer features (A and h), float64."""
    from macetutor.interop.mace_torch import evaluate_mace_torch

    return evaluate_mace_torch(model, positions, numbers, cell, pbc, head=head, info=info)
