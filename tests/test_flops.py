"""benchmarks/flops.py: stages of the FLOP count checked independently of the counter's own bookkeeping."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import flops  # noqa: E402

import macetutor as mt  # noqa: E402
from macetutor.cg import clebsch_gordan  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    config = mt.MACEConfig(
        elements=(1, 8),
        hidden_irreps="4x0e+4x1o",
        max_ell=2,
        correlation=(2, 2),
        radial_mlp=(5, 6),
        num_bessel=3,
        avg_num_neighbors=2.0,
        atomic_energies=(0.0, 0.0),
    )
    return mt.MACE.init(config, seed=0)


def test_radial_mlp_flops_from_the_weight_shapes(tiny):
    """2 E a b per dense layer (forward and VJP), from the shapes in the model file's names, plus SiLU per unit."""
    n_edges = 7
    forward = backward = 0
    for t in range(2):
        shapes = [tiny.parameters[f"layer{t}.radial.{k}"].shape for k in range(3)]
        assert shapes[0] == (3, 5) and shapes[1] == (5, 6)
        dense = sum(2 * n_edges * a * b for a, b in shapes)
        forward += dense + 5 * n_edges * (5 + 6)
        backward += dense + 6 * n_edges * (5 + 6)
    count = flops.count_flops(tiny, n_atoms=3, n_edges=n_edges)
    assert count["radial MLP"] == forward
    assert count["radial MLP VJP"] == backward
    assert flops.count_flops(tiny, 3, n_edges, forces=False)["radial MLP VJP"] == 0


def test_edge_couplings_against_brute_force(tiny):
    """n_cg = nonzero entries of C(l1, l2, l3) over every allowed path (parity and the irreps of A); the groups are
    the distinct (path, a) among them."""
    sh = [(l, (-1) ** l) for l in range(3)]
    for t, hidden in ((0, [(0, 1)]), (1, [(0, 1), (1, -1)])):
        brute, groups = 0, 0
        for l1, p1 in hidden:
            for l2, p2 in sh:
                for l3 in range(abs(l1 - l2), l1 + l2 + 1):
                    if (l3, p1 * p2) in sh:  # A has the harmonics' irreps here
                        nonzero = np.abs(clebsch_gordan(l1, l2, l3)) > 1e-14  # (2l1+1, 2l2+1, 2l3+1)
                        brute += np.count_nonzero(nonzero)
                        groups += np.count_nonzero(np.any(nonzero, axis=(1, 2)))
        assert flops.edge_couplings(tiny, t) == (brute, groups)
    # the first layer couples scalars with Y: one coupling per harmonic component, one group per path
    assert flops.edge_couplings(tiny, 0) == (9, 3)


def test_counts_scale_with_atoms_and_edges(tiny):
    """Edge stages grow with E only, atom stages with n only (the count is linear in both)."""
    a = flops.count_flops(tiny, 10, 100)
    b = flops.count_flops(tiny, 10, 200)
    c = flops.count_flops(tiny, 20, 100)
    for stage in ("radial MLP", "edge TP + neighbour sum", "edge TP VJP"):
        assert b[stage] == 2 * a[stage] and c[stage] == a[stage]
    for stage in ("linear maps", "product basis + message", "product basis VJP"):
        assert c[stage] == 2 * a[stage] and b[stage] == a[stage]
    assert all(v > 0 for v in a.values())


def test_product_terms_nu_one_is_a_linear_map(tiny):
    """For nu = 1 the folded tensor maps A's block of degree L to the output: one term per component."""
    terms = dict.fromkeys(range(1, 3), 0)
    for nu, n_terms in flops.product_terms(tiny, 1):  # last layer: output 0e only
        terms[nu] += n_terms
    assert terms[1] == 1  # A_{0e} alone


def test_count_for_structure_counts_the_edges(tiny):
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.2, 0.0]])
    count = flops.count_flops_for_structure(tiny, positions, [8, 1, 1])
    assert count == flops.count_flops(tiny, 3, 6)  # every pair within r_max = 5, both directions
