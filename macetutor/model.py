"""The MACE model: a configuration, its weights, and the evaluation of a structure with every intermediate kept.

One evaluation (MACE paper, Batatia et al. 2022, arXiv:2206.07697):

    graph      = neighbours within r_max; edge vectors, Y(r_ij_hat), radial basis       macetutor.graph
    h^(0)      = W z_i, the element embedding (eq. 9)                                  macetutor.basis
    for t = 0 .. T-1:                                                                  macetutor.layer
        A, B, m, h^(t+1), E^(t) = interaction_layer(h^(t))     eqs. (8)-(13)
    E_i        = E0_{z_i} + scale sum_t E_i^(t) + shift                                 macetutor.readout
    forces     = -dE/dr from the reverse pass of every layer (no automatic differentiation)   macetutor.forces

The last layer keeps only the scalar channels of h (it only feeds the energy). Where mace-torch and the paper's
formulas differ, macetutor follows mace-torch and says so (docs/conventions.md, "The model").
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from macetutor._version import __version__
from macetutor.backends import get_backend
from macetutor.basis import joint_embedding, joint_embedding_weight_grads, node_embedding, node_embedding_weight_grads
from macetutor.cg import clebsch_gordan, generalized_clebsch_gordan
from macetutor.config import LayerShapes, MACEConfig, layer_shapes
from macetutor.forces import forces_virial_stress
from macetutor.graph import Graph, build_graph, edge_features_vjp, segment_sum
from macetutor.layer import LayerValues, interaction_layer, interaction_layer_vjp
from macetutor.pair import ZBL, zbl_edge_energies
from macetutor.parameters import Weights, parameter_shapes
from macetutor.radial import RadialBasis
from macetutor.readout import site_energies

__all__ = ["MACEConfig", "MACE", "Evaluation", "LayerShapes", "layer_shapes", "parameter_shapes"]

FILE_FORMAT = "macetutor-mace"
FILE_VERSION = 1


@dataclass
class Evaluation:
    """What :meth:`MACE.evaluate` returns. Energies in eV; arrays in macetutor's layout (see ``macetutor.irreps``)."""

    energy: float  # total energy E = sum_i E0_{z_i} + sum_i E_i^int (complex for complex positions)
    interaction_energy: float  # sum_i E_i^int
    node_energies: np.ndarray  # (n_atoms,): E0_{z_i} + E_i^int (as mace-torch's "node_energy")
    node_interaction_energies: np.ndarray  # (n_atoms,): E_i^int = scale sum_t E_i^(t) + shift
    graph: Graph | None = None  # the edges: senders, receivers, shifts, vectors, lengths, Y, radial basis
    intermediates: list = field(default_factory=list)  # one macetutor.layer.LayerValues per layer: A, B, m, h, ...
    forces: np.ndarray | None = None  # (n_atoms, 3) eV/Å, F = -dE/dr (when asked for)
    stress: np.ndarray | None = None  # (3, 3) eV/Å^3, (1/V) dE/d(strain), ASE's sign (3-D periodic cells only)
    virial: np.ndarray | None = None  # (3, 3) eV, -dE/d(strain) (when stress is asked for)


class MACE:
    """A MACE model: a :class:`MACEConfig` and its weights.

    ``parameters`` is the read-only mapping name -> float64 array of the learnable weights (the names of the model
    file, :func:`parameter_shapes`); ``weights`` is the same arrays as typed structures
    (:class:`macetutor.parameters.Weights`), which the computation uses; ``constants`` holds the constants a model
    file stores in place of macetutor's exact ones (empty for a model made by macetutor).
    """

    def __init__(self, config: MACEConfig, parameters: dict, constants: dict | None = None):
        expected = parameter_shapes(config)
        missing, extra = set(expected) - set(parameters), set(parameters) - set(expected)
        if missing or extra:
            raise ValueError(
                f"parameters do not match the configuration: missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        frozen = {}
        for name, shape in expected.items():  # read-only float64 copies: derived tables stay valid
            value = np.array(parameters[name], dtype=np.float64)
            if value.shape != tuple(shape):
                raise ValueError(f"parameter {name!r} has shape {value.shape}, the configuration needs {shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {name!r} contains NaN or infinite values")
            value.setflags(write=False)
            frozen[name] = value
        self.config = config
        self.parameters = MappingProxyType(frozen)
        self.constants = MappingProxyType({k: _read_only(v) for k, v in (constants or {}).items()})
        self.weights = Weights.from_named(lambda name, shape: frozen[name], config, self.constants)
        self.shapes = [layer_shapes(config, t) for t in range(config.num_interactions)]
        stored = {k.split(".", 1)[1]: v for k, v in self.constants.items() if k.startswith("radial.")}
        self.radial = RadialBasis(
            config.radial_type,
            config.r_max,
            config.num_bessel,
            config.num_polynomial_cutoff,
            config.apply_cutoff,
            config.distance_transform,
            stored,
        )
        self.zbl = None
        if config.pair_repulsion:
            stored = {k.split(".", 1)[1]: v for k, v in self.constants.items() if k.startswith("zbl.")}
            self.zbl = ZBL(config.num_polynomial_cutoff, **stored)

    # ------------------------------------------------------------------ construction and files

    @classmethod
    def init(cls, config: MACEConfig, seed: int = 0) -> MACE:
        """A random model for teaching: every weight ~ N(0, 1) (product weights / their number of paths, as mace-torch)."""
        rng = np.random.default_rng(seed)
        parameters = {}
        for name, shape in parameter_shapes(config).items():
            w = rng.standard_normal(shape)
            if ".product." in name:  # (n_elements, n_paths, K): mace-torch scales by the number of paths
                w = w / max(shape[1], 1)
            if name.endswith(".alpha"):  # the ResidualNonLinear block's divisor beta rho + alpha: mace-torch's 20, 0
                w = np.asarray(20.0)
            if name.endswith(".beta"):
                w = np.asarray(0.0)
            if name.endswith(".norm_weight"):  # LayerNorm scales near one
                w = 1.0 + 0.1 * w
            parameters[name] = w
        parameters["E0"] = np.array(config.atomic_energies, dtype=np.float64)
        return cls(config, parameters)

    def save(self, path) -> None:
        """Write the model to ``path`` (compressed .npz: one array per parameter and stored constant + JSON metadata;
        never pickle)."""
        metadata = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "macetutor_version": __version__,
            "config": self.config.to_json(),
        }
        arrays = {f"parameters/{name}": value for name, value in self.parameters.items()}
        arrays |= {f"constants/{name}": value for name, value in self.constants.items()}
        with open(path, "wb") as f:
            np.savez_compressed(f, __metadata__=np.array(json.dumps(metadata)), **arrays)

    @classmethod
    def load(cls, path) -> MACE:
        """Read a model written by :meth:`save`; a ValueError that says what the file is when it is not one.

        macetutor never unpickles: a file whose arrays hold Python objects is refused, not loaded.
        """
        from macetutor.interop.files import describe  # (no torch: describe reads bytes only)

        path = Path(path)
        kind = describe(path)
        refusals = {
            "missing": "no such file",
            "directory": "is a directory",
            "text": "is a text file, not a macetutor model (.npz)",
            "binary": "is not a macetutor model (.npz): not a zip archive",
            "pickle": "is a serialised Python object (a mace-torch model?), not a macetutor model: convert a mace-torch "
            "model with `macetutor convert MODEL out.npz`",
            "torch-zip": "is a PyTorch file (a mace-torch model?), not a macetutor model: convert a mace-torch model "
            "with `macetutor convert MODEL out.npz`",
            "torchscript": "is a compiled TorchScript model, not a macetutor model",
            "npz": "is an .npz file not written by macetutor (it has no __metadata__ entry)",
            "truncated-zip": "is a truncated or damaged zip archive (an .npz file cut short?)",
        }
        if kind in refusals:
            raise ValueError(f"{path} {refusals[kind]}")
        try:
            with np.load(path, allow_pickle=False) as data:
                metadata = json.loads(str(data["__metadata__"]))
                parameters = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("parameters/")}
                constants = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("constants/")}
        except ValueError as err:  # numpy refuses object arrays without allow_pickle
            raise ValueError(f"{path} holds Python objects, which macetutor never loads (not written by it)") from err
        except (OSError, zipfile.BadZipFile, EOFError, json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"{path} is truncated or corrupt: {type(err).__name__}: {err}") from err
        if metadata.get("format") != FILE_FORMAT:
            raise ValueError(f"{path}: unknown format {metadata.get('format')!r} (expected {FILE_FORMAT!r})")
        if metadata.get("version") != FILE_VERSION:
            raise ValueError(
                f"{path}: file version {metadata.get('version')} is not supported (this macetutor reads "
                f"version {FILE_VERSION})"
            )
        try:
            return cls(MACEConfig.from_json(metadata["config"]), parameters, constants)
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"{path}: the model does not match its configuration: {err}") from err

    def constants_deviation(self) -> dict[str, float]:
        """For every constant this model stores in place of macetutor's exact value (a float32-built model's rounded
        Bessel frequencies, U tensors, ZBL and Agnesi constants...): max |stored - exact| / max |exact|.

        A stored U may be in another basis of the same space (cuequivariance's reduced basis): its deviation is
        measured after the best linear map from macetutor's exact U (least squares), i.e. it is what is *not* a
        change of basis. An empty dict means the model uses macetutor's exact constants throughout.
        """
        from macetutor.elements import COVALENT_RADII
        from macetutor.pair import ZBL

        cfg, n = self.config, self.config.num_bessel
        exact = {
            "radial.bessel_weights": np.arange(1, n + 1) * np.pi / cfg.r_max,
            "radial.bessel_prefactor": np.sqrt(2.0 / cfg.r_max),
            "radial.gaussian_centres": np.linspace(0.0, cfg.r_max, n),
            "radial.agnesi_q": 0.9183,
            "radial.agnesi_p": 4.5791,
            "radial.agnesi_a": 1.0805,
            "radial.soft_alpha": 4.0,
            "radial.covalent_radii": COVALENT_RADII,
            "zbl.c": ZBL(p=0).c,
            "zbl.a_exp": 0.300,
            "zbl.a_prefactor": 0.4543,
            "zbl.covalent_radii": COVALENT_RADII,
        }
        deviation = {}
        for name, stored in self.constants.items():
            if name in exact:
                reference = np.asarray(exact[name], dtype=np.float64)
                deviation[name] = float(np.max(np.abs(stored - reference)) / np.max(np.abs(reference)))
            elif ".C." in name:  # layer{t}.C.{k}: the coupling of tensor-product path k
                t, k = int(name.split(".")[0][5:]), int(name.split(".")[2])
                s, path = self.shapes[t], self.shapes[t].paths[k]
                reference = clebsch_gordan(s.irreps_edge[path.h_block].l, s.irreps_Y[path.Y_block].l, path.irrep.l)
                deviation[name] = float(np.max(np.abs(stored - reference)) / np.max(np.abs(reference)))
            elif ".U." in name:  # layer{t}.U.{irrep}.nu{nu}
                t, irrep, nu = int(name.split(".")[0][5:]), name.split(".")[2], int(name.split(".")[3][2:])
                s = self.shapes[t]
                U = generalized_clebsch_gordan(s.irreps_A, next(ir for ir in s.irreps_out if str(ir) == irrep), nu)
                ours, theirs = U.reshape(-1, U.shape[-1]), stored.reshape(-1, stored.shape[-1])
                T_map, *_ = np.linalg.lstsq(ours, theirs, rcond=None)
                deviation[name] = float(np.max(np.abs(ours @ T_map - theirs)) / np.max(np.abs(theirs)))
        return deviation

    # ------------------------------------------------------------------ evaluation

    def element_index(self, numbers) -> np.ndarray:
        """The position of each atom's element in ``config.elements`` (a clear error for an unknown element)."""
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

    def head_index(self, head: str | None = None) -> int:
        """The index of the readout head named ``head``, with mace-torch's calculator's default when it is None.

        Rules: a named head must exist (unlike mace-torch's calculator, which falls back to the last head with a
        warning, macetutor refuses an unknown name and lists the heads); with no name, a one-head model uses its
        head, and a multi-head model the head named "default" (any case), else it asks for a name.
        """
        heads = list(self.config.heads)
        if head is not None:
            if head not in heads:
                raise ValueError(f"unknown head {head!r}; this model's heads are {heads}")
            return heads.index(head)
        if len(heads) == 1:
            return 0
        defaults = [k for k, name in enumerate(heads) if name.lower() == "default"]
        if not defaults:
            raise ValueError(f"this model has several heads and none is called 'default': choose one of {heads}")
        return defaults[0]

    def evaluate(
        self,
        positions,
        numbers,
        cell=None,
        pbc=False,
        forces=False,
        stress=False,
        backend="numpy",
        head=None,
        total_charge: float = 0.0,
        total_spin: float = 1.0,
        features: dict | None = None,
    ) -> Evaluation:
        """Energy of a structure, with every intermediate array of the model (see :class:`Evaluation`).

        ``forces=True`` adds F = -dE/dr; ``stress=True`` adds the virial and, for a cell periodic in all three
        directions, the stress; both from the hand-written reverse pass (no automatic differentiation), assembled
        by :func:`macetutor.forces.forces_virial_stress`. ``backend`` is the switch of :mod:`macetutor.backends`:
        "numpy" (the readable specification) or "numba" (compiled kernels; B is not formed). ``head`` names the
        readout head of a multi-head model (:meth:`head_index` gives the default). ``total_charge`` and
        ``total_spin`` (mace-torch's defaults 0 and 1) and any other per-structure ``features`` enter models with
        ``embedding_specs`` (MACE-OMOL); other models ignore them.
        """
        ops = get_backend(backend)
        graph = self.graph(positions, numbers, cell, pbc, head, ops, derivatives=forces or stress)
        h = self.initial_features(graph, {"total_charge": total_charge, "total_spin": total_spin, **(features or {})})
        layers, saved = self.layers_forward(h, graph, ops)  # eqs. (8)-(13), layer by layer
        E_i, E_int = self.site_energies(graph, layers)  # (n_atoms,) each
        result = Evaluation(
            energy=_scalar(np.sum(E_i)),
            interaction_energy=_scalar(np.sum(E_int)),
            node_energies=E_i,
            node_interaction_energies=E_int,
            graph=graph,
            intermediates=layers,
        )
        if forces or stress:
            grad_vectors = self.reverse_pass(np.ones(graph.n_atoms), layers, saved, graph, ops)  # (n_edges, 3)
            F, virial, sigma = forces_virial_stress(grad_vectors, graph, cell, pbc)
            result.forces = F if forces else None
            result.virial, result.stress = (virial, sigma) if stress else (None, None)
        return result

    def layers_forward(self, h: np.ndarray, graph: Graph, backend) -> tuple[list[LayerValues], list]:
        """The interaction layers in order from h^(0): (every layer's :class:`LayerValues`, what their VJPs need)."""
        layers, saved = [], []
        for w, s in zip(self.weights.layers, self.shapes, strict=True):
            values, values_saved = interaction_layer(h, graph, w, s, self.config, backend)  # eqs. (8)-(13)
            layers.append(values)
            saved.append(values_saved)
            h = values.h
        return layers, saved

    def graph(self, positions, numbers, cell, pbc, head, backend, derivatives: bool) -> Graph:
        """The checked input as a :class:`macetutor.graph.Graph`: element indices, the head of every atom, edges."""
        positions = np.asarray(positions)
        positions = positions if np.iscomplexobj(positions) else positions.astype(np.float64)  # (complex step)
        z = self.element_index(numbers)
        if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) != len(z):
            raise ValueError(f"positions must have shape (n_atoms, 3) = ({len(z)}, 3), got {positions.shape}")
        head = np.full(len(z), self.head_index(head))  # (n_atoms,)
        numbers = np.asarray(self.config.elements)[z]  # (n_atoms,)
        return build_graph(
            positions, z, numbers, head, cell, pbc, self.config.max_ell, self.radial, backend, derivatives
        )

    def initial_features(self, graph: Graph, features: dict) -> np.ndarray:
        """h^(0) = W z_i / sqrt(n_elements) (eq. 9), plus the embedding of per-structure features (charge, spin) for
        models with ``embedding_specs``. (n_atoms, K, 1)"""
        h = node_embedding(graph.element_index, self.weights.embedding)  # (n_atoms, K, 1)
        specs = self.config.embedding_specs
        if not specs:
            return h
        missing = sorted(set(specs) - set(features))
        if missing:
            raise ValueError(f"this model needs the per-structure features {missing} (pass features={{...}})")
        joint = joint_embedding(features, specs, self.weights.joint, self.weights.joint_project)  # (K,)
        return h + joint[:, None]  # the same for every atom of the structure

    def site_energies(self, graph: Graph, layers: list[LayerValues]) -> tuple[np.ndarray, np.ndarray]:
        """E_i = E0_{z_i} + scale (V_i + sum_t E_i^(t)) + shift, with each atom's head's E0, scale and shift."""
        z, head = graph.element_index, graph.head
        scale, shift = self._per_atom(self.config.scale, head), self._per_atom(self.config.shift, head)  # (n_atoms,)
        E0 = self.weights.E0[z] if self.weights.E0.ndim == 1 else self.weights.E0[head, z]  # (n_atoms,)
        return site_energies(E0, [v.node_energy for v in layers], self.pair_energies(graph)[0], scale, shift)

    @staticmethod
    def _per_atom(value, head: np.ndarray) -> np.ndarray:
        """A per-head constant (one value, or one per head) for every atom. (n_atoms,)"""
        value = np.atleast_1d(np.asarray(value, dtype=np.float64))
        return value[head] if len(value) > 1 else np.full(len(head), value[0])

    def pair_energies(self, graph: Graph) -> tuple[np.ndarray, np.ndarray | None]:
        """The ZBL energy V_i of every atom (zeros without pair repulsion) and dV_e/dr_e of every edge (or None)."""
        if self.zbl is None or len(graph.lengths) == 0:
            return np.zeros(graph.n_atoms), None
        V_e, dV_e = zbl_edge_energies(
            graph.lengths, graph.numbers[graph.senders], graph.numbers[graph.receivers], self.zbl
        )
        return segment_sum(V_e, graph.receivers, graph.n_atoms), dV_e

    def reverse_pass(
        self, grad_E_int, layers: list[LayerValues], saved: list, graph: Graph, backend, weights: bool = False, h0=None
    ):
        """dE/dv_e (n_edges, 3) for every edge vector, by the layers' hand-written VJPs, from the last layer down.

        ``grad_E_int`` (n_atoms,) is the adjoint of the interaction energy of each atom (ones for the forces of
        E = sum_i E_i). Each layer's E^(t) and the pair energy enter E_i^int with the factor ``scale``; the adjoint of
        h^(t+1) collects the readout of layer t and the uses of h^(t+1) in layer t+1; the adjoints of Y and of the
        radial features collect every layer, and finally turn into dE/dv_e (:func:`macetutor.graph.edge_features_vjp`).

        ``weights=True`` (training) also returns the gradient of sum_i grad_E_int_i E_i with respect to every learnable
        weight, as a :class:`macetutor.parameters.Weights` of gradients (E0's is the adjoint summed per element; the
        embedding of per-structure features needs their values: pass ``h0`` = (features,) for such models).
        """
        grad_Y, grad_radial = np.zeros_like(graph.Y), np.zeros_like(graph.radial_basis)
        grad_envelope = None if graph.envelope is None else np.zeros_like(graph.envelope)
        grad_h = np.zeros_like(layers[-1].h)  # dE/dh^(T): nothing reads the last layer's features but its readout
        grad_E_t = self._per_atom(self.config.scale, graph.head) * grad_E_int  # dE/dE_i^(t), the same for every t
        layer_grads = [None] * self.config.num_interactions
        for t in reversed(range(self.config.num_interactions)):
            grad_h, grad_Y_t, grad_radial_t, grad_envelope_t, *grads_t = interaction_layer_vjp(
                grad_E_t,
                grad_h,
                layers[t],
                saved[t],
                graph,
                self.weights.layers[t],
                self.shapes[t],
                self.config,
                backend,
                weights=weights,
            )
            grad_Y += grad_Y_t
            grad_radial += grad_radial_t
            if grad_envelope_t is not None:
                grad_envelope += grad_envelope_t
            if weights:
                layer_grads[t] = grads_t[0]
        _, dV_e = self.pair_energies(graph)  # V_i = sum_{e into i} V_e
        grad_lengths = None if dV_e is None else grad_E_t[graph.receivers] * dV_e  # (n_edges,)
        grad_vectors = None  # (a graph built without derivatives serves the weights' gradients only)
        if graph.dY is not None:
            grad_vectors = edge_features_vjp(grad_Y, grad_radial, graph, grad_envelope, grad_lengths)
        if not weights:
            return grad_vectors
        return grad_vectors, self._initial_weight_grads(grad_h, grad_E_int, graph, layer_grads, h0)

    def _initial_weight_grads(self, grad_h0, grad_E_i, graph: Graph, layer_grads: list, features) -> Weights:
        """The gradients of the weights before the first layer (embeddings, E0), with the layers' gradients."""
        w, z = self.weights, graph.element_index
        grad_E0 = np.zeros(w.E0.shape, dtype=grad_E_i.dtype)  # E_i = E0_{z_i} (+ per head) + E_i^int
        np.add.at(grad_E0, z if w.E0.ndim == 1 else (graph.head, z), grad_E_i)
        joint = {}
        joint_project = None
        if self.config.embedding_specs:
            joint, joint_project = joint_embedding_weight_grads(
                np.sum(grad_h0[:, :, 0], axis=0), features, self.config.embedding_specs, w.joint, w.joint_project
            )
        return Weights(
            embedding=node_embedding_weight_grads(grad_h0, z, w.embedding),
            joint=joint,
            joint_project=joint_project,
            E0=grad_E0,
            layers=tuple(layer_grads),
        )


def _scalar(value):
    """A Python float, or a complex for complex positions (the complex step of macetutor.training)."""
    return complex(value) if np.iscomplexobj(value) else float(value)


def _read_only(value) -> np.ndarray:
    value = np.array(value, dtype=np.float64)
    value.setflags(write=False)
    return value
