"""Import a mace-torch model (0.3.x, e3nn backend) into macetutor: the same function, macetutor's own coefficients.

mace-torch computes with e3nn's ``wigner_3j`` and with U tensors built from them; macetutor uses its own
Clebsch-Gordan coefficients (sympy, Condon-Shortley) and its own U tensors. They span the same spaces and
differ by a sign per coupling path (see docs/conventions.md). The importer *computes* that map and moves
it into the weights:

* edge tensor product: macetutor's C(l1, l2, l3) = s sqrt(2 l3 + 1) W3j(l1, l2, l3) with s = +-1, so the
  radial weights of that path are multiplied by s (the last layer of the radial MLP);
* product basis: U_torch = U_ours T, with T found by least squares (it comes out a signed identity:
  the same paths in the same order), so W_ours = T W_torch.

Nothing is taken from mace-torch's forward pass. Needs the ``verify`` extra (torch, mace-torch).
"""

from __future__ import annotations

import numpy as np

from macetutor.cg import clebsch_gordan, generalized_clebsch_gordan
from macetutor.irreps import Irrep, irreps_string
from macetutor.model import MACE, MACEConfig, layer_shapes

__all__ = ["from_mace_torch", "evaluate_mace_torch", "random_mace_torch_model", "UnsupportedModelError"]

SUPPORTED_FIRST = {"RealAgnosticInteractionBlock", "RealAgnosticResidualInteractionBlock"}
SUPPORTED_LATER = {"RealAgnosticResidualInteractionBlock"}


class UnsupportedModelError(ValueError):
    """The mace-torch model uses a feature macetutor does not implement (the message names it)."""


def _np(tensor) -> np.ndarray:
    return tensor.detach().cpu().to(dtype=__import__("torch").float64).numpy()


def _irreps(e3nn_irreps) -> list:
    return [(ir.l, ir.p) for mul, ir in e3nn_irreps for _ in range(1)]


def _linear_blocks(linear) -> list[np.ndarray]:
    """Split an e3nn o3.Linear's flat weight into its (mul_in, mul_out) blocks, in instruction order."""
    w, blocks, start = _np(linear.weight), [], 0
    for ins in linear.instructions:
        size = int(np.prod(ins.path_shape))
        blocks.append(w[start : start + size].reshape(ins.path_shape))
        start += size
    return blocks


def _check_supported(model) -> None:
    name = type(model).__name__
    if name not in ("MACE", "ScaleShiftMACE"):
        raise UnsupportedModelError(f"model class {name} is not supported (only MACE and ScaleShiftMACE)")
    for t, interaction in enumerate(model.interactions):
        cls = type(interaction).__name__
        allowed = SUPPORTED_FIRST if t == 0 else SUPPORTED_LATER
        if cls not in allowed:
            raise UnsupportedModelError(
                f"interaction block {cls} (layer {t}) is not supported; macetutor implements {sorted(allowed)}"
            )
        if getattr(interaction, "cueq_config", None) is not None and getattr(interaction.cueq_config, "enabled", False):
            raise UnsupportedModelError(
                "cuequivariance layout is not supported: convert the model back to e3nn first "
                "(mace's mace_cueq_to_e3nn)"
            )
        if getattr(interaction, "oeq_config", None) is not None and getattr(interaction.oeq_config, "enabled", False):
            raise UnsupportedModelError("openequivariance (OEQ) kernels are not supported")
    heads = getattr(model, "heads", ["Default"])
    if len(heads) != 1:
        raise UnsupportedModelError(f"multi-head models are not supported (heads {list(heads)})")
    if getattr(model, "pair_repulsion", False):
        raise UnsupportedModelError("ZBL pair repulsion is not supported")
    bessel = type(model.radial_embedding.bessel_fn).__name__
    if bessel != "BesselBasis":
        raise UnsupportedModelError(f"radial basis {bessel} is not supported (only the Bessel basis)")
    if getattr(model.radial_embedding, "distance_transform", None) is not None:
        raise UnsupportedModelError("distance transforms (Agnesi/Soft) are not supported")
    if not getattr(model.radial_embedding, "apply_cutoff", True):
        raise UnsupportedModelError("apply_cutoff=False is not supported")
    for flag in ("use_agnostic_product", "use_last_readout_only", "use_embedding_readout", "keep_last_layer_irreps"):
        if getattr(model, flag, False):
            raise UnsupportedModelError(f"the option {flag} is not supported")
    if getattr(model, "embedding_specs", None):
        raise UnsupportedModelError("joint embeddings (embedding_specs) are not supported")
    sh_irreps = model.spherical_harmonics.irreps_out
    if any(ir.p != (-1) ** ir.l for _, ir in sh_irreps):
        raise UnsupportedModelError("use_so3 (harmonics without parity) is not supported")
    if len(model.readouts) > 1 and type(model.readouts[-1]).__name__ != "NonLinearReadoutBlock":
        raise UnsupportedModelError(f"readout {type(model.readouts[-1]).__name__} is not supported")


def from_mace_torch(model) -> MACE:
    """The macetutor model that computes the same function as the mace-torch ``model`` (MACE or ScaleShiftMACE).

    Raises:
        UnsupportedModelError naming the feature, for models outside macetutor's scope: cuequivariance
        layout, density / non-linear / attention interaction blocks, multi-head, ZBL, other radial bases.
    """
    import mace  # noqa: F401  (sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD before e3nn loads its constants)

    _check_supported(model)
    config = _config(model)
    n_el, K = len(config.elements), config.channels
    P = {"embedding": _np(model.node_embedding.linear.weight).reshape(n_el, K), "E0": np.array(config.atomic_energies)}
    for t in range(config.num_interactions):
        P |= _layer_parameters(model, t, layer_shapes(config, t), K)
    return MACE(config, P)


def _config(model) -> MACEConfig:
    """The :class:`MACEConfig` of a mace-torch model (irreps, radial basis, correlation, E0, scale and shift...)."""
    T = len(model.interactions)
    hidden = model.interactions[1].node_feats_irreps if T > 1 else model.products[0].linear.irreps_out
    muls = {mul for mul, _ in hidden}
    if len(muls) != 1:
        raise UnsupportedModelError(f"hidden irreps {hidden} do not have equal multiplicities")
    avg = {float(interaction.avg_num_neighbors) for interaction in model.interactions}
    if len(avg) != 1:
        raise UnsupportedModelError(f"layers with different avg_num_neighbors {sorted(avg)} are not supported")
    radial_net = model.interactions[0].conv_tp_weights
    radial_act = next(layer.act for layer in radial_net.children() if getattr(layer, "act", None) is not None)
    scale, shift = 1.0, 0.0
    if hasattr(model, "scale_shift"):
        scale = float(_np(model.scale_shift.scale).reshape(-1)[0])
        shift = float(_np(model.scale_shift.shift).reshape(-1)[0])
    return MACEConfig(
        elements=tuple(int(z) for z in model.atomic_numbers.tolist()),
        hidden_irreps=irreps_string(muls.pop(), _irreps(hidden)),
        max_ell=int(model.spherical_harmonics.irreps_out.lmax),
        correlation=tuple(int(p.symmetric_contractions.contractions[0].correlation) for p in model.products),
        r_max=float(model.r_max),
        num_bessel=int(model.radial_embedding.bessel_fn.bessel_weights.numel()),
        num_polynomial_cutoff=int(model.radial_embedding.cutoff_fn.p),
        radial_mlp=tuple(int(h) for h in radial_net.hs[1:-1]),
        mlp_width=int(model.readouts[-1].linear_1.irreps_out.dim) if T > 1 else 16,
        avg_num_neighbors=avg.pop(),
        atomic_energies=tuple(float(e) for e in _np(model.atomic_energies_fn.atomic_energies).reshape(-1)),
        scale=scale,
        shift=shift,
        first_layer_residual="Residual" in type(model.interactions[0]).__name__,
        radial_activation_constant=float(radial_act.cst),
        readout_activation_constant=float(model.readouts[-1].non_linearity.acts[0].cst) if T > 1 else 1.0,
    )


def _layer_parameters(model, t: int, s, K: int) -> dict:
    """The named parameters of layer t (``layer{t}.*``), mapped onto macetutor's coefficients."""
    p, interaction, prod, readout = f"layer{t}.", model.interactions[t], model.products[t], model.readouts[t]
    P = {p + f"linear_up.{b}": W for b, W in enumerate(_linear_blocks(interaction.linear_up))}
    P |= {p + f"radial.{k}": W for k, W in enumerate(_radial_weights(interaction, s, K, t))}
    # the linear map after the neighbour sum: one (K, K) block per path (instruction i_in = path index)
    for ins, W in zip(interaction.linear.instructions, _linear_blocks(interaction.linear), strict=True):
        P[p + f"linear.{ins.i_in}"] = W
    P |= {p + f"skip.{b}": W for b, W in enumerate(_self_connection_weights(interaction.skip_tp, s))}
    for irrep, contraction in zip(s.irreps_out, prod.symmetric_contractions.contractions, strict=True):
        for nu, W in enumerate(_product_weights(contraction, s.irreps_A, irrep, t), start=1):
            P[p + f"product.{Irrep(*irrep)}.nu{nu}"] = W
    P |= {p + f"product_linear.{b}": W for b, W in enumerate(_linear_blocks(prod.linear))}
    if s.readout == "linear":
        P[p + "readout"] = _linear_blocks(readout.linear)[0]
    else:
        P[p + "readout.1"] = _linear_blocks(readout.linear_1)[0]
        P[p + "readout.2"] = _linear_blocks(readout.linear_2)[0]
    return P


def _radial_weights(interaction, s, K: int, t: int) -> list[np.ndarray]:
    """The radial MLP's layers, the last one multiplied by the sign s of each path: C = s sqrt(2l3+1) W3j."""
    import torch
    from e3nn import o3

    tp = interaction.conv_tp
    irreps1, irreps2, irreps_mid = tp.irreps_in1, tp.irreps_in2, tp.irreps_out
    torch_paths = [(irreps1[ins.i_in1].ir, irreps2[ins.i_in2].ir, irreps_mid[ins.i_out].ir) for ins in tp.instructions]
    ours = [(s.irreps_in[i1], s.irreps_Y[i2], irrep) for i1, i2, irrep in s.paths]
    if [((a.l, a.p), (b.l, b.p), (c.l, c.p)) for a, b, c in torch_paths] != ours:
        raise UnsupportedModelError(f"layer {t}: tensor-product paths {torch_paths} differ from macetutor's {ours}")
    signs = []
    for (l1, _), (l2, _), (l3, _) in ours:
        w3j = np.sqrt(2 * l3 + 1) * o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
        sign = float(np.sign(np.sum(clebsch_gordan(l1, l2, l3) * w3j)))
        assert np.max(np.abs(clebsch_gordan(l1, l2, l3) - sign * w3j)) < 1e-12
        signs.append(sign)
    layers = [_np(layer.weight) for layer in interaction.conv_tp_weights.children() if hasattr(layer, "weight")]
    layers[-1] = layers[-1] * np.repeat(signs, K)[None, :]  # path k occupies columns k K .. (k+1) K - 1
    return layers


def _self_connection_weights(skip, s) -> list[np.ndarray]:
    """skip_tp (FullyConnectedTensorProduct with the one-hot elements): one (K_in, n_elements, K_out) per shared irrep."""
    w, start, by_irrep = _np(skip.weight), 0, {}
    for ins in skip.instructions:
        size = int(np.prod(ins.path_shape))
        irrep = skip.irreps_out[ins.i_out].ir
        by_irrep[(irrep.l, irrep.p)] = w[start : start + size].reshape(ins.path_shape)
        start += size
    self_in, self_out = (s.irreps_in, s.irreps_out) if s.residual else (s.irreps_A, s.irreps_A)
    return [by_irrep[irrep] for irrep in self_out if irrep in self_in]


def _product_weights(contraction, irreps_A, irrep, t: int) -> list[np.ndarray]:
    """W_ours = T W_torch per nu, with U_torch = U_ours T found by least squares (a signed identity, made exact)."""
    W = []
    for nu in range(1, contraction.correlation + 1):
        W_torch = contraction.weights_max if nu == contraction.correlation else contraction.weights[-nu]
        W_torch = _np(W_torch)  # (n_el, n_paths, K)
        U_ours = generalized_clebsch_gordan(irreps_A, irrep, nu)
        n_paths = U_ours.shape[-1]
        U_torch = _np(getattr(contraction, f"U_matrix_{nu}")).reshape(-1, n_paths)
        T_map, *_ = np.linalg.lstsq(U_ours.reshape(-1, n_paths), U_torch, rcond=None)  # (n_paths, n_paths)
        residual = np.max(np.abs(U_ours.reshape(-1, n_paths) @ T_map - U_torch), initial=0.0)
        if residual > 1e-5:
            raise UnsupportedModelError(
                f"layer {t}, {Irrep(*irrep)}, nu={nu}: mace-torch's U tensors are not in the span of "
                f"macetutor's (residual {residual:.2g}); is cuequivariance's basis in use?"
            )
        rounded = np.round(T_map)
        if np.max(np.abs(T_map - rounded), initial=0.0) < 1e-6:  # a signed permutation: make it exact
            T_map = rounded
        W.append(np.einsum("qr,zrk->zqk", T_map, W_torch))
    return W


def evaluate_mace_torch(model, positions, numbers, cell=None, pbc=False) -> dict:
    """Run a mace-torch model the way its ASE calculator does and capture what macetutor compares against.

    Returns energy, interaction_energy, node_energy, forces, stress (if periodic), and per layer the atomic basis A
    (mace-torch's (n, K, sum(2l+1)) layout, the output of each interaction block) and the node features h (e3nn's
    flattened layout, the output of each product block), all as float64 NumPy arrays.
    """
    import torch
    from ase import Atoms
    from mace.data import AtomicData, config_from_atoms
    from mace.tools import AtomicNumberTable, torch_geometric

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        periodic = bool(np.any(pbc))
        atoms = Atoms(
            numbers=numbers, positions=positions, cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc
        )
        z_table = AtomicNumberTable([int(z) for z in model.atomic_numbers])
        data = AtomicData.from_config(
            config_from_atoms(atoms), z_table=z_table, cutoff=float(model.r_max), heads=["Default"]
        )
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
    radial_mlp=(64, 64, 64),
    mlp_irreps: str = "16x0e",
    residual_first: bool = False,
    scale_shift=(1.0, 0.0),
    atomic_energies=None,
    avg_num_neighbors: float = 10.0,
    perturbation: float = 0.3,
    seed: int = 0,
    dtype: str = "float64",
):
    """A mace-torch model with random weights, for cross-checks, the tour and benchmarks (needs the `verify` extra).

    mace-torch's own initialisation (seeded with ``seed``) plus ``perturbation`` x N(0, 1) on every parameter, so that
    no weight is at a special value. ``scale_shift=(scale, shift)`` builds a ScaleShiftMACE, ``None`` a plain MACE;
    ``residual_first=False`` is mace-torch's CLI default (RealAgnosticInteractionBlock in the first layer).
    Built in ``dtype`` ("float64" or "float32"; a float32 model is returned as built).
    """
    import mace  # noqa: F401  (must precede e3nn)
    import torch
    from e3nn import o3
    from mace import modules

    elements = [int(z) for z in elements]
    if atomic_energies is None:
        atomic_energies = np.linspace(-3.0, -1.0, len(elements))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == "float64" else torch.float32)
    try:
        torch.manual_seed(seed)
        first = "RealAgnosticResidualInteractionBlock" if residual_first else "RealAgnosticInteractionBlock"
        kwargs = dict(
            r_max=r_max,
            num_bessel=num_bessel,
            num_polynomial_cutoff=5,
            max_ell=max_ell,
            interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
            interaction_cls_first=modules.interaction_classes[first],
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
