"""Bridges to other MACE implementations (need the `verify` extra)."""


def from_mace_torch(torch_model):
    """Import a mace-torch MACE / ScaleShiftMACE model; see :mod:`macetutor.interop.mace_torch`."""
    from macetutor.interop.mace_torch import from_mace_torch as _from_mace_torch

    return _from_mace_torch(torch_model)


__all__ = ["from_mace_torch"]
