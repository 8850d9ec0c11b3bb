"""numba kernels for the hot loops: an optimisation of the NumPy specification, held equal to it by tests.

Each public function here has the name and signature of the NumPy function it replaces (the backend switch,
``macetutor.backends``, picks one or the other); the compiled loops behind it are named ``<function>_kernel``.

    NumPy specification                            numba replacement (this module)
    so3.spherical_harmonics_with_gradient          spherical_harmonics_with_gradient
    radial.radial_features (Bessel x envelope)     radial_features
    basis.edge_tensor_product_sum (+ _vjp)         edge_tensor_product_sum (+ _vjp): eq. (8)'s sum over neighbours
    product.product_basis_and_message (+ _vjp)     product_basis_and_message (+ _vjp): eqs. (10)-(11), B never formed
    neighbors.neighbor_list(method="kdtree")       neighbors.neighbor_list(method="cells") -> cell_list_pairs

Two facts make the product basis cheap without forming B:
  (1) B is contracted with weights right away, so U and W fold into one tensor per element,
      U~[z, M, a_1..a_nu, k] = sum_q U[M, a_1..a_nu, q] W[z, q, k];
  (2) the product A_{a_1} ... A_{a_nu} is symmetric in its factors, so only sorted index tuples a_1 <= ... <= a_nu
      are needed (U summed over the permutations): for A = 0e+1o+2e+3o and nu = 3 that is 77 (L = 0) and 290
      (L = 1) terms instead of 16^3 (2L+1) dense entries.
The edge tensor product summed over neighbours uses the Clebsch-Gordan coefficients as a sparse list, grouped by
(path, index into h) so that R h is formed once per group and edge.

The kernels work channel-last: features (n, K, d) in the specification's layout are handed to them as contiguous
(n, d, K) arrays, so that the innermost loop runs over the K channels with unit stride (it vectorises); the wrappers
transpose in and out, which costs one copy of arrays of the size of the node features.

All kernels are compiled with ``numba.njit(cache=True)`` (once, cached on disk in this package's __pycache__), in a
serial and a parallel variant (:func:`njit_parallel`), and write into preallocated outputs.
"""

from __future__ import annotations

import os
import types
import weakref

import numba
import numpy as np

from macetutor.irreps import offsets

__all__ = [
    "spherical_harmonics_with_gradient",
    "radial_features",
    "edge_tensor_product_sum",
    "edge_tensor_product_sum_vjp",
    "product_basis_and_message",
    "product_basis_and_message_vjp",
    "product_basis_and_message_weight_grads",
    "symmetric_terms",
    "cell_list_pairs",
]


# From this many rows (atoms) on, the kernels run their parallel variant (numba threads). Measured with
# benchmarks/bench_thread_crossover.py on the 2-core development machine (32- and 128-channel models, 8 to 500 atoms,
# every kernel serial against every kernel on 2 threads, in a full evaluation whose BLAS calls use 2 threads too):
# the parallel variants were slower at every size (ratio 1.2-6.5 with numba's OpenMP layer, 0.9-1.5 with its
# workqueue layer): on two cores the kernels' threads and BLAS's compete. So by default they are off; on a machine
# with more cores set MACETUTOR_PARALLEL_MIN_ROWS to the crossover that script measures there.
def _parallel_min_rows() -> int:
    """MACETUTOR_PARALLEL_MIN_ROWS (a whole number of atoms), or "never" (2^62) when it is not set."""
    value = os.environ.get("MACETUTOR_PARALLEL_MIN_ROWS")
    if value is None:
        return 2**62
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"MACETUTOR_PARALLEL_MIN_ROWS must be a whole number of atoms, got {value!r}") from None


PARALLEL_MIN_ROWS = _parallel_min_rows()


def njit_parallel(func=None, *, reassociate: bool = False):
    """Compile ``func`` twice (serial and with ``prange`` in parallel, both cached on disk); pick by the size of
    the first argument. The kernels only ever write the rows their loop index owns, so both give the same result.
    ``reassociate=True`` lets the compiler reorder the floating-point sums inside the kernel (LLVM's ``reassoc``
    flag) so that dot products vectorise: the result differs from the written order by round-off only.

    The parallel variant is compiled from a twin of ``func`` with its own name: numba's on-disk cache is keyed by
    the function's name and signature, not by the ``parallel`` flag, so two variants of one function would share one
    cache entry and both run whichever was compiled first (measured: the "parallel" kernels ran on one thread)."""
    if func is None:
        return lambda f: njit_parallel(f, reassociate=reassociate)
    fastmath = {"reassoc"} if reassociate else False
    serial = numba.njit(cache=True, fastmath=fastmath)(func)
    twin = types.FunctionType(func.__code__, func.__globals__, f"{func.__name__}_parallel", func.__defaults__)
    twin.__qualname__ = f"{func.__qualname__}_parallel"
    parallel = numba.njit(cache=True, parallel=True, fastmath=fastmath)(twin)

    def dispatch(*args):
        return (parallel if len(args[0]) >= PARALLEL_MIN_ROWS else serial)(*args)

    dispatch.__doc__, dispatch.__name__, dispatch.py_func = func.__doc__, func.__name__, func
    return dispatch


# ------------------------------------------------------------------ product basis and message (eqs. 10-11)

_TERMS: dict = {}  # id(U) -> (weak reference to U, its symmetric terms): U tensors are long-lived read-only arrays
_FOLDED = weakref.WeakKeyDictionary()  # ProductWeights -> [(factors, M_of, folded), ...] per nu


def symmetric_terms(U: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero terms of U^{(nu)} (2L+1, D, ..., D, n_paths) symmetrised over its nu factor indices.

    Returns (factors (n_terms, nu) int64 with a_1 <= ... <= a_nu, M (n_terms,) int64, values (n_terms, n_paths))
    such that sum_{a_1..a_nu} U[M, a.., q] prod A_a = sum_s values[s, q] prod_xi A_{factors[s, xi]} for M = M_of[s].
    Computed once per U array.
    """
    known = _TERMS.get(id(U))
    if known is not None and known[0]() is U:
        return known[1]
    nu, n_paths = U.ndim - 2, U.shape[-1]
    if n_paths == 0:
        terms = np.zeros((0, nu), np.int64), np.zeros(0, np.int64), np.zeros((0, 0))
    else:
        nonzero = np.nonzero(np.any(U != 0.0, axis=-1))  # tuple of nu+1 index arrays
        factors = np.sort(np.stack(nonzero[1:], axis=1), axis=1)  # (nnz, nu): sorted factor indices
        keys, inverse = np.unique(np.concatenate([nonzero[0][:, None], factors], axis=1), axis=0, return_inverse=True)
        summed = np.zeros((len(keys), n_paths))  # (n_terms, n_paths): U summed over the permutations of each tuple
        np.add.at(summed, inverse.reshape(-1), U[nonzero])
        keep = np.any(summed != 0.0, axis=1)
        keys, summed = keys[keep], summed[keep]
        terms = np.ascontiguousarray(keys[:, 1:]), np.ascontiguousarray(keys[:, 0]), summed
    _TERMS[id(U)] = (weakref.ref(U), terms)
    return terms


def _folded(product) -> list:
    """[(factors, M, U~ folded with W)] per nu for one :class:`macetutor.parameters.ProductWeights`; cached per object
    (weights are read-only, so the folded table cannot go stale). U~[z, s, k] = sum_q values[s, q] W[z, q, k]."""
    if product not in _FOLDED:
        terms = []
        for U, W in zip(product.U, product.W, strict=True):
            factors, M_of, values = symmetric_terms(U)
            if len(M_of):
                terms.append((factors, M_of, np.ascontiguousarray(np.einsum("sq,zqk->zsk", values, W))))
        _FOLDED[product] = terms
    return _FOLDED[product]


@numba.njit(cache=True)
def _times_factors(product, A, i, factors, s):
    """product[k] *= prod_xi A[i, factors[s, xi], k], in place (the nu-fold product of term s, channel by channel)."""
    for xi in range(factors.shape[1]):
        a = factors[s, xi]
        for k in range(product.shape[0]):
            product[k] *= A[i, a, k]


@njit_parallel
def product_basis_and_message_kernel(A, element_index, factors, M_of, folded, out):
    """out[i, M_s, k] += sum_s folded[z_i, s, k] prod_xi A[i, factors[s, xi], k]   (eqs. 10-11, folded; s a term).

    Channel-last layout (A: (n, D, K), out: (n, 2L+1, K)): the innermost loop runs over the channels k."""
    n_atoms, _, K = A.shape
    n_terms = factors.shape[0]
    for i in numba.prange(n_atoms):
        z = element_index[i]
        product = np.empty_like(out[i, 0])  # (K,)
        for s in range(n_terms):
            M = M_of[s]
            for k in range(K):
                product[k] = folded[z, s, k]
            _times_factors(product, A, i, factors, s)
            for k in range(K):
                out[i, M, k] += product[k]


@njit_parallel
def product_basis_and_message_vjp_kernel(A, element_index, factors, M_of, folded, grad_out, grad_A):
    """grad_A[i, a, k] += sum_s folded[z_i, s, k] grad_out[i, M_s, k] d(prod_xi A[i, a_xi, k])/dA[i, a, k]
    (channel-last, as :func:`product_basis_and_message_kernel`)."""
    n_atoms, _, K = A.shape
    n_terms, nu = factors.shape
    for i in numba.prange(n_atoms):
        z = element_index[i]
        g = np.empty_like(grad_A[i, 0])  # (K,)
        rest = np.empty_like(grad_A[i, 0])  # (K,)
        for s in range(n_terms):
            M = M_of[s]
            for k in range(K):
                g[k] = folded[z, s, k] * grad_out[i, M, k]
            for xi in range(nu):  # product rule: differentiate factor xi, keep the others
                for k in range(K):
                    rest[k] = g[k]
                for zeta in range(nu):
                    if zeta != xi:
                        a = factors[s, zeta]
                        for k in range(K):
                            rest[k] *= A[i, a, k]
                a = factors[s, xi]
                for k in range(K):
                    grad_A[i, a, k] += rest[k]


@njit_parallel
def product_basis_and_message_weight_grads_kernel(A, element_index, factors, M_of, grad_out, grad_folded):
    """grad_folded[z, s, k] += sum_{i: z_i = z} prod_xi A[i, factors[s, xi], k] grad_out[i, M_s, k]  (channel-last;
    parallel over the terms s: each thread owns its rows of grad_folded)."""
    n_atoms, _, K = A.shape
    n_terms = factors.shape[0]
    for s in numba.prange(n_terms):
        M = M_of[s]
        product = np.empty_like(grad_folded[0, s])  # (K,)
        for i in range(n_atoms):
            z = element_index[i]
            for k in range(K):
                product[k] = grad_out[i, M, k]
            _times_factors(product, A, i, factors, s)
            for k in range(K):
                grad_folded[z, s, k] += product[k]


def _channel_last(x: np.ndarray) -> np.ndarray:
    """(n, K, d) -> contiguous (n, d, K): the kernels' layout, channels innermost."""
    return np.ascontiguousarray(np.swapaxes(x, 1, 2))


def product_basis_and_message(A: np.ndarray, element_index: np.ndarray, products) -> tuple[np.ndarray, None]:
    """Replaces :func:`macetutor.product.product_basis_and_message`: m (n_atoms, K, sum(2L+1)); B is not formed."""
    A = _channel_last(A)  # (n_atoms, D, K)
    m = []
    for product in products:
        m_L = np.zeros((A.shape[0], product.irrep.dim, A.shape[2]), dtype=A.dtype)  # (n_atoms, 2L+1, K)
        for factors, M_of, folded in _folded(product):
            product_basis_and_message_kernel(A, element_index, factors, M_of, folded, m_L)
        m.append(m_L)
    return _channel_last(np.concatenate(m, axis=1)), None  # (n_atoms, K, sum(2L+1))


def product_basis_and_message_vjp(grad_m, A, element_index, products) -> np.ndarray:
    """Replaces :func:`macetutor.product.product_basis_and_message_vjp`: dE/dA (n_atoms, K, D)."""
    A = _channel_last(A)  # (n_atoms, D, K)
    grad_A = np.zeros(A.shape, dtype=np.result_type(grad_m, A))  # (n_atoms, D, K)
    for product, block in zip(products, offsets([p.irrep for p in products]), strict=True):
        grad_m_L = _channel_last(grad_m[:, :, block])  # (n_atoms, 2L+1, K)
        for factors, M_of, folded in _folded(product):
            product_basis_and_message_vjp_kernel(A, element_index, factors, M_of, folded, grad_m_L, grad_A)
    return _channel_last(grad_A)  # (n_atoms, K, D)


# ------------------------------------------------------------------ edge tensor product summed over neighbours (eq. 8)


_COEFFICIENTS: dict = {}  # id of the first coupling tensor -> (weak references to all of them, the sparse list)


def tensor_product_coefficients(irreps_h, irreps_Y, paths, C):
    """Sparse list of the Clebsch-Gordan couplings of all paths, computed once per set of coupling tensors, grouped
    by (path, a): group g holds couplings first[g]..first[g+1] of path ``path[g]`` and index ``a[g]`` into h, each
    with its index ``b`` into Y, ``M`` into the concatenated path outputs and its ``value``. Returns
    (path, a, first, b, M, value, width): the kernels form R[e, path, :] * h[j, a, :] once per group."""
    key = tuple(id(C_k) for C_k in C)
    known = _COEFFICIENTS.get(key)
    if known is not None and all(ref() is C_k for ref, C_k in zip(known[0], C, strict=True)):
        return known[1]
    slices_h, slices_Y = offsets(list(irreps_h)), offsets(list(irreps_Y))
    groups: dict = {}  # (path, a) -> [(b, M, value), ...], in path order
    start = 0
    for k, ((i1, i2, (l3, _)), C_k) in enumerate(zip(paths, C, strict=True)):
        for a, b, M in zip(*np.nonzero(C_k), strict=True):
            groups.setdefault((k, slices_h[i1].start + a), []).append((slices_Y[i2].start + b, start + M, C_k[a, b, M]))
        start += 2 * l3 + 1
    keys = sorted(groups)
    couplings = [c for key in keys for c in groups[key]]
    first = np.cumsum([0] + [len(groups[key]) for key in keys])
    coefficients = (
        np.array([k for k, _ in keys], dtype=np.int64),  # path of each group
        np.array([a for _, a in keys], dtype=np.int64),  # index into h of each group
        first.astype(np.int64),  # (n_groups + 1,)
        np.array([b for b, _, _ in couplings], dtype=np.int64),
        np.array([M for _, M, _ in couplings], dtype=np.int64),
        np.array([v for _, _, v in couplings], dtype=np.float64),
        start,
    )
    _COEFFICIENTS[key] = ([weakref.ref(C_k) for C_k in C], coefficients)
    return coefficients


@njit_parallel
def edge_tensor_product_sum_kernel(h, Y, R, senders, receiver_offsets, path, a_of, first, b_idx, M_idx, value, out):
    """out[i, M, u] = sum_{e into i} sum_{(p, a)} R[e, p, u] h[sender(e), a, u] sum_{(b, M) in (p, a)} C Y[e, b].

    Channel-last layout (h: (n, dim, K), out: (n, width, K)): the innermost loop runs over the channels u, contiguous
    in memory. Edges are sorted by receiver: receiver_offsets[i]..receiver_offsets[i+1] are the edges into atom i.
    """
    n_atoms, K = out.shape[0], out.shape[2]
    for i in numba.prange(n_atoms):
        t = np.empty_like(out[i, 0])  # (K,): R[e, p, :] * h[j, a, :] of one group
        for e in range(receiver_offsets[i], receiver_offsets[i + 1]):
            j = senders[e]
            for g in range(len(path)):
                p, a = path[g], a_of[g]
                for u in range(K):
                    t[u] = R[e, p, u] * h[j, a, u]
                for q in range(first[g], first[g + 1]):
                    cy, M = value[q] * Y[e, b_idx[q]], M_idx[q]
                    for u in range(K):
                        out[i, M, u] += cy * t[u]


@njit_parallel(reassociate=True)  # the sum over channels in grad_Y vectorises
def edge_tensor_product_sum_vjp_kernel(
    h,
    Y,
    R,
    receivers,
    edges_by_sender,
    sender_offsets,
    path,
    a_of,
    first,
    b_idx,
    M_idx,
    value,
    grad_out,
    grad_h,
    grad_Y,
    grad_R,
):
    """VJP of :func:`edge_tensor_product_sum_kernel` with respect to h (on the senders), Y and R (per edge);
    overwrites them. Per group (p, a) of an edge e = (i <- j): s[u] = sum_{(b, M)} C Y[e, b] grad_out[i, M, u], then
    grad_h[j, a, u] += R[e, p, u] s[u], grad_R[e, p, u] += h[j, a, u] s[u], and
    grad_Y[e, b] += C sum_u R[e, p, u] h[j, a, u] grad_out[i, M, u].

    Parallel over senders j: edges_by_sender[sender_offsets[j]:sender_offsets[j+1]] are the edges leaving j, so each
    thread writes only grad_h[j] and the rows of its own edges.
    """
    n_atoms = len(sender_offsets) - 1
    K = h.shape[2]
    for j in numba.prange(n_atoms):
        grad_h[j] = 0.0  # outputs may come uninitialised (np.empty): each thread clears the rows it owns
        s = np.empty_like(grad_h[j, 0])  # (K,)
        rh = np.empty_like(grad_h[j, 0])  # (K,): R[e, p, :] * h[j, a, :]
        for position in range(sender_offsets[j], sender_offsets[j + 1]):
            e = edges_by_sender[position]
            grad_R[e] = 0.0
            grad_Y[e] = 0.0
        for position in range(sender_offsets[j], sender_offsets[j + 1]):
            e = edges_by_sender[position]
            i = receivers[e]
            for g in range(len(path)):
                p, a = path[g], a_of[g]
                for u in range(K):
                    s[u] = 0.0
                    rh[u] = R[e, p, u] * h[j, a, u]
                for q in range(first[g], first[g + 1]):
                    b, M, v = b_idx[q], M_idx[q], value[q]
                    cy = v * Y[e, b]
                    dot = 0.0 * cy
                    for u in range(K):
                        go = grad_out[i, M, u]
                        s[u] += cy * go
                        dot += rh[u] * go
                    grad_Y[e, b] += v * dot
                for u in range(K):
                    grad_h[j, a, u] += R[e, p, u] * s[u]
                    grad_R[e, p, u] += h[j, a, u] * s[u]


def edge_tensor_product_sum(h_up, Y, R, senders, receivers, n_atoms: int, s, C) -> list[np.ndarray]:
    """Replaces :func:`macetutor.basis.edge_tensor_product_sum`: one (n_atoms, K, 2l3+1) neighbour sum per path
    (computed channel-last, returned in the (n_atoms, K, 2l3+1) layout of the specification)."""
    path, a, first, b, M, value, width = tensor_product_coefficients(s.irreps_edge, s.irreps_Y, s.paths, C)
    receiver_offsets = np.searchsorted(receivers, np.arange(n_atoms + 1))  # edges are sorted by receiver
    h_last = _channel_last(h_up)  # (n, dim, K)
    out = np.zeros((n_atoms, width, h_up.shape[1]), dtype=np.result_type(h_up, Y, R))  # (n_atoms, width, K)
    edge_tensor_product_sum_kernel(
        h_last, Y, np.ascontiguousarray(R), senders, receiver_offsets, path, a, first, b, M, value, out
    )
    out = np.swapaxes(out, 1, 2)  # (n_atoms, K, width)
    bounds = np.cumsum([0] + [p.irrep.dim for p in s.paths])
    return [np.ascontiguousarray(out[:, :, bounds[k] : bounds[k + 1]]) for k in range(len(s.paths))]


def edge_tensor_product_sum_vjp(grad_Phi, h_up, Y, R, senders, receivers, s, C):
    """Replaces :func:`macetutor.basis.edge_tensor_product_sum_vjp`: (dE/dh_up, dE/dY, dE/dR)."""
    path, a, first, b, M, value, width = tensor_product_coefficients(s.irreps_edge, s.irreps_Y, s.paths, C)
    R = np.ascontiguousarray(R)
    grad_out = _channel_last(np.concatenate(grad_Phi, axis=2))  # (n_atoms, width, K)
    h_last = _channel_last(h_up)  # (n, dim, K)
    dtype = np.result_type(grad_out, h_up, Y, R)
    grad_h = np.empty(h_last.shape, dtype=dtype)  # the kernel writes every entry
    grad_Y, grad_R = np.empty(Y.shape, dtype=dtype), np.empty(R.shape, dtype=dtype)
    edges_by_sender = np.argsort(senders, kind="stable")  # each thread of the kernel owns one sender
    sender_offsets = np.searchsorted(senders[edges_by_sender], np.arange(len(h_up) + 1))
    edge_tensor_product_sum_vjp_kernel(
        h_last,
        Y,
        R,
        receivers,
        edges_by_sender,
        sender_offsets,
        path,
        a,
        first,
        b,
        M,
        value,
        grad_out,
        grad_h,
        grad_Y,
        grad_R,
    )
    return _channel_last(grad_h), grad_Y, grad_R


# ------------------------------------------------------------------ edge harmonics and radial basis


@njit_parallel
def spherical_harmonics_with_gradient_kernel(vectors, diag, a, b, l_max, Y, dY):
    """Y_lm(v/|v|) ('component', e3nn order) and dY/dv for every edge: the recurrence of so3._solid_harmonics.

    diag[m] = P_mm, a[l, m], b[l, m]: the sympy-derived constants (so3._recurrence_table). Y: (n_edges, (l_max+1)^2),
    dY: (n_edges, (l_max+1)^2, 3), both preallocated. (One loop nest per edge, as long as so3._solid_harmonics
    which it mirrors line by line; splitting it would cost a compiled call per stage and edge.)
    """
    n_edges = vectors.shape[0]
    size = l_max + 1
    for e in numba.prange(n_edges):
        r = np.sqrt(vectors[e, 0] ** 2 + vectors[e, 1] ** 2 + vectors[e, 2] ** 2)
        xh, yh, zh = vectors[e, 0] / r, vectors[e, 1] / r, vectors[e, 2] / r
        u = np.array([zh, xh, yh])  # textbook coordinates (x', y', z') = (z, x, y)
        r2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2]
        A = np.zeros(size)
        B = np.zeros(size)
        dA = np.zeros((size, 3))
        dB = np.zeros((size, 3))
        A[0] = 1.0
        for m in range(1, size):  # A_m + i B_m = (x' + i y')^m
            A[m] = u[0] * A[m - 1] - u[1] * B[m - 1]
            B[m] = u[0] * B[m - 1] + u[1] * A[m - 1]
            for k in range(3):
                dA[m, k] = u[0] * dA[m - 1, k] - u[1] * dB[m - 1, k]
                dB[m, k] = u[0] * dB[m - 1, k] + u[1] * dA[m - 1, k]
            dA[m, 0] += A[m - 1]
            dA[m, 1] -= B[m - 1]
            dB[m, 0] += B[m - 1]
            dB[m, 1] += A[m - 1]
        P = np.zeros((size, size))
        dP = np.zeros((size, size, 3))
        for m in range(size):  # normalised Legendre part, three-term recurrence in l
            P[m, m] = diag[m]
            for l in range(m + 1, size):
                P[l, m] = a[l, m] * u[2] * P[l - 1, m]
                for k in range(3):
                    dP[l, m, k] = a[l, m] * u[2] * dP[l - 1, m, k]
                dP[l, m, 2] += a[l, m] * P[l - 1, m]
                if l >= m + 2:
                    P[l, m] -= b[l, m] * r2 * P[l - 2, m]
                    for k in range(3):
                        dP[l, m, k] -= b[l, m] * (r2 * dP[l - 2, m, k] + 2.0 * u[k] * P[l - 2, m])
        for l in range(size):
            for m in range(-l, l + 1):
                index = l * l + l + m
                am = abs(m)
                trig = B[am] if m < 0 else A[am]
                Y[e, index] = P[l, am] * trig
                g = np.zeros(3)  # gradient with respect to u = (x', y', z')
                for k in range(3):
                    dtrig = dB[am, k] if m < 0 else dA[am, k]
                    g[k] = dP[l, am, k] * trig + P[l, am] * dtrig
                gx = np.array([g[1], g[2], g[0]])  # d/dx = d/du P: (x, y, z) <- (x', y', z') = (z, x, y)
                radial = gx[0] * xh + gx[1] * yh + gx[2] * zh
                dY[e, index, 0] = (gx[0] - radial * xh) / r  # chain rule through v / |v|
                dY[e, index, 1] = (gx[1] - radial * yh) / r
                dY[e, index, 2] = (gx[2] - radial * zh) / r


@njit_parallel
def radial_features_kernel(lengths, r_max, num_bessel, p, out, dout):
    """out[e, n] = b_n(r) f_p(r) (Bessel times envelope) and dout = d out / dr, per edge (radial.py's formulas)."""
    prefactor = np.sqrt(2.0 / r_max)
    for e in numba.prange(len(lengths)):
        r = lengths[e]
        x = r / r_max
        if x < 1.0:
            f = 1.0 - (p + 1) * (p + 2) / 2.0 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2.0 * x ** (p + 2)
            df = -p * (p + 1) * (p + 2) / (2.0 * r_max) * x ** (p - 1) * (1.0 - x) ** 2
        else:
            f = 0.0
            df = 0.0
        for n in range(num_bessel):
            w = (n + 1) * np.pi / r_max
            bn = prefactor * np.sin(w * r) / r
            dbn = prefactor * (w * np.cos(w * r) / r - np.sin(w * r) / (r * r))
            out[e, n] = bn * f
            dout[e, n] = dbn * f + bn * df


def spherical_harmonics_with_gradient(l, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replaces :func:`macetutor.so3.spherical_harmonics_with_gradient` for ``l = [0, 1, ..., l_max]`` (normalised
    directions, 'component'): Y (n_edges, (l_max+1)^2) and dY/dv (n_edges, (l_max+1)^2, 3)."""
    from macetutor.so3 import _recurrence_table

    l_max = max(l)
    if list(l) != list(range(l_max + 1)):
        raise ValueError(f"the numba harmonics need l = 0..l_max, got {l}")
    table = _recurrence_table(l_max)
    n_edges, D = len(vectors), (l_max + 1) ** 2
    Y, dY = np.zeros((n_edges, D)), np.zeros((n_edges, D, 3))
    diagonal = np.ascontiguousarray(np.diagonal(table[0]))
    spherical_harmonics_with_gradient_kernel(np.ascontiguousarray(vectors), diagonal, table[1], table[2], l_max, Y, dY)
    return Y, dY


def radial_features(radial, r: np.ndarray, Z_sender: np.ndarray, Z_receiver: np.ndarray):
    """Replaces :func:`macetutor.radial.radial_features` for mace-torch's default radial basis (Bessel x envelope,
    exact frequencies, no distance transform); the variants (Agnesi, Soft, Gaussian, Chebyshev, stored constants,
    apply_cutoff=False) stay in NumPy, where they cost little next to the radial MLP."""
    if not radial.is_plain_bessel:
        return radial.features(r, Z_sender, Z_receiver)
    out, dout = np.zeros((len(r), radial.num_basis)), np.zeros((len(r), radial.num_basis))
    radial_features_kernel(np.ascontiguousarray(r), float(radial.r_max), radial.num_basis, radial.p, out, dout)
    return out, dout, None, None


# ------------------------------------------------------------------ neighbour search (cell list)


@numba.njit(cache=True)
def cell_list_pairs(points, image_points, radius):
    """All (i, j) with |points[i] - image_points[j]| <= radius, by a cell list: O(n) for a bounded density.

    The image points are binned into cubes of edge >= radius (counting sort), so every partner of a point lies in the
    27 cubes around it. Two passes over the same loops (count, then fill) give exactly sized outputs.
    Returns (i (e,), j (e,)) int64. (Binning and the two passes are one compiled function: they share the bins.)
    """
    n, m = points.shape[0], image_points.shape[0]
    lo = np.empty(3)
    hi = np.empty(3)
    for k in range(3):
        lo[k] = image_points[:, k].min()
        hi[k] = image_points[:, k].max()
    edge = radius
    volume_cells = 1.0
    for k in range(3):
        volume_cells *= (hi[k] - lo[k]) / edge + 1.0
    if volume_cells > 8.0 * m + 64.0:  # sparse points in a large box: fewer, larger cubes (still >= radius)
        edge *= (volume_cells / (8.0 * m + 64.0)) ** (1.0 / 3.0)
    dims = np.empty(3, np.int64)
    for k in range(3):
        dims[k] = int((hi[k] - lo[k]) / edge) + 1
    n_cells = dims[0] * dims[1] * dims[2]
    cell_of = np.empty(m, np.int64)
    counts = np.zeros(n_cells + 1, np.int64)
    for j in range(m):
        c0 = int((image_points[j, 0] - lo[0]) / edge)
        c1 = int((image_points[j, 1] - lo[1]) / edge)
        c2 = int((image_points[j, 2] - lo[2]) / edge)
        cell_of[j] = (c0 * dims[1] + c1) * dims[2] + c2
        counts[cell_of[j] + 1] += 1
    starts = np.cumsum(counts)  # starts[c] .. starts[c+1]: the images in cube c
    order = np.empty(m, np.int64)
    fill = starts[:-1].copy()
    for j in range(m):
        order[fill[cell_of[j]]] = j
        fill[cell_of[j]] += 1
    r2 = radius * radius
    total = 0
    out_i = np.empty(0, np.int64)
    out_j = np.empty(0, np.int64)
    for write in range(2):  # pass 0 counts, pass 1 writes
        if write == 1:
            out_i = np.empty(total, np.int64)
            out_j = np.empty(total, np.int64)
        e = 0
        for i in range(n):
            c = np.empty(3, np.int64)
            for k in range(3):
                c[k] = int(np.floor((points[i, k] - lo[k]) / edge))
            for a in range(max(c[0] - 1, 0), min(c[0] + 2, dims[0])):
                for b in range(max(c[1] - 1, 0), min(c[1] + 2, dims[1])):
                    for d in range(max(c[2] - 1, 0), min(c[2] + 2, dims[2])):
                        cube = (a * dims[1] + b) * dims[2] + d
                        for position in range(starts[cube], starts[cube + 1]):
                            j = order[position]
                            dx = points[i, 0] - image_points[j, 0]
                            dy = points[i, 1] - image_points[j, 1]
                            dz = points[i, 2] - image_points[j, 2]
                            if dx * dx + dy * dy + dz * dz <= r2:
                                if write == 1:
                                    out_i[e] = i
                                    out_j[e] = j
                                e += 1
        total = e
    return out_i, out_j


def product_basis_and_message_weight_grads(grad_m, A, element_index, products, B=None) -> tuple:
    """Replaces :func:`macetutor.product.product_basis_and_message_weight_grads` (B is not needed): the gradient of
    the folded weights, then dE/dW[z, q, k] = sum_s values[s, q] dE/dU~[z, s, k]."""
    A = _channel_last(A)  # (n_atoms, D, K)
    grads = []
    for product, block in zip(products, offsets([p.irrep for p in products]), strict=True):
        grad_m_L = _channel_last(grad_m[:, :, block])  # (n_atoms, 2L+1, K)
        by_nu = []
        for U, W in zip(product.U, product.W, strict=True):
            factors, M_of, values = symmetric_terms(U)
            grad_W = np.zeros(W.shape, dtype=np.result_type(grad_m, A))  # (n_elements, n_paths, K)
            if len(M_of):
                grad_folded = np.zeros((W.shape[0], len(M_of), W.shape[2]), dtype=grad_W.dtype)  # (n_el, n_terms, K)
                product_basis_and_message_weight_grads_kernel(A, element_index, factors, M_of, grad_m_L, grad_folded)
                grad_W = np.einsum("sq,zsk->zqk", values, grad_folded)
            by_nu.append(grad_W)
        grads.append(tuple(by_nu))
    return tuple(grads)
