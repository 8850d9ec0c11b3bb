"""Floating-point operations of one energy + forces (+ stress) evaluation of a macetutor model, by stage.

    from flops import count_flops, count_flops_for_structure
    count_flops(model, n_atoms, n_edges)            # {stage: flops} for a graph of that size
    count_flops_for_structure(model, positions, numbers, cell, pbc)   # builds the graph to count its edges

Counted analytically from the model's configuration, its weights' shapes and the size of the graph (atoms n, edges E);
the count is of the algorithm as macetutor implements it (the numba backend: sparse Clebsch-Gordan lists, the
product basis folded with its weights over sorted index tuples, B never formed), i.e. the useful work of one
evaluation. The same count divides every implementation's time in the benchmark (bench_vs_mace_torch.py): an
implementation doing more work (dense couplings, e.g.) reaches a lower fraction of the peak for the same time.

Counting rules (a multiply-add is 2 flops; exp, sin, cos, tanh and a division count 1 each):

* dense layer x (rows, a) @ W (a, b): 2 rows a b; its VJP with respect to x (forces need no weight gradients): the
  same again. Normalisations by constants (1/sqrt(fan-in)) are folded into the weights and not counted.
* radial MLP (per layer t): the dense layers on E rows, widths [num_bessel, *radial_mlp, paths x K_edge]; SiLU
  c z sigmoid(z) as 5 flops per hidden unit forward (exp, add, divide, two multiplies), its derivative
  c s (1 + z (1 - s)) and the product with the cotangent as 6 in the VJP.
* edge tensor product summed over neighbours: n_cg nonzero couplings (a, b, M) of all paths, in n_g groups of one
  (path, a) each (kernels.tensor_product_coefficients, the model's own C). Forward per (edge, group): R h per
  channel (K); per (edge, coupling): C Y once, then out += (C Y)(R h) per channel (1 + 2 K). VJP per (edge, group):
  R h (K), then dE/dh += R s and dE/dR += h s (4 K); per (edge, coupling): C Y (1), s += (C Y) g and the channel sum
  of (R h) g (4 K), dE/dY += C (sum) (2): 3 + 4 K.
* linear maps (W_up, the path mixing into A, the element mixing of A in a non-residual block, W_update, the
  element-dependent self-connection): 2 n K_in K_out d per irrep block of dimension d (each atom uses one weight
  matrix: its element's); the VJP with respect to the input the same.
* product basis and message (eqs. 10-11, folded): for each output irrep and correlation order nu, n_terms (the
  symmetric terms of U, kernels.symmetric_terms) per atom and channel; forward nu multiplies and one add: nu + 1;
  VJP (as the kernel computes it) one multiply for g, then per factor nu - 1 multiplies and one add: 1 + nu^2.
* spherical harmonics with their gradient (l = 0..max_ell, D = (max_ell+1)^2): an estimate of 60 flops per edge
  and harmonic (the recurrence, its gradient, the chain rule through v/|v|); radial basis with its derivative:
  12 per edge and basis function; the envelope 20 per edge. Small next to the rest.
* readout (linear K -> 1, or the MLP K -> 16 -> 1 of the last layer) and its VJP; the divisor of A (n K d_A);
  the density blocks' edge density (2 E num_bessel + 5 E, the same in the VJP); ZBL 40 flops per edge and its
  derivative 40.
* edge features' VJP: dE/dr = sum_n dE/db db/dr (2 E N), dE/dv = dE/dr v/r + sum_b dE/dY dY/dv (4 E + 6 E D);
  forces and virial assembled from dE/dv: 6 E (+ 18 E for the virial when stress is asked for).
* not counted: the neighbour list (comparisons and integer work), memory copies, reshapes, index arithmetic.

The ResidualNonLinear block (MACE-OMOL's) is not counted: :func:`count_flops` refuses it.
"""

from __future__ import annotations

import numpy as np

from macetutor.irreps import dim
from macetutor.kernels import symmetric_terms, tensor_product_coefficients
from macetutor.neighbors import neighbor_list

__all__ = ["count_flops", "count_flops_for_structure", "edge_couplings", "product_terms", "STAGES"]

STAGES = (
    "harmonics + radial basis",
    "radial MLP",
    "radial MLP VJP",
    "edge TP + neighbour sum",
    "edge TP VJP",
    "linear maps",
    "linear maps VJP",
    "product basis + message",
    "product basis VJP",
    "readout, density, ZBL, forces (small)",
)


def _dense(rows: int, widths) -> int:
    """2 rows a b summed over the consecutive widths (a, b) of a chain of dense layers."""
    return sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def _blocks_linear(n: int, irreps, K_in: int, K_out: int) -> int:
    """2 n K_in K_out d over the irrep blocks (one weight matrix per block)."""
    return sum(2 * n * K_in * K_out * irrep.dim for irrep in irreps)


def edge_couplings(model, t: int) -> tuple[int, int]:
    """(n_cg, n_g): the number of nonzero Clebsch-Gordan couplings (a, b, M) over all paths of layer t's edge tensor
    product, the list the numba kernel loops over, and the number of its (path, a) groups."""
    s, w = model.shapes[t], model.weights.layers[t]
    path, _, _, _, _, value, _ = tensor_product_coefficients(s.irreps_edge, s.irreps_Y, s.paths, w.C)
    return len(value), len(path)


def product_terms(model, t: int) -> list[tuple[int, int]]:
    """(nu, n_terms) for every output irrep and correlation order of layer t's product basis."""
    return [(len(U.shape) - 2, len(symmetric_terms(U)[1])) for p in model.weights.layers[t].products for U in p.U]


def count_flops(model, n_atoms: int, n_edges: int, forces: bool = True, stress: bool = False) -> dict[str, int]:
    """Flops of one evaluation of ``model`` (:class:`macetutor.MACE`) on a graph of n_atoms atoms and n_edges
    directed edges, by stage (:data:`STAGES`; the module docstring gives the rules). ``forces=False``: the forward
    pass only (the VJP stages are 0)."""
    cfg, n, E = model.config, n_atoms, n_edges
    back = 1 if forces or stress else 0
    D = (cfg.max_ell + 1) ** 2
    count = dict.fromkeys(STAGES, 0)
    small = "readout, density, ZBL, forces (small)"
    count["harmonics + radial basis"] = E * (60 * D + 12 * cfg.num_bessel + 20)
    for t, s in enumerate(model.shapes):
        if s.nonlinear:
            raise NotImplementedError("the ResidualNonLinear interaction block is not counted")
        w = model.weights.layers[t]
        K, K_in, K_e = s.channels, s.channels_in, s.channels_edge
        # radial MLP: dense layers on the edges, SiLU on the hidden units
        widths = [W.shape[0] for W in w.radial] + [w.radial[-1].shape[1]]
        hidden = sum(widths[1:-1])
        count["radial MLP"] += _dense(E, widths) + 5 * E * hidden
        count["radial MLP VJP"] += back * (_dense(E, widths) + 6 * E * hidden)
        if not cfg.apply_cutoff:  # R = MLP(b) f
            count["radial MLP"] += E * len(s.paths) * K_e
            count["radial MLP VJP"] += back * 3 * E * len(s.paths) * K_e
        # edge tensor product summed over neighbours (eq. 8)
        n_cg, n_g = edge_couplings(model, t)
        count["edge TP + neighbour sum"] += E * (n_g * K_e + n_cg * (1 + 2 * K_e))
        count["edge TP VJP"] += back * E * (n_g * 5 * K_e + n_cg * (3 + 4 * K_e))
        # linear maps: W_up, the paths into A, [element mixing of A], W_update, [self-connection]
        linear = _blocks_linear(n, s.irreps_in, K_in, K_e)
        linear += sum(2 * n * K_e * K * path.irrep.dim for path in s.paths)
        if s.element_mixing:
            linear += _blocks_linear(n, s.irreps_A, K, K)
        linear += _blocks_linear(n, s.irreps_out, K, K)
        if s.residual:
            linear += _blocks_linear(n, [irrep for irrep in s.irreps_out if irrep in s.irreps_in], K_in, K)
        count["linear maps"] += linear
        count["linear maps VJP"] += back * linear
        # product basis and message (eqs. 10-11, folded)
        for nu, n_terms in product_terms(model, t):
            count["product basis + message"] += n * K * n_terms * (nu + 1)
            count["product basis VJP"] += back * n * K * n_terms * (1 + nu * nu)
        # small: divisor of A, readout, density, residual sums
        readout = _dense(n, [K, w.readout[0].shape[1]])
        if len(w.readout) == 2:
            readout += _dense(n, [w.readout[1].shape[0], w.readout[1].shape[1]]) + 5 * n * w.readout[1].shape[0]
        extra = n * K * dim(s.irreps_A) + readout + (n * K * dim(s.irreps_out) if s.residual else 0)
        if s.normalization == "density":
            extra += 2 * E * cfg.num_bessel + 5 * E + n * K * dim(s.irreps_A)
        count[small] += extra * (1 + back)
    if cfg.pair_repulsion:
        count[small] += E * (40 + 40 * back)
    count[small] += back * E * (2 * cfg.num_bessel + 4 + 6 * D + 6) + (18 * E if stress else 0)
    return count


def count_flops_for_structure(model, positions, numbers, cell=None, pbc=False, stress: bool = False):
    """:func:`count_flops` for a structure: its graph (neighbours within r_max) gives the number of edges."""
    senders, *_ = neighbor_list(np.asarray(positions, dtype=np.float64), model.config.r_max, cell=cell, pbc=pbc)
    return count_flops(model, len(numbers), len(senders), forces=True, stress=stress)
