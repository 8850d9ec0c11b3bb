"""Reading the files users hand to ``macetutor verify``, ``convert`` and the calculator, with one-line errors.

Each reader says what a file *is* when it is not what was asked for (a macetutor ``.npz`` given as a mace-torch model,
a compiled TorchScript model, a training checkpoint, a text file, a structure file...) and what to pass instead, by
raising :class:`InputFileError` (exit code 3 of the command line).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["InputFileError", "describe", "load_mace_torch_model", "read_frames", "import_mace_quietly"]


class InputFileError(ValueError):
    """A missing, unreadable or wrong-kind input file; the message says what the file is and what to pass instead."""


def describe(path) -> str:
    """What a file looks like from its first bytes: 'missing', 'directory', 'macetutor-npz', 'npz', 'torchscript',
    'torch-zip', 'truncated-zip', 'pickle', 'text' or 'binary'."""
    path = Path(path)
    if not path.exists():
        return "missing"
    if path.is_dir():
        return "directory"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "binary"
        if "__metadata__.npy" in names:
            return "macetutor-npz"
        if any(name.endswith(".npy") for name in names) and not any(name.endswith(".pkl") for name in names):
            return "npz"
        if any(name.endswith("constants.pkl") or "/code/" in name for name in names):
            return "torchscript"
        return "torch-zip"
    head = path.read_bytes()[:64]
    if head[:4] == b"PK\x03\x04":  # a zip archive's first entry, but no readable directory at its end: cut short
        return "truncated-zip"
    if head[:1] == b"\x80":  # a pickle protocol header (torch.save's legacy format)
        return "pickle"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    printable = all(byte >= 32 or byte in b"\t\n\r" for byte in head)
    return "text" if printable else "binary"


def load_mace_torch_model(path):
    """A mace-torch model (``torch.nn.Module``) from a ``.model`` file, as a user downloads or trains it.

    Refuses, with a one-line :class:`InputFileError`, a missing file, a macetutor ``.npz``, a compiled TorchScript
    model, a training checkpoint, a text file and anything torch cannot unpickle. Reading a ``.model`` file runs
    Python's pickle: only open files you trust (as with ``torch.load``).
    """
    path = Path(path)
    kind = describe(path)
    if kind == "missing":
        raise InputFileError(f"{path}: no such file")
    if kind == "directory":
        raise InputFileError(f"{path} is a directory; pass the mace-torch model file (e.g. MACE.model)")
    if kind == "macetutor-npz":
        raise InputFileError(f"{path} is a macetutor model (.npz), not a mace-torch one: load it with MACE.load")
    if kind == "torchscript":
        raise InputFileError(
            f"{path} is a compiled TorchScript model (mace-torch's *_compiled.model): pass the plain .model file "
            "that mace_run_train writes beside it"
        )
    if kind in ("text", "npz"):
        raise InputFileError(f"{path} is not a PyTorch model file (it looks like a {kind} file)")
    if kind == "truncated-zip":
        raise InputFileError(f"{path} is a truncated or damaged zip archive (a download cut short?)")
    import_mace_quietly()
    import torch

    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001  (torch raises many kinds for a damaged file)
        raise InputFileError(f"{path} cannot be read by torch.load: {type(err).__name__}: {err}") from err
    if isinstance(model, dict):
        keys = ", ".join(sorted(map(str, model))[:5])
        raise InputFileError(
            f"{path} is a training checkpoint (a dict with {keys}), not a model: pass the .model file that "
            "mace_run_train writes to its model directory"
        )
    if not isinstance(model, torch.nn.Module):
        raise InputFileError(f"{path} holds a {type(model).__name__}, not a mace-torch model")
    return model


def read_frames(path, index: str = ":"):
    """Every frame of a structure file that ASE reads (or the frames ``index`` selects, in ASE's slice syntax)."""
    import ase.io

    path = Path(path)
    kind = describe(path)
    if kind == "missing":
        raise InputFileError(f"{path}: no such file")
    if kind in ("macetutor-npz", "torch-zip", "torchscript", "pickle", "npz"):
        raise InputFileError(f"{path} looks like a model file, not a structure: the structure comes second")
    try:
        frames = ase.io.read(path, index=index)
    except Exception as err:  # noqa: BLE001  (ASE raises many kinds for a file it cannot parse)
        raise InputFileError(f"ASE cannot read {path} as a structure file: {type(err).__name__}: {err}") from err
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise InputFileError(f"{path}: index {index!r} selects no frame")
    return frames


def import_mace_quietly():
    """``import mace`` without its import-time notice on stdout ("cuequivariance ... is not available"): the output of
    ``macetutor verify`` is macetutor's own. (mace must be imported before e3nn: it sets
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD before e3nn loads its constants.)"""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import mace
        import mace.modules  # noqa: F401  (imports mace.tools.cg, which prints the notice)
    return mace
