"""Export: the mace-torch model that computes the same function as a macetutor model (needs the `verify` extra).

The import (:func:`macetutor.interop.from_mace_torch`) maps mace-torch's parameters onto macetutor's by reshapes,
per-path signs and signed permutations: as a whole, a signed permutation P of one long vector. Export applies its
inverse. P is read off the importer itself rather than written a second time: a copy of the target mace-torch model
is given the parameter values 1, 2, 3, ... (exact in float64), imported, and every macetutor entry then holds
+-(the index of the mace-torch entry it came from). So import and export cannot drift apart, and the round trip
macetutor -> mace-torch -> macetutor is exact by construction (tests/test_export.py checks it, and that the two
models agree to round-off on energies and forces).
"""

from __future__ import annotations

import copy

import numpy as np

from macetutor.model import MACE

__all__ = ["to_mace_torch", "save_mace_torch"]


def _empty_mace_torch_model(config):
    """A mace-torch ScaleShiftMACE with the architecture, E0, scale, shift and avg_num_neighbors of ``config``."""
    from macetutor.interop.mace_torch import random_mace_torch_model

    options = dict(
        pair_repulsion=config.pair_repulsion,
        distance_transform=config.distance_transform,
        radial_type=config.radial_type,
        apply_cutoff=config.apply_cutoff,
        use_agnostic_product=config.use_agnostic_product,
        heads=list(config.heads),
    )
    if config.edge_irreps is not None:
        options |= dict(edge_irreps=config.edge_irreps, use_edge_irreps_first=config.use_edge_irreps_first)
    if config.embedding_specs:
        options["embedding_specs"] = copy.deepcopy(dict(config.embedding_specs))
    scale, shift = config.scale, config.shift
    return random_mace_torch_model(
        config.elements,
        config.hidden_irreps,
        config.max_ell,
        list(config.correlation),
        config.num_interactions,
        r_max=config.r_max,
        num_bessel=config.num_bessel,
        num_polynomial_cutoff=config.num_polynomial_cutoff,
        radial_mlp=tuple(config.radial_mlp),
        mlp_irreps=f"{config.mlp_width}x0e",
        interaction_first=config.interaction_first,
        interaction=config.interaction,
        scale_shift=(
            list(scale) if isinstance(scale, tuple) else scale,
            list(shift) if isinstance(shift, tuple) else shift,
        ),
        atomic_energies=np.array(config.atomic_energies, dtype=np.float64),
        avg_num_neighbors=config.avg_num_neighbors,
        perturbation=0.0,
        **options,
    )


def to_mace_torch(model: MACE):
    """The mace-torch model (float64 ScaleShiftMACE) computing the same function as ``model``.

    Refuses a model that stores constants in place of macetutor's exact ones (imported from a float32-built or
    reduced-basis file): mace-torch would rebuild them exactly, a different function.
    """
    import torch

    from macetutor.interop.mace_torch import from_mace_torch

    if model.constants:
        raise ValueError(
            f"this model stores {len(model.constants)} constants in place of macetutor's exact ones (e.g. "
            f"{next(iter(model.constants))}); a rebuilt mace-torch model would use exact ones: export refused"
        )
    target = _empty_mace_torch_model(model.config)
    probe = copy.deepcopy(target)
    sizes = [p.numel() for p in probe.parameters()]
    with torch.no_grad():
        start = 0
        for p, n in zip(probe.parameters(), sizes, strict=True):  # entry k of the flattened parameters holds k + 1
            p.copy_(torch.arange(start + 1, start + n + 1, dtype=torch.float64).reshape(p.shape))
            start += n
    imported = from_mace_torch(probe)
    flat = np.zeros(start)  # the mace-torch parameters, flattened
    seen = np.zeros(start, dtype=int)
    for name, index in imported.parameters.items():
        if name == "E0":
            continue
        index = np.ravel(index)
        k = np.abs(index).astype(np.int64) - 1
        if np.any(np.abs(index) != np.round(np.abs(index))) or np.any(k < 0) or np.any(k >= start):
            raise ValueError(f"the importer does not map {name} by a signed permutation: export is not defined")
        flat[k] = np.sign(index) * np.ravel(model.parameters[name])
        seen[k] += 1
    if np.any(seen != 1):
        raise ValueError("the importer's map is not a permutation of mace-torch's parameters: export is not defined")
    with torch.no_grad():
        start = 0
        for p, n in zip(target.parameters(), sizes, strict=True):
            p.copy_(torch.from_numpy(flat[start : start + n].reshape(p.shape)))
            start += n
    back = from_mace_torch(target)
    for name, value in model.parameters.items():  # the round trip, exact
        if not np.array_equal(back.parameters[name], value):
            raise AssertionError(f"export round trip failed for {name}")
    return target


def save_mace_torch(model: MACE, path) -> None:
    """Write ``to_mace_torch(model)`` with torch.save, the file mace-torch's calculator loads (``MACECalculator``)."""
    import torch

    torch.save(to_mace_torch(model), path)
