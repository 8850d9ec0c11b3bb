"""The MACE model: configuration, parameters as plain arrays, evaluation with every intermediate kept.

One interaction layer t (MACE paper, Batatia et al. 2022, arXiv:2206.07697), as mace-torch computes it:

    h~      = W_up h^{(t)}                                              channel mixing
    A       = eq. (8) / (9): sum over neighbours of C (R(r_ij) Y(r_ij) h~_j), linear, / avg_num_neighbors
    [first layer, mace-torch's RealAgnosticInteractionBlock: A <- W_{z_i} A, element-dependent]
    B^{(nu)} = eq. (10): generalised Clebsch-Gordan contraction of nu copies of A, nu = 1..N
    m       = eq. (11): sum_nu sum_eta W^{(nu)}_{z_i eta k} B^{(nu)}
    h^{(t+1)} = eq. (12): W m + W_{z_i} h^{(t)}   (the residual self-connection; not in a non-residual first layer)
    E_i^{(t)} = readout: linear for t < T-1, MLP (SiLU) for the last layer

    E = sum_i E0_{z_i} + sum_i (scale * sum_t E_i^{(t)} + shift)

The last layer keeps only the scalar channels of h (it only feeds the energy).
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from macetutor import basis, product, radial
from macetutor.cg import generalized_clebsch_gordan
from macetutor.irreps import irreps_string, offsets, parse_irreps, spherical_harmonics_irreps
from macetutor.neighbors import neighbor_list
from macetutor.so3 import spherical_harmonics, spherical_harmonics_with_gradient

__all__ = ["MACEConfig", "MACE", "Evaluation", "LayerShapes"]

FILE_FORMAT = "macetutor-mace"
FILE_VERSION = 1


@dataclass(frozen=True)
class MACEConfig:
    """Everything that fixes the architecture (the weights are separate). Defaults follow mace-torch's CLI."""

    elements: tuple[int, ...]  # atomic numbers; the position in this tuple is the element index z
    hidden_irreps: str = "32x0e+32x1o"  # node features h: equal multiplicities (channels) in every block
    max_ell: int = 3  # spherical harmonics Y_0..Y_max_ell of the edge directions
    correlation: tuple[int, ...] = (3, 3)  # body order N of the product basis, one per layer
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
    radial_activation_constant: float = radial.SILU_NORMALIZE2MOM  # e3nn normalize2mom constant of SiLU
    readout_activation_constant: float = radial.SILU_NORMALIZE2MOM

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
    def hidden(self) -> list:
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


@dataclass(frozen=True)
class LayerShapes:
    """The irreps of one interaction layer, derived from the configuration."""

    irreps_in: list  # blocks of h^{(t)}
    irreps_target: list  # blocks of A (the harmonics' irreps)
    irreps_out: list  # blocks of h^{(t+1)}
    paths: list  # edge tensor-product paths (h block, Y block, output irrep)
    residual: bool  # residual interaction block: self-connection from h^{(t)}
    correlation: int
    readout: str  # "linear" or "mlp"


def layer_shapes(config: MACEConfig, t: int) -> LayerShapes:
    hidden, T = config.hidden, config.num_interactions
    sh = spherical_harmonics_irreps(config.max_ell)
    if t > 0 and (0, -1) in hidden:  # pseudo-scalars in h: A keeps both parities (as mace-torch)
        target = sorted((l, p) for l in range(config.max_ell + 1) for p in (1, -1))
    else:
        target = sh
    irreps_in = [(0, 1)] if t == 0 else hidden
    irreps_out = [(0, 1)] if t == T - 1 else hidden
    return LayerShapes(
        irreps_in=irreps_in,
        irreps_target=target,
        irreps_out=irreps_out,
        paths=basis.conv_paths(irreps_in, sh, target),
        residual=config.first_layer_residual if t == 0 else True,
        correlation=config.correlation[t],
        readout="mlp" if (t == T - 1 and T > 1) else "linear",
    )


def parameter_shapes(config: MACEConfig) -> dict[str, tuple]:
    """Name and shape of every weight array of a model with this configuration."""
    C, n_el = config.channels, len(config.elements)
    shapes = {"embedding": (n_el, C), "E0": (n_el,)}
    for t in range(config.num_interactions):
        s = layer_shapes(config, t)
        p = f"layer{t}."
        for b in range(len(s.irreps_in)):
            shapes[p + f"linear_up.{b}"] = (C, C)
        widths = [config.num_bessel, *config.radial_mlp, len(s.paths) * C]
        for k in range(len(widths) - 1):
            shapes[p + f"radial.{k}"] = (widths[k], widths[k + 1])
        for k in range(len(s.paths)):
            shapes[p + f"linear.{k}"] = (C, C)
        skip_in, skip_out = (s.irreps_in, s.irreps_out) if s.residual else (s.irreps_target, s.irreps_target)
        for b in range(sum(1 for ir in skip_out if ir in skip_in)):
            shapes[p + f"skip.{b}"] = (C, n_el, C)
        for irrep in s.irreps_out:
            for nu in range(1, s.correlation + 1):
                n_paths = generalized_clebsch_gordan(s.irreps_target, irrep, nu).shape[-1]
                shapes[p + f"product.{irreps_string(1, [irrep])[2:]}.nu{nu}"] = (n_el, n_paths, C)
        for b in range(len(s.irreps_out)):
            shapes[p + f"product_linear.{b}"] = (C, C)
        if s.readout == "linear":
            shapes[p + "readout"] = (C, 1)
        else:
            shapes[p + "readout.1"] = (C, config.mlp_width)
            shapes[p + "readout.2"] = (config.mlp_width, 1)
    return shapes


@dataclass
class Evaluation:
    """What :meth:`MACE.evaluate` returns. Energies in eV; arrays in macetutor's layout (see ``macetutor.irreps``)."""

    energy: float  # total energy E = sum_i E0_{z_i} + sum_i E_i^int
    interaction_energy: float  # sum_i E_i^int
    node_energies: np.ndarray  # (n_atoms,): E0_{z_i} + E_i^int (as mace-torch's "node_energy")
    node_interaction_energies: np.ndarray  # (n_atoms,): E_i^int = scale sum_t E_i^{(t)} + shift
    edges: dict = field(default_factory=dict)  # senders, receivers, shifts, vectors, lengths, Y, radial_basis
    intermediates: list = field(default_factory=list)  # per layer: dict with h_in, A, B, message, h, node_energy
    forces: np.ndarray | None = None  # (n_atoms, 3) eV/Å, F = -dE/dr (when asked for)
    stress: np.ndarray | None = None  # (3, 3) eV/Å^3, (1/V) dE/d(strain), ASE's sign (periodic, when asked for)
    virial: np.ndarray | None = None  # (3, 3) eV, -dE/d(strain) (when asked for)


class MACE:
    """A MACE model: a :class:`MACEConfig` and a dict of named float64 arrays (see :func:`parameter_shapes`)."""

    def __init__(self, config: MACEConfig, parameters: dict[str, np.ndarray]):
        expected = parameter_shapes(config)
        missing, extra = set(expected) - set(parameters), set(parameters) - set(expected)
        if missing or extra:
            raise ValueError(
                f"parameters do not match the configuration: missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        for name, shape in expected.items():
            value = np.asarray(parameters[name])
            if value.shape != tuple(shape):
                raise ValueError(f"parameter {name!r} has shape {value.shape}, the configuration needs {shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {name!r} contains NaN or infinite values")
        self.config = config
        frozen = {}
        for name in expected:  # read-only copies: derived tables (the numba backend's folded weights) stay valid
            frozen[name] = np.array(parameters[name], dtype=np.float64)
            frozen[name].setflags(write=False)
        self.parameters = MappingProxyType(frozen)
        self._folded = {}  # (layer, irrep, nu) -> U folded with W, built on first use by the numba backend

    # ------------------------------------------------------------------ construction and files

    @classmethod
    def init(cls, config: MACEConfig, seed: int = 0) -> MACE:
        """A random model for teaching: every weight ~ N(0, 1) (product weights / their number of paths, as mace-torch)."""
        rng = np.random.default_rng(seed)
        parameters = {}
        for name, shape in parameter_shapes(config).items():
            w = rng.standard_normal(shape)
            if ".product." in name:
                w = w / max(shape[1], 1)
            parameters[name] = w
        parameters["E0"] = np.array(config.atomic_energies, dtype=np.float64)
        return cls(config, parameters)

    def save(self, path) -> None:
        """Write the model to ``path`` (.npz: one array per parameter + JSON metadata; never pickle)."""
        from macetutor import __version__

        metadata = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "macetutor_version": __version__,
            "config": self.config.to_json(),
        }
        arrays = {f"parameters/{name}": value for name, value in self.parameters.items()}
        with open(path, "wb") as f:
            np.savez(f, __metadata__=np.array(json.dumps(metadata)), **arrays)

    @classmethod
    def load(cls, path) -> MACE:
        """Read a model written by :meth:`save`; a clear ValueError for a corrupt, truncated or mismatched file."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if "__metadata__" not in data.files:
                    raise ValueError("it has no __metadata__ entry (not written by macetutor)")
                metadata = json.loads(str(data["__metadata__"]))
                parameters = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("parameters/")}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"{path} is not a readable macetutor model file: {err}") from err
        if metadata.get("format") != FILE_FORMAT:
            raise ValueError(f"{path}: unknown format {metadata.get('format')!r} (expected {FILE_FORMAT!r})")
        if metadata.get("version") != FILE_VERSION:
            raise ValueError(
                f"{path}: file version {metadata.get('version')} is not supported (this macetutor reads "
                f"version {FILE_VERSION})"
            )
        try:
            config = MACEConfig.from_json(metadata["config"])
            return cls(config, parameters)
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"{path}: the model does not match its configuration: {err}") from err

    # ------------------------------------------------------------------ evaluation

    def element_index(self, numbers) -> np.ndarray:
        numbers = np.asarray(numbers)
        if numbers.ndim != 1 or numbers.dtype.kind not in "iu":
            raise ValueError(
                f"numbers must be a 1-d array of atomic numbers, got shape {numbers.shape}, dtype {numbers.dtype}"
            )
        table = {z: k for k, z in enumerate(self.config.elements)}
        unknown = sorted({int(z) for z in numbers} - set(table))
        if unknown:
            raise ValueError(
                f"element(s) with atomic number {unknown} are not in this model (it knows {list(self.config.elements)})"
            )
        return np.array([table[int(z)] for z in numbers], dtype=np.int64)

    def evaluate(self, positions, numbers, cell=None, pbc=False, forces=False, stress=False, backend="numpy"):
        """Energy of a structure, with every intermediate array of the model (see :class:`Evaluation`).

        ``forces=True`` adds F = -dE/dr; ``stress=True`` adds the virial and, for a periodic cell, the stress;
        both from the hand-written reverse pass :meth:`_backward` (no automatic differentiation).
        ``backend="numpy"`` is the readable specification; ``backend="numba"`` runs the neighbour sum and the
        product basis in compiled kernels (``macetutor.kernels``) and does not materialise B (``B`` is None).
        """
        if backend not in ("numpy", "numba"):
            raise ValueError(f"backend must be 'numpy' or 'numba', got {backend!r}")
        cfg, P = self.config, self.parameters
        positions = np.asarray(positions, dtype=np.float64)
        z = self.element_index(numbers)
        if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) != len(z):
            raise ValueError(f"positions must have shape (n_atoms, 3) = ({len(z)}, 3), got {positions.shape}")
        n = len(z)
        method = "cells" if backend == "numba" else "kdtree"  # the numba backend searches with its cell list
        senders, receivers, shifts, _ = neighbor_list(positions, cfg.r_max, cell=cell, pbc=pbc, method=method)
        vectors = positions[receivers] - positions[senders] + shifts  # (n_edges, 3): r_i - r_j, centre minus neighbour
        lengths = np.linalg.norm(vectors, axis=1)  # (n_edges,)
        need_gradient = forces or stress
        edge_feats_dr = None  # d(edge_feats)/dr, filled by the numba kernel (the NumPy path computes it in _backward)
        if backend == "numba" and len(vectors):
            Y, dY, edge_feats, edge_feats_dr = _numba_edges(vectors, lengths, cfg)
        else:
            if len(vectors) == 0:
                Y, dY = np.zeros((0, (cfg.max_ell + 1) ** 2)), np.zeros((0, (cfg.max_ell + 1) ** 2, 3))
            elif need_gradient:
                Y, dY = spherical_harmonics_with_gradient(list(range(cfg.max_ell + 1)), vectors)  # (n_edges, D, 3)
            else:
                Y, dY = spherical_harmonics(list(range(cfg.max_ell + 1)), vectors), None  # (n_edges, D)
            edge_feats = (
                radial.bessel_basis(lengths, cfg.r_max, cfg.num_bessel)
                * radial.polynomial_envelope(lengths, cfg.r_max, cfg.num_polynomial_cutoff)[:, None]
            )  # (n_edges, num_bessel)
        sh = spherical_harmonics_irreps(cfg.max_ell)

        h = basis.node_embedding(z, P["embedding"])  # (n, C, 1)
        layers, node_energy_sum = [], np.zeros(n)
        for t in range(cfg.num_interactions):
            s, w = layer_shapes(cfg, t), self._layer_weights(t)
            C = cfg.channels
            R, pre = radial.radial_mlp_with_activations(edge_feats, w["radial"], cfg.radial_activation_constant)
            R = R.reshape(len(lengths), len(s.paths), C)  # (n_edges, n_paths, C)
            sc = basis.skip_connection(h, s.irreps_in, s.irreps_out, z, w["skip"]) if s.residual else None
            h_up = basis.linear(h, s.irreps_in, w["linear_up"])  # (n, C, dim_in)
            if backend == "numpy":
                phi = basis.edge_tensor_product(h_up[senders], Y, R, s.irreps_in, sh, s.paths)  # eq. (8), per edge
                M = basis.neighbor_sum(phi, receivers, n)  # the sum over neighbours
            else:
                M = _numba_neighbor_sum(h_up, Y, R, senders, receivers, n, s, sh)
            A = basis.mix_paths(M, s.paths, s.irreps_target, w["linear"], cfg.avg_num_neighbors)
            A_before_skip = A
            if not s.residual:  # mace-torch's first layer: element-dependent mixing of A
                A = basis.skip_connection(A, s.irreps_target, s.irreps_target, z, w["skip"])
            B, messages = {}, []
            for irrep in s.irreps_out:
                key = irreps_string(1, [irrep])[2:]
                if backend == "numpy":
                    B[key] = {
                        nu: product.product_basis(A, s.irreps_target, irrep, nu) for nu in range(1, s.correlation + 1)
                    }
                    messages.append(product.message(B[key], w["product"][key], z))  # (n, C, 2L+1)
                else:  # folded kernels: B is never formed
                    B[key] = None
                    folded = self._folded_weights(t, s.irreps_target, irrep, key)
                    messages.append(_numba_message(A, z, folded, 2 * irrep[0] + 1))  # (n, C, 2L+1)
            m = np.concatenate(messages, axis=2)  # (n, C, dim(irreps_out))
            h_new = basis.linear(m, s.irreps_out, w["product_linear"])  # (n, C, dim_out)
            if sc is not None:
                h_new = h_new + sc
            scalars = h_new[:, :, 0]  # (n, C): the first block is 0e
            y_readout = None
            if s.readout == "linear":
                e = scalars @ w["readout"][:, 0] / np.sqrt(C)  # (n,)
            else:
                y_readout = scalars @ w["readout.1"] / np.sqrt(C)  # (n, mlp_width)
                y = cfg.readout_activation_constant * radial.silu(y_readout)
                e = y @ w["readout.2"][:, 0] / np.sqrt(cfg.mlp_width)  # (n,)
            node_energy_sum = node_energy_sum + e
            layers.append(
                {
                    "h_in": h,
                    "h_up": h_up,
                    "R": R,
                    "A": A,
                    "B": B,
                    "message": m,
                    "self_connection": sc,
                    "h": h_new,
                    "node_energy": e,
                    "irreps_in": s.irreps_in,
                    "irreps_A": s.irreps_target,
                    "irreps_out": s.irreps_out,
                    "_backward_cache": {"radial_pre": pre, "A_before_skip": A_before_skip, "readout_pre": y_readout},
                }
            )
            h = h_new
        node_inter = cfg.scale * node_energy_sum + cfg.shift  # (n,)
        E0 = P["E0"][z]  # (n,)
        result_forces = result_virial = result_stress = None
        if need_gradient:
            g_v = self._backward(
                layers, z, Y, dY, vectors, lengths, edge_feats, senders, receivers, backend, edge_feats_dr
            )
            result_forces = np.zeros((n, 3))  # F = -dE/dr, and r_receiver - r_sender enters each edge vector
            np.add.at(result_forces, receivers, -g_v)
            np.add.at(result_forces, senders, g_v)
            result_virial = -np.einsum("ea,eb->ab", g_v, vectors)  # -dE/d(strain): strain moves v_e to (1 + eps) v_e
            result_virial = 0.5 * (result_virial + result_virial.T)
            if cell is not None and np.any(pbc):
                volume = abs(np.linalg.det(np.asarray(cell, dtype=np.float64)))
                result_stress = -result_virial / volume
        return Evaluation(
            energy=float(np.sum(E0) + np.sum(node_inter)),
            interaction_energy=float(np.sum(node_inter)),
            node_energies=E0 + node_inter,
            node_interaction_energies=node_inter,
            edges={
                "senders": senders,
                "receivers": receivers,
                "shifts": shifts,
                "vectors": vectors,
                "lengths": lengths,
                "Y": Y,
                "radial_basis": edge_feats,
            },
            intermediates=layers,
            forces=result_forces if forces else None,
            stress=result_stress if stress else None,
            virial=result_virial if stress else None,
        )

    def _folded_weights(self, t, irreps_A, irrep, key) -> list:
        """[(factors, M, U~ folded with W)] per nu for the numba backend; computed once per model."""
        from macetutor import kernels

        if (t, key) not in self._folded:
            terms = []
            for nu in range(1, self.config.correlation[t] + 1):
                factors, M_of, values = kernels.symmetric_terms(tuple(irreps_A), irrep, nu)
                if len(M_of):
                    W = self.parameters[f"layer{t}.product.{key}.nu{nu}"]
                    terms.append((factors, M_of, kernels.folded_weights(values, W)))
            self._folded[t, key] = terms
        return self._folded[t, key]

    def _layer_weights(self, t: int) -> dict:
        """The weights of layer t, grouped by the block that uses them."""
        cfg, P, s, p = self.config, self.parameters, layer_shapes(self.config, t), f"layer{t}."
        w = {
            "radial": [P[p + f"radial.{k}"] for k in range(len(cfg.radial_mlp) + 1)],
            "skip": [P[p + f"skip.{b}"] for b in range(sum(1 for k in P if k.startswith(p + "skip.")))],
            "linear_up": [P[p + f"linear_up.{b}"] for b in range(len(s.irreps_in))],
            "linear": [P[p + f"linear.{k}"] for k in range(len(s.paths))],
            "product": {},
            "product_linear": [P[p + f"product_linear.{b}"] for b in range(len(s.irreps_out))],
        }
        for irrep in s.irreps_out:
            key = irreps_string(1, [irrep])[2:]
            w["product"][key] = {nu: P[p + f"product.{key}.nu{nu}"] for nu in range(1, s.correlation + 1)}
        for name in ("readout", "readout.1", "readout.2"):
            if p + name in P:
                w[name] = P[p + name]
        return w

    def _backward(
        self, layers, z, Y, dY, vectors, lengths, edge_feats, senders, receivers, backend="numpy", edge_feats_dr=None
    ):
        """The reverse pass: dE/dv_e for every edge vector v_e, by hand, block by block, from the energy down.

        E_int = scale sum_t sum_i E_i^(t) + shift n. Each block's vector-Jacobian product sits beside its forward
        (``*_backward`` in radial.py, basis.py, product.py). The adjoint of h^(t+1) collects the readout of layer t
        and the two uses of h^(t+1) in layer t+1 (linear_up and the self-connection); the adjoints of Y and of the
        radial basis collect every layer. Finally r = |v| and Y(v/|v|) give dE/dv. Returns (n_edges, 3).
        """
        cfg, n, C = self.config, len(z), self.config.channels
        sh = spherical_harmonics_irreps(cfg.max_ell)
        grad_Y, grad_edge_feats = np.zeros_like(Y), np.zeros_like(edge_feats)
        grad_h = np.zeros_like(layers[-1]["h"])  # dE/dh^(T)
        for t in reversed(range(cfg.num_interactions)):
            s, w, layer = layer_shapes(cfg, t), self._layer_weights(t), layers[t]
            cache = layer["_backward_cache"]
            grad_e = np.full(n, cfg.scale)  # dE/dE_i^(t)
            if s.readout == "linear":
                grad_h[:, :, 0] += grad_e[:, None] * w["readout"][:, 0] / np.sqrt(C)
            else:
                grad_y = grad_e[:, None] * w["readout.2"][:, 0] / np.sqrt(cfg.mlp_width)  # (n, mlp_width)
                grad_y = grad_y * cfg.readout_activation_constant * radial.silu_derivative(cache["readout_pre"])
                grad_h[:, :, 0] += grad_y @ w["readout.1"].T / np.sqrt(C)
            grad_m = basis.linear_backward(grad_h, s.irreps_out, w["product_linear"])  # eq. (12)
            grad_A = np.zeros_like(layer["A"])
            for irrep, block in zip(s.irreps_out, offsets(s.irreps_out), strict=True):
                key = irreps_string(1, [irrep])[2:]
                if backend == "numba":
                    _numba_message_backward(
                        layer["A"], z, self._folded_weights(t, s.irreps_target, irrep, key), grad_m[:, :, block], grad_A
                    )
                    continue
                grad_B = product.message_backward(grad_m[:, :, block], w["product"][key], z)  # eq. (11)
                for nu, g in grad_B.items():  # eq. (10), product rule
                    grad_A += product.product_basis_backward(g, layer["A"], s.irreps_target, irrep, nu)
            if not s.residual:
                grad_A = basis.skip_connection_backward(grad_A, s.irreps_target, s.irreps_target, z, w["skip"])
            grad_M = basis.mix_paths_backward(grad_A, s.paths, s.irreps_target, w["linear"], cfg.avg_num_neighbors)
            if backend == "numpy":
                grad_phi = [g[receivers] for g in grad_M]  # eq. (8): the sum over neighbours, transposed
                grad_h_sender, grad_Y_t, grad_R = basis.edge_tensor_product_backward(
                    grad_phi, layer["h_up"][senders], Y, layer["R"], s.irreps_in, sh, s.paths
                )
                grad_h_up = np.zeros_like(layer["h_up"])
                np.add.at(grad_h_up, senders, grad_h_sender)
            else:
                grad_h_up, grad_Y_t, grad_R = _numba_neighbor_sum_backward(layer, grad_M, Y, senders, receivers, s, sh)
            grad_Y += grad_Y_t
            grad_edge_feats += radial.radial_mlp_backward(
                grad_R.reshape(len(lengths), len(s.paths) * C),
                cache["radial_pre"],
                w["radial"],
                cfg.radial_activation_constant,
            )
            grad_h_in = basis.linear_backward(grad_h_up, s.irreps_in, w["linear_up"])
            if s.residual:
                grad_h_in += basis.skip_connection_backward(grad_h, s.irreps_in, s.irreps_out, z, w["skip"])
            grad_h = grad_h_in  # dE/dh^(t): feeds layer t-1 (the embedding, for t = 0, does not move)
        # the edges: edge_feats = b(r) f(r), r = |v|, Y = Y(v / |v|)
        if edge_feats_dr is None:
            b = radial.bessel_basis(lengths, cfg.r_max, cfg.num_bessel)  # (n_edges, num_bessel)
            db = radial.bessel_basis_derivative(lengths, cfg.r_max, cfg.num_bessel)
            f = radial.polynomial_envelope(lengths, cfg.r_max, cfg.num_polynomial_cutoff)  # (n_edges,)
            df = radial.polynomial_envelope_derivative(lengths, cfg.r_max, cfg.num_polynomial_cutoff)
            edge_feats_dr = db * f[:, None] + b * df[:, None]  # (n_edges, num_bessel): product rule
        grad_r = np.sum(grad_edge_feats * edge_feats_dr, axis=1)  # (n_edges,)
        return grad_r[:, None] * vectors / lengths[:, None] + np.einsum("eb,ebk->ek", grad_Y, dY)


# ------------------------------------------------------------------ the numba backend (see macetutor/kernels.py)


def _numba_neighbor_sum(h_up, Y, R, senders, receivers, n, s, sh):
    """The per-path neighbour sums M of eq. (8), from the compiled kernel; same as basis.neighbor_sum(phi)."""
    from macetutor import kernels

    path, a, b, c, value, width = kernels.conv_table(tuple(s.irreps_in), tuple(sh), tuple(s.paths))
    offsets_ = np.searchsorted(receivers, np.arange(n + 1))  # edges are sorted by receiver
    out = np.zeros((n, h_up.shape[1], width))  # (n, C, sum over paths of 2 l3 + 1)
    kernels.conv_aggregate_forward(h_up, Y, np.ascontiguousarray(R), senders, offsets_, path, a, b, c, value, out)
    bounds = np.cumsum([0] + [2 * l3 + 1 for _, _, (l3, _) in s.paths])
    return [out[:, :, bounds[k] : bounds[k + 1]] for k in range(len(s.paths))]


def _numba_neighbor_sum_backward(layer, grad_M, Y, senders, receivers, s, sh):
    from macetutor import kernels

    path, a, b, c, value, width = kernels.conv_table(tuple(s.irreps_in), tuple(sh), tuple(s.paths))
    h_up, R = layer["h_up"], np.ascontiguousarray(layer["R"])
    grad_out = np.ascontiguousarray(np.concatenate(grad_M, axis=2))  # (n, C, width)
    grad_h, grad_Y, grad_R = np.empty_like(h_up), np.empty_like(Y), np.empty_like(R)  # the kernel writes every entry
    edges_by_sender = np.argsort(senders, kind="stable")  # each thread of the kernel owns one sender
    sender_offsets = np.searchsorted(senders[edges_by_sender], np.arange(len(h_up) + 1))
    kernels.conv_aggregate_backward(
        h_up, Y, R, receivers, edges_by_sender, sender_offsets, path, a, b, c, value, grad_out, grad_h, grad_Y, grad_R
    )
    return grad_h, grad_Y, grad_R


def _numba_message(A, z, folded, width):
    """m = sum_nu sum_eta W B^(nu) (eqs. 10-11) by the folded, symmetrised kernel. (n, C, width = 2L+1)"""
    from macetutor import kernels

    m = np.zeros(A.shape[:2] + (width,))
    A = np.ascontiguousarray(A)
    for factors, M_of, weights in folded:
        kernels.contraction_forward(A, z, factors, M_of, weights, m)
    return m


def _numba_message_backward(A, z, folded, grad_m, grad_A):
    from macetutor import kernels

    A, grad_m = np.ascontiguousarray(A), np.ascontiguousarray(grad_m)
    for factors, M_of, weights in folded:
        kernels.contraction_backward(A, z, factors, M_of, weights, grad_m, grad_A)


def _numba_edges(vectors, lengths, cfg):
    """Y, dY/dv, edge features and d(edge features)/dr for every edge, from the compiled kernels."""
    from macetutor import kernels
    from macetutor.so3 import _recurrence_table

    table = _recurrence_table(cfg.max_ell)
    n_edges, D = len(vectors), (cfg.max_ell + 1) ** 2
    Y, dY = np.zeros((n_edges, D)), np.zeros((n_edges, D, 3))
    kernels.edge_harmonics(
        np.ascontiguousarray(vectors),
        np.ascontiguousarray(np.diagonal(table[0])),
        table[1],
        table[2],
        cfg.max_ell,
        Y,
        dY,
    )
    feats, feats_dr = np.zeros((n_edges, cfg.num_bessel)), np.zeros((n_edges, cfg.num_bessel))
    kernels.edge_radial(lengths, float(cfg.r_max), cfg.num_bessel, cfg.num_polynomial_cutoff, feats, feats_dr)
    return Y, dY, feats, feats_dr
