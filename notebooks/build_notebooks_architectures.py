"""Generate tutorial notebook 11 (the architectures of the published foundation models).

    python notebooks/build_notebooks_architectures.py [--out DIR]     (default DIR: notebooks/)

rewrites ``11_foundation_model_architectures.ipynb`` unexecuted (fixed cell ids), like the other generators.
Same plan as the other notebooks: each block's formula, a naive version that reads like it, a check against the
library, a picture, questions. The last section needs the ``verify`` extra (mace-torch); without it, it says so.
"""

import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_notebooks import cli  # noqa: E402  (the shared writer)


def md(text: str) -> tuple[str, str]:
    return "markdown", textwrap.dedent(text).strip("\n")


def code(text: str) -> tuple[str, str]:
    return "code", textwrap.dedent(text).strip("\n")


NB11 = [
    md(r"""
    # 11 — The architectures of the published foundation models

    The MACE paper's model (notebooks 05–07) is what mace-torch calls `RealAgnosticResidualInteractionBlock`. The
    foundation models that people download and run — MACE-MP-0b and later, MPA-0 (the default of `mace_mp()`),
    OMAT-0, MACE-MH-1, MACE-OMOL — add a few blocks on top of it (`docs/models.md` has the full table):

    | block | what it changes | used by |
    |---|---|---|
    | ZBL pair repulsion | a screened Coulomb wall between nuclei at short distance | MP-0b, MPA-0, OMAT-0, MH-1 |
    | Agnesi transform | the radial basis sees $r'(r)$, scaled by the covalent radii of the two elements | the same |
    | density normalisation | $A_i$ is divided by $1 + \rho_i$, a learned count of neighbours, not by a constant | MPA-0, OMAT-0, MP-0b2/b3 |
    | gated non-linearity | a non-linearity on equivariant features, with scalar gates | MH-1, OMOL |
    | multi-head readouts | one energy per head (per training data set) from the same features | MH-1, every fine-tune |

    Each section below writes one block naively, checks it against `macetutor`, and draws what it does.
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt
    from macetutor import pair, radial
    from macetutor.elements import COVALENT_RADII
    """),
    md(r"""
    ## ZBL: the nuclei repel at short distance

    A model trained on near-equilibrium structures has never seen two atoms at 0.5 Å; nothing stops it from
    predicting that they attract. The published models add the Ziegler–Biersack–Littmark universal repulsion
    (`macetutor.pair`):

    $$V_{ij} = \tfrac12\,\frac{14.3996\,Z_i Z_j}{r}\,\varphi(r/a)\,f_p\!\left(r;\ r_{\rm cov,i}+r_{\rm cov,j}\right),
      \qquad \varphi(x) = \sum_k c_k e^{-d_k x},\qquad a = \frac{0.4543 \cdot 0.529}{Z_i^{0.3} + Z_j^{0.3}},$$

    the factor ½ because both directed edges of a pair carry it. Naively, for a C–O pair:
    """),
    code(r"""
    def zbl_naive(r, Z_i, Z_j, p=5):
        a = 0.4543 * 0.529 / (Z_i**0.300 + Z_j**0.300)
        x = r / a
        phi = 0.1818 * np.exp(-3.2 * x) + 0.5099 * np.exp(-0.9423 * x) + 0.2802 * np.exp(-0.4028 * x) + 0.02817 * np.exp(-0.2016 * x)
        u = r / (COVALENT_RADII[Z_i] + COVALENT_RADII[Z_j])  # the envelope's cutoff: the sum of the covalent radii
        f = np.where(u < 1, 1 - (p + 1) * (p + 2) / 2 * u**p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2), 0.0)
        return 0.5 * 14.3996 * Z_i * Z_j / r * phi * f


    r = np.linspace(0.3, 1.6, 200)
    V, dV = pair.zbl_edge_energies(r, np.full(200, 6), np.full(200, 8), pair.ZBL(p=5))
    np.testing.assert_allclose(V, zbl_naive(r, 6, 8), rtol=1e-13, atol=1e-15)
    print(f"C-O: V(0.5 Å) = {2 * zbl_naive(np.array([0.5]), 6, 8)[0]:.1f} eV for the pair; zero beyond {COVALENT_RADII[6] + COVALENT_RADII[8]:.2f} Å")
    """),
    md(r"""
    A model with ZBL adds $\sum_j V_{ij}$ to each atom's energy — in a ScaleShiftMACE *before* the scale, so the
    wall is scaled too. Here is the energy of a C–O dimer in a small random MPA-0-like model, with and without it:
    """),
    code(r"""
    mpa0_like = dict(
        elements=(1, 6, 8),
        hidden_irreps="8x0e+8x1o",
        max_ell=2,
        correlation=(3, 3),
        r_max=5.0,
        radial_mlp=(16, 16),
        mlp_width=8,
        avg_num_neighbors=3.0,
        atomic_energies=(0.0, 0.0, 0.0),
        interaction_first="RealAgnosticDensityInteractionBlock",
        interaction="RealAgnosticDensityResidualInteractionBlock",
        distance_transform="Agnesi",
    )
    with_zbl = mt.MACE.init(mt.MACEConfig(**mpa0_like, pair_repulsion=True), seed=1)
    without = mt.MACE(mt.MACEConfig(**mpa0_like), dict(with_zbl.parameters))  # the same weights, no ZBL

    distances = np.linspace(0.4, 3.0, 80)
    energy = {
        name: [m.evaluate(np.array([[0, 0, 0], [d, 0, 0]]), [6, 8]).interaction_energy for d in distances]
        for name, m in (("MACE + ZBL", with_zbl), ("MACE alone", without))
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, E in energy.items():
        ax.plot(distances, E, label=name)
    ax.set_ylim(-20, 60)
    ax.set_xlabel("C-O distance (Å)")
    ax.set_ylabel("interaction energy (eV)")
    ax.set_title("random weights: only the short-range wall is physics")
    ax.legend()
    plt.show()
    """),
    md(r"""
    ## The Agnesi transform: a radial basis in units of the bond length

    The Bessel basis $\sin(n\pi r/r_{\max})/r$ treats an H–H pair and a Pb–Pb pair alike. The Agnesi transform
    (from ACEpotentials.jl) first maps $r$ to

    $$r' = \frac{1}{1 + a\,x^q / (1 + x^{q-p})}, \qquad x = \frac{r}{r_0},\quad r_0 = \tfrac12(r_{\rm cov,i} + r_{\rm cov,j}),$$

    with $q = 0.9183$, $p = 4.5791$, $a = 1.0805$: $r' \to 1$ as $r \to 0$ and falls fastest around the typical bond
    length $r_0$ of that pair. The basis is evaluated at $r'$; the cutoff envelope still uses $r$.
    """),
    code(r"""
    def agnesi_naive(r, r_0, q=0.9183, p=4.5791, a=1.0805):
        x = r / r_0
        return 1.0 / (1.0 + a * x**q / (1.0 + x ** (q - p)))


    r = np.linspace(0.05, 5.0, 300)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for Z, name in ((1, "H-H"), (6, "C-C"), (29, "Cu-Cu")):
        r_0 = np.full_like(r, COVALENT_RADII[Z])
        transformed, _ = radial.agnesi_transform(r, r_0, 0.9183, 4.5791, 1.0805)
        np.testing.assert_allclose(transformed, agnesi_naive(r, r_0), rtol=1e-14)
        left.plot(r, transformed, label=f"{name} (r_0 = {r_0[0]:.2f} Å)")
    left.set_xlabel("r (Å)")
    left.set_ylabel("r'")
    left.legend()
    spec = radial.RadialBasis("bessel", 5.0, 4, 5, True, "Agnesi")
    b, _, _, _ = spec.features(r, np.full_like(r, 6, dtype=int), np.full_like(r, 6, dtype=int))
    plain = radial.RadialBasis("bessel", 5.0, 4, 5, True).features(r, np.ones_like(r, dtype=int), np.ones_like(r, dtype=int))[0]
    for n in range(4):
        right.plot(r, b[:, n], color=f"C{n}", label=f"n = {n + 1}, Agnesi (C-C)")
        right.plot(r, plain[:, n], color=f"C{n}", ls=":", lw=0.8)
    right.set_xlabel("r (Å)")
    right.set_title("radial features b(r') f(r) (dotted: b(r) f(r))")
    right.legend(fontsize=7)
    plt.show()
    """),
    md(r"""
    ## Density normalisation: divide by a learned neighbour count

    The paper's $A_i$ (eq. 8) is divided by a constant, the average number of neighbours of the training set. A
    crystal with 12 neighbours and a molecule with 3 get the same divisor. The density blocks divide instead by
    $1 + \rho_i$ with

    $$\rho_i = \sum_{j \in \mathcal N(i)} \tanh\!\big((b(r_{ij})\, W_\rho / \sqrt{N})^2\big),$$

    a smooth, learned count of the neighbours (each term between 0 and 1, zero at the cutoff with $b$).
    """),
    code(r"""
    model = with_zbl
    chain = np.array([[1.5 * k, 0.3 * (k % 2), 0.0] for k in range(10)])  # a zig-zag chain: fewer neighbours at its ends
    chain_numbers = [6] * 10
    result = model.evaluate(chain, chain_numbers)
    graph, W_rho = result.graph, model.weights.layers[0].W_density[0]
    rho_edges = np.tanh((graph.radial_basis @ W_rho / np.sqrt(W_rho.shape[0]))[:, 0] ** 2)  # naive, edge by edge
    rho = np.zeros(len(chain_numbers))
    for e, i in enumerate(graph.receivers):
        rho[i] += rho_edges[e]
    library_rho, _ = mt.basis.edge_density(graph.radial_basis, graph.envelope, W_rho)
    np.testing.assert_allclose(rho, np.bincount(graph.receivers, weights=library_rho, minlength=10), rtol=1e-14)
    print("atom  neighbours  rho_i (random weights)")
    for i in range(len(chain_numbers)):
        print(f"{i:4d}  {np.sum(graph.receivers == i):10d}  {rho[i]:8.3f}")

    # methanol, for the sections below
    methanol = np.array([[0.0, 0, 0], [1.43, 0, 0], [1.75, 0.9, 0], [-0.36, 1.03, 0], [-0.36, -0.51, 0.89], [-0.36, -0.51, -0.89]])
    numbers = [6, 8, 1, 1, 1, 1]
    """),
    md(r"""
    ## The gated non-linearity of MACE-MH and MACE-OMOL

    A non-linear function of an equivariant vector would break its rotation (what is $\tanh$ of a vector?). The
    gate (e3nn's `Gate`) applies a non-linearity only to scalars, and *multiplies* each vector (or higher-$l$)
    channel by a scalar gate: $\mathrm{Gate}(s, g, v) = (c\,\mathrm{silu}(s),\ v \cdot c'\sigma(g))$. Rotating $v$
    rotates the output; the gates, scalars, do not move.
    """),
    code(r"""
    from macetutor.nonlinear import gate

    rng = np.random.default_rng(0)
    K, irreps = 3, [(0, 1), (1, -1), (2, 1)]  # K scalars; one gate per channel of each l > 0 block
    blocks = [rng.standard_normal((5, K * 3, 1)), rng.standard_normal((5, K, 3)), rng.standard_normal((5, K, 5))]
    out, _ = gate(blocks, irreps, K, 1.6791767923989418, 1.8467055342154763)  # (5 atoms, K, 1 + 3 + 5)

    def silu(x):
        return x / (1 + np.exp(-x))


    def sigmoid(x):
        return 1 / (1 + np.exp(-x))


    naive_vector = blocks[1] * 1.8467055342154763 * sigmoid(blocks[0][:, K : 2 * K])  # gates K..2K-1: the l = 1 block
    np.testing.assert_allclose(out[:, :, 1:4], naive_vector, rtol=1e-13)
    np.testing.assert_allclose(out[:, :, 0], 1.6791767923989418 * silu(blocks[0][:, :K, 0]), rtol=1e-13)

    R = mt.random_rotation(rng)
    rotated = [blocks[0], blocks[1] @ mt.wigner_D(1, R).T, blocks[2] @ mt.wigner_D(2, R).T]
    out_rotated, _ = gate(rotated, irreps, K, 1.6791767923989418, 1.8467055342154763)
    D = mt.irreps.wigner_D_irreps([(0, 1), (1, -1), (2, 1)], R)
    print("equivariance of the gate: max |Gate(D x) - D Gate(x)| =", np.abs(out_rotated - out @ D.T).max())
    """),
    md(r"""
    ## Multi-head readouts: one model, several levels of theory

    MACE-MH-1 was trained on six data sets at once (PBE, r2SCAN, ωB97M...). All heads share $A$, $B$ and $h$; each
    has its own readout, E0, scale and shift. A fine-tune made with mace-torch's defaults has two heads,
    `pt_head` (the foundation's data) and `Default` (yours). `evaluate(..., head=...)` picks one; without a name
    macetutor follows mace-torch's calculator: the head called "default", if there is one.
    """),
    code(r"""
    finetune = mt.MACE.init(
        mt.MACEConfig(
            elements=(1, 6, 8),
            hidden_irreps="8x0e+8x1o",
            max_ell=2,
            radial_mlp=(16, 16),
            mlp_width=8,
            heads=("pt_head", "Default"),
            atomic_energies=((-13.6, -1029.8, -2041.9), (-13.5, -1030.0, -2042.2)),
            scale=(1.0, 0.8),
            shift=(0.0, 0.1),
        ),
        seed=2,
    )
    for head in finetune.config.heads:
        r = finetune.evaluate(methanol, numbers, head=head)
        print(f"{head:8s}  E = {r.energy:12.4f} eV   (same features: max |h - h_pt| = {np.abs(r.intermediates[-1].h - finetune.evaluate(methanol, numbers, head='pt_head').intermediates[-1].h).max():.1e})")
    print("no head given ->", finetune.config.heads[finetune.head_index()])
    """),
    md(r"""
    ## An MPA-0-like model from mace-torch, verified block by block

    With the `verify` extra, build a small mace-torch model with MPA-0's architecture (Density blocks, ZBL,
    Agnesi), import it, and compare every block. `macetutor verify MODEL STRUCTURE` does the same for a model file.
    """),
    code(r"""
    import importlib.util

    HAVE_MACE = importlib.util.find_spec("mace") is not None
    if not HAVE_MACE:
        print("mace-torch is not installed (the `verify` extra): this section is skipped.")
    else:
        import warnings

        warnings.filterwarnings("ignore")
        from macetutor.interop.mace_torch import evaluate_mace_torch, random_mace_torch_model

        torch_model = random_mace_torch_model(
            (1, 6, 8), "8x0e+8x1o", 2, 3, 2, r_max=5.0, radial_mlp=(16, 16), mlp_irreps="8x0e",
            interaction_first="RealAgnosticDensityInteractionBlock",
            interaction="RealAgnosticDensityResidualInteractionBlock",
            pair_repulsion=True, distance_transform="Agnesi", avg_num_neighbors=3.0, scale_shift=(1.2, -0.1),
        )
        ours = mt.interop.from_mace_torch(torch_model)
        ref = evaluate_mace_torch(torch_model, methanol, numbers)
        got = ours.evaluate(methanol, numbers, forces=True)
        def rel(a, b):
            return np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max()

        print(f"{'block':24s} relative difference")
        for t, layer in enumerate(got.intermediates):
            print(f"{f'layer {t}: A':24s} {rel(layer.A.reshape(6, -1), ref['A'][t].reshape(6, -1)):.1e}")
            print(f"{f'layer {t}: h':24s} {rel(mt.irreps.to_e3nn_layout(layer.h, layer.irreps_out), ref['h'][t]):.1e}")
        print(f"{'interaction energy':24s} {rel(got.interaction_energy, ref['interaction_energy']):.1e}")
        print(f"{'forces':24s} {rel(got.forces, ref['forces']):.1e}")
        assert rel(got.forces, ref["forces"]) < 1e-9
    """),
    md(r"""
    ## Questions

    1. ZBL is scaled by the ScaleShiftMACE's scale. Why might that be a problem for a fine-tune whose scale differs
       a lot from the foundation's? (Compare `with_zbl` at 0.5 Å with two different `scale` values.)
    2. The Agnesi transform maps large $r$ to small $r'$. What does the Bessel basis $\sin(n\pi r'/r_{\max})/r'$
       do as $r' \to 0$, and why is the envelope still applied to $r$ and not to $r'$?
    3. With density normalisation, what does $A_i$ of an isolated atom with one neighbour far away look like,
       compared with the constant divisor? Try moving the H away from a dimer.
    4. Why must the gates be *scalars*? Write a "gate" whose gate is the $x$ component of a vector, and check that
       it breaks equivariance.
    """),
]

NOTEBOOKS = {"11_foundation_model_architectures.ipynb": NB11}

if __name__ == "__main__":
    cli(NOTEBOOKS, __doc__)
