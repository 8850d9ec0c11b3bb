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
    import mace  # noqa: F401
    import torch
    from e3nn import o3
    from mace import modules

    spec = ARCHITECTURES[name]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == "float64" else torch.float32)
    try:
        torch.manual_seed(seed)
        elements = list(spec["elements"])
        corr = spec["correlation"]
        kwargs = dict(
            r_max=4.0,
            num_bessel=6,
            num_polynomial_cutoff=5,
            max_ell=spec["max_ell"],
            interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
            interaction_cls_first=modules.interaction_classes[
                "RealAgnosticResidualInteractionBlock" if spec["residual_first"] else "RealAgnosticInteractionBlock"
            ],
            num_interactions=spec["layers"],
            num_elements=len(elements),
            hidden_irreps=o3.Irreps(spec["hidden"]),
            MLP_irreps=o3.Irreps("8x0e"),
            atomic_energies=np.linspace(-3.0, -1.0, len(elements)),
            avg_num_neighbors=7.5,
            atomic_numbers=elements,
            correlation=list(corr) if isinstance(corr, tuple) else corr,
            gate=torch.nn.functional.silu,
            radial_MLP=[16, 16],
        )
        if spec["scale_shift"]:
            model = modules.ScaleShiftMACE(**kwargs, atomic_inter_scale=1.3, atomic_inter_shift=-0.2)
        else:
            model = modules.MACE(**kwargs)
        generator = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
        return model.double() if dtype == "float64" else model
    finally:
        torch.set_default_dtype(previous)


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


def evaluate_torch(model, positions, numbers, cell, pbc):
    """mace-torch's interaction energy, node energies, forces, stress and per-layer features (A and h), float64."""
    from macetutor.interop.mace_torch import evaluate_mace_torch

    return evaluate_mace_torch(model, positions, numbers, cell, pbc)
