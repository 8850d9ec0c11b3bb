"""The benchmark structures, shared by the benchmark workers: ethanol (9 atoms) and rattled fcc Cu supercells."""

from __future__ import annotations

import numpy as np

CU_LATTICE = 3.61  # Å, fcc Cu


def ethanol():
    """(positions (9, 3), numbers, cell None, pbc False)."""
    positions = np.array([[0.0, 0.0, 0.0], [1.52, 0.0, 0.0], [2.0, 1.35, 0.0], [-0.4, 1.0, 0.1], [-0.4, -0.5, 0.9],
                          [-0.4, -0.5, -0.9], [1.9, -0.5, 0.9], [1.9, -0.5, -0.9], [2.95, 1.3, 0.1]])  # fmt: skip
    return positions, np.array([6, 6, 8, 1, 1, 1, 1, 1, 1]), None, False


def fcc_cu(n1: int, n2: int, n3: int):
    """n1 x n2 x n3 conventional cells of fcc Cu (4 atoms each), rattled by 0.05 Å (seed 0), periodic:
    (positions (4 n1 n2 n3, 3), numbers, cell (3, 3), pbc True)."""
    a = CU_LATTICE
    base = a * np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = [(i, j, k) for i in range(n1) for j in range(n2) for k in range(n3)]
    positions = np.concatenate([base + a * np.array(c) for c in cells])
    positions = positions + 0.05 * np.random.default_rng(0).standard_normal(positions.shape)
    return positions, np.full(len(positions), 29), a * np.diag([n1, n2, n3]).astype(float), True


def structure(name: str):
    """ "ethanol" or "cu_N" (N x N x N Cu cells)."""
    if name == "ethanol":
        return ethanol()
    n = int(name.split("_")[1])
    return fcc_cu(n, n, n)
