"""Generate the model notebooks 04-06 from the cell sources written below.

The notebooks are build products: edit the cells here, then run

    python notebooks/build_notebooks_model.py [--out DIR]     (default DIR: notebooks/)

which rewrites ``04_radial_basis.ipynb``, ``05_atomic_basis_A.ipynb`` and ``06_product_basis_B.ipynb``
unexecuted (no outputs, fixed cell ids, so the files are byte-for-byte reproducible).
``tests/test_notebooks_model.py`` checks that the committed notebooks match this script.

Same plan as notebooks 01-03 (``build_notebooks.py``): the equation, a naive implementation that reads
like it, a check against the library (``import macetutor as mt``), a picture, and a question for the reader.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_notebooks import cli, code, md  # noqa: E402  (the shared cell helpers and writer)

# --------------------------------------------------------------------------------------------
# 04: the radial basis
# --------------------------------------------------------------------------------------------

NB04 = [
    md(r"""
    # 04 — The radial basis

    MACE's learnable radial functions $R_{k l_1 l_2 l_3}(r_{ij})$ (paper eq. 8) are a small MLP applied
    to a fixed basis of the bond length $r = r_{ij}$. As in mace-torch (and NequIP), the basis is made of
    $N$ Bessel functions

    $$b_n(r) = \sqrt{\frac{2}{r_{\max}}}\; \frac{\sin(n\pi r / r_{\max})}{r}, \qquad n = 1, \dots, N,$$

    multiplied by the polynomial envelope of DimeNet (Gasteiger et al. 2020, eq. 8), with $u = r/r_{\max}$:

    $$f_p(u) = 1 - \frac{(p+1)(p+2)}{2}\, u^p + p(p+2)\, u^{p+1} - \frac{p(p+1)}{2}\, u^{p+2}
      \quad (u < 1), \qquad f_p(u) = 0 \quad (u \ge 1).$$

    The MLP input of an edge is the vector $\big(b_n(r)\, f_p(r/r_{\max})\big)_{n=1..N}$.
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np

    from macetutor import radial

    r_max, num_bessel, p = 5.0, 8, 5  # mace-torch's defaults: r_max = 5 Å, 8 Bessel functions, p = 5
    """),
    md(r"""
    ## A naive implementation: the formulas as loops
    """),
    code(r"""
    def naive_bessel_basis(r, r_max, num_bessel):
        b = np.zeros((len(r), num_bessel))
        for e in range(len(r)):
            for n in range(1, num_bessel + 1):
                b[e, n - 1] = np.sqrt(2 / r_max) * np.sin(n * np.pi * r[e] / r_max) / r[e]
        return b


    def naive_envelope(r, r_max, p):
        f = np.zeros(len(r))
        for e in range(len(r)):
            u = r[e] / r_max
            if u < 1:
                f[e] = 1 - (p + 1) * (p + 2) / 2 * u**p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2)
        return f


    r = np.linspace(1e-3, 1.2 * r_max, 601)  # a little beyond the cutoff, where everything is 0
    np.testing.assert_allclose(naive_bessel_basis(r, r_max, num_bessel), radial.bessel_basis(r, r_max, num_bessel))
    np.testing.assert_allclose(naive_envelope(r, r_max, p), radial.polynomial_envelope(r, r_max, p), atol=1e-15)
    print("naive == library for", len(r), "radii")
    """),
    md(r"""
    ## Picture: the basis, the envelope and their product

    At $r \to 0$ the Bessel functions stay finite ($\sin(x)/r \to n\pi/r_{\max}$); at $r_{\max}$ they vanish,
    but with a non-zero slope. The envelope is what makes the product smooth at the cutoff.
    """),
    code(r"""
    r = np.linspace(1e-3, r_max, 500)  # r in (0, r_max]
    b = radial.bessel_basis(r, r_max, num_bessel)  # (500, 8)
    f = radial.polynomial_envelope(r, r_max, p)  # (500,)

    fig, axes = plt.subplots(1, 2, figsize=(13, 4), layout="constrained", sharey=True)
    for n in range(num_bessel):
        axes[0].plot(r, b[:, n], label=f"n = {n + 1}")
        axes[1].plot(r, b[:, n] * f, label=f"n = {n + 1}")
    axes[0].plot(r, f, "k--", label="envelope $f_p$")
    axes[0].set(xlabel="r (Å)", title="Bessel basis $b_n(r)$ and the envelope")
    axes[1].set(xlabel="r (Å)", title="$b_n(r)\\, f_p(r / r_{max})$: the input of the radial MLP")
    axes[0].legend(ncol=2, fontsize=8)
    for ax in axes:
        ax.axvline(r_max, color="grey", lw=0.8)
        ax.axhline(0, color="grey", lw=0.8)
    plt.show()
    """),
    md(r"""
    ## Smoothness at the cutoff, numerically

    $f_p'(r) = -\frac{p(p+1)(p+2)}{2 r_{\max}}\, u^{p-1}(1-u)^2$ (`radial.polynomial_envelope_derivative`):
    $f_p$, $f_p'$ and $f_p''$ vanish at $u = 1$, so an atom crossing the cutoff changes the energy and the
    forces continuously. We check the derivative against central finite differences, take the second
    derivative by finite differences of $f_p'$, and watch values and derivatives of $b_n f_p$ go to zero as
    $r \to r_{\max}$ (like $\delta^3$, $\delta^2$ and $\delta$ with $\delta = r_{\max} - r$). The bare Bessel
    function has $b_n(r_{\max}) = 0$ but a slope that does not vanish.
    """),
    code(r"""
    h = 1e-5  # finite-difference step


    def df(x):  # f_p' from the library
        return radial.polynomial_envelope_derivative(x, r_max, p)


    x = np.linspace(0.5, r_max - 0.01, 50)
    fd = (radial.polynomial_envelope(x + h, r_max, p) - radial.polynomial_envelope(x - h, r_max, p)) / (2 * h)
    np.testing.assert_allclose(df(x), fd, atol=1e-8)


    def product_and_derivatives(x, n=1):  # g = b_n f_p, g' (product rule, exact), g'' (finite differences of g')
        def g1(y):
            b, db = radial.bessel_basis(y, r_max, n)[:, -1], radial.bessel_basis_derivative(y, r_max, n)[:, -1]
            return db * radial.polynomial_envelope(y, r_max, p) + b * df(y)

        g0 = radial.bessel_basis(x, r_max, n)[:, -1] * radial.polynomial_envelope(x, r_max, p)
        return g0, g1(x), (g1(x + h) - g1(x - h)) / (2 * h)


    print(f"{'delta':>8} {'f_p':>10} {'f_p`':>10} {'f_p``':>10} | {'b_3 f_p':>10} {'(b_3 f_p)`':>11} {'(b_3 f_p)``':>11}")
    for delta in [1.0, 1e-1, 1e-2, 1e-3]:
        x = np.array([r_max - delta])
        f0, f1 = radial.polynomial_envelope(x, r_max, p)[0], df(x)[0]
        f2 = (df(x + h)[0] - df(x - h)[0]) / (2 * h)
        g0, g1, g2 = (v[0] for v in product_and_derivatives(x, n=3))
        print(f"{delta:8.0e} {f0:10.2e} {f1:10.2e} {f2:10.2e} | {g0:10.2e} {g1:11.2e} {g2:11.2e}")
    at_cutoff = np.array([r_max])
    value = radial.bessel_basis(at_cutoff, r_max, 3)[0, -1]
    slope = radial.bessel_basis_derivative(at_cutoff, r_max, 3)[0, -1]
    print(f"without the envelope: b_3(r_max) = {value:.1e}, but its slope is {slope:.3f}")
    """),
    md(r"""
    ## The radial MLP

    `radial.radial_mlp` is e3nn's `FullyConnectedNet` without biases: each layer divides by the square root
    of its fan-in and the hidden layers apply SiLU times a constant that normalises its second moment.
    With random weights (here $8 \to 64 \to 64 \to 6$), each output is one learnable radial function
    $R(r)$; all of them inherit the smooth cutoff of their input.
    """),
    code(r"""
    rng = np.random.default_rng(0)
    widths = [num_bessel, 64, 64, 6]
    weights = [rng.standard_normal((widths[k], widths[k + 1])) for k in range(len(widths) - 1)]

    r = np.linspace(1e-3, 1.1 * r_max, 500)
    edge_features = radial.bessel_basis(r, r_max, num_bessel) * radial.polynomial_envelope(r, r_max, p)[:, None]
    R = radial.radial_mlp(edge_features, weights)[0]  # (500, 6)
    assert np.all(R[r >= r_max] == 0.0)  # no bias: zero input gives exactly zero output

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(r, R)
    ax.axvline(r_max, color="grey", lw=0.8)
    ax.set(xlabel="r (Å)", ylabel="R(r)", title="six radial functions of a random radial MLP")
    plt.show()
    """),
    md(r"""
    ## Question for the reader

    1. The radial MLP has no biases. What would a bias in the *first* layer do to the radial functions
       beyond $r_{\max}$, and why would that break the smooth cutoff (and the neighbour list)?
    2. The Bessel functions are the eigenfunctions of $-\nabla^2$ (the $l = 0$ part) inside a ball of radius
       $r_{\max}$ with $\psi(r_{\max}) = 0$. Check numerically that they are orthonormal with weight $r^2$:
       $\int_0^{r_{\max}} b_n(r)\, b_{n'}(r)\, r^2\, \mathrm{d}r = \delta_{nn'}$.

    *Exercise.* Derive $f_p'$ from $f_p$ and check the factorisation $-\frac{p(p+1)(p+2)}{2}\,u^{p-1}(1-u)^2$.
    What is the smallest polynomial degree for which $f$, $f'$ and $f''$ can all vanish at $u = 1$ while
    $f(0) = 1$?
    """),
]


# --------------------------------------------------------------------------------------------
# 05: the atomic basis A
# --------------------------------------------------------------------------------------------

NB05 = [
    md(r"""
    # 05 — The atomic basis $A$ (paper eq. 8)

    Each atom $i$ collects its neighbours $j \in \mathcal N(i)$ (all atoms within $r_{\max}$) into

    $$A^{(t)}_{i,k l_3 m_3} = \sum_{l_1 m_1, l_2 m_2} C^{l_3 m_3}_{l_1 m_1, l_2 m_2}
      \sum_{j \in \mathcal N(i)} R^{(t)}_{k l_1 l_2 l_3}(r_{ij})\, Y^{m_1}_{l_1}(\hat{\boldsymbol r}_{ij})
      \sum_{\tilde k} W^{(t)}_{k \tilde k l_2}\, h^{(t)}_{j, \tilde k l_2 m_2}.$$

    In the first layer $h^{(0)}_j$ is a learnable embedding of the neighbour's element (eq. 9): a
    scalar ($l_2 = 0$), so the Clebsch–Gordan coefficient is the identity and $A$ is just a weighted sum of
    the neighbours' $Y_{lm}$. macetutor writes the factors in mace-torch's order ($h$ first, then $Y$), and
    follows mace-torch in three details (docs/conventions.md, "The model"):

    * the edge vector is $\boldsymbol r_{ij} = \boldsymbol r_i - \boldsymbol r_j$, **centre minus neighbour**
      (receiver minus sender);
    * after the neighbour sum, each output irrep $l_3$ gets a channel-mixing linear map over its paths, and
      everything is divided by `avg_num_neighbors`;
    * in the first layer, $A$ is then mixed by an element-dependent linear map of the centre's element $z_i$
      (mace-torch's `RealAgnosticInteractionBlock`; not in the paper).
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt
    from macetutor import radial

    config = mt.MACEConfig(
        elements=(1, 6, 8),
        hidden_irreps="4x0e+4x1o",
        max_ell=2,
        correlation=(2, 2),
        r_max=4.0,
        num_bessel=4,
        radial_mlp=(8,),
        mlp_width=4,
        avg_num_neighbors=3.0,
        atomic_energies=(0, 0, 0),
    )
    model = mt.MACE.init(config, seed=0)

    # ethanol, Å (the geometry of ASE's molecule("CH3CH2OH"), G2 set)
    symbols = ["C", "C", "O", "H", "H", "H", "H", "H", "H"]
    numbers = np.array([{"H": 1, "C": 6, "O": 8}[s] for s in symbols])
    positions = np.array(
        [
            [1.168181, -0.400382, 0.0],
            [0.0, 0.559462, 0.0],
            [-1.190083, -0.227669, 0.0],
            [-1.946623, 0.381525, 0.0],
            [0.042557, 1.207508, 0.886933],
            [0.042557, 1.207508, -0.886933],
            [2.115891, 0.1448, 0.0],
            [1.128599, -1.037234, 0.885881],
            [1.128599, -1.037234, -0.885881],
        ]
    )
    result = model.evaluate(positions, numbers)
    layer = result.intermediates[0]
    print("irreps of A:", layer.irreps_A, " A:", layer.A.shape, "(atoms, channels, sum(2l+1))")
    """),
    md(r"""
    ## A naive double loop

    Every piece of the first layer, from the model's weights (`model.parameters`), in evaluation order:
    the embedding $h^{(0)}$ and its linear map $W$ ("linear_up"), then for every centre $i$ and neighbour
    $j$: the harmonics of $\boldsymbol r_i - \boldsymbol r_j$, the radial MLP, the Clebsch–Gordan coupling,
    summed over the neighbours. The first layer has one path per output irrep: $0e \otimes l \to l$ for
    $l = 0, 1, 2$.
    """),
    code(r"""
    P, C, n_el = model.parameters, config.channels, len(config.elements)
    z = model.element_index(numbers)  # position of each atom's element in config.elements
    irreps_A = [(0, 1), (1, -1), (2, 1)]  # 0e + 1o + 2e: the irreps of Y_0..Y_2
    blocks = mt.irreps.offsets(irreps_A)  # where each l sits on the last axis
    assert mt.config.layer_shapes(config, 0).paths == [(0, l, irrep) for l, irrep in enumerate(irreps_A)]

    h0 = P["embedding"][z] / np.sqrt(n_el)  # (n, C): eq. (9), one-hot element times W
    h_up = h0 @ P["layer0.linear_up.0"] / np.sqrt(C)  # (n, C): sum over k~ of W_{k k~} h_{j,k~}
    radial_weights = [P[f"layer0.radial.{k}"] for k in range(len(config.radial_mlp) + 1)]

    n = len(positions)
    M = np.zeros((n, C, 9))  # the neighbour sums, one path per block l
    for i in range(n):  # the centre (receiver)
        for j in range(n):  # the neighbour (sender)
            r_ij = positions[i] - positions[j]
            r = np.linalg.norm(r_ij)
            if j == i or r >= config.r_max:
                continue
            Y = mt.spherical_harmonics([0, 1, 2], r_ij)  # (9,)
            edge = radial.bessel_basis(np.array([r]), config.r_max, config.num_bessel)[0]
            edge = edge * radial.polynomial_envelope(np.array([r]), config.r_max, config.num_polynomial_cutoff)[0]
            R = radial.radial_mlp(edge[None], radial_weights)[0].reshape(3, C)  # (paths, C)
            for l, block in enumerate(blocks):
                CG = mt.clebsch_gordan(0, l, l)  # (1, 2l+1, 2l+1): the identity
                for k in range(C):
                    M[i, k, block] += R[l, k] * np.einsum("abc,a,b->c", CG, h_up[j, k : k + 1], Y[block])
    """),
    md(r"""
    After the neighbour sum: each path's channel-mixing linear map (fan-in $C$ times the number of paths
    into $l$, here 1), the division by `avg_num_neighbors`, and the first layer's mixing by the centre's
    element, $A_{i,w,lm} \leftarrow \sum_u W_{u z_i w} A_{i,u,lm} / \sqrt{C\, n_	ext{elements}}$.
    """),
    code(r"""
    A_naive = np.zeros_like(M)
    for l, block in enumerate(blocks):  # linear map of each path (1 path into each l), / avg_num_neighbors
        A_naive[:, :, block] = np.einsum("uw,ium->iwm", P[f"layer0.linear.{l}"], M[:, :, block]) / np.sqrt(C)
    A_naive /= config.avg_num_neighbors
    for l, block in enumerate(blocks):  # the first layer's element-dependent mixing, W[u, z_i, w]
        W = P[f"layer0.skip.{l}"][:, z, :]  # (C, n, C)
        A_naive[:, :, block] = np.einsum("uiw,ium->iwm", W, A_naive[:, :, block]) / np.sqrt(C * n_el)

    np.testing.assert_allclose(A_naive, layer.A, atol=1e-13)
    print("naive double loop == model, max |A| =", np.abs(A_naive).max().round(3))
    """),
    md(r"""
    ## Equivariance

    Rotating the molecule, $\boldsymbol r \mapsto R\boldsymbol r$, rotates each block of $A$ by its Wigner
    matrix: $A(R\boldsymbol r) = A(\boldsymbol r)\, D(R)^{\mathsf T}$ with $D$ =
    `mt.irreps.wigner_D_irreps(irreps_A, R)` (block-diagonal). Under a reflection (det $R = -1$) a block
    $(l, p)$ also picks up its parity $p$: the harmonics' blocks have $p = (-1)^l$.
    """),
    code(r"""
    rng = np.random.default_rng(5)
    A = layer.A
    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        A_rotated = model.evaluate(positions @ R.T, numbers).intermediates[0].A
        D = mt.irreps.wigner_D_irreps(irreps_A, R)  # (9, 9)
        np.testing.assert_allclose(A_rotated, A @ D.T, atol=1e-12)
        print(f"det R = {np.linalg.det(R):+.0f}: max |A(Rx) - A(x) D^T| = {np.abs(A_rotated - A @ D.T).max():.1e}")
    """),
    md(r"""
    ## Picture: $A$ of the oxygen atom

    Channels $k$ (rows) against $(l, m)$ (columns), before and after a rotation: the $l = 0$ column does not
    change, the $l = 1$ and $l = 2$ blocks are mixed within themselves, and the norm of each block (per
    channel) is kept.
    """),
    code(r"""
    atom = symbols.index("O")
    labels = [f"{l},{m}" for l in range(3) for m in range(-l, l + 1)]
    R = mt.random_rotation(np.random.default_rng(7))
    A_rotated = model.evaluate(positions @ R.T, numbers).intermediates[0].A
    vmax = np.abs(A[atom]).max()

    fig, axes = plt.subplots(1, 2, figsize=(12, 3), layout="constrained")
    for ax, values, title in ((axes[0], A[atom], "A(x)"), (axes[1], A_rotated[atom], "A(Rx)")):
        image = ax.imshow(values, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_xticks(range(9), labels)
        ax.set(xlabel="(l, m)", ylabel="channel k", title=f"{title} of the O atom")
        for boundary in (0.5, 3.5):
            ax.axvline(boundary, color="k", lw=1)
    fig.colorbar(image, ax=axes)
    plt.show()
    for block in blocks:  # a rotation keeps the norm of every block, channel by channel
        norms = np.linalg.norm(A[atom][:, block], axis=1), np.linalg.norm(A_rotated[atom][:, block], axis=1)
        np.testing.assert_allclose(*norms, atol=1e-13)
    """),
    md(r"""
    ## Question for the reader

    1. In the first layer, every channel $k$ of $A_{i,k,1m}$ is a weighted sum of the neighbours' unit vectors
       $\hat{\boldsymbol r}_{ij}$. Which weighted sum is it (what do the weights depend on), and why is it
       zero for an atom whose neighbours sit symmetrically, e.g. the carbon of a perfect tetrahedral CH$_4$?
    2. Flip the edge convention to $\boldsymbol r_j - \boldsymbol r_i$ (neighbour minus centre). Which blocks
       of $A$ change, and how? Would the energy change?

    *Exercise.* Move one hydrogen just beyond $r_{\max}$ of the oxygen and back, and plot $A$ of the oxygen
    against the distance: is it continuous? Is its derivative?
    """),
]


# --------------------------------------------------------------------------------------------
# 06: the product basis B
# --------------------------------------------------------------------------------------------

NB06 = [
    md(r"""
    # 06 — The product basis $B$ (paper eq. 10) and why body order matters

    From the atomic basis $A$ (notebook 05), MACE forms products of $\nu$ copies of $A$, channel by channel,
    and couples them to an irrep $(L, M)$ with the generalised Clebsch–Gordan coefficients $\mathcal C$ ("$U$"):

    $$B^{(t)}_{i,\eta_\nu k LM} = \sum_{l m} \mathcal C^{LM}_{\eta_\nu, l m} \prod_{\xi=1}^{\nu} A^{(t)}_{i,k l_\xi m_\xi},
      \qquad \boldsymbol l m = (l_1 m_1, \dots, l_\nu m_\nu).$$

    $\eta_\nu$ runs over the coupling paths $l_1 \otimes l_2 \to L_2$, $L_2 \otimes l_3 \to L_3$, ... ending in $L$.
    $B^{(\nu)}$ depends on the positions of $\nu$ neighbours at a time, plus the centre: a
    $(\nu+1)$-body feature. The message is $m_{i,kLM} = \sum_\nu \sum_{\eta_\nu} W_{z_i k L, \eta_\nu}
    B_{i,\eta_\nu k LM}$ (eq. 11).
    """),
    code(r"""
    import itertools

    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt
    from macetutor import product, radial

    rng = np.random.default_rng(0)


    def irreps_up_to(l_max):  # the irreps of Y_0..Y_lmax: 0e + 1o + 2e + ...
        return [(l, (-1) ** l) for l in range(l_max + 1)]
    """),
    md(r"""
    ## The generalised Clebsch–Gordan tensor $U$

    `mt.generalized_clebsch_gordan(irreps_A, (L, p), nu)` has shape $(2L+1, D, \dots, D, n_\text{paths})$
    with $\nu$ axes of size $D = \sum (2l+1)$. It is very sparse. Its defining property: rotating every
    factor is the same as rotating the output,
    $\sum_{\boldsymbol a} U[M, \boldsymbol a, \eta] \prod_\xi D_{a_\xi a'_\xi} = \sum_{M'} D^L_{MM'}\, U[M', \boldsymbol a', \eta]$.
    """),
    code(r"""
    irreps_A = irreps_up_to(2)  # 0e + 1o + 2e, D = 9
    for irrep in [(0, 1), (1, -1)]:
        for nu in (1, 2, 3):
            U = mt.generalized_clebsch_gordan(irreps_A, irrep, nu)
            fraction = np.count_nonzero(U) / U.size
            print(f"L = {irrep}, nu = {nu}: shape {U.shape}, {U.shape[-1]} paths, {fraction:.2%} non-zero")

    U = mt.generalized_clebsch_gordan(irreps_A, (1, -1), 3)  # (3, 9, 9, 9, n_paths)
    for improper in (False, True):
        R = mt.random_rotation(rng, improper=improper)
        D, D_L = mt.irreps.wigner_D_irreps(irreps_A, R), mt.irreps.wigner_D_irreps([(1, -1)], R)
        rotated_factors = np.einsum("Mabce,ax,by,cz->Mxyze", U, D, D, D)
        rotated_output = np.einsum("MN,Nxyze->Mxyze", D_L, U)
        np.testing.assert_allclose(rotated_factors, rotated_output, atol=1e-13)
    print("U is equivariant (nu = 3, L = 1o), proper and improper R")
    """),
    md(r"""
    ## $B$ of a molecule, naively

    A small random model on water with correlation order 3, and eq. 10 spelled out with `np.einsum`, one
    string per $\nu$ (indices: $i$ atom, $k$ channel, $a, b, c$ the flattened $(l, m)$ of each factor,
    $e$ the path $\eta$, $M$ the output $m$), against the $B$ stored by `model.evaluate`.
    """),
    code(r"""
    config = mt.MACEConfig(
        elements=(1, 8),
        hidden_irreps="4x0e+4x1o",
        max_ell=2,
        correlation=(3, 3),
        r_max=4.0,
        num_bessel=4,
        radial_mlp=(8,),
        mlp_width=4,
        avg_num_neighbors=2.0,
        atomic_energies=(0, 0),
    )
    model = mt.MACE.init(config, seed=0)
    water = np.array([[0.0, 0.0, 0.0], [0.757, 0.586, 0.0], [-0.757, 0.586, 0.0]])
    layer = model.evaluate(water, [8, 1, 1]).intermediates[0]
    A = layer.A  # (3 atoms, 4 channels, 9)

    for irrep in (mt.irreps.Irrep(0, 1), mt.irreps.Irrep(1, -1)):
        for nu in (1, 2, 3):
            U = mt.generalized_clebsch_gordan(layer.irreps_A, irrep, nu)
            if nu == 1:
                B = np.einsum("Mae,ika->ikeM", U, A)
            elif nu == 2:
                B = np.einsum("Mabe,ika,ikb->ikeM", U, A, A)
            else:
                B = np.einsum("Mabce,ika,ikb,ikc->ikeM", U, A, A, A)
            np.testing.assert_allclose(B, layer.B[irrep][nu], atol=1e-13)
            print(f"B[{irrep}][nu={nu}]: {B.shape} (atoms, channels, paths, 2L+1) == model")
    """),
    md(r"""
    ## How many invariants?

    Three counts of the scalar ($L = 0e$) features of degree $\nu$ built from $A$ with blocks $0e+1o+\dots+l_{\max}$:

    1. **paths of $U$**: `U.shape[-1]`, the number of $\eta_\nu$ for $L = 0e$;
    2. **multiplicity of $0e$ in the full (non-symmetrised) $\nu$-fold tensor product**
       $(0e \oplus 1o \oplus \dots)^{\otimes \nu}$, counted independently by a small recursive
       Clebsch–Gordan series on $(l, p)$ pairs, and once more with characters of O(3)
       ($\chi_l(\omega) = \sin((2l+1)\omega/2)/\sin(\omega/2)$, Haar weight $(1 - \cos\omega)/\pi$ on
       $[0, \pi]$, inversion acting as $p$);
    3. **linearly independent symmetric invariants**: the rank of the matrix of the $U$'s after
       symmetrising each over its $\nu$ factor indices (`np.linalg.matrix_rank`), and the multiplicity
       of $0e$ in the symmetric power $\mathrm{Sym}^\nu$ from characters,
       $\chi_{\mathrm{Sym}^2}(g) = \tfrac12(\chi(g)^2 + \chi(g^2))$,
       $\chi_{\mathrm{Sym}^3}(g) = \tfrac16(\chi(g)^3 + 3\chi(g)\chi(g^2) + 2\chi(g^3))$.
    """),
    code(r"""
    def count_paths(irreps, nu, target=(0, 1)):  # multiplicity of `target` in irreps^(x nu), by CG series
        def multiplicities(nu):
            if nu == 1:
                return {irrep: 1 for irrep in irreps}
            out = {}
            for (L, P), count in multiplicities(nu - 1).items():
                for l, p in irreps:
                    for L_new in range(abs(L - l), L + l + 1):
                        out[L_new, P * p] = out.get((L_new, P * p), 0) + count
            return out

        return multiplicities(nu).get(target, 0)


    omega = (np.arange(4000) + 0.5) * np.pi / 4000  # midpoint rule: exact for these trigonometric polynomials


    def character(irreps, k, inversion):  # chi of g^k for g = (rotation by omega) (x) (inversion or not)
        sign = {(l, p): p if inversion and k % 2 == 1 else 1 for l, p in irreps}  # g^k contains the inversion?
        return sum(sign[l, p] * np.sin((2 * l + 1) * k * omega / 2) / np.sin(k * omega / 2) for l, p in irreps)


    def invariants_from_characters(irreps, nu, symmetric):
        total = 0.0
        for inversion in (False, True):
            c1, c2, c3 = (character(irreps, k, inversion) for k in (1, 2, 3))
            if not symmetric or nu == 1:
                chi = c1**nu
            elif nu == 2:
                chi = (c1**2 + c2) / 2
            else:
                chi = (c1**3 + 3 * c1 * c2 + 2 * c3) / 6
            total += np.mean((1 - np.cos(omega)) * chi) / 2  # Haar average over O(3) = SO(3) x {1, -1}
        return round(total, 6)


    def symmetric_rank(U, nu):
        perms = itertools.permutations(range(1, nu + 1))
        S = sum(np.transpose(U, (0, *perm, nu + 1)) for perm in perms)  # symmetrise the factor axes
        return np.linalg.matrix_rank(S.reshape(-1, U.shape[-1]).T) if U.shape[-1] else 0


    print("l_max nu | paths of U | CG series | characters | symmetric: rank of sym. U | characters")
    table = {}
    for l_max in range(4):
        for nu in (1, 2, 3):
            U = mt.generalized_clebsch_gordan(irreps_up_to(l_max), (0, 1), nu)
            counts = (U.shape[-1], count_paths(irreps_up_to(l_max), nu))
            counts += (invariants_from_characters(irreps_up_to(l_max), nu, symmetric=False),)
            counts += (symmetric_rank(U, nu), invariants_from_characters(irreps_up_to(l_max), nu, symmetric=True))
            assert counts[0] == counts[1] == counts[2] and counts[3] == counts[4]
            table[l_max, nu] = counts
            paths, series, characters, rank, symmetric = counts
            print(f"{l_max:5d} {nu:2d} | {paths:10d} | {series:9d} | {characters:10.0f} | {rank:24d} | {symmetric:.0f}")
    """),
    md(r"""
    **Why the two counts differ.** $U$ couples $\nu$ *distinguishable* factors, so its paths count every
    invariant of the full tensor product. But $B$ multiplies the *same* vector $A_{i,k}$ $\nu$ times: the
    product $A_{a_1} \cdots A_{a_\nu}$ is symmetric in the factor indices, and the part of a path that is
    antisymmetric under exchanging two factors contributes nothing. For $\nu = 2$ the counts agree (the only
    scalar of $l \otimes l$ is the symmetric dot product). For $\nu = 3$ they do not: e.g. the path
    $1o \otimes 1o \to 1e$ (the cross product) then $\otimes\, 1o \to 0e$ is the triple product
    $(\boldsymbol a \times \boldsymbol a) \cdot \boldsymbol a = 0$. So with $l_{\max} = 3$, 23 paths give only
    8 independent symmetric invariants per channel; the other paths are linear combinations of those 8
    (or zero) when evaluated on a product of equal factors. mace-torch keeps the 23 and the learnable weights
    $W$ absorb the redundancy.

    ## Why body order matters, I: $\nu = 1$ cannot see angles

    For a single channel, $A_{lm} = \sum_j R(r_j)\, Y_{lm}(\hat{\boldsymbol r}_j)$ around a centre, with
    $R$ the radial basis of notebook 04 ($n = 1..6$ as channels). The $\nu = 1$ invariant is $A_{00}$: a sum
    over neighbours of a function of the distance. The $\nu = 2$ invariants include the power spectrum
    $p_l = \sum_m A_{lm} A_{lm}$, which depends on the angles between neighbours. Four neighbours at 1.5 Å:
    a tetrahedron and a square.
    """),
    code(r"""
    def centre_A(neighbours, r_max=5.0, num_bessel=6):  # (num_bessel, 16): channels n, blocks l = 0..3
        r = np.linalg.norm(neighbours, axis=1)
        radial_basis = radial.bessel_basis(r, r_max, num_bessel) * radial.polynomial_envelope(r, r_max, 5)[:, None]
        return np.einsum("jn,ja->na", radial_basis, mt.spherical_harmonics([0, 1, 2, 3], neighbours))


    def invariants(neighbours):  # {nu: B^(nu) for L = 0e, all paths and channels}, from the library's U
        A = centre_A(neighbours)[None]  # (1 centre, channels, 16)
        return {
            nu: product.product_basis(A, mt.generalized_clebsch_gordan(irreps_up_to(3), (0, 1), nu))[0, :, :, 0]
            for nu in (1, 2, 3)
        }


    def power_spectrum(neighbours):  # p_{n,l} = sum_m A_{n,lm}^2
        A = centre_A(neighbours)
        return np.stack([(A[:, l * l : (l + 1) ** 2] ** 2).sum(axis=1) for l in range(4)], axis=1)


    tetrahedron = 1.5 * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    square = 1.5 * np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]])
    np.testing.assert_allclose(centre_A(tetrahedron)[:, 0], centre_A(square)[:, 0], atol=1e-14)  # nu = 1: equal
    print("A_00 (nu = 1), n = 1..6:", centre_A(square)[:, 0].round(4))
    print("p_l (nu = 2) of channel n = 1, l = 0..3: tetrahedron", power_spectrum(tetrahedron)[0].round(4))
    print("                                           square     ", power_spectrum(square)[0].round(4))
    differences = {
        ("tetrahedron", "square"): {
            nu: np.abs(b - invariants(square)[nu]).max() for nu, b in invariants(tetrahedron).items()
        }
    }
    for nu, value in differences["tetrahedron", "square"].items():
        print(f"nu = {nu}: max |B(tetrahedron) - B(square)| = {value:.1e}")
    """),
    md(r"""
    ## Why body order matters, II: $\nu = 2$ cannot see everything

    The $\nu = 2$ invariants of one channel are sums over *pairs* of neighbours,
    $\sum_m A_{lm} A_{lm} = (2l+1) \sum_{j, j'} R(r_j) R(r_{j'})\, P_l(\cos\theta_{jj'})$ (addition theorem):
    they only see the multiset of triples $(r_j, r_{j'}, \theta_{jj'})$. A construction in the spirit of
    Pozdnyakov et al. (PRL 125, 166001 (2020)) gives two different environments with the same multiset:
    take neighbours $\boldsymbol p_1 = (1, 0, h)$ and $\boldsymbol p_2 = (\cos\alpha, \sin\alpha, -h)$ (equal
    lengths, opposite heights), $\boldsymbol p_3$ in the plane $z = 0$, and a fourth atom at
    $\boldsymbol v_\pm = (0, 0, \pm d)$. Swapping $\boldsymbol v_+ \to \boldsymbol v_-$ swaps the angles that
    $\boldsymbol p_1$ and $\boldsymbol p_2$ make with it, and changes nothing else in the multiset. With
    $\boldsymbol p_3$ away from the bisector the two environments are not congruent, and a $\nu = 3$ invariant
    tells them apart. Everything below is checked numerically.
    """),
    code(r"""
    h, alpha, d = 0.6, 2.0, 1.3
    p1, p2, p3 = [1.0, 0.0, h], [np.cos(alpha), np.sin(alpha), -h], [1.2 * np.cos(4.0), 1.2 * np.sin(4.0), 0.0]
    plus, minus = np.array([p1, p2, p3, [0, 0, d]]), np.array([p1, p2, p3, [0, 0, -d]])


    def pair_triples(neighbours):  # the sorted multiset of (r_j, r_j', cos theta_jj') over ordered pairs
        r = np.linalg.norm(neighbours, axis=1)
        cos = neighbours @ neighbours.T / np.outer(r, r)
        rows = [(r[j], r[k], cos[j, k]) for j in range(len(r)) for k in range(len(r))]
        return np.array(sorted(np.round(rows, 12).tolist()))


    np.testing.assert_allclose(pair_triples(plus), pair_triples(minus), atol=1e-12)  # same 3-body information
    np.testing.assert_allclose(power_spectrum(plus), power_spectrum(minus), atol=1e-13)
    B_plus, B_minus = invariants(plus), invariants(minus)
    differences["v+", "v-"] = {nu: np.abs(B_plus[nu] - B_minus[nu]).max() for nu in (1, 2, 3)}
    assert differences["v+", "v-"][2] < 1e-12 and differences["v+", "v-"][3] > 1e-2
    for nu in (1, 2, 3):
        size = np.abs(B_plus[nu]).max()
        print(f"nu = {nu}: max |B(v+) - B(v-)| = {differences['v+', 'v-'][nu]:.1e}   (max |B| = {size:.2f})")
    """),
    md(r"""
    ## Picture

    Left and middle: the two environments of part II (centre in black, the fourth atom in red). Right: the
    largest difference of the invariants $B^{(\nu)}$ ($L = 0e$, all paths and channels) between the two
    environments of each pair; values at round-off ($\sim 10^{-15}$, or exactly 0, drawn at $10^{-17}$) mean
    "cannot tell apart".
    """),
    code(r"""
    fig = plt.figure(figsize=(15, 4.5), layout="constrained")
    for index, (neighbours, title) in enumerate(((plus, "$v_+ = (0, 0, +d)$"), (minus, "$v_- = (0, 0, -d)$"))):
        ax = fig.add_subplot(1, 3, index + 1, projection="3d")
        ax.scatter(0, 0, 0, color="k", s=80)
        for point, colour in zip(neighbours, ["C0", "C0", "C0", "C3"], strict=True):
            ax.scatter(*point, color=colour, s=60)
            ax.plot(*np.stack([np.zeros(3), point]).T, color="grey", lw=1)
        ax.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), zlim=(-1.3, 1.3), title=title)
    ax = fig.add_subplot(1, 3, 3)
    for offset, (pair, values) in zip((-0.15, 0.15), differences.items(), strict=True):
        ax.bar(np.array([1, 2, 3]) + offset, [max(values[nu], 1e-17) for nu in (1, 2, 3)], 0.3, label=" vs ".join(pair))
    ax.set_yscale("log")
    ax.set(xticks=[1, 2, 3], xlabel="correlation order nu", ylabel="max |B difference|", title="who can tell them apart?")
    ax.legend()
    plt.show()
    """),
    md(r"""
    ## Question for the reader

    1. A MACE model with two layers of correlation order $\nu = 2$ is not just a 3-body model: why not?
       (Hint: what does the second layer's $A$ already contain?) Would it separate the pair of part II?
    2. In the invariant table, the number of symmetric invariants for $\nu = 3$ grows with $l_{\max}$. What is
       the smallest $l_{\max}$ for which $B^{(3)}$ can tell the two environments of part II apart? Try it with
       `centre_A` and `irreps_up_to(l_max)`.

    *Exercise.* Take the 23 paths of $U$ for $\nu = 3$, $l_{\max} = 3$, evaluate them on many random $A$, and
    find the linear relations among the resulting 23 numbers (`np.linalg.svd`): how many independent ones
    remain, and which paths are identically zero?
    """),
]


NOTEBOOKS = {
    "04_radial_basis.ipynb": NB04,
    "05_atomic_basis_A.ipynb": NB05,
    "06_product_basis_B.ipynb": NB06,
}


if __name__ == "__main__":
    cli(NOTEBOOKS, __doc__)
