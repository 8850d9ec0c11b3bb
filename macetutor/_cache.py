"""On-disk cache for exact (sympy-derived) coefficient tables.

sympy is exact but slow, so every table it produces is computed once, converted to float64 once,
and written to a cache directory:

    $MACETUTOR_CACHE_DIR/            (if the environment variable is set), else
    $XDG_CACHE_HOME/macetutor/       (if set), else
    ~/.cache/macetutor/

Inside it, one sub-directory per package version (``v<version>``), one ``.npy`` file per table,
named after the table and its arguments, e.g. ``clebsch_gordan-1-2-3.npy``. A new package version
therefore never reads tables written by an older one. Files are written atomically (temporary
file + rename); a file that cannot be read (truncated, corrupt, wrong shape) is recomputed and
rewritten, with a warning. If the directory cannot be written, the cache silently degrades to
memory only (the result is still correct, it just is recomputed in the next process).

Arrays handed out are read-only views of one in-memory copy: callers that want to modify them
must copy them first (``np.array(C)``).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["cache_dir", "cached_array", "clear_memory_cache"]

_MEMORY: dict[str, np.ndarray] = {}


def _version() -> str:
    from macetutor._version import __version__

    return __version__


def cache_dir() -> Path:
    """The directory holding this package version's cached tables (created lazily)."""
    root = os.environ.get("MACETUTOR_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) / "macetutor" if xdg else Path.home() / ".cache" / "macetutor"
    return base / f"v{_version()}"


def _key(name: str, args: tuple) -> str:
    parts = [name] + [str(a) for a in args]
    return "-".join(parts)


def clear_memory_cache() -> None:
    """Forget the in-memory copies (the disk cache stays); used by the timing benchmark."""
    _MEMORY.clear()


def cached_array(name: str, args: tuple, shape: tuple | None, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Return ``compute()``, cached in memory and on disk under ``name`` and ``args``.

    ``args`` must be a tuple of ints/strings that, together with ``name`` and the package
    version, determines the result completely; ``shape`` is the shape the result must have
    (a cached file of another shape or dtype is treated as corrupt; ``None`` if it is not known in advance).
    """
    key = _key(name, args)
    if key in _MEMORY:
        return _MEMORY[key]
    path = cache_dir() / f"{key}.npy"
    value = None
    if path.exists():
        try:
            value = np.load(path, allow_pickle=False)
            if (
                (shape is not None and value.shape != tuple(shape))
                or value.dtype != np.float64
                or not np.all(np.isfinite(value))
            ):
                raise ValueError(f"holds a {value.dtype} array of shape {value.shape}, expected float64 {shape}")
        except Exception as err:  # truncated or corrupt file: recompute, say so
            warnings.warn(f"macetutor cache file {path} is unreadable ({err}); recomputing it.", stacklevel=3)
            value = None
    if value is None:
        value = np.asarray(compute(), dtype=np.float64)
        assert shape is None or value.shape == tuple(shape), (name, args, value.shape, shape)
        _write_atomically(path, value)
    value.setflags(write=False)
    _MEMORY[key] = value
    return value


def _write_atomically(path: Path, value: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, value, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:  # read-only home, full disk...: memory-only cache
        pass
