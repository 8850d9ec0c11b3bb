"""What fixes a MACE architecture: :class:`MACEConfig`, and the irreps of each interaction layer (:class:`LayerShapes`).

The weights are separate (:mod:`macetutor.parameters`); a configuration and its weights make a model
(:class:`macetutor.MACE`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from macetutor.irreps import Irrep, parse_irreps, spherical_harmonics_irreps

__all__ = ["MACEConfig", "LayerShapes", "TensorProductPath", "layer_shapes", "tensor_product_paths"]

# e3nn's normalize2mom constants of SiLU and of the sigmoid (see macetutor.radial.SILU_NORMALIZE2MOM; repeated here
# to keep config.py free of imports from the numerical modules)
_SILU_NORMALIZE2MOM = 1.6791767923989418
_SIGMOID_NORMALIZE2MOM = 1.8467055342154763


# mace-torch's interaction blocks that macetutor implements, and what each does differently (macetutor.layer)
INTERACTION_BLOCKS = {
    "RealAgnosticInteractionBlock": "A / avg_num_neighbors, then mixed by the centre's element; no self-connection",
    "RealAgnosticResidualInteractionBlock": "A / avg_num_neighbors; self-connection W_z h^(t) in the update",
    "RealAgnosticDensityInteractionBlock": "A / (rho_i + 1), a learned edge density; then mixed by element",
    "RealAgnosticDensityResidualInteractionBlock": "A / (rho_i + 1); self-connection W_z h^(t)",
    "RealAgnosticResidualNonLinearInteractionBlock": "radial MLP with element embeddings and LayerNorm, A / (beta rho_i"
    " + alpha), a gated non-linearity; element-agnostic self-connection",
}
RADIAL_TYPES = ("bessel", "gaussian", "chebyshev")
DISTANCE_TRANSFORMS = (None, "Agnesi", "Soft")


@dataclass(frozen=True)
class MACEConfig:
    """Everything that fixes the architecture (the weights are separate).

    Where a default comes from: mace-torch's command line (``mace_run_train``) for the radial basis
    (8 Bessel functions, envelope exponent 5), ``max_ell`` 3, correlation 3, two layers, the radial MLP
    (64, 64, 64), the interaction blocks of its model "MACE" (non-residual first layer, residual later ones)
    and the MLP readout width 16; the SiLU constants are e3nn's. Not the command line's: ``hidden_irreps``
    (CLI: 128x0e+128x1o; 32 channels here keep a teaching model small) and ``avg_num_neighbors`` (the CLI
    computes it from the training set; 1 here means no division).

    The options after ``readout_activation_constant`` are those of mace-torch's published models (MACE-MP-0b
    and later, MACE-OMAT, MACE-MH, MACE-OMOL, multi-head fine-tunes), with mace-torch's names; docs/models.md
    lists which family uses which.
    """

    elements: tuple[int, ...]  # atomic numbers; the position in this tuple is the element index z
    hidden_irreps: str = "32x0e+32x1o"  # node features h: equal multiplicities (channels) in every block
    max_ell: int = 3  # spherical harmonics Y_0..Y_max_ell of the edge directions
    correlation: tuple[int, ...] = (3, 3)  # body order nu_max of the product basis, one per layer
    r_max: float = 5.0  # cutoff radius, Å
    num_bessel: int = 8  # number of radial basis functions (Bessel, Gaussian or Chebyshev)
    num_polynomial_cutoff: int = 5  # exponent p of the cutoff envelope (and of the ZBL envelope)
    radial_mlp: tuple[int, ...] = (64, 64, 64)  # hidden widths of the radial MLP
    mlp_width: int = 16  # hidden width of the last (non-linear) readout, per head
    avg_num_neighbors: float = 1.0  # the divisor of the neighbour sum
    atomic_energies: tuple = ()  # E0 per element, eV; with several heads, one such tuple per head
    scale: float | tuple = 1.0  # ScaleShiftMACE's scale of the interaction energy (1 for plain MACE); per head
    shift: float | tuple = 0.0  # ScaleShiftMACE's shift per atom, eV (0 for plain MACE); per head
    radial_activation_constant: float = _SILU_NORMALIZE2MOM  # e3nn normalize2mom constant of SiLU
    readout_activation_constant: float = _SILU_NORMALIZE2MOM
    interaction_first: str = "RealAgnosticInteractionBlock"  # the block of layer 0
    interaction: str = "RealAgnosticResidualInteractionBlock"  # the block of layers 1..T-1
    radial_type: str = "bessel"  # "bessel", "gaussian" or "chebyshev"
    distance_transform: str | None = None  # None, "Agnesi" or "Soft": r -> r' before the radial basis
    apply_cutoff: bool = True  # False: the envelope multiplies the radial MLP's output instead of its input
    pair_repulsion: bool = False  # ZBL pair energy (Ziegler-Biersack-Littmark), added to every atom's energy
    edge_irreps: str | None = None  # irreps of the neighbour features h~ = W_up h (default: those of h)
    use_edge_irreps_first: bool = False  # the first layer's h~ is scalars only, with edge_irreps' channels
    use_agnostic_product: bool = False  # product-basis weights shared by all elements
    heads: tuple[str, ...] = ("Default",)  # names of the readout heads (multi-head models and fine-tunes)
    embedding_specs: dict | None = field(default=None, hash=False)  # per-structure features (charge, spin)
    gate_activation_constant: float = _SIGMOID_NORMALIZE2MOM  # e3nn normalize2mom constant of the sigmoid gates

    def __post_init__(self):
        channels, irreps = parse_irreps(self.hidden_irreps)
        if irreps[0] != (0, 1):
            raise ValueError(f"the hidden irreps must start with scalars (0e), got {self.hidden_irreps!r}")
        if len(self.elements) == 0 or len(set(self.elements)) != len(self.elements):
            raise ValueError(f"elements must be distinct atomic numbers, got {self.elements}")
        if len(self.heads) == 0 or len(set(self.heads)) != len(self.heads):
            raise ValueError(f"heads must be distinct names, got {self.heads}")
        E0 = np.asarray(self.atomic_energies, dtype=float)
        expected = (len(self.elements),) if len(self.heads) == 1 else (len(self.heads), len(self.elements))
        if E0.shape != expected and not (len(self.heads) == 1 and E0.shape == (1, len(self.elements))):
            raise ValueError(
                f"need one atomic energy E0 per element (and per head): {len(self.elements)} elements, "
                f"{len(self.heads)} head(s), got atomic energies of shape {E0.shape}"
            )
        for name in ("scale", "shift"):
            value = np.atleast_1d(getattr(self, name))
            if len(value) not in (1, len(self.heads)):
                raise ValueError(f"{name} needs one value or one per head ({len(self.heads)}), got {len(value)}")
        if not 1 <= len(self.correlation) <= 10 or any(nu not in (1, 2, 3, 4) for nu in self.correlation):
            raise ValueError(f"correlation must list one order in 1..4 per layer, got {self.correlation}")
        if not (np.isfinite(self.r_max) and self.r_max > 0):
            raise ValueError(f"r_max must be a positive number, got {self.r_max}")
        if self.max_ell < 0 or self.num_bessel < 1 or self.num_polynomial_cutoff < 1 or self.avg_num_neighbors <= 0:
            raise ValueError(
                "max_ell >= 0, num_bessel >= 1, num_polynomial_cutoff >= 1 and avg_num_neighbors > 0 needed"
            )
        for block in (self.interaction_first, self.interaction):
            if block not in INTERACTION_BLOCKS:
                raise ValueError(
                    f"unknown interaction block {block!r}; macetutor implements {sorted(INTERACTION_BLOCKS)}"
                )
        if self.radial_type not in RADIAL_TYPES:
            raise ValueError(f"radial_type must be one of {RADIAL_TYPES}, got {self.radial_type!r}")
        if self.distance_transform not in DISTANCE_TRANSFORMS:
            raise ValueError(
                f"distance_transform must be one of {DISTANCE_TRANSFORMS}, got {self.distance_transform!r}"
            )
        if self.edge_irreps is not None:
            parse_irreps(self.edge_irreps)

    @property
    def num_interactions(self) -> int:
        return len(self.correlation)

    @property
    def channels(self) -> int:
        return parse_irreps(self.hidden_irreps)[0]

    @property
    def hidden(self) -> list[Irrep]:
        return parse_irreps(self.hidden_irreps)[1]

    @property
    def num_heads(self) -> int:
        return len(self.heads)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MACEConfig:
        data = dict(data)
        if "first_layer_residual" in data:  # files written before the published-architecture options
            residual = data.pop("first_layer_residual")
            data["interaction_first"] = (
                "RealAgnosticResidualInteractionBlock" if residual else "RealAgnosticInteractionBlock"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown configuration fields {sorted(unknown)}")
        for key in ("elements", "correlation", "radial_mlp", "heads"):
            if key in data:
                data[key] = tuple(data[key])
        for key in ("atomic_energies", "scale", "shift"):
            if isinstance(data.get(key), list):
                data[key] = tuple(tuple(v) if isinstance(v, list) else v for v in data[key])
        return cls(**data)


class TensorProductPath(NamedTuple):
    """One path (l1, l2 -> l3) of the edge tensor product in eq. (8): block ``h_block`` of h~ (degree l1), block
    ``Y_block`` of the harmonics (degree l2) and the output irrep (l3, p1 p2). Each path has its own radial weights."""

    h_block: int
    Y_block: int
    irrep: Irrep


def tensor_product_paths(irreps_h: list, irreps_Y: list, irreps_A: list) -> list[TensorProductPath]:
    """The paths of the edge tensor product, in mace-torch's order.

    For every block (l1, p1) of h and (l2, p2) of Y, every l3 = |l1-l2|..l1+l2 whose irrep (l3, p1 p2)
    is in ``irreps_A``; sorted (stably) by output irrep, as e3nn sorts the output blocks.
    """
    paths = []
    for i1, (l1, p1) in enumerate(irreps_h):
        for i2, (l2, p2) in enumerate(irreps_Y):
            for l3 in range(abs(l1 - l2), l1 + l2 + 1):
                if (l3, p1 * p2) in irreps_A:
                    paths.append(TensorProductPath(i1, i2, Irrep(l3, p1 * p2)))
    return sorted(paths, key=lambda path: path.irrep)


@dataclass(frozen=True)
class LayerShapes:
    """The irreps and the kind of interaction layer t, derived from the configuration."""

    t: int  # the layer, counted from 0
    block: str  # mace-torch's name of the interaction block (INTERACTION_BLOCKS)
    irreps_in: list  # blocks of h^(t)
    irreps_edge: list  # blocks of h~ = W_up h^(t), the neighbour features of eq. (8)
    irreps_Y: list  # blocks of the spherical harmonics Y_0..Y_max_ell
    irreps_A: list  # blocks of the atomic basis A (and of the product basis' input)
    irreps_out: list  # blocks of h^(t+1)
    paths: list  # the edge tensor-product paths (TensorProductPath), on irreps_edge x irreps_Y
    channels_in: int  # channels of h^(t)
    channels_edge: int  # channels of h~
    channels: int  # K, channels of A and h^(t+1)
    self_connection: str  # "element" (W_{z_i} h^(t)), "linear" (W h^(t)) or "none": the second term of eq. (12)
    element_mixing: bool  # a non-residual block mixes A by the centre's element: A <- W_{z_i} A
    normalization: str  # the divisor of the neighbour sum: "avg" (avg_num_neighbors), "density" (rho_i + 1) or
    # "density_affine" (beta rho_i + alpha)
    nonlinear: bool  # the ResidualNonLinear block: gated non-linearity between the neighbour sum and A
    correlation: int  # nu_max of the product basis
    product_elements: int  # 1 for an element-agnostic product basis, else the number of elements
    readout: str  # "linear" (eq. 13, t < T-1) or "mlp" (the last layer)

    @property
    def residual(self) -> bool:
        """True if h^(t+1) has a self-connection from h^(t) (eq. 12's second term)."""
        return self.self_connection != "none"


def layer_shapes(config: MACEConfig, t: int) -> LayerShapes:
    """The irreps of layer t: h^(0) is K scalars (the embedding); the last layer keeps only scalars (it only feeds
    the energy); A has the harmonics' irreps (both parities when h has pseudo-scalars, as mace-torch); h~ has the
    irreps of h unless ``edge_irreps`` says otherwise (scalars only in the first layer with
    ``use_edge_irreps_first``)."""
    hidden, T, K = config.hidden, config.num_interactions, config.channels
    sh = spherical_harmonics_irreps(config.max_ell)
    if t > 0 and (0, -1) in hidden:  # pseudo-scalars in h: A keeps both parities (as mace-torch)
        irreps_A = sorted(Irrep(l, p) for l in range(config.max_ell + 1) for p in (1, -1))
    else:
        irreps_A = sh
    irreps_in, channels_in = ([Irrep(0, 1)], K) if t == 0 else (hidden, K)
    irreps_edge, channels_edge = irreps_in, channels_in
    if config.edge_irreps is not None and (t > 0 or config.use_edge_irreps_first):
        channels_edge, edge = parse_irreps(config.edge_irreps)
        irreps_edge = edge if t > 0 else [Irrep(0, 1)]
    if t > 0 and list(irreps_edge) != list(hidden):
        raise ValueError(
            f"edge_irreps {config.edge_irreps!r} must have the irreps of hidden_irreps {config.hidden_irreps!r}"
        )
    block = config.interaction_first if t == 0 else config.interaction
    residual = "Residual" in block
    return LayerShapes(
        t=t,
        block=block,
        irreps_in=irreps_in,
        irreps_edge=irreps_edge,
        irreps_Y=sh,
        irreps_A=irreps_A,
        irreps_out=[Irrep(0, 1)] if t == T - 1 else hidden,
        paths=tensor_product_paths(irreps_edge, sh, irreps_A),
        channels_in=channels_in,
        channels_edge=channels_edge,
        channels=K,
        self_connection=("linear" if "NonLinear" in block else "element") if residual else "none",
        element_mixing=not residual,
        normalization="density_affine" if "NonLinear" in block else ("density" if "Density" in block else "avg"),
        nonlinear="NonLinear" in block,
        correlation=config.correlation[t],
        product_elements=1 if config.use_agnostic_product else len(config.elements),
        readout="mlp" if (t == T - 1 and T > 1) else "linear",
    )
