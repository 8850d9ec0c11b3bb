"""Import a mace-torch model (0.3.x, e3nn backend) into macetutor: the same function, from the same stored numbers.

mace-torch computes with e3nn's ``wigner_3j`` and with U tensors built from them; macetutor uses its own
Clebsch-Gordan coefficients (sympy, Condon-Shortley) and its own U tensors. They span the same spaces. The
importer *computes* the map between them and moves it into the weights:

* edge tensor product: macetutor's C(l1, l2, l3) = s sqrt(2 l3 + 1) W3j(l1, l2, l3) with s = +-1, so the
  radial weights of that path are multiplied by s (the last layer of the radial MLP);
* product basis: U_torch = U_ours T per (layer, irrep, nu), T found by least squares -- a general linear map
  (a signed identity for mace-torch's e3nn basis, a rectangular matrix for cuequivariance's reduced basis);
  W_ours = T W_torch.

A model is the function its *stored* buffers define: where a stored constant is not macetutor's exact value to
round-off (a model built in float32 keeps float32-rounded U tensors, Bessel frequencies, ZBL and Agnesi
constants even after ``.double()``), the stored value is kept as a constant of the imported model
(``MACE.constants``) and ``MACE.constants_deviation()`` says by how much it differs from the exact one.

Nothing is taken from mace-torch's forward pass. Needs the ``verify`` extra (torch, mace-torch).
"""

from __future__ import annotations

import numpy as np

from macetutor.cg import clebsch_gordan, generalized_clebsch_gordan
from macetutor.config import INTERACTION_BLOCKS
from macetutor.irreps import Irrep, irreps_string
from macetutor.model import MACE, MACEConfig, layer_shapes

__all__ = [
    "from_mace_torch",
    "unsupported_features",
    "evaluate_mace_torch",
    "random_mace_torch_model",
    "UnsupportedModelError",
]

# A stored constant within this relative distance of macetutor's exact value is taken as that value (round-off of
# a float64 build); further away (float32 rounding is ~1e-8) the stored value is kept.
EXACT_RTOL = 1e-13
_RADIAL_BASES = {"BesselBasis": "bessel", "GaussianBasis": "gaussian", "ChebychevBasis": "chebyshev"}
_TRANSFORMS = {"AgnesiTransform": "Agnesi", "SoftTransform": "Soft"}


class UnsupportedModelError(ValueError):
    """The mace-torch model uses features macetutor does not implement (the message names all of them)."""


def _np(tensor) -> np.ndarray:
    return tensor.detach().cpu().to(dtype=__import__("torch").float64).numpy()


def _irreps(e3nn_irreps) -> list:
    return [Irrep(ir.l, ir.p) for _, ir in e3nn_irreps]


def _linear_blocks(linear) -> list[np.ndarray]:
    """Split an e3nn o3.Linear's flat weight into its (mul_in, mul_out) blocks, in instruction order."""
    w, blocks, start = _np(linear.weight), [], 0
    for ins in linear.instructions:
        size = int(np.prod(ins.path_shape))
        blocks.append(w[start : start + size].reshape(ins.path_shape))
        start += size
    return blocks


def unsupported_features(model) -> list[str]:
    """Every feature of a mace-torch model that macetutor does not implement (empty if it can be imported)."""
    problems = []
    name = type(model).__name__
    if name not in ("MACE", "ScaleShiftMACE"):
        problems.append(f"model class {name} (macetutor imports MACE and ScaleShiftMACE)")
    for t, interaction in enumerate(getattr(model, "interactions", [])):
        block = type(interaction).__name__
        if block not in INTERACTION_BLOCKS:
            problems.append(f"interaction block {block} (layer {t})")
        if getattr(getattr(interaction, "cueq_config", None), "enabled", False):
            problems.append("cuequivariance layout (convert back to e3nn first with mace's mace_cueq_to_e3nn)")
        if getattr(getattr(interaction, "oeq_config", None), "enabled", False):
            problems.append("openequivariance (OEQ) kernels")
    radial = getattr(model, "radial_embedding", None)
    if radial is not None and type(radial.bessel_fn).__name__ not in _RADIAL_BASES:
        problems.append(f"radial basis {type(radial.bessel_fn).__name__}")
    transform = getattr(radial, "distance_transform", None)
    if transform is not None and type(transform).__name__ not in _TRANSFORMS:
        problems.append(f"distance transform {type(transform).__name__}")
    for flag in ("use_last_readout_only", "use_embedding_readout", "keep_last_layer_irreps", "use_so3"):
        if getattr(model, flag, False):
            problems.append(f"the option {flag}")
    sh = getattr(model, "spherical_harmonics", None)
    if sh is not None and any(ir.p != (-1) ** ir.l for _, ir in sh.irreps_out):
        problems.append("use_so3 (harmonics without parity)")
    readouts = list(getattr(model, "readouts", []))
    for k, readout in enumerate(readouts):
        kind = type(readout).__name__
        expected = "NonLinearReadoutBlock" if (k == len(readouts) - 1 and len(readouts) > 1) else "LinearReadoutBlock"
        if kind != expected:
            problems.append(f"readout {kind} (layer {k})")
    return list(dict.fromkeys(problems))


def from_mace_torch(model) -> MACE:
    """The macetutor model that computes the same function as the mace-torch ``model`` (MACE or ScaleShiftMACE).

    Raises:
        UnsupportedModelError naming every feature macetutor does not implement (see :func:`unsupported_features`).
    """
    import mace  # noqa: F401  (sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD before e3nn loads its constants)

    problems = unsupported_features(model)
    if problems:
        raise UnsupportedModelError("macetutor does not implement: " + "; ".join(problems))
    config = _config(model)
    n_el, K = len(config.elements), config.channels
    P = {"embedding": _np(model.node_embedding.linear.weight).reshape(n_el, K)} | _joint_embedding_parameters(model)
    P["E0"] = np.array(config.atomic_energies)
    constants = _radial_constants(model, config) | _zbl_constants(model)
    for t in range(config.num_interactions):
        layer, layer_constants = _layer_parameters(model, t, layer_shapes(config, t), config)
        P |= layer
        constants |= layer_constants
    return MACE(config, P, constants)


def _joint_embedding_parameters(model) -> dict:
    """The per-structure feature embeddings (``embedding_specs``: a table per categorical feature, a
    Linear-SiLU-Linear per continuous one) and their projection, as named arrays ``embedding.*``."""
    if not hasattr(model, "joint_embedding"):
        return {}
    joint, P = model.joint_embedding, {}
    for name, spec in model.embedding_specs.items():
        embedder = joint.embedders[name]
        if spec["type"] == "categorical":
            P[f"embedding.{name}"] = _np(embedder.weight)  # (num_classes, d)
        else:
            first, second = embedder[0], embedder[2]
            P[f"embedding.{name}.0"], P[f"embedding.{name}.1"] = _np(first.weight).T, _np(second.weight).T
            if first.bias is not None:
                P[f"embedding.{name}.0.bias"], P[f"embedding.{name}.1.bias"] = _np(first.bias), _np(second.bias)
    P["embedding.project"] = _np(joint.project[0].weight).T  # (sum of d, K)
    return P


def _per_head(value) -> float | tuple:
    value = np.atleast_1d(value).astype(float)
    return float(value[0]) if len(value) == 1 else tuple(float(v) for v in value)


def _config(model) -> MACEConfig:
    """The :class:`MACEConfig` of a mace-torch model (irreps, blocks, radial basis, heads, E0, scale and shift...)."""
    T = len(model.interactions)
    hidden = model.interactions[1].node_feats_irreps if T > 1 else model.products[0].linear.irreps_out
    muls = {mul for mul, _ in hidden}
    if len(muls) != 1:
        raise UnsupportedModelError(f"hidden irreps {hidden} do not have equal multiplicities")
    avg = {float(interaction.avg_num_neighbors) for interaction in model.interactions}
    if len(avg) != 1:
        raise UnsupportedModelError(f"layers with different avg_num_neighbors {sorted(avg)} are not supported")
    radial_net = model.interactions[0].conv_tp_weights
    nonlinear = getattr(model.interactions[0], "equivariant_nonlin", None)
    if (
        nonlinear is not None
    ):  # the ResidualNonLinear block: torch's SiLU in the radial MLP, e3nn's constants in the gate
        silu_constant, gate_constant = float(nonlinear._scalar_cst), float(nonlinear._gate_cst)
    else:
        radial_act = next(layer.act for layer in radial_net.children() if getattr(layer, "act", None) is not None)
        silu_constant, gate_constant = float(radial_act.cst), MACEConfig.gate_activation_constant
    heads = tuple(getattr(model, "heads", None) or ["Default"])
    E0 = _np(model.atomic_energies_fn.atomic_energies)
    E0 = E0.reshape(-1) if len(heads) == 1 else E0.reshape(len(heads), -1)
    scale, shift = 1.0, 0.0
    if hasattr(model, "scale_shift"):
        scale, shift = _per_head(_np(model.scale_shift.scale)), _per_head(_np(model.scale_shift.shift))
    embedding = model.radial_embedding
    edge_irreps = getattr(model, "edge_irreps", None)
    return MACEConfig(
        elements=tuple(int(z) for z in model.atomic_numbers.tolist()),
        hidden_irreps=irreps_string(muls.pop(), _irreps(hidden)),
        max_ell=int(model.spherical_harmonics.irreps_out.lmax),
        correlation=tuple(int(p.symmetric_contractions.contractions[0].correlation) for p in model.products),
        r_max=float(model.r_max),
        num_bessel=int(embedding.out_dim),
        num_polynomial_cutoff=int(embedding.cutoff_fn.p),
        radial_mlp=tuple(int(h) for h in radial_net.hs[1:-1]),
        mlp_width=int(model.readouts[-1].linear_1.irreps_out.dim) // len(heads) if T > 1 else 16,
        avg_num_neighbors=avg.pop(),
        atomic_energies=tuple(E0) if E0.ndim == 1 else tuple(tuple(row) for row in E0),
        scale=scale,
        shift=shift,
        radial_activation_constant=silu_constant,
        readout_activation_constant=float(model.readouts[-1].non_linearity.acts[0].cst) if T > 1 else 1.0,
        interaction_first=type(model.interactions[0]).__name__,
        interaction=type(model.interactions[1]).__name__ if T > 1 else "RealAgnosticResidualInteractionBlock",
        radial_type=_RADIAL_BASES[type(embedding.bessel_fn).__name__],
        distance_transform=_TRANSFORMS.get(type(getattr(embedding, "distance_transform", None)).__name__),
        apply_cutoff=bool(getattr(embedding, "apply_cutoff", True)),
        pair_repulsion=hasattr(model, "pair_repulsion_fn"),
        edge_irreps=None if edge_irreps is None else str(edge_irreps).replace(" ", ""),
        use_edge_irreps_first=_uses_edge_irreps_first(model, edge_irreps),
        use_agnostic_product=bool(getattr(model, "use_agnostic_product", False)),
        heads=heads,
        embedding_specs=_json(getattr(model, "embedding_specs", None)),
        gate_activation_constant=gate_constant,
    )


def _uses_edge_irreps_first(model, edge_irreps) -> bool:
    """mace-torch's ``use_edge_irreps_first``; pickles older than the option lack the attribute: then read it off the
    first layer, whose h~ has edge_irreps' scalar channels only when the option was on."""
    stored = getattr(model, "use_edge_irreps_first", None)
    if stored is not None or edge_irreps is None:
        return bool(stored)
    first = model.interactions[0].linear_up.irreps_out
    return (
        str(first).replace(" ", "")
        == f"{edge_irreps.count((0, 1))}x0e"
        != str(model.interactions[0].node_feats_irreps).replace(" ", "")
    )


def _json(specs):
    """``embedding_specs`` with plain Python values (a model file stores the configuration as JSON)."""
    if not specs:
        return None
    return {
        name: {key: (value.item() if hasattr(value, "item") else value) for key, value in spec.items()}
        for name, spec in specs.items()
    }


def _stored(name: str, value, exact) -> dict:
    """{name: value} if the stored ``value`` is not ``exact`` to round-off (then macetutor keeps it), else {}."""
    value, exact = np.asarray(value, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if value.shape == exact.shape and np.max(np.abs(value - exact), initial=0.0) <= EXACT_RTOL * max(
        np.max(np.abs(exact), initial=0.0), 1e-300
    ):
        return {}
    return {name: value}


def _radial_constants(model, config: MACEConfig) -> dict:
    """The radial basis' and distance transform's stored constants that differ from macetutor's exact values."""
    from macetutor.elements import COVALENT_RADII

    embedding, out = model.radial_embedding, {}
    basis = embedding.bessel_fn
    n, r_max = config.num_bessel, config.r_max
    if config.radial_type == "bessel":
        out |= _stored("radial.bessel_weights", _np(basis.bessel_weights), np.arange(1, n + 1) * np.pi / r_max)
        out |= _stored("radial.bessel_prefactor", _np(basis.prefactor), np.sqrt(2.0 / r_max))
    elif config.radial_type == "gaussian":
        out |= _stored("radial.gaussian_centres", _np(basis.gaussian_weights), np.linspace(0.0, r_max, n))
    transform = getattr(embedding, "distance_transform", None)
    if config.distance_transform == "Agnesi":
        for key, exact in (("q", 0.9183), ("p", 4.5791), ("a", 1.0805)):
            out |= _stored(f"radial.agnesi_{key}", _np(getattr(transform, key)), exact)
    if config.distance_transform == "Soft":
        out |= _stored("radial.soft_alpha", _np(transform.alpha), 4.0)
    if transform is not None:
        out |= _stored("radial.covalent_radii", _np(transform.covalent_radii), COVALENT_RADII)
    return out


def _zbl_constants(model) -> dict:
    """The ZBL pair repulsion's stored constants that differ from macetutor's (mace-torch's published) values."""
    from macetutor.elements import COVALENT_RADII
    from macetutor.pair import ZBL

    if not hasattr(model, "pair_repulsion_fn"):
        return {}
    zbl, default = model.pair_repulsion_fn, ZBL(p=0)
    out = _stored("zbl.c", _np(zbl.c), default.c)
    out |= _stored("zbl.a_exp", _np(zbl.a_exp), default.a_exp)
    out |= _stored("zbl.a_prefactor", _np(zbl.a_prefactor), default.a_prefactor)
    out |= _stored("zbl.covalent_radii", _np(zbl.covalent_radii), COVALENT_RADII)
    if int(_np(zbl.p)) != model.radial_embedding.cutoff_fn.p.item():
        raise UnsupportedModelError("a ZBL envelope exponent different from the radial envelope's")
    return out


def _layer_parameters(model, t: int, s, config: MACEConfig) -> tuple[dict, dict]:
    """The named parameters of layer t (``layer{t}.*``), mapped onto macetutor's coefficients, and the layer's
    stored constants (U tensors that are not in macetutor's span to round-off)."""
    p, interaction, prod, readout = f"layer{t}.", model.interactions[t], model.products[t], model.readouts[t]
    P = {p + f"linear_up.{b}": W for b, W in enumerate(_linear_blocks(interaction.linear_up))}
    radial, constants = _radial_weights_and_couplings(interaction, s, t)
    if s.nonlinear:
        P |= _nonlinear_parameters(interaction, p, radial)
    else:
        P |= {p + f"radial.{k}": W for k, W in enumerate(radial)}
    # the linear map after the neighbour sum: one (K_edge, K) block per path (instruction i_in = path index)
    mixing = interaction.linear_1 if s.nonlinear else interaction.linear
    for ins, W in zip(mixing.instructions, _linear_blocks(mixing), strict=True):
        P[p + f"linear.{ins.i_in}"] = W
    P |= {p + f"skip.{b}": W for b, W in enumerate(_self_connection_weights(interaction.skip_tp, s))}
    if s.normalization == "density":
        P[p + "density.0"] = _np(interaction.density_fn.layer0.weight)  # (num_bessel, 1)
    for irrep, contraction in zip(s.irreps_out, prod.symmetric_contractions.contractions, strict=True):
        weights, stored = _product_weights(contraction, s.irreps_A, irrep, t)
        for nu, W in enumerate(weights, start=1):
            P[p + f"product.{Irrep(*irrep)}.nu{nu}"] = W
        constants |= stored
    P |= {p + f"product_linear.{b}": W for b, W in enumerate(_linear_blocks(prod.linear))}
    if s.readout == "linear":
        P[p + "readout"] = _linear_blocks(readout.linear)[0]
    else:
        P[p + "readout.1"] = _linear_blocks(readout.linear_1)[0]
        P[p + "readout.2"] = _linear_blocks(readout.linear_2)[0]
    return P, constants


def _radial_weights_and_couplings(interaction, s, t: int) -> tuple[list[np.ndarray], dict]:
    """The radial MLP's layers, the last one multiplied by the sign s of each path (C = s sqrt(2l3+1) W3j), and the
    stored couplings s sqrt(2l3+1) W3j_stored of the paths whose stored W3j (a ``_w3j_*`` buffer of e3nn's generated
    code; float32-rounded in a float32-built model) is not the exact one to round-off."""
    import torch
    from e3nn import o3

    tp = interaction.conv_tp
    irreps1, irreps2, irreps_mid = tp.irreps_in1, tp.irreps_in2, tp.irreps_out
    torch_paths = [(irreps1[ins.i_in1].ir, irreps2[ins.i_in2].ir, irreps_mid[ins.i_out].ir) for ins in tp.instructions]
    ours = [(s.irreps_edge[i1], s.irreps_Y[i2], irrep) for i1, i2, irrep in s.paths]
    if [((a.l, a.p), (b.l, b.p), (c.l, c.p)) for a, b, c in torch_paths] != ours:
        raise UnsupportedModelError(f"layer {t}: tensor-product paths {torch_paths} differ from macetutor's {ours}")
    signs, constants = [], {}
    generated = getattr(tp, "_compiled_main_left_right", None)
    for k, ((l1, _), (l2, _), (l3, _)) in enumerate(ours):
        w3j = np.sqrt(2 * l3 + 1) * o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
        sign = float(np.sign(np.sum(clebsch_gordan(l1, l2, l3) * w3j)))
        assert np.max(np.abs(clebsch_gordan(l1, l2, l3) - sign * w3j)) < 1e-12
        signs.append(sign)
        buffer = getattr(generated, f"_w3j_{l1}_{l2}_{l3}", None)
        if buffer is not None:
            constants |= _stored(
                f"layer{t}.C.{k}", sign * np.sqrt(2 * l3 + 1) * _np(buffer), clebsch_gordan(l1, l2, l3)
            )
    signs = np.repeat(signs, s.channels_edge)  # path k: columns k K_e .. (k+1) K_e - 1 of the last layer
    if s.nonlinear:  # mace-torch's RadialMLP: torch Linear layers (weight (out, in) and bias) and LayerNorms
        linear_layers = [layer for layer in interaction.conv_tp_weights.net if hasattr(layer, "in_features")]
        layers = [(_np(layer.weight).T, _np(layer.bias)) for layer in linear_layers]
        layers[-1] = (layers[-1][0] * signs[None, :], layers[-1][1] * signs)
        return layers, constants
    layers = [_np(layer.weight) for layer in interaction.conv_tp_weights.children() if hasattr(layer, "weight")]
    layers[-1] = layers[-1] * signs[None, :]
    return layers, constants


def _layer_norm_mlp_parameters(net, p: str, name: str, layers=None) -> dict:
    """A mace-torch RadialMLP (Linear -> LayerNorm -> SiLU ... -> Linear) as named arrays ``p + name.{k}[...]``."""
    if layers is None:
        layers = [(_np(layer.weight).T, _np(layer.bias)) for layer in net if hasattr(layer, "in_features")]
    norms = [layer for layer in net if type(layer).__name__ == "LayerNorm"]
    P = {}
    for k, (W, b) in enumerate(layers):
        P[p + f"{name}.{k}"], P[p + f"{name}.{k}.bias"] = W, b
    for k, norm in enumerate(norms):
        P[p + f"{name}.{k}.norm_weight"], P[p + f"{name}.{k}.norm_bias"] = _np(norm.weight), _np(norm.bias)
    return P


def _nonlinear_parameters(interaction, p: str, radial_layers) -> dict:
    """The ResidualNonLinear block's own parameters (macetutor.nonlinear): its two LayerNorm MLPs, the element
    embeddings of sender and receiver, linear_res, linear_2, alpha and beta."""
    n_el = interaction.node_attrs_irreps.dim
    P = _layer_norm_mlp_parameters(interaction.conv_tp_weights.net, p, "radial", radial_layers)
    P |= _layer_norm_mlp_parameters(interaction.density_fn.net, p, "density")
    P[p + "source_embedding"] = _np(interaction.source_embedding.weight).reshape(n_el, -1)
    P[p + "target_embedding"] = _np(interaction.target_embedding.weight).reshape(n_el, -1)
    P |= {p + f"linear_res.{b}": W for b, W in enumerate(_linear_blocks(interaction.linear_res))}
    P |= {p + f"linear_2.{b}": W for b, W in enumerate(_linear_blocks(interaction.linear_2))}
    P[p + "alpha"], P[p + "beta"] = _np(interaction.alpha), _np(interaction.beta)
    return P


def _self_connection_weights(skip, s) -> list[np.ndarray]:
    """skip_tp: one (K_in, n_elements, K_out) per shared irrep (a FullyConnectedTensorProduct with the one-hot
    elements), or one (K_in, K_out) (an e3nn Linear, the ResidualNonLinear block's)."""
    w, start, by_irrep = _np(skip.weight), 0, {}
    for ins in skip.instructions:
        size = int(np.prod(ins.path_shape))
        irrep = skip.irreps_out[ins.i_out].ir
        by_irrep[(irrep.l, irrep.p)] = w[start : start + size].reshape(ins.path_shape)
        start += size
    self_in, self_out = (s.irreps_in, s.irreps_out) if s.residual else (s.irreps_A, s.irreps_A)
    return [by_irrep[irrep] for irrep in self_out if irrep in self_in]


def _product_weights(contraction, irreps_A, irrep, t: int) -> tuple[list[np.ndarray], dict]:
    """The product-basis weights per nu, and the U tensors to keep as constants.

    With U_torch = U_ours T (least squares; a signed identity for mace-torch's e3nn basis, a rectangular map for a
    reduced basis), W_ours = T W_torch reproduces mace-torch with macetutor's exact U. If U_torch is not in that span
    to round-off (a float32-built model's rounded U), the stored U_torch and W_torch are kept as they are.
    """
    weights, constants = [], {}
    for nu in range(1, contraction.correlation + 1):
        W_torch = _np(contraction.weights_max if nu == contraction.correlation else contraction.weights[-nu])
        U_torch = _np(getattr(contraction, f"U_matrix_{nu}"))
        U_ours = generalized_clebsch_gordan(irreps_A, irrep, nu)
        U_torch = U_torch.reshape(U_ours.shape[:-1] + (-1,))  # mace-torch drops the M axis for L = 0
        A_ours, A_torch = U_ours.reshape(-1, U_ours.shape[-1]), U_torch.reshape(-1, U_torch.shape[-1])
        T_map, *_ = np.linalg.lstsq(A_ours, A_torch, rcond=None)  # (n_paths_ours, n_paths_torch)
        bound = EXACT_RTOL * max(np.max(np.abs(A_torch), initial=0.0), 1e-300)
        rounded = np.round(T_map)  # a signed permutation, if the bases differ only by path signs: then exactly that
        if np.max(np.abs(A_ours @ rounded - A_torch), initial=0.0) <= bound:
            T_map = rounded
        if np.max(np.abs(A_ours @ T_map - A_torch), initial=0.0) <= bound:
            weights.append(np.einsum("qr,zrk->zqk", T_map, W_torch))
        else:  # keep the stored basis: the model is the function its stored U defines
            weights.append(W_torch)
            constants[f"layer{t}.U.{Irrep(*irrep)}.nu{nu}"] = U_torch
    return weights, constants


def evaluate_mace_torch(model, positions, numbers, cell=None, pbc=False, head=None, info=None) -> dict:
    """Run a mace-torch model the way its ASE calculator does and capture what macetutor compares against.

    Returns energy, interaction_energy, node_energy, forces, stress (if periodic), and per layer the atomic basis A
    (mace-torch's (n, K, sum(2l+1)) layout, the output of each interaction block) and the node features h (e3nn's
    flattened layout, the output of each product block), all as float64 NumPy arrays. ``head`` names the readout head
    (default: the model's first head); ``info`` goes into ``atoms.info`` (e.g. total_charge, total_spin).
    """
    import torch
    from ase import Atoms
    from mace.data import AtomicData, KeySpecification, config_from_atoms
    from mace.tools import AtomicNumberTable, torch_geometric

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        periodic = bool(np.any(pbc))
        atoms = Atoms(
            numbers=numbers, positions=positions, cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc
        )
        atoms.info.update(info or {})
        heads = list(getattr(model, "heads", None) or ["Default"])
        z_table = AtomicNumberTable([int(z) for z in model.atomic_numbers])
        keys = KeySpecification(info_keys={"total_charge": "charge", "total_spin": "spin"})  # as mace's calculator
        configuration = config_from_atoms(atoms, key_specification=keys, head_name=head or heads[0])
        data = AtomicData.from_config(configuration, z_table=z_table, cutoff=float(model.r_max), heads=heads)
        batch = torch_geometric.Batch.from_data_list([data]).to_dict()
        captured = {"A": [], "h": []}
        hooks = [
            block.register_forward_hook(lambda m, i, o: captured["A"].append(o[0].detach().numpy().copy()))
            for block in model.interactions
        ]
        hooks += [
            block.register_forward_hook(lambda m, i, o: captured["h"].append(o.detach().numpy().copy()))
            for block in model.products
        ]
        try:
            out = model(batch, compute_force=True, compute_stress=periodic)
        finally:
            for hook in hooks:
                hook.remove()
        if out.get("interaction_energy") is not None:
            interaction = float(out["interaction_energy"][0].detach())
        else:  # plain MACE: the per-layer contributions after E0
            interaction = float(out["contributions"][0, 1:].sum().detach())
        result = {
            "energy": float(out["energy"][0].detach()),
            "interaction_energy": interaction,
            "node_energy": out["node_energy"].detach().numpy(),
            "forces": out["forces"].detach().numpy(),
            "A": captured["A"],
            "h": captured["h"],
        }
        if periodic and out.get("stress") is not None:
            result["stress"] = out["stress"][0].detach().numpy()
        return result
    finally:
        torch.set_default_dtype(previous)


def random_mace_torch_model(
    elements,
    hidden_irreps: str,
    max_ell: int,
    correlation,
    num_interactions: int,
    *,
    r_max: float = 5.0,
    num_bessel: int = 8,
    num_polynomial_cutoff: int = 5,
    radial_mlp=(64, 64, 64),
    mlp_irreps: str = "16x0e",
    residual_first: bool = False,
    interaction_first: str | None = None,
    interaction: str = "RealAgnosticResidualInteractionBlock",
    scale_shift=(1.0, 0.0),
    atomic_energies=None,
    avg_num_neighbors: float = 10.0,
    perturbation: float = 0.3,
    seed: int = 0,
    dtype: str = "float64",
    **options,
):
    """A mace-torch model with random weights, for cross-checks, the tour and benchmarks (needs the `verify` extra).

    mace-torch's own initialisation (seeded with ``seed``) plus ``perturbation`` x N(0, 1) on every parameter, so that
    no weight is at a special value. ``scale_shift=(scale, shift)`` builds a ScaleShiftMACE (scale and shift may be
    per-head lists), ``None`` a plain MACE. The first block is ``interaction_first`` if given, else mace-torch's CLI
    default (RealAgnosticInteractionBlock; RealAgnosticResidualInteractionBlock with ``residual_first``). Further
    keyword arguments go to mace-torch's constructor as they are (``pair_repulsion``, ``distance_transform``,
    ``heads``, ``edge_irreps``, ``apply_cutoff``, ``use_agnostic_product``, ``radial_type``...; irreps strings are
    converted). Built in ``dtype`` ("float64" or "float32"; a float32 model is returned as built).
    (Longer than most functions: it is one call to mace-torch's constructor, with its many arguments.)
    """
    import mace  # noqa: F401  (must precede e3nn)
    import torch
    from e3nn import o3
    from mace import modules

    elements = [int(z) for z in elements]
    heads = options.get("heads") or ["Default"]
    if atomic_energies is None:
        atomic_energies = np.linspace(-3.0, -1.0, len(elements))
        if len(heads) > 1:
            atomic_energies = np.stack([atomic_energies + 0.1 * k for k in range(len(heads))])
    if isinstance(options.get("edge_irreps"), str):
        options["edge_irreps"] = o3.Irreps(options["edge_irreps"])
    if interaction_first is None:
        interaction_first = "RealAgnosticResidualInteractionBlock" if residual_first else "RealAgnosticInteractionBlock"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == "float64" else torch.float32)
    try:
        torch.manual_seed(seed)
        kwargs = dict(
            r_max=r_max,
            num_bessel=num_bessel,
            num_polynomial_cutoff=num_polynomial_cutoff,
            max_ell=max_ell,
            interaction_cls=modules.interaction_classes[interaction],
            interaction_cls_first=modules.interaction_classes[interaction_first],
            num_interactions=num_interactions,
            num_elements=len(elements),
            hidden_irreps=o3.Irreps(hidden_irreps),
            MLP_irreps=o3.Irreps(mlp_irreps),
            atomic_energies=np.asarray(atomic_energies, dtype=np.float64),
            avg_num_neighbors=avg_num_neighbors,
            atomic_numbers=elements,
            correlation=list(correlation) if isinstance(correlation, tuple | list) else correlation,
            gate=torch.nn.functional.silu,
            radial_MLP=list(radial_mlp),
            **options,
        )
        if scale_shift is None:
            model = modules.MACE(**kwargs)
        else:
            model = modules.ScaleShiftMACE(
                **kwargs, atomic_inter_scale=scale_shift[0], atomic_inter_shift=scale_shift[1]
            )
        generator = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(perturbation * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
        return model.double() if dtype == "float64" else model
    finally:
        torch.set_default_dtype(previous)
