"""mace-torch models with the architecture of each published MACE family, reduced to small channel counts.

The table (docs/models.md) is from the published training scripts and configs (ACEsuit/mace-foundations,
ACEsuit/mace-off; see /work/shared/reference/published_architectures.md of the project's notes):

    family                          interaction blocks (first / later)       options
    MP-0a (small/medium/large)      Residual / Residual                       --
    OFF23 (small/medium/large)      Interaction / Residual                    --
    MP-0b                           Interaction / Residual                    ZBL, Agnesi
    MP-0b2, MP-0b3, MPA-0, OMAT-0,  Density / DensityResidual                 ZBL, Agnesi
      MATPES
    MH-0 / MH-1                     ResidualNonLinear / ResidualNonLinear    ZBL, Agnesi, edge_irreps (scalars first),
                                                                             agnostic product, apply_cutoff=False,
                                                                             6 heads
    OMOL                            ResidualNonLinear x 3                     correlation 2, edge_irreps,
                                                                             apply_cutoff=False, charge/spin embedding
    fine-tune (any of the above)    as the parent                             heads ["pt_head", "Default"]

The charge and spin of the OMOL-like model are evaluated at several values (CHARGE_SPIN).
Every model has random (perturbed) weights, float64 unless the case says otherwise; used by
tests/test_published_architectures.py (live) and tests/data/make_mace_torch_golden.py (golden files).
"""

from __future__ import annotations

ELEMENTS = (1, 6, 8)
CHARGE_SPIN = [(0, 1), (1, 2), (-2, 3)]  # (total charge, total spin) for models with embedding_specs
COMMON = dict(r_max=4.0, num_bessel=6, radial_mlp=(16, 16), mlp_irreps="8x0e", avg_num_neighbors=7.5)

NONLINEAR = dict(
    interaction_first="RealAgnosticResidualNonLinearInteractionBlock",
    interaction="RealAgnosticResidualNonLinearInteractionBlock",
)
DENSITY = dict(
    interaction_first="RealAgnosticDensityInteractionBlock", interaction="RealAgnosticDensityResidualInteractionBlock"
)
FAMILIES = {
    "MP-0a": dict(interaction_first="RealAgnosticResidualInteractionBlock"),
    "OFF23": dict(),
    "MP-0b": dict(pair_repulsion=True, distance_transform="Agnesi"),
    "MPA-0": dict(**DENSITY, pair_repulsion=True, distance_transform="Agnesi"),
    "fine-tune (multi-head)": dict(
        interaction_first="RealAgnosticResidualInteractionBlock",
        heads=["pt_head", "Default"],
        scale_shift=([1.3, 0.9], [-0.2, 0.1]),
    ),
    "MH-1": dict(
        **NONLINEAR,
        pair_repulsion=True,
        distance_transform="Agnesi",
        edge_irreps="3x0e+3x1o",
        use_edge_irreps_first=True,
        use_agnostic_product=True,
        apply_cutoff=False,
        heads=["matpes_r2scan", "mp_pbe_refit_add", "spice_wB97M", "oc20_usemppbe", "omol", "omat_pbe"],
        scale_shift=([1.1, 1.2, 0.9, 1.0, 0.8, 1.3], [0.0, 0.1, -0.1, 0.2, 0.05, -0.2]),
    ),
    "OMOL": dict(
        **NONLINEAR,
        layers=3,
        correlation=2,
        edge_irreps="3x0e+3x1o",
        apply_cutoff=False,
        heads=["omol"],
        embedding_specs={
            "total_spin": {"type": "categorical", "per": "graph", "num_classes": 101, "emb_dim": 8, "offset": 0},
            "total_charge": {"type": "categorical", "per": "graph", "num_classes": 201, "emb_dim": 8, "offset": 100},
        },
    ),
    "MPA-0, built in float32": dict(**DENSITY, pair_repulsion=True, distance_transform="Agnesi", dtype="float32"),
    "options: Soft + Gaussian": dict(distance_transform="Soft", radial_type="gaussian"),
    "options: apply_cutoff=False + agnostic product + edge irreps": dict(
        **DENSITY, apply_cutoff=False, use_agnostic_product=True, edge_irreps="3x0e+3x1o"
    ),
}
HIDDEN = {"default": "4x0e+4x1o", "MPA-0, built in float32": "4x0e+4x1o+4x2e"}


def build(family: str, seed: int = 0):
    """The mace-torch model of ``family`` (float64; a float32-built model is converted with .double(), as
    mace-torch's calculator does)."""
    from macetutor.interop.mace_torch import random_mace_torch_model

    options = dict(FAMILIES[family])
    dtype = options.pop("dtype", "float64")
    scale_shift = options.pop("scale_shift", (1.3, -0.2))
    layers, correlation = options.pop("layers", 2), options.pop("correlation", 3)
    model = random_mace_torch_model(
        ELEMENTS,
        HIDDEN.get(family, HIDDEN["default"]),
        2,
        correlation,
        layers,
        scale_shift=scale_shift,
        seed=seed,
        dtype=dtype,
        **COMMON,
        **options,
    )
    return model.double()
