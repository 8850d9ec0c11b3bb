"""What fixes a MACE architecture: :class:`MACEConfig`, and the irreps of each interaction layer (:class:`LayerShapes`).

The weights are separate (:mod:`macetutor.parameters`); a configuration and its weights make a model
(:class:`macetutor.MACE`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from macetutor.irreps import Irrep, parse_irreps, spherical_harmonics_irreps

__all__ = ["MACEConfig", "LayerShapes", "TensorProductPath", "layer_shapes", "tensor_product_paths"]

# e3nn's normalize2mom constant of SiLU (see macetutor.radial.SILU_NORMALIZE2MOM; repeated here to keep config.py
# free of imports from the numerical modules)
_SILU_NORMALIZE2MOM = 1.6791767923989418


@dataclass(frozen=True)
class MACEConfig:
    """Everything that fixes the architecture (the weights are separate).

    Where a default comes from: mace-torch's command line (``mace_run_train``) for the radial basis
    (8 Bessel functions, envelope exponent 5), ``max_ell`` 3, correlation 3, two layers and the radial MLP
    (64, 64, 64); mace-torch's default MLP readout width 16; the SiLU constant is e3nn's. Not the command
    line's: ``hidden_irreps`` (CLI: 128x0e+128x1o; 32 channels here keep a teaching model small),
    ``avg_num_neighbors`` (the CLI computes it from the training set; 1 here means no division) and the
    first layer (the CLI's model "MACE" has a non-residual first layer, which is also the default here).
    """

    elements: tuple[int, ...]  # atomic numbers; the position in this tuple is the element index zeta
    hidden_irreps: str = "32x0e+32x1o"  # node features h: equal multiplicities (channels) in every block
    max_ell: int = 3  # spherical harmonics Y_0..Y_max_ell of the edge directions
    correlation: tuple[int, ...] = (3, 3)  # body order nu_max of the product basis, one per layer
    r_max: float = 5.0  # cutoff radius, Å
    num_bessel: int = 8  # number of Bessel functions
    num_polynomial_cutoff: int = 5  # exponent p of the cutoff envelope
    radial_mlp: tuple[int, ...] = (64, 64, 64)  # hidden widths of the radial MLP
    mlp_width: int = 16  # hidden width of the last (non-linear) readout
    avg_num_neighbors: float = 1.0  # the divisor of the neighbour sum
    atomic_energies: tuple[float, ...] = ()  # E0 per element, eV
    scale: float = 1.0  # ScaleShiftMACE's scale of the interaction energy (1 for plain MACE)
    shift: float = 0.0  # ScaleShiftMACE's shift per atom, eV (0 for plain MACE)
    first_layer_residual: bool = False  # mace-torch's CLI model "MACE" uses a non-residual first layer
    radial_activation_constant: float = _SILU_NORMALIZE2MOM  # e3nn normalize2mom constant of SiLU
    readout_activation_constant: float = _SILU_NORMALIZE2MOM

    def __post_init__(self):
        channels, irreps = parse_irreps(self.hidden_irreps)
        if irreps[0] != (0, 1):
            raise ValueError(f"the hidden irreps must start with scalars (0e), got {self.hidden_irreps!r}")
        if len(self.elements) == 0 or len(set(self.elements)) != len(self.elements):
            raise ValueError(f"elements must be distinct atomic numbers, got {self.elements}")
        if len(self.atomic_energies) != len(self.elements):
            raise ValueError(
                f"need one atomic energy E0 per element: {len(self.elements)} elements, "
                f"{len(self.atomic_energies)} energies"
            )
        if not 1 <= len(self.correlation) <= 10 or any(nu not in (1, 2, 3, 4) for nu in self.correlation):
            raise ValueError(f"correlation must list one order in 1..4 per layer, got {self.correlation}")
        if not (np.isfinite(self.r_max) and self.r_max > 0):
            raise ValueError(f"r_max must be a positive number, got {self.r_max}")
        if self.max_ell < 0 or self.num_bessel < 1 or self.num_polynomial_cutoff < 1 or self.avg_num_neighbors <= 0:
            raise ValueError(
                "max_ell >= 0, num_bessel >= 1, num_polynomial_cutoff >= 1 and avg_num_neighbors > 0 needed"
            )

    @property
    def num_interactions(self) -> int:
        return len(self.correlation)

    @property
    def channels(self) -> int:
        return parse_irreps(self.hidden_irreps)[0]

    @property
    def hidden(self) -> list[Irrep]:
        return parse_irreps(self.hidden_irreps)[1]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MACEConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown configuration fields {sorted(unknown)}")
        tuples = {"elements", "correlation", "radial_mlp", "atomic_energies"}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


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
    """The irreps of interaction layer t, derived from the configuration."""

    t: int  # the layer, counted from 0
    irreps_in: list  # blocks of h^(t)
    irreps_Y: list  # blocks of the spherical harmonics Y_0..Y_max_ell
    irreps_A: list  # blocks of the atomic basis A (and of the product basis' input)
    irreps_out: list  # blocks of h^(t+1)
    paths: list  # the edge tensor-product paths (TensorProductPath)
    residual: bool  # residual layer: h^(t+1) = W m + W_z h^(t); a non-residual layer instead mixes A by element
    correlation: int  # nu_max of the product basis
    readout: str  # "linear" (eq. 13, t < T-1) or "mlp" (the last layer)


def layer_shapes(config: MACEConfig, t: int) -> LayerShapes:
    """The irreps of layer t: h^(0) is K scalars (the embedding); the last layer keeps only scalars (it only feeds
    the energy); A has the harmonics' irreps (both parities when h has pseudo-scalars, as mace-torch)."""
    hidden, T = config.hidden, config.num_interactions
    sh = spherical_harmonics_irreps(config.max_ell)
    if t > 0 and (0, -1) in hidden:  # pseudo-scalars in h: A keeps both parities (as mace-torch)
        irreps_A = sorted(Irrep(l, p) for l in range(config.max_ell + 1) for p in (1, -1))
    else:
        irreps_A = sh
    irreps_in = [Irrep(0, 1)] if t == 0 else hidden
    irreps_out = [Irrep(0, 1)] if t == T - 1 else hidden
    return LayerShapes(
        t=t,
        irreps_in=irreps_in,
        irreps_Y=sh,
        irreps_A=irreps_A,
        irreps_out=irreps_out,
        paths=tensor_product_paths(irreps_in, sh, irreps_A),
        residual=config.first_layer_residual if t == 0 else True,
        correlation=config.correlation[t],
        readout="mlp" if (t == T - 1 and T > 1) else "linear",
    )
