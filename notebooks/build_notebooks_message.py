"""Generate the tutorial notebooks 07-09 (messages and readout, forces, verifying another implementation).

The notebooks are build products: edit the cells here, then run

    python notebooks/build_notebooks_message.py [--out DIR]     (default DIR: notebooks/)

which rewrites ``07_message_passing_and_readout.ipynb``, ``08_forces.ipynb`` and
``09_verify_another_implementation.ipynb`` unexecuted (no outputs, fixed cell ids ``nb07-00``...,
so the files are byte-for-byte reproducible). ``tests/test_notebooks_message.py`` checks that the
committed notebooks match this script and that they execute.

Same plan as notebooks 01-03 (``build_notebooks.py``): the equation, a naive implementation that reads
like it, a check against the library (``import macetutor as mt``), a picture, and a question.
Notebook 09 needs the ``verify`` extra (torch, mace-torch); without it, it prints a message and skips.
"""

import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_notebooks import cli  # noqa: E402  (the shared writer)


def md(text: str) -> tuple[str, str]:
    return "markdown", textwrap.dedent(text).strip("\n")


def code(*parts: str) -> tuple[str, str]:
    """A code cell; several parts (each dedented on its own) are joined by a blank line."""
    return "code", "\n\n".join(textwrap.dedent(part).strip("\n") for part in parts)


# the small random model of notebooks 07 and 08
MODEL_CELL = r"""
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
    atomic_energies=(-13.6, -1029.8, -2041.9),
)
model = mt.MACE.init(config, seed=0)  # random weights: the numbers mean nothing, the identities do

# methanol, CH3OH (Å)
positions = np.array(
    [
        [0.00, 0.00, 0.00],  # C
        [1.43, 0.00, 0.00],  # O
        [1.75, 0.90, 0.00],  # H (on O)
        [-0.36, 1.03, 0.00],  # H
        [-0.36, -0.51, 0.89],  # H
        [-0.36, -0.51, -0.89],  # H
    ]
)
numbers = np.array([6, 8, 1, 1, 1, 1])
symbols = ["C", "O", "H", "H", "H", "H"]
"""


# --------------------------------------------------------------------------------------------
# 07: messages, update, readout, receptive field
# --------------------------------------------------------------------------------------------

NB07 = [
    md(r"""
    # 07 — Message passing and readout

    Notebooks 04–06 built the atomic basis $A$ (eq. 8) and the product basis $B$ (eq. 10). One MACE
    layer $t$ ends with two linear steps. The **message** (eq. 11) mixes the correlation orders
    $\nu = 1..N$ and coupling paths $\eta_\nu$ with weights that depend on the element $z_i$ of the
    centre, channel by channel:

    $$m^{(t)}_{i,kLM} = \sum_{\nu=1}^{N} \sum_{\eta_\nu} W^{(t)}_{z_i k L, \eta_\nu}\, B^{(t)}_{i, \eta_\nu k LM}.$$

    The **update** (eq. 12) is a channel-mixing linear map of the message plus an element-dependent
    self-connection (the residual) of the previous features:

    $$h^{(t+1)}_{i,kLM} = \sum_{\tilde k} W^{(t)}_{kL,\tilde k}\, m^{(t)}_{i,\tilde k LM}
      + \sum_{\tilde k} W^{(t)}_{z_i kL, \tilde k}\, h^{(t)}_{i,\tilde k LM}.$$

    The **readouts** turn the invariant ($L = 0$) channels into a site energy per layer, linear for all
    layers but the last, a one-hidden-layer MLP for the last:

    $$E_i^{(t)} = \sum_k W^{(t)}_{\text{read},k}\, h^{(t)}_{i,k00} \quad (t < T), \qquad
      E_i^{(T)} = \mathrm{MLP}\big(h^{(T)}_{i,:,00}\big),$$

    $$E = \sum_i E_{0,z_i} + \sum_i \Big(\text{scale} \sum_{t} E_i^{(t)} + \text{shift}\Big).$$

    In macetutor, `result.intermediates[t]` is layer $t$ counted from 0: it holds `h_in` $= h^{(t)}$,
    `A`, `B`, `message` and `h` $= h^{(t+1)}$, and the readout of `h` in `node_energy`.
    """),
    code(
        r"""
    import dataclasses

    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt
    """,
        MODEL_CELL,
        r"""
    result = model.evaluate(positions, numbers)
    z = model.element_index(numbers)  # position of each atom's element in config.elements
    P, C, n_atoms = model.parameters, config.channels, len(numbers)
    for t, layer in enumerate(result.intermediates):
        shapes = {name: getattr(layer, name).shape for name in ("h_in", "A", "message", "h")}
        print(f"layer {t}:", shapes)
    """,
    ),
    md(r"""
    ## The message (eq. 11), naively

    We take the product basis `B` that the model stored for layer 1 (the last layer: it only produces
    the scalars $L = 0$ that feed the energy) and the weights
    `P["layer1.product.{L}.nu{nu}"]`, shaped `(n_elements, n_paths, C)`. No normalisation here:
    `MACE.init` already divides these weights by their number of paths, as mace-torch does.
    """),
    code(r"""
    t = 1
    layer = result.intermediates[t]
    blocks_out = mt.irreps.offsets(layer.irreps_out)  # the slice of each output block L

    m = np.zeros_like(layer.message)  # (n_atoms, C, sum(2L+1))
    for i in range(n_atoms):
        for irrep, block in zip(layer.irreps_out, blocks_out, strict=True):
            for nu, B in layer.B[irrep].items():  # B: (n_atoms, C, n_paths, 2L+1)
                W = P[f"layer{t}.product.{irrep}.nu{nu}"]  # (n_elements, n_paths, C)
                for k in range(C):
                    for eta in range(B.shape[2]):
                        m[i, k, block] += W[z[i], eta, k] * B[i, k, eta, :]

    np.testing.assert_allclose(m, layer.message, rtol=1e-13, atol=1e-15)
    print("naive message == model's message; m[:, :, 0] =\n", m[:, :, 0].round(4))
    """),
    md(r"""
    ## The update (eq. 12), naively

    Both linear maps divide by the square root of their fan-in (e3nn's convention, `docs/conventions.md`):
    $W m$ by $\sqrt{C}$, the self-connection $W_{z_i} h^{(t)}$ by $\sqrt{C\, n_\text{elements}}$ (it is a
    tensor product with the one-hot element vector). One weight matrix per irrep block, and a self-connection
    only for blocks present in both $h^{(t)}$ and $h^{(t+1)}$.
    """),
    code(r"""
    n_elements = len(config.elements)
    blocks_in = dict(zip(layer.irreps_in, mt.irreps.offsets(layer.irreps_in), strict=True))
    h = np.zeros_like(layer.h)
    n_skip = 0
    for b, (irrep, block) in enumerate(zip(layer.irreps_out, blocks_out, strict=True)):
        W_lin = P[f"layer{t}.product_linear.{b}"]  # (C, C)
        W_skip = P[f"layer{t}.skip.{n_skip}"] if irrep in blocks_in else None  # (C, n_elements, C)
        n_skip += irrep in blocks_in
        for i in range(n_atoms):
            for k in range(C):
                for k_tilde in range(C):
                    h[i, k, block] += W_lin[k_tilde, k] * m[i, k_tilde, block] / np.sqrt(C)
                    if W_skip is not None:
                        h_previous = layer.h_in[i, k_tilde, blocks_in[irrep]]
                        h[i, k, block] += W_skip[k_tilde, z[i], k] * h_previous / np.sqrt(C * n_elements)

    np.testing.assert_allclose(h, layer.h, rtol=1e-13, atol=1e-15)
    print("naive h^(2) == model's h^(2)")
    print("layer 0 (non-residual, as mace-torch's): self_connection =", result.intermediates[0].self_connection)
    """),
    md(r"""
    ## Readouts and the energy bookkeeping

    Layer 0: a linear map of the scalar channels, $/\sqrt{C}$. Layer 1 (last): $\text{SiLU}$ MLP of width
    `mlp_width`, each linear map $/\sqrt{\text{fan-in}}$, SiLU times e3nn's normalisation constant
    (`config.readout_activation_constant`). Then the sum over layers, scale and shift (ScaleShiftMACE;
    1 and 0 for plain MACE) and the isolated-atom energies $E_0$.
    """),
    code(r"""
    def silu(x):
        return x / (1.0 + np.exp(-x))


    scalars = [layer_t.h[:, :, 0] for layer_t in result.intermediates]  # (n_atoms, C): the 0e channels
    E_layer0 = scalars[0] @ P["layer0.readout"][:, 0] / np.sqrt(C)
    hidden = config.readout_activation_constant * silu(scalars[1] @ P["layer1.readout.1"] / np.sqrt(C))
    E_layer1 = hidden @ P["layer1.readout.2"][:, 0] / np.sqrt(config.mlp_width)
    for t_, E_t in enumerate((E_layer0, E_layer1)):
        np.testing.assert_allclose(E_t, result.intermediates[t_].node_energy, rtol=1e-13)


    def bookkeeping(cfg, E0):
        node = E0 + cfg.scale * (E_layer0 + E_layer1) + cfg.shift
        return node, node.sum()


    node, E = bookkeeping(config, P["E0"][z])
    np.testing.assert_allclose(node, result.node_energies, rtol=1e-14)
    np.testing.assert_allclose(E, result.energy, rtol=1e-14)

    # the same weights as a ScaleShiftMACE: only the last line changes
    scaled_config = dataclasses.replace(config, scale=1.3, shift=-0.2)
    scaled = mt.MACE(scaled_config, model.parameters).evaluate(positions, numbers)
    np.testing.assert_allclose(bookkeeping(scaled_config, P["E0"][z])[1], scaled.energy, rtol=1e-14)

    print(" atom      E0     E^(0)     E^(1)   node energy")
    for i in range(n_atoms):
        print(f"{symbols[i]:>5s} {P['E0'][z[i]]:8.1f} {E_layer0[i]:9.4f} {E_layer1[i]:9.4f} {node[i]:12.4f}")
    print(f"E = {E:.6f} eV (model: {result.energy:.6f}); interaction energy {result.interaction_energy:.6f} eV")
    """),
    md(r"""
    ## The receptive field of two layers

    Layer 1 sums over neighbours within $r_\text{max}$, so $h^{(1)}_i$ depends only on atoms within
    $r_\text{max}$ of $i$. Layer 2 sums $h^{(1)}_j$ over neighbours $j$ of $i$: $h^{(2)}_i$ sees atoms up to
    $2\, r_\text{max}$ away, but only through an atom in between that is a neighbour of both. We move the
    first atom of a chain (spacing 1.8 Å, $r_\text{max}$ = 4 Å) and ask which atoms' features change.
    """),
    code(r"""
    chain = np.array([[1.8 * k, 0.0, 0.0] for k in range(8)])
    chain_numbers = np.array([6, 1] * 4)
    moved = chain.copy()
    moved[0] += [0.0, 0.3, 0.1]  # move atom 0

    before, after = model.evaluate(chain, chain_numbers), model.evaluate(moved, chain_numbers)
    distance = np.linalg.norm(chain - chain[0], axis=1)
    changed = {}  # feature h^(t+1) -> which atoms changed
    for t_ in range(2):
        difference = np.abs(after.intermediates[t_].h - before.intermediates[t_].h).max(axis=(1, 2))
        changed[t_ + 1] = difference > 1e-12
    print("atom  distance  h^(1) changed  h^(2) changed")
    for i in range(len(chain)):
        print(f"{i:4d} {distance[i]:8.1f} {changed[1][i]!s:>14} {changed[2][i]!s:>14}")
    assert np.array_equal(changed[1], distance <= config.r_max)
    # h^(2)_i changes if a neighbour's h^(1) changed: within 2 r_max, but only through an atom in between
    neighbours = np.linalg.norm(chain[:, None] - chain[None, :], axis=-1) <= config.r_max
    assert np.array_equal(changed[2], (neighbours & changed[1][None, :]).any(axis=1))
    assert np.array_equal(changed[2], distance <= 2 * config.r_max)
    """),
    md(r"""
    ## Picture: the receptive field

    Red atoms changed when atom 0 moved; the shaded band is $r_\text{max}$ (top) and $2\,r_\text{max}$
    (bottom) around atom 0. The energy is a sum of site energies of this range: MACE reaches $2\,r_\text{max}$
    with two layers, where a single layer with body order 4 would still see only $r_\text{max}$.
    """),
    code(r"""
    fig, axes = plt.subplots(2, 1, figsize=(10, 3.2), sharex=True, layout="constrained")
    for ax, (t_, reach) in zip(axes, ((1, config.r_max), (2, 2 * config.r_max)), strict=True):
        ax.axvspan(0, reach, color="tab:orange", alpha=0.2, label=f"{t_} x r_max")
        ax.plot(chain[:, 0], np.zeros(len(chain)), color="grey", zorder=1)
        colours = np.where(changed[t_], "tab:red", "tab:blue")
        ax.scatter(chain[:, 0], np.zeros(len(chain)), s=300 * np.where(chain_numbers == 6, 1.0, 0.5), c=colours, zorder=2)
        for i, x in enumerate(chain[:, 0]):
            ax.annotate(str(i), (x, 0), ha="center", va="center", color="white", fontsize=8)
        ax.set(yticks=[], ylabel=f"h^({t_})", ylim=(-1, 1))
        ax.legend(loc="upper right")
    axes[1].set_xlabel("x (Å); atom 0 moved; red: features changed")
    plt.show()
    """),
    md(r"""
    ## Question for the reader

    1. The last layer keeps only the scalar channels of $h$. Why is that enough for the energy, and why does
       the *previous* layer still need the $L = 1$ channels?
    2. Where in eqs. (11)–(12) does the element of atom $i$ enter, and where does the element of a
       neighbour $j$ enter (hint: notebook 04's embedding and eq. 8)?

    *Exercise.* Add a third layer (`correlation=(2, 2, 2)`) and repeat the chain experiment: which atoms'
    $h^{(3)}$ change? How does the receptive field of $T$ layers grow, and what does this mean for the
    cost of a parallel code that gives each processor a region of space?
    """),
]


# --------------------------------------------------------------------------------------------
# 08: forces and stress
# --------------------------------------------------------------------------------------------

NB08 = [
    md(r"""
    # 08 — Forces

    The force on atom $k$ is the negative gradient of the energy, $\mathbf F_k = -\partial E / \partial \mathbf r_k$.
    MACE never sees positions directly: the energy depends on them only through the **edge vectors**
    $\mathbf v_e = \mathbf r_{i(e)} - \mathbf r_{j(e)} + \mathbf S_e$ (receiver $i$, the centre; sender $j$,
    the neighbour; $\mathbf S_e$ a lattice shift in a crystal). With $\mathbf g_e = \partial E/\partial \mathbf v_e$,
    the chain rule gives

    $$\mathbf F_k = -\sum_e \mathbf g_e\, \big(\delta_{k, i(e)} - \delta_{k, j(e)}\big):
      \qquad \mathbf F_{i(e)} \mathrel{-}= \mathbf g_e, \quad \mathbf F_{j(e)} \mathrel{+}= \mathbf g_e.$$

    In words: every edge pushes its two atoms with equal and opposite forces. The edge gradient itself
    goes through the length (radial basis) and the direction (spherical harmonics):

    $$\mathbf g_e = \frac{\partial E}{\partial r_e}\,\frac{\mathbf v_e}{r_e}
      + \sum_{lm} \frac{\partial E}{\partial Y_{lm}(\mathbf v_e)}\, \nabla Y_{lm}(\mathbf v_e),$$

    and $\partial E / \partial r_e$, $\partial E / \partial Y$ come from the reverse pass through every
    layer (`MACE.reverse_pass` and `macetutor.layer.interaction_layer_vjp`, written by hand, block by block, no automatic differentiation).
    """),
    code(
        r"""
    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt
    from macetutor.gradcheck import check_vjp
    """,
        MODEL_CELL,
        r"""
    result = model.evaluate(positions, numbers, forces=True)
    print("forces (eV/Å):\n", result.forces.round(4))
    """,
    ),
    md(r"""
    ## A naive check: central differences, coordinate by coordinate

    $F_{k\alpha} \approx -\big(E(\mathbf r + h\,\mathbf e_{k\alpha}) - E(\mathbf r - h\,\mathbf e_{k\alpha})\big)/2h$.
    We difference the *interaction* energy: $\sum_i E_{0,z_i}$ does not depend on positions, and its
    size ($\sim 3000$ eV) would only add round-off.
    """),
    code(r"""
    def energy(x):
        return model.evaluate(x, numbers).interaction_energy


    h = 1e-5
    F_fd = np.zeros_like(positions)
    for k in range(len(positions)):
        for alpha in range(3):
            plus, minus = positions.copy(), positions.copy()
            plus[k, alpha] += h
            minus[k, alpha] -= h
            F_fd[k, alpha] = -(energy(plus) - energy(minus)) / (2 * h)

    error = np.abs(F_fd - result.forces).max() / np.abs(result.forces).max()
    print(f"max |F_fd - F| / max |F| = {error:.2e}")
    assert error < 1e-7
    """),
    md(r"""
    ## The step-size sweep

    `check_vjp(f, vjp, x)` compares $\langle \text{vjp}(x, g), d\rangle$ with the central difference of
    $\langle g, f\rangle$ along random directions $d$, for $h$ from $10^{-1}$ down. A correct derivative
    shows the truncation error $\propto h^2$ (100× smaller per decade of $h$) until round-off,
    $\propto \epsilon\,|E|/h$, takes over; a wrong derivative stalls at a constant error.
    """),
    code(r"""
    steps = np.logspace(-1, -10, 19)
    check = check_vjp(energy, lambda x, g: -g * model.evaluate(x, numbers, forces=True).forces, positions, steps=steps)
    print(check.table())
    assert check.shows_second_order() and check.best_error < 1e-8
    """),
    code(r"""
    fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    ax.loglog(check.steps, check.errors, "o-", label="relative error")
    anchor = 2  # draw the reference lines through the third and the last point
    ax.loglog(steps, check.errors[anchor] * (steps / steps[anchor]) ** 2, "--", label="∝ h² (truncation)")
    ax.loglog(steps, check.errors[-1] * steps[-1] / steps, ":", label="∝ 1/h (round-off)")
    ax.set(xlabel="step h (Å)", ylabel="|finite difference - analytic| / |analytic|", ylim=(1e-14, 1))
    ax.invert_xaxis()
    ax.legend()
    ax.set_title("central differences against the hand-written forces")
    plt.show()
    """),
    md(r"""
    ## Stress: strain the cell

    Under a homogeneous strain $\varepsilon$ every position and every lattice vector maps to
    $(1 + \varepsilon)\,\mathbf x$, so every edge vector does too. The stress (ASE's sign, positive under
    tension) is $\sigma = \frac1V \partial E/\partial \varepsilon$ at $\varepsilon = 0$; the chain rule
    gives $\sigma = \frac1V \sum_e \mathbf g_e \otimes \mathbf v_e$ (symmetrised). We difference all nine
    components of $\varepsilon$ for a small triclinic crystal (cell smaller than $2\,r_\text{max}$: atoms
    see their own periodic images).
    """),
    code(r"""
    cell = np.array([[3.3, 0.0, 0.0], [0.5, 3.6, 0.0], [0.2, 0.4, 3.9]])  # lattice vectors as rows
    crystal = np.array([[0.1, 0.1, 0.1], [0.55, 0.45, 0.2], [0.3, 0.8, 0.6]]) @ cell
    crystal_numbers = np.array([6, 8, 1])
    volume = abs(np.linalg.det(cell))


    def strained_energy(eps):
        strain = np.eye(3) + eps
        return model.evaluate(crystal @ strain.T, crystal_numbers, cell @ strain.T, pbc=True).interaction_energy


    stress_fd = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = 1e-5
            stress_fd[a, b] = (strained_energy(eps) - strained_energy(-eps)) / (2e-5) / volume

    periodic = model.evaluate(crystal, crystal_numbers, cell, pbc=True, forces=True, stress=True)
    print("stress (eV/Å^3):\n", periodic.stress.round(6))
    error = np.abs(stress_fd - periodic.stress).max() / np.abs(periodic.stress).max()
    print(f"max |stress_fd - stress| / max |stress| = {error:.2e}")
    assert error < 1e-7
    """),
    md(r"""
    ## Newton's third law

    Each edge adds $-\mathbf g_e$ to one atom and $+\mathbf g_e$ to another, so the forces sum to zero
    exactly (up to round-off), for a molecule and for a crystal alike: the energy does not change when
    everything is translated. A molecule can also be rotated freely, so the total torque vanishes too.
    """),
    code(r"""
    for name, F in (("methanol", result.forces), ("crystal", periodic.forces)):
        print(f"{name:>9s}: |sum_k F_k| = {np.abs(F.sum(axis=0)).max():.1e} eV/Å   (max |F_k| = {np.abs(F).max():.2f})")
        assert np.abs(F.sum(axis=0)).max() < 1e-12 * np.abs(F).max() * len(F)

    torque = np.cross(positions, result.forces).sum(axis=0)
    print(f"methanol: |sum_k r_k x F_k| = {np.abs(torque).max():.1e} eV")
    assert np.abs(torque).max() < 1e-12
    """),
    md(r"""
    ## Question for the reader

    1. The best finite-difference error above is near $10^{-11}$, not $10^{-16}$. Estimate the optimal $h$
       from the two error terms $a h^2 + \epsilon |E| / h$, and compare with the table.
    2. In a crystal the total torque does *not* vanish in general, although the forces still sum to zero.
       Why? (Hint: is the energy of a periodic crystal invariant under rotating the atoms but not the cell?)

    *Exercise.* Break the derivative on purpose: flip the sign of the force on one atom in the `vjp` passed to
    `check_vjp`, and look at the error column. How does a wrong derivative look on the log-log plot?
    """),
]


# --------------------------------------------------------------------------------------------
# 09: verifying another implementation
# --------------------------------------------------------------------------------------------

NB09 = [
    md(r"""
    # 09 — Verifying another implementation

    macetutor is meant as an *oracle* for people who write or port MACE. This notebook shows the workflow
    on the real thing: build a small **mace-torch** model, import its weights with
    `macetutor.interop.from_mace_torch`, evaluate both codes on the same molecule and compare every block,
    layer by layer. Then it shows the file a porter compares against: `macetutor.reference.dump`.

    It needs the `verify` extra (`pip install -e ".[verify]"`: torch, mace-torch, ase). Without it the
    notebook prints a message and skips its cells.
    """),
    code(r"""
    import importlib.util
    import json
    import sys
    import tempfile
    import warnings
    from pathlib import Path

    import numpy as np

    import macetutor as mt

    HAVE_MACE = importlib.util.find_spec("mace") is not None
    if HAVE_MACE:
        warnings.filterwarnings("ignore")  # mace-torch and e3nn warn about torch.load and missing accelerators
    else:
        print("mace-torch is not installed: this notebook needs the `verify` extra (pip install -e '.[verify]').")
        print("Every cell below is skipped.")
    """),
    md(r"""
    ## A mace-torch model and its macetutor twin

    `tests/mace_torch_models.py` builds small mace-torch models with random weights; `B_l2_block` is a
    `ScaleShiftMACE` with hidden irreps `4x0e+4x1o+4x2e`, two layers, correlation 2. The importer reads the
    weights (never the forward pass) and maps them onto macetutor's own coefficients.
    """),
    code(r"""
    if HAVE_MACE:
        sys.path.insert(0, "../tests")
        import mace  # noqa: F401  (import mace before e3nn)
        from mace_torch_models import ARCHITECTURES, build, evaluate_torch, structures

        from macetutor.interop import from_mace_torch

        torch_model = build("B_l2_block")
        ours = from_mace_torch(torch_model)
        print(ours.config)
    """),
    md(r"""
    ## Block by block

    `evaluate_torch` runs mace-torch and captures, with forward hooks, the atomic basis $A$ of each
    interaction block and the features $h$ after each product block. Layouts differ: mace-torch holds $A$
    as `(n_atoms, C, sum(2l+1))`, which is macetutor's layout, and $h$ flattened block after block,
    channel-major, which is e3nn's layout (`mt.irreps.to_e3nn_layout` converts). Relative error: max
    absolute difference over max absolute value.
    """),
    code(r"""
    if HAVE_MACE:
        positions, numbers, cell, pbc = structures(ARCHITECTURES["B_l2_block"]["elements"])["molecule"]
        ref = evaluate_torch(torch_model, positions, numbers, cell, pbc)
        result = ours.evaluate(positions, numbers, cell, pbc, forces=True)

        rows = []
        for t, layer in enumerate(result.intermediates):
            n_atoms = len(positions)
            rows.append((f"layer {t} A", layer.A.reshape(n_atoms, -1), ref["A"][t].reshape(n_atoms, -1)))
            rows.append((f"layer {t} h (e3nn)", mt.irreps.to_e3nn_layout(layer.h, layer.irreps_out), ref["h"][t]))
        rows.append(("interaction energy", result.interaction_energy, ref["interaction_energy"]))
        rows.append(("energy", result.energy, ref["energy"]))
        rows.append(("node energies", result.node_energies, ref["node_energy"]))
        rows.append(("forces", result.forces, ref["forces"]))

        print(f"{'block':>20s} {'shape':>10s} {'max |torch|':>12s} {'max |diff|':>11s} {'relative':>10s}")
        for name, a, b in rows:
            a, b = np.asarray(a), np.asarray(b)
            diff, size = np.abs(a - b).max(), np.abs(b).max()
            print(f"{name:>20s} {str(b.shape):>10s} {size:12.3e} {diff:11.2e} {diff / max(size, 1e-300):10.1e}")
            assert diff <= 1e-10 * max(size, 1e-12)
    """),
    md(r"""
    ## The sign map

    The two codes compute the same function with different coefficients. macetutor's real Clebsch–Gordan
    coefficients (Condon–Shortley, from sympy) and e3nn's `wigner_3j` differ by a normalisation and a sign
    per triple, $C(l_1, l_2, l_3) = s\,\sqrt{2 l_3 + 1}\;W_{3j}(l_1, l_2, l_3)$ with $s = \pm 1$
    (`docs/conventions.md` lists the triples with $s = -1$; all have odd $l_1 + l_2 + l_3$). So:

    * **edge tensor product** (eq. 8): the radial weights of each path are multiplied by its $s$;
    * **product basis** (eq. 10): the generalised CG tensors are built from the coefficients, so
      $U_\text{torch} = U_\text{ours}\, T$ with $T$ a signed identity (one sign per coupling path), and
      $W_\text{ours} = T\, W_\text{torch}$.

    The signs cancel in the weights, which is why *equal intermediates* need the imported weights, not copied ones.
    The small model above happens to use only paths with $s = +1$; below, all triples with $l \le 3$, and
    mace-torch's own $U$ tensors (`mace.tools.cg.U_matrix_real`) for $A$ = `0e+1o+2e` up to $\nu = 3$,
    where single coupling paths do flip.
    """),
    code(r"""
    if HAVE_MACE:
        import torch
        from e3nn import o3
        from mace.tools.cg import U_matrix_real

        # 1. the Clebsch-Gordan sign s of every triple with l <= 3 (the model above only uses triples with s = +1)
        flipped = []
        sorted_triples = [(a, b, c) for a in range(4) for b in range(a, 4) for c in range(b, min(a + b, 3) + 1)]
        for l1, l2, l3 in sorted_triples:
            W3j = np.sqrt(2 * l3 + 1) * o3.wigner_3j(l1, l2, l3).numpy()
            C = mt.clebsch_gordan(l1, l2, l3)
            sign = np.sign(np.sum(C * W3j))
            np.testing.assert_allclose(C, sign * W3j, atol=1e-13)
            if sign < 0:
                flipped.append((l1, l2, l3))
        print("sorted triples l <= 3 with s = -1:", flipped)

        # 2. mace-torch's U tensors (U_matrix_real, what its symmetric contractions store) against macetutor's
        irreps_A = [(0, 1), (1, -1), (2, 1)]  # 0e + 1o + 2e
        for L in ("0e", "1o", "2e"):
            irrep = (o3.Irrep(L).l, o3.Irrep(L).p)
            for nu in (1, 2, 3):
                U_torch = U_matrix_real("0e+1o+2e", L, correlation=nu, dtype=torch.float64)[-1].numpy()
                U_ours = mt.generalized_clebsch_gordan(irreps_A, irrep, nu)
                n_paths = U_ours.shape[-1]
                T = np.linalg.lstsq(U_ours.reshape(-1, n_paths), U_torch.reshape(-1, n_paths), rcond=None)[0]
                np.testing.assert_allclose(T, np.diag(np.round(np.diag(T))), atol=1e-10)  # a signed identity
                print(f"  L = {L}, nu = {nu}: {n_paths:2d} paths, diag(T) = {np.round(np.diag(T)).astype(int)}")
    """),
    md(r"""
    ## For porters: the reference dump

    `mt.reference.dump(model, positions, numbers, cell, pbc, path)` evaluates a model and writes every
    intermediate to one `.npz` (no pickle) with a JSON index: the edges, and per layer `h_in`, `A`, `B`,
    the message, `h` (also in e3nn's layout) and the readouts. A porter loads a model (`MACE.load`, or
    `macetutor convert` from a mace-torch file), dumps it, and compares their own arrays name by name.
    """),
    code(r"""
    if HAVE_MACE:
        workdir = tempfile.TemporaryDirectory()
        path = Path(workdir.name) / "reference.npz"
        mt.reference.dump(ours, positions, numbers, cell, pbc, path=path)

        with np.load(path, allow_pickle=False) as data:  # plain numpy: no macetutor needed to read it
            index = json.loads(str(data["index"]))
            dumped = {name: data[name] for name in data.files}
        print(f"{path.name}: {len(index)} arrays")
        for name, entry in list(index.items())[:24]:
            print(f"  {name:24s} {str(tuple(entry['shape'])):16s} {entry['description'][:60]}")
        print("  ...")
    """),
    code(r"""
    if HAVE_MACE:
        # a porter's comparison: another code's h of the last layer (here mace-torch's) against the dump
        theirs = ref["h"][1]  # (n_atoms, C * dim) in e3nn's layout
        mine = dumped["layer1/h_e3nn"]
        print(index["layer1/h_e3nn"]["description"])
        print(f"max |dump - mace-torch| = {np.abs(mine - theirs).max():.2e}  (max |h| = {np.abs(theirs).max():.2f})")
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-10 * np.abs(theirs).max())
        workdir.cleanup()
    """),
    md(r"""
    ## Question for the reader

    1. The dump also stores $B$ and the $U$ tensors, but a code with another sign convention will *not*
       reproduce macetutor's $B$ entry by entry. Which arrays can a porter compare directly, and how can they
       compare $B$ anyway? (Hint: $U_\text{theirs} = U_\text{ours}\,T$.)
    2. Why does the interaction energy agree even if one forgot the sign map entirely in the *first* layer's
       radial weights? Does it? (Try it: flip the sign of one path's radial weights in `ours.parameters`
       copied into a new `mt.MACE`, and recompute the table.)
    """),
]


NOTEBOOKS = {
    "07_message_passing_and_readout.ipynb": NB07,
    "08_forces.ipynb": NB08,
    "09_verify_another_implementation.ipynb": NB09,
}


if __name__ == "__main__":
    cli(NOTEBOOKS, __doc__)
