"""mace-torch's side of training, for cross-checks: its batches, its loss, its autograd gradient, mapped onto
macetutor's parameter names (needs the `verify` extra).

The gradient correspondence: :func:`macetutor.interop.from_mace_torch` maps mace-torch's parameters onto macetutor's
by reshapes, per-path signs (the radial MLP's last layer) and signed permutations of the product-basis paths (U_torch =
U_ours T with T a signed permutation). Each of these maps P is orthogonal, so the gradient maps with P itself
(theta_ours = P theta_torch gives dL/dtheta_torch = P^T dL/dtheta_ours, i.e. dL/dtheta_ours = P dL/dtheta_torch):
:func:`gradient_as_macetutor` writes each gradient into a copy of the model in place of its parameter and imports the
copy. :func:`gradient_as_macetutor` refuses a model whose map is not orthogonal (a stored, non-exact U).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np

__all__ = [
    "to_atoms",
    "mace_torch_batch",
    "mace_torch_loss_function",
    "mace_torch_loss_and_gradient",
    "gradient_as_macetutor",
    "mace_torch_training_steps",
]


def to_atoms(structure):
    """A :class:`macetutor.training.Structure` as ASE Atoms with mace-torch's default label keys (REF_energy...)."""
    from ase import Atoms

    s = structure
    periodic = s.cell is not None and bool(np.any(s.pbc))
    atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell if periodic else None, pbc=s.pbc)
    if s.energy is not None:
        atoms.info["REF_energy"] = s.energy
    if s.forces is not None:
        atoms.arrays["REF_forces"] = s.forces
    if s.stress is not None:
        atoms.info["REF_stress"] = s.stress
    if s.virials is not None:
        atoms.info["REF_virials"] = s.virials
    atoms.info["config_weight"] = s.weight
    atoms.info.update(s.features)
    return atoms


def mace_torch_batch(model, structures):
    """One torch_geometric batch of ``structures`` as mace-torch's data loader builds it (labels and weights)."""
    import torch
    from mace.data import AtomicData, KeySpecification, config_from_atoms
    from mace.tools import AtomicNumberTable, torch_geometric

    heads = list(getattr(model, "heads", None) or ["Default"])
    z_table = AtomicNumberTable([int(z) for z in model.atomic_numbers])
    keys = KeySpecification.from_defaults()
    data = []
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for s in structures:
            config = config_from_atoms(to_atoms(s), key_specification=keys, head_name=s.head or heads[0])
            data.append(AtomicData.from_config(config, z_table=z_table, cutoff=float(model.r_max), heads=heads))
        return torch_geometric.Batch.from_data_list(data)
    finally:
        torch.set_default_dtype(previous)


def mace_torch_loss_function(weights: Mapping):
    """mace-torch's loss module for these loss weights (WeightedEnergyForces[Stress|Virials]Loss)."""
    from mace import modules

    lam = {term: float(weights.get(term, 0.0)) for term in ("energy", "forces", "stress", "virials")}
    if lam["stress"] and lam["virials"]:
        raise ValueError("mace-torch has no loss with both stress and virials")
    if lam["stress"]:
        return modules.WeightedEnergyForcesStressLoss(lam["energy"], lam["forces"], lam["stress"])
    if lam["virials"]:
        return modules.WeightedEnergyForcesVirialsLoss(lam["energy"], lam["forces"], lam["virials"])
    return modules.WeightedEnergyForcesLoss(lam["energy"], lam["forces"])


def mace_torch_loss_and_gradient(model, structures, weights: Mapping) -> tuple[float, dict]:
    """(L, dL/dtheta) by mace-torch's own loss and torch's autograd (``create_graph`` for the force and stress terms,
    as mace-torch trains), the gradient mapped onto macetutor's parameter names (E0 included: its buffer is made to
    require a gradient for the occasion)."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = copy.deepcopy(model)
        E0 = model.atomic_energies_fn.atomic_energies
        E0.requires_grad_(True)
        batch = mace_torch_batch(model, structures)
        needs_stress = any(s.stress is not None or s.virials is not None for s in structures) and bool(
            weights.get("stress", 0.0) or weights.get("virials", 0.0)
        )
        model.zero_grad()
        out = model(
            batch.to_dict(),
            training=True,
            compute_force=True,
            compute_stress=needs_stress,
            compute_virials=needs_stress,
        )
        L = mace_torch_loss_function(weights)(ref=batch, pred=out)
        L.backward()
        grads = {name: p.grad if p.grad is not None else torch.zeros_like(p) for name, p in model.named_parameters()}
        return float(L.detach()), gradient_as_macetutor(model, grads, E0.grad)
    finally:
        torch.set_default_dtype(previous)


def gradient_as_macetutor(model, grads: Mapping, grad_E0=None) -> dict:
    """Per-parameter tensors of a mace-torch model (its gradients, say) under macetutor's names, by the importer's
    correspondence (module docstring): a copy of the model holds them in place of its parameters and is imported."""
    import torch

    from macetutor.interop.mace_torch import from_mace_torch

    holder = copy.deepcopy(model)
    with torch.no_grad():
        for name, parameter in holder.named_parameters():
            parameter.copy_(grads[name])
        E0 = holder.atomic_energies_fn.atomic_energies
        E0.requires_grad_(False)
        E0.copy_(torch.zeros_like(E0) if grad_E0 is None else grad_E0)
    imported = from_mace_torch(holder)
    if any(".U." in name for name in imported.constants):
        raise ValueError(
            "this model stores U tensors that are not a signed permutation of macetutor's: the map of its "
            "product weights is not orthogonal, so gradients do not map like parameters"
        )
    return {name: np.array(value) for name, value in imported.parameters.items()}


def mace_torch_training_steps(model, batches, options) -> tuple[list, dict, dict | None]:
    """Optimiser steps of mace-torch's own training code on ``batches`` (lists of Structures), in order: its parameter
    groups (``get_params_options``: weight decay on the interactions' linear weights and the products),
    ``torch.optim.Adam(amsgrad=...)``, its loss module and ``mace.tools.train.take_step`` (loss, backward, gradient
    clipping, step, EMA update). ``options`` is a :class:`macetutor.trainer.TrainingOptions`.
    Returns (the loss of every step, the final parameters and the EMA's (or None), under macetutor's names)."""
    import argparse

    import torch
    from mace.tools.scripts_utils import get_params_options
    from mace.tools.train import take_step
    from torch_ema import ExponentialMovingAverage

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = copy.deepcopy(model)
        args = argparse.Namespace(
            lr=options.lr,
            weight_decay=options.weight_decay,
            lr_params_factors="{}",
            freeze=None,
            amsgrad=options.amsgrad,
            beta=options.beta1,
        )
        optimizer = torch.optim.Adam(eps=options.eps, **get_params_options(args, model))  # (betas (beta, 0.999))
        ema = ExponentialMovingAverage(model.parameters(), decay=options.ema_decay) if options.ema else None
        loss_fn = mace_torch_loss_function(options.loss_weights())
        stress = bool(options.stress_weight or options.virials_weight)
        output_args = {"forces": True, "virials": stress, "stress": stress}
        losses = []
        for structures in batches:
            batch = mace_torch_batch(model, structures)
            L, _ = take_step(model, loss_fn, batch, optimizer, ema, output_args, options.clip_grad, "cpu")
            losses.append(float(L.detach()))
        E0 = model.atomic_energies_fn.atomic_energies.detach().clone()
        final = gradient_as_macetutor(model, dict(model.named_parameters()), E0)
        averaged = None
        if ema is not None:
            with ema.average_parameters():
                averaged = gradient_as_macetutor(model, dict(model.named_parameters()), E0)
        return losses, final, averaged
    finally:
        torch.set_default_dtype(previous)
