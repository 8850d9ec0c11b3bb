"""The weights of a MACE model as small typed structures, and the name of every array in the model file.

A model's learnable parameters are a flat mapping ``name -> array`` (the names of the ``.npz`` file, e.g.
``"layer0.radial.2"``); the code that computes works with typed structures instead:

    Weights                        embedding W_emb (n_elements, K), E0 (n_elements,), layers
      LayerWeights (one per layer) W_up, radial, W_paths, W_self, products, W_update, readout
        ProductWeights (per irrep  irrep (L, p); U (constant) and W (learnable), one per correlation order nu
                        of h^(t+1))

Each class defines its names in ``from_named`` (name -> array, with the shape it must have) and gives them back
in ``named`` (array -> name), the two written side by side; nothing parses a name.

The generalised Clebsch-Gordan tensors U are constants, not parameters: by default macetutor's exact ones
(sympy), or the ones stored in a model file (``constants``) where an imported model carries its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from macetutor.cg import clebsch_gordan, generalized_clebsch_gordan
from macetutor.config import LayerShapes, MACEConfig, layer_shapes
from macetutor.irreps import Irrep

__all__ = ["Weights", "LayerWeights", "ProductWeights", "parameter_shapes"]

# get(name, shape) -> the array of that name (checked to have that shape by the caller)
Getter = Callable[[str, tuple], np.ndarray]


@dataclass(frozen=True, eq=False)
class ProductWeights:
    """Eqs. (10)-(11) for one output irrep (L, p): U^(nu) defines B^(nu), W^(nu)_{z, eta, k} weights it."""

    irrep: Irrep
    U: tuple  # nu = 1..nu_max: (2L+1, D, ..., D, n_paths), constant
    W: tuple  # nu = 1..nu_max: (n_elements, n_paths, K), learnable

    @classmethod
    def from_named(cls, get: Getter, prefix: str, s: LayerShapes, irrep, n_elements, K, constants) -> ProductWeights:
        U, W = [], []
        for nu in range(1, s.correlation + 1):
            name_U = f"{prefix}U.{Irrep(*irrep)}.nu{nu}"
            U_nu = constants[name_U] if name_U in constants else generalized_clebsch_gordan(s.irreps_A, irrep, nu)
            U.append(U_nu)
            W.append(get(f"{prefix}product.{Irrep(*irrep)}.nu{nu}", (n_elements, U_nu.shape[-1], K)))
        return cls(Irrep(*irrep), tuple(U), tuple(W))

    def named(self, prefix: str) -> dict:
        return {f"{prefix}product.{self.irrep}.nu{nu}": W for nu, W in enumerate(self.W, start=1)}


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """The learnable weights of interaction layer t, grouped by the equation that uses them."""

    W_up: tuple  # eq. (8): W h_j, one (K, K) per block of h^(t)                     file: linear_up.{b}
    radial: tuple  # eq. (8): the radial MLP R(r_ij), [(h_0, h_1), ..., (h_L-1, h_L)] file: radial.{k}
    W_paths: tuple  # eq. (8): one (K, K) per tensor-product path, mixing into A       file: linear.{k}
    W_self: tuple  # eq. (12)'s W_{z_i} h^(t) (residual layer) or the first layer's mixing of A: (K, n_elements, K)
    # per irrep present in both input and output                                     file: skip.{b}
    products: tuple  # eqs. (10)-(11): one ProductWeights per irrep of h^(t+1)          file: product.{L}.nu{nu}
    W_update: tuple  # eq. (12): W m, one (K, K) per block of h^(t+1)                   file: product_linear.{b}
    readout: tuple  # eq. (13): ((K, n_heads),) linear, or ((K, n_heads mlp), (n_heads mlp, n_heads))
    # file: readout, or readout.1 and readout.2
    W_density: tuple = ()  # density blocks: the edge-density MLP, ((num_bessel, 1),)         file: density.0
    C: tuple = ()  # eq. (8): the Clebsch-Gordan coupling of each tensor-product path (constant; macetutor's exact
    # one, or the one a model file stores: constants layer{t}.C.{k})
    # the ResidualNonLinear block only (macetutor.nonlinear); its radial MLP and density MLP have biases and LayerNorms
    radial_bias: tuple = ()  # (h_k,) per layer of the radial MLP                              file: radial.{k}.bias
    radial_norm: tuple = ()  # (gamma, beta) per hidden layer             file: radial.{k}.norm_weight / norm_bias
    density_bias: tuple = ()  # (h_k,) per layer of the density MLP (W_density its weights)  file: density.{k}.bias
    density_norm: tuple = ()  # (gamma, beta) per hidden layer           file: density.{k}.norm_weight / norm_bias
    source_embedding: np.ndarray | None = (
        None  # (n_elements, K): the sender's element embedding  file: source_embedding
    )
    target_embedding: np.ndarray | None = None  # (n_elements, K): the receiver's               file: target_embedding
    W_res: tuple = ()  # W_res h~ into the gate's input: (K_edge, mul) per shared irrep           file: linear_res.{b}
    W_out: tuple = ()  # the linear map after the gate, (K, K) per block of A                     file: linear_2.{b}
    alpha: np.ndarray | None = None  # (): the divisor beta rho_i + alpha                          file: alpha
    beta: np.ndarray | None = None  # ()                                                           file: beta

    @classmethod
    def from_named(cls, get: Getter, config: MACEConfig, s: LayerShapes, constants) -> LayerWeights:
        if s.nonlinear:
            return cls._nonlinear_from_named(get, config, s, constants)
        p, n_el, K_in, K_e, K = f"layer{s.t}.", len(config.elements), s.channels_in, s.channels_edge, s.channels
        widths = [config.num_bessel, *config.radial_mlp, len(s.paths) * K_e]
        self_in, self_out = (s.irreps_in, s.irreps_out) if s.residual else (s.irreps_A, s.irreps_A)
        n_self = sum(1 for irrep in self_out if irrep in self_in)
        self_shape = (K_in, n_el, K) if s.residual else (K, n_el, K)
        return cls(  # (the arguments are evaluated in this order: the order of the names in a model file)
            W_up=tuple(get(p + f"linear_up.{b}", (K_in, K_e)) for b in range(len(s.irreps_in))),
            radial=tuple(get(p + f"radial.{k}", (widths[k], widths[k + 1])) for k in range(len(widths) - 1)),
            W_paths=tuple(get(p + f"linear.{k}", (K_e, K)) for k in range(len(s.paths))),
            W_self=tuple(get(p + f"skip.{b}", self_shape) for b in range(n_self)),
            products=tuple(
                ProductWeights.from_named(get, p, s, irrep, s.product_elements, K, constants) for irrep in s.irreps_out
            ),
            W_update=tuple(get(p + f"product_linear.{b}", (K, K)) for b in range(len(s.irreps_out))),
            readout=_readout(get, p, s, config),
            W_density=(get(p + "density.0", (config.num_bessel, 1)),) if s.normalization == "density" else (),
            C=_couplings(p, s, constants),
        )

    @classmethod
    def _nonlinear_from_named(cls, get: Getter, config: MACEConfig, s: LayerShapes, constants) -> LayerWeights:
        """The ResidualNonLinear block's weights (macetutor.nonlinear)."""
        p, n_el, K_in, K_e, K = f"layer{s.t}.", len(config.elements), s.channels_in, s.channels_edge, s.channels
        gate_mul = {irrep: K * (len(s.irreps_A)) if irrep.l == 0 else K for irrep in s.irreps_A}  # K scalars + K gates
        radial = [config.num_bessel + 2 * K_in, *config.radial_mlp, len(s.paths) * K_e]
        density = [config.num_bessel + 2 * K_in, 64, 1]

        def mlp(name, widths):
            W = tuple(get(p + f"{name}.{k}", (widths[k], widths[k + 1])) for k in range(len(widths) - 1))
            bias = tuple(get(p + f"{name}.{k}.bias", (widths[k + 1],)) for k in range(len(widths) - 1))
            norm = tuple(
                (
                    get(p + f"{name}.{k}.norm_weight", (widths[k + 1],)),
                    get(p + f"{name}.{k}.norm_bias", (widths[k + 1],)),
                )
                for k in range(len(widths) - 2)
            )
            return W, bias, norm

        W_radial, radial_bias, radial_norm = mlp("radial", radial)
        W_density, density_bias, density_norm = mlp("density", density)
        n_self = sum(1 for irrep in s.irreps_out if irrep in s.irreps_in)
        res_irreps = [irrep for irrep in s.irreps_A if irrep in s.irreps_edge]
        return cls(
            W_up=tuple(get(p + f"linear_up.{b}", (K_in, K_e)) for b in range(len(s.irreps_in))),
            radial=W_radial,
            W_paths=tuple(get(p + f"linear.{k}", (K_e, gate_mul[path.irrep])) for k, path in enumerate(s.paths)),
            W_self=tuple(get(p + f"skip.{b}", (K_in, K)) for b in range(n_self)),
            products=tuple(
                ProductWeights.from_named(get, p, s, irrep, s.product_elements, K, constants) for irrep in s.irreps_out
            ),
            W_update=tuple(get(p + f"product_linear.{b}", (K, K)) for b in range(len(s.irreps_out))),
            readout=_readout(get, p, s, config),
            W_density=W_density,
            C=_couplings(p, s, constants),
            radial_bias=radial_bias,
            radial_norm=radial_norm,
            density_bias=density_bias,
            density_norm=density_norm,
            source_embedding=get(p + "source_embedding", (n_el, K_in)),
            target_embedding=get(p + "target_embedding", (n_el, K_in)),
            W_res=tuple(get(p + f"linear_res.{b}", (K_e, gate_mul[irrep])) for b, irrep in enumerate(res_irreps)),
            W_out=tuple(get(p + f"linear_2.{b}", (K, K)) for b in range(len(s.irreps_A))),
            alpha=get(p + "alpha", ()),
            beta=get(p + "beta", ()),
        )

    def named(self, t: int) -> dict:
        p = f"layer{t}."
        out = {p + f"linear_up.{b}": W for b, W in enumerate(self.W_up)}
        out |= {p + f"radial.{k}": W for k, W in enumerate(self.radial)}
        out |= {p + f"linear.{k}": W for k, W in enumerate(self.W_paths)}
        out |= {p + f"skip.{b}": W for b, W in enumerate(self.W_self)}
        for product in self.products:
            out |= product.named(p)
        out |= {p + f"product_linear.{b}": W for b, W in enumerate(self.W_update)}
        names = ("readout",) if len(self.readout) == 1 else ("readout.1", "readout.2")
        out |= {p + name: W for name, W in zip(names, self.readout, strict=True)}
        out |= {p + f"density.{k}": W for k, W in enumerate(self.W_density)}
        for name, bias, norm in (
            ("radial", self.radial_bias, self.radial_norm),
            ("density", self.density_bias, self.density_norm),
        ):
            out |= {p + f"{name}.{k}.bias": b for k, b in enumerate(bias)}
            out |= {p + f"{name}.{k}.norm_weight": gamma for k, (gamma, _) in enumerate(norm)}
            out |= {p + f"{name}.{k}.norm_bias": beta for k, (_, beta) in enumerate(norm)}
        for name in ("source_embedding", "target_embedding", "alpha", "beta"):
            if getattr(self, name) is not None:
                out[p + name] = getattr(self, name)
        out |= {p + f"linear_res.{b}": W for b, W in enumerate(self.W_res)}
        out |= {p + f"linear_2.{b}": W for b, W in enumerate(self.W_out)}
        return out


def _readout(get: Getter, p: str, s: LayerShapes, config: MACEConfig) -> tuple:
    """eq. (13)'s weights: ((K, n_heads),) linear, or ((K, n_heads w), (n_heads w, n_heads)) for the MLP."""
    K, H = s.channels, config.num_heads
    if s.readout == "linear":
        return (get(p + "readout", (K, H)),)
    return (get(p + "readout.1", (K, H * config.mlp_width)), get(p + "readout.2", (H * config.mlp_width, H)))


def _couplings(p: str, s: LayerShapes, constants) -> tuple:
    """The Clebsch-Gordan coupling of each tensor-product path: stored (constants p + C.{k}) or macetutor's exact."""
    return tuple(
        constants[p + f"C.{k}"]
        if p + f"C.{k}" in constants
        else clebsch_gordan(s.irreps_edge[path.h_block].l, s.irreps_Y[path.Y_block].l, path.irrep.l)
        for k, path in enumerate(s.paths)
    )


@dataclass(frozen=True, eq=False)
class Weights:
    """All weights of a model: the element embedding (eq. 9), E0, and one :class:`LayerWeights` per layer."""

    embedding: np.ndarray  # (n_elements, K): W of eq. (9)                            file: embedding
    joint: dict = field(default_factory=dict)  # per-structure feature name -> its table, or its MLP's (W1, b1, W2, b2)
    # (embedding_specs; MACE-OMOL's charge and spin)                           file: embedding.{name}[.0, .0.bias...]
    joint_project: np.ndarray | None = None  # (sum of d_f, K)                  file: embedding.project
    E0: np.ndarray = (
        None  # (n_elements,) eV, isolated-atom energies; (n_heads, n_elements) with several heads  file: E0
    )
    layers: tuple = ()  # LayerWeights, t = 0..T-1

    @classmethod
    def from_named(cls, get: Getter, config: MACEConfig, constants=None) -> Weights:
        """Build the structure, asking ``get(name, shape)`` for every learnable array (the one place names live)."""
        constants = {} if constants is None else constants
        n_el = len(config.elements)
        joint, project = {}, None
        for name, spec in (config.embedding_specs or {}).items():
            d = spec["emb_dim"]
            if spec["type"] == "categorical":
                joint[name] = get(f"embedding.{name}", (spec["num_classes"], d))
            else:
                n_in, bias = spec["in_dim"], spec.get("use_bias", True)
                joint[name] = (
                    get(f"embedding.{name}.0", (n_in, d)),
                    get(f"embedding.{name}.0.bias", (d,)) if bias else None,
                    get(f"embedding.{name}.1", (d, d)),
                    get(f"embedding.{name}.1.bias", (d,)) if bias else None,
                )
        if joint:
            total = sum(spec["emb_dim"] for spec in config.embedding_specs.values())
            project = get("embedding.project", (total, config.channels))
        return cls(
            embedding=get("embedding", (n_el, config.channels)),
            joint=joint,
            joint_project=project,
            E0=get("E0", (n_el,) if config.num_heads == 1 else (config.num_heads, n_el)),
            layers=tuple(
                LayerWeights.from_named(get, config, layer_shapes(config, t), constants)
                for t in range(config.num_interactions)
            ),
        )

    def named(self) -> dict:
        """name -> array for every learnable array, the names of :meth:`from_named`."""
        out = {"embedding": self.embedding, "E0": self.E0}
        for name, value in self.joint.items():
            if isinstance(value, tuple):
                out |= {f"embedding.{name}.0": value[0], f"embedding.{name}.1": value[2]}
                if value[1] is not None:
                    out |= {f"embedding.{name}.0.bias": value[1], f"embedding.{name}.1.bias": value[3]}
            else:
                out[f"embedding.{name}"] = value
        if self.joint_project is not None:
            out["embedding.project"] = self.joint_project
        for t, layer in enumerate(self.layers):
            out |= layer.named(t)
        return out


def parameter_shapes(config: MACEConfig) -> dict[str, tuple]:
    """Name and shape of every learnable array of a model with this configuration."""
    shapes = {}

    def record(name, shape):
        shapes[name] = tuple(shape)
        return np.zeros(shape)

    Weights.from_named(record, config)
    return shapes
