"""Training MACE: mace-torch's loss and its exact gradient with respect to every parameter, derived by hand.

The loss (mace-torch's ``WeightedEnergyForcesLoss`` / ``WeightedEnergyForcesStressLoss`` / the virials variant) over
structures s = 1..S with N_s atoms, per-structure weights w_s and loss weights lambda:

    L_E = 1/S            sum_s w_s ((E_s - E^_s) / N_s)^2                       energy per atom
    L_F = 1/(3 sum N_s)  sum_s w_s sum_{i in s, x} (F_ix - F^_ix)^2              forces
    L_S = 1/(9 S)        sum_s w_s sum_{xy} (sigma_s,xy - sigma^_s,xy)^2          stress
    L_V = 1/(9 S)        sum_s w_s sum_{xy} ((W_s,xy - W^_s,xy) / N_s)^2          virials
    L   = lambda_E L_E + lambda_F L_F + lambda_S L_S + lambda_V L_V

The gradient (docs/training.md derives it). Write c_s = dL/dE_s, g_i = dL/dF_i and G_s = dL/dsigma_s, G^W_s = dL/dW_s.
Since F = -dE/dr and sigma = (1/V) dE/d(strain), W = -dE/d(strain),

    dL/dtheta = sum_s [ c_s dE_s/dtheta + d/dtheta D_{delta_s} E_s ],
    delta_s = (positions: -g_i + r_i eps_s, cell: cell eps_s),   eps_s = G_s / V_s - G^W_s,

where D_delta E is the derivative of E along the displacement delta: the force and stress terms are the parameter
gradient of a *directional derivative* of the energy, the mixed second derivative d^2E / dtheta dr. macetutor takes
it by the complex step, through the hand-written reverse pass (macetutor.model.MACE.reverse_pass, weights=True):
with r -> r + i h delta and the energy cotangent 1 + i h c_s,

    Im[ sum_s (1 + i h c_s) dE_s(r + i h delta)/dtheta ] / h = sum_s [c_s dE_s/dtheta + d/dtheta D_delta E_s] + O(h^2),

exact to round-off for h = 1e-20 (no subtraction, so no cancellation; the O(h^2) term is 1e-40 relative). Every
function on the path is analytic (no |x|, no conjugate, no comparison of values except on real parts), so the
complex step is the exact derivative. The parameters stay real.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from macetutor.backends import complex_step_backend, get_backend
from macetutor.graph import concatenate_graphs, segment_sum

__all__ = [
    "Structure",
    "read_structures",
    "structure_from_atoms",
    "LOSS_TERMS",
    "Prediction",
    "predict",
    "predictions",
    "loss",
    "loss_and_gradient",
    "batch_gradient",
]

LOSS_TERMS = ("energy", "forces", "stress", "virials")
COMPLEX_STEP = 1e-20  # h of the complex step


@dataclass
class Structure:
    """One labelled structure. Positions in Å, energy in eV (the total energy, E0 included, as mace-torch trains),
    forces eV/Å (n_atoms, 3), stress eV/Å^3 (3, 3) or Voigt (6,) in ASE's sign, virials eV (3, 3); ``weight`` is
    mace-torch's per-configuration weight; ``head`` the readout head (multi-head models); ``features`` per-structure
    inputs such as total_charge and total_spin for models that embed them."""

    positions: np.ndarray
    numbers: np.ndarray
    cell: np.ndarray | None = None
    pbc: bool | tuple = False
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    weight: float = 1.0
    head: str | None = None
    virials: np.ndarray | None = None
    features: dict = field(default_factory=dict)

    def __post_init__(self):
        self.positions = np.array(self.positions, dtype=np.float64)
        self.numbers = np.array(self.numbers)
        n = len(self.numbers)
        if self.numbers.ndim != 1 or self.numbers.dtype.kind not in "iu":
            raise ValueError(f"numbers must be a 1-d array of atomic numbers, got {self.numbers!r}")
        if self.positions.shape != (n, 3):
            raise ValueError(f"positions must have shape (n_atoms, 3) = ({n}, 3), got {self.positions.shape}")
        if n == 0:
            raise ValueError("a structure needs at least one atom")
        if self.cell is not None:
            self.cell = np.array(self.cell, dtype=np.float64)
            if self.cell.shape != (3, 3):
                raise ValueError(f"cell must have shape (3, 3), got {self.cell.shape}")
        if self.energy is not None:
            self.energy = float(self.energy)
        if self.forces is not None:
            self.forces = np.array(self.forces, dtype=np.float64)
            if self.forces.shape != (n, 3):
                raise ValueError(f"forces must have shape ({n}, 3), got {self.forces.shape}")
        if self.stress is not None:
            self.stress = _full_3x3(np.array(self.stress, dtype=np.float64), "stress")
        if self.virials is not None:
            self.virials = _full_3x3(np.array(self.virials, dtype=np.float64), "virials")
        self.weight = float(self.weight)
        for name in ("positions", "energy", "forces", "stress", "virials", "weight", "cell"):
            value = getattr(self, name)
            if value is not None and not np.all(np.isfinite(value)):
                raise ValueError(f"{name} contains NaN or infinite values")
        if self.weight < 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")

    @property
    def n_atoms(self) -> int:
        return len(self.numbers)

    @property
    def volume(self) -> float | None:
        """|det cell| for a cell periodic in all three directions, else None."""
        if self.cell is None or not np.all(np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,))):
            return None
        return float(abs(np.linalg.det(self.cell)))


def _full_3x3(value: np.ndarray, name: str) -> np.ndarray:
    """A 3x3 tensor from (3, 3), (9,) or Voigt (6,) = (xx, yy, zz, yz, xz, xy)."""
    if value.shape == (6,):
        xx, yy, zz, yz, xz, xy = value
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    if value.shape in ((3, 3), (9,)):
        return value.reshape(3, 3)
    raise ValueError(f"{name} must have shape (3, 3), (9,) or Voigt (6,), got {value.shape}")


def structure_from_atoms(
    atoms,
    energy_key: str = "REF_energy",
    forces_key: str = "REF_forces",
    stress_key: str = "REF_stress",
    virials_key: str = "REF_virials",
    weight_key: str = "config_weight",
    head_key: str = "head",
) -> Structure:
    """One ASE ``Atoms`` as a :class:`Structure`, its labels read from ``atoms.info`` / ``atoms.arrays`` under
    mace-torch's key names (a missing label is None: the loss refuses it if its weight asks for that label)."""
    info, arrays = atoms.info, atoms.arrays
    periodic = bool(np.any(atoms.pbc))
    return Structure(
        positions=atoms.get_positions(),
        numbers=atoms.get_atomic_numbers(),
        cell=np.array(atoms.get_cell()) if periodic else None,
        pbc=tuple(bool(p) for p in atoms.pbc) if periodic else False,
        energy=info.get(energy_key),
        forces=arrays.get(forces_key),
        stress=info.get(stress_key),
        virials=info.get(virials_key),
        weight=info.get(weight_key, 1.0),
        head=info.get(head_key),
    )


def read_structures(path, index=":", **keys) -> list[Structure]:
    """Structures from any file ASE reads (extended XYZ above all), with mace-torch's key names as defaults
    (``energy_key``, ``forces_key``, ``stress_key``, ``virials_key``, ``weight_key``, ``head_key``: see
    :func:`structure_from_atoms`). Needs ASE (the ``verify`` extra)."""
    try:
        import ase.io
    except ImportError as err:
        raise ImportError("read_structures needs ASE: pip install ase (or the 'verify' extra)") from err
    structures = [structure_from_atoms(atoms, **keys) for atoms in ase.io.read(path, index=index)]
    if not structures:
        raise ValueError(f"{path} holds no structures")
    return structures


@dataclass
class Prediction:
    """The model's energy, forces, stress and virials for one structure (what the loss compares with the labels)."""

    energy: float
    forces: np.ndarray | None
    stress: np.ndarray | None
    virials: np.ndarray | None


def _check(model, structures, weights: Mapping) -> dict:
    """Loss weights as {term: float}; a clear error for an unknown term, an empty set, or a missing label."""
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a mapping such as {{'energy': 1.0, 'forces': 100.0}}, got {weights!r}")
    unknown = set(weights) - set(LOSS_TERMS)
    if unknown:
        raise ValueError(f"unknown loss term(s) {sorted(unknown)}; the terms are {list(LOSS_TERMS)}")
    lam = {term: float(weights.get(term, 0.0)) for term in LOSS_TERMS}
    structures = list(structures)
    if not structures:
        raise ValueError("the training set is empty: give at least one Structure")
    for k, s in enumerate(structures):
        if not isinstance(s, Structure):
            raise TypeError(f"structure {k} is a {type(s).__name__}, not a macetutor.training.Structure")
        model.element_index(s.numbers)  # unknown elements: a clear error before anything is computed
        for term in LOSS_TERMS:
            if lam[term] != 0.0 and getattr(s, term) is None:
                raise ValueError(f"structure {k} has no {term} label, but the loss weights it ({term}={lam[term]})")
        if s.volume is None and lam["stress"] != 0.0:
            raise ValueError(f"structure {k} is not periodic in 3-D: it has no stress, but the loss weights stress")
    return lam


def predict(model, structure: Structure, forces=True, stress=False, backend="numpy") -> Prediction:
    """Energy (and forces, stress, virials) of one structure, as the loss sees it."""
    s = structure
    result = model.evaluate(
        s.positions,
        s.numbers,
        s.cell,
        s.pbc,
        forces=forces,
        stress=stress,
        backend=backend,
        head=s.head,
        **_feature_arguments(s),
    )
    return Prediction(result.energy, result.forces, result.stress, result.virial)


def _feature_arguments(s: Structure) -> dict:
    features = dict(s.features)
    charge, spin = features.pop("total_charge", 0.0), features.pop("total_spin", 1.0)
    return {"total_charge": charge, "total_spin": spin, "features": features}


def _loss_terms(structures, predictions, lam: dict):
    """L and its cotangents: c_s = dL/dE_s, g_s = dL/dF_s (n_s, 3), eps_s: the strain direction of the stress and
    virials terms (G_s / V_s - G^W_s)."""
    S = len(structures)
    n_total = sum(s.n_atoms for s in structures)
    L, cotangents = 0.0, []
    for s, p in zip(structures, predictions, strict=True):
        c, g, eps = 0.0, np.zeros((s.n_atoms, 3)), np.zeros((3, 3))
        if lam["energy"]:
            e = (p.energy - s.energy) / s.n_atoms
            L += lam["energy"] * s.weight * e * e / S
            c = lam["energy"] * s.weight * 2.0 * e / s.n_atoms / S
        if lam["forces"]:
            d = p.forces - s.forces  # (n_s, 3)
            L += lam["forces"] * s.weight * np.sum(d * d) / (3 * n_total)
            g = lam["forces"] * s.weight * 2.0 * d / (3 * n_total)
        if lam["stress"]:
            d = p.stress - s.stress  # (3, 3)
            L += lam["stress"] * s.weight * np.sum(d * d) / (9 * S)
            eps = eps + lam["stress"] * s.weight * 2.0 * d / (9 * S) / s.volume  # sigma = (1/V) dE/d(strain)
        if lam["virials"]:
            d = (p.virials - s.virials) / s.n_atoms  # (3, 3)
            L += lam["virials"] * s.weight * np.sum(d * d) / (9 * S)
            eps = eps - lam["virials"] * s.weight * 2.0 * d / s.n_atoms / (9 * S)  # W = -dE/d(strain)
        cotangents.append((c, g, eps))
    return float(L), cotangents


def _groups(model, structures) -> list[list[int]]:
    """Structures evaluated together as one disjoint graph: all of them, or one by one for a model that embeds
    per-structure features (charge, spin), whose initial features differ per structure."""
    if model.config.embedding_specs:
        return [[k] for k in range(len(structures))]
    return [list(range(len(structures)))]


def _features(s: Structure) -> dict:
    args = _feature_arguments(s)
    return {"total_charge": args["total_charge"], "total_spin": args["total_spin"], **args["features"]}


def _forward(model, structures, positions, cells, ops, derivatives: bool):
    """One forward pass over ``structures`` (a group of :func:`_groups`) as one disjoint graph, at ``positions`` and
    ``cells`` (real, or complex for the complex step). Returns (graph, atom -> structure, edge -> structure, layers,
    saved, E_i (n_atoms,))."""
    graphs = [
        model.graph(x, s.numbers, cell, s.pbc, s.head, ops, derivatives)
        for s, x, cell in zip(structures, positions, cells, strict=True)
    ]
    graph, atom_structure, edge_structure = concatenate_graphs(graphs)
    hidden = model.initial_features(graph, _features(structures[0]))  # (one structure per group when features matter)
    layers, saved = model.layers_forward(hidden, graph, ops)  # eqs. (8)-(13)
    E_i, _ = model.site_energies(graph, layers)  # (n_atoms,)
    return graph, atom_structure, edge_structure, layers, saved, E_i


def predictions(model, structures, forces=True, stress=False, backend="numpy") -> list[Prediction]:
    """:class:`Prediction` of every structure, evaluated as one disjoint graph (mace-torch's batch): energies, and
    forces, virials and stress from one reverse pass (the edges' dE/dv, summed per atom and per structure)."""
    ops = get_backend(backend)
    out = [None] * len(structures)
    for group in _groups(model, structures):
        batch = [structures[k] for k in group]
        graph, atom_s, edge_s, layers, saved, E_i = _forward(
            model, batch, [s.positions for s in batch], [s.cell for s in batch], ops, forces or stress
        )
        E = segment_sum(E_i, atom_s, len(batch))  # (n_structures,)
        F = virial = None
        if forces or stress:
            g = model.reverse_pass(np.ones(graph.n_atoms), layers, saved, graph, ops)  # (n_edges, 3): dE/dv_e
            F = segment_sum(-g, graph.receivers, graph.n_atoms) + segment_sum(g, graph.senders, graph.n_atoms)
            virial = -segment_sum(g[:, :, None] * graph.vectors[:, None, :], edge_s, len(batch))  # (S, 3, 3)
            virial = 0.5 * (virial + np.swapaxes(virial, 1, 2))
        bounds = np.cumsum([0] + [s.n_atoms for s in batch])
        for b, (k, s) in enumerate(zip(group, batch, strict=True)):
            volume = s.volume
            out[k] = Prediction(
                float(E[b]),
                None if F is None else F[bounds[b] : bounds[b + 1]],
                None if virial is None or volume is None else -virial[b] / volume,
                None if virial is None else virial[b],
            )
    return out


def loss(model, structures, weights: Mapping, backend="numpy") -> float:
    """mace-torch's weighted energy / forces / stress / virials loss of ``model`` on ``structures`` (module
    docstring); ``weights`` = {"energy": lambda_E, "forces": lambda_F, "stress": lambda_S, "virials": lambda_V}."""
    structures = list(structures)
    lam = _check(model, structures, weights)
    needs_forces = lam["forces"] != 0.0
    needs_stress = lam["stress"] != 0.0 or lam["virials"] != 0.0
    return _loss_terms(structures, predictions(model, structures, needs_forces, needs_stress, backend), lam)[0]


def loss_and_gradient(model, structures, weights: Mapping, backend="numpy") -> tuple[float, dict]:
    """(L, dL/dtheta): the loss of :func:`loss` and its exact gradient with respect to every parameter, as a dict
    with the names and shapes of ``model.parameters``. First a real pass (E, F, stress: the loss and its cotangents),
    then one complex-step pass through the hand-written reverse pass (module docstring), both over the structures
    as one disjoint graph."""
    structures = list(structures)
    lam = _check(model, structures, weights)
    needs_forces = lam["forces"] != 0.0
    needs_stress = lam["stress"] != 0.0 or lam["virials"] != 0.0
    L, cotangents = _loss_terms(structures, predictions(model, structures, needs_forces, needs_stress, backend), lam)
    gradient = {name: np.zeros_like(value) for name, value in model.parameters.items()}
    for group in _groups(model, structures):
        for name, value in batch_gradient(
            model, [structures[k] for k in group], [cotangents[k] for k in group], backend=backend
        ).items():
            gradient[name] += value
    return L, gradient


def batch_gradient(model, structures, cotangents, h: float = COMPLEX_STEP, backend="numpy") -> dict:
    """sum_s d/dtheta [c_s E_s + D_delta_s E_s] with delta_s = (-g_s + r eps_s, cell eps_s), for cotangents
    (c_s, g_s, eps_s): one complex-step pass over the structures as one disjoint graph (module docstring).
    Returns {name: gradient} for every parameter."""
    ops = complex_step_backend(backend)
    positions = [
        s.positions + 1j * h * (-g + s.positions @ eps) for s, (_, g, eps) in zip(structures, cotangents, strict=True)
    ]
    cells = [
        None if s.cell is None else s.cell + 1j * h * (s.cell @ eps)
        for s, (_, _, eps) in zip(structures, cotangents, strict=True)
    ]
    graph, atom_structure, _, layers, saved, _ = _forward(model, structures, positions, cells, ops, derivatives=False)
    c = np.array([cotangent[0] for cotangent in cotangents])  # (n_structures,)
    cotangent = 1.0 + 1j * h * c[atom_structure]  # (n_atoms,): dPsi/dE_i, c_s of the atom's structure
    _, grads = model.reverse_pass(cotangent, layers, saved, graph, ops, weights=True, h0=_features(structures[0]))
    return {name: np.imag(value) / h for name, value in grads.named().items()}
