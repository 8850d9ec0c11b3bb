"""Irreducible representations of O(3), as plain tuples: ``(l, p)`` with parity ``p = +1`` ("e") or ``-1`` ("o").

MACE features are direct sums of such blocks. macetutor stores a feature of ``K`` channels as an array
``(n_atoms, K, sum(2l+1))``: the blocks of ``irreps`` side by side on the last axis, each block in the
``m = -l..l`` order of :func:`macetutor.spherical_harmonics`. (mace-torch/e3nn flatten the same numbers
"channel-major" to ``(n_atoms, sum(K (2l+1)))``; :func:`to_e3nn_layout` converts.)

Ordering: irreps compare as tuples, so ``0o < 0e < 1o < 1e < 2o ...`` exactly as e3nn sorts them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

__all__ = [
    "Irrep",
    "parse_irreps",
    "irreps_string",
    "spherical_harmonics_irreps",
    "dim",
    "offsets",
    "to_e3nn_layout",
    "from_e3nn_layout",
    "wigner_D_irreps",
]


class Irrep(NamedTuple):
    """An irrep of O(3): degree ``l`` and parity ``p`` (+1 even, -1 odd). A tuple, so ``Irrep(1, -1) == (1, -1)``;
    it prints as e3nn writes it: ``str(Irrep(1, -1)) == "1o"``."""

    l: int
    p: int

    def __str__(self) -> str:
        return f"{self.l}{'e' if self.p == 1 else 'o'}"

    __repr__ = __str__  # a list of irreps prints as [0e, 1o, 2e]

    @property
    def dim(self) -> int:
        """2l + 1, the number of components m = -l..l."""
        return 2 * self.l + 1


def parse_irreps(text: str) -> tuple[int, list[Irrep]]:
    """``"32x0e + 32x1o"`` -> ``(32, [(0, 1), (1, -1)])``; every block must have the same multiplicity."""
    blocks = []
    for part in text.replace(" ", "").split("+"):
        match = re.fullmatch(r"(\d+)x(\d+)([eo])", part)
        if not match:
            raise ValueError(f"cannot read irreps {text!r}: expected blocks like '32x0e + 32x1o', got {part!r}")
        blocks.append((int(match.group(1)), Irrep(int(match.group(2)), 1 if match.group(3) == "e" else -1)))
    multiplicities = {mul for mul, _ in blocks}
    if len(multiplicities) != 1:
        raise ValueError(f"all blocks of the hidden irreps must have the same multiplicity, got {text!r}")
    irreps = [ir for _, ir in blocks]
    if len(set(irreps)) != len(irreps):
        raise ValueError(f"each irrep may appear once in the hidden irreps, got {text!r}")
    return multiplicities.pop(), irreps


def irreps_string(channels: int, irreps: list[Irrep]) -> str:
    """The inverse of :func:`parse_irreps`: ``(32, [(0, 1), (1, -1)])`` -> ``"32x0e+32x1o"``."""
    return "+".join(f"{channels}x{Irrep(*irrep)}" for irrep in irreps)


def spherical_harmonics_irreps(max_ell: int) -> list[Irrep]:
    """The irreps of Y_0..Y_max_ell: ``[(0, 1), (1, -1), (2, 1), ...]`` (parity (-1)^l)."""
    return [Irrep(l, (-1) ** l) for l in range(max_ell + 1)]


def dim(irreps: list[Irrep]) -> int:
    """sum(2l+1) over the blocks."""
    return sum(2 * l + 1 for l, _ in irreps)


def offsets(irreps: list[Irrep]) -> list[slice]:
    """The slice of each block on the last axis."""
    out, start = [], 0
    for l, _ in irreps:
        out.append(slice(start, start + 2 * l + 1))
        start += 2 * l + 1
    return out


def to_e3nn_layout(x: np.ndarray, irreps: list[Irrep]) -> np.ndarray:
    """(n, K, sum(2l+1)) -> (n, sum(K (2l+1))): e3nn's "mul_ir" layout (block after block, channel-major)."""
    n, channels = x.shape[:2]
    return np.concatenate([x[:, :, s].reshape(n, -1) for s in offsets(irreps)], axis=1)  # (n, sum(K (2l+1)))


def from_e3nn_layout(x: np.ndarray, channels: int, irreps: list[Irrep]) -> np.ndarray:
    """(n, sum(K (2l+1))) -> (n, K, sum(2l+1)), the inverse of :func:`to_e3nn_layout`."""
    blocks, start = [], 0
    for l, _ in irreps:
        size = channels * (2 * l + 1)
        blocks.append(x[:, start : start + size].reshape(len(x), channels, 2 * l + 1))
        start += size
    return np.concatenate(blocks, axis=2)  # (n, K, sum(2l+1))


def wigner_D_irreps(irreps: list[Irrep], R: np.ndarray) -> np.ndarray:
    """Block-diagonal matrix by which a feature with blocks ``irreps`` transforms under x -> R x, R in O(3).

    Block (l, p) is ``wigner_D(l, R)`` for a rotation; for an improper R it is
    p (-1)^l wigner_D(l, R) (wigner_D already carries (-1)^l; the irrep's own parity is p).
    Returns (dim, dim); a feature x of shape (..., dim) becomes x @ D.T.
    """
    from macetutor.so3 import wigner_D

    improper = np.linalg.det(R) < 0
    D = np.zeros((dim(irreps), dim(irreps)))  # (dim, dim)
    for (l, p), s in zip(irreps, offsets(irreps), strict=True):
        D[s, s] = wigner_D(l, R) * (p * (-1) ** l if improper else 1)
    return D
