"""Generate tutorial notebook 12 (training: the loss, its exact gradient, the mixed second derivative, a live fit).

    python notebooks/build_notebooks_training.py [--out DIR]     (default DIR: notebooks/)

rewrites ``12_training.ipynb`` unexecuted (fixed cell ids), like the other generators.
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


NB12 = [
    md(r"""
    # 12 — Training: the loss, its exact gradient, and a model that learns

    Notebooks 05–08 evaluate a MACE model. Here it *learns*. Training minimises mace-torch's loss over labelled
    structures (energies $\hat E_s$, forces $\hat F_i$):

    $$L = \frac{\lambda_E}{S}\sum_s w_s\Big(\frac{E_s-\hat E_s}{N_s}\Big)^2 + \frac{\lambda_F}{3\sum_s N_s}\sum_{s}\sum_{i\in s} w_s\,|F_i-\hat F_i|^2$$

    and needs $\partial L/\partial\theta$ for every weight $\theta$. The energy term is the easy part: the reverse
    pass that gives the forces already carries, at each block, the derivative of $E$ with respect to the block's
    output. The force term is the hard part: $F = -\partial E/\partial r$, so $\partial L/\partial \theta$ needs the
    mixed second derivative $\partial^2 E/\partial\theta\,\partial r$. mace-torch gets it from autograd with
    `create_graph=True`; macetutor derives it by hand (`docs/training.md`). This notebook shows how, checks it, and
    fits a small model.
    """),
    code(r"""
    import matplotlib.pyplot as plt
    import numpy as np

    import macetutor as mt
    from macetutor.gradcheck import check_vjp
    from macetutor.training import Structure, loss, loss_and_gradient
    """),
    md(r"""
    ## Data: a teacher and a student

    To see learning without a quantum-chemistry code, the labels come from a *teacher*: a random MACE model of the
    same architecture. The *student* starts from other random weights and must find the teacher's function from
    energies and forces of 40 distorted water molecules. (Notebook 13 trains on GFN2-xTB labels.)
    """),
    code(r"""
    config = mt.MACEConfig(
        elements=(1, 8), hidden_irreps="8x0e+8x1o", max_ell=2, correlation=(2, 2), r_max=4.0, num_bessel=6,
        radial_mlp=(16, 16), avg_num_neighbors=2.0, atomic_energies=(-13.6, -2041.0),
    )
    teacher = mt.MACE.init(config, seed=1)
    rng = np.random.default_rng(0)
    water = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])

    def labelled(n):
        out = []
        for _ in range(n):
            positions = water + 0.12 * rng.standard_normal((3, 3))
            r = teacher.evaluate(positions, [8, 1, 1], forces=True)
            out.append(Structure(positions, [8, 1, 1], energy=r.energy, forces=r.forces))
        return out

    train, test = labelled(40), labelled(20)
    student = mt.MACE.init(config, seed=2)
    weights = {"energy": 1.0, "forces": 10.0}
    print(f"loss of the student on the training set: {loss(student, train, weights):.4f}")
    print(f"loss of the teacher on the training set: {loss(teacher, train, weights):.2e}   (its own labels)")
    """),
    md(r"""
    ## The energy term: a gradient you can write in one line

    The last layer's readout is $E_i^{(T)} = \sum_c c\,\mathrm{silu}(y_{ic})\,W_2[c]/\sqrt{w}$ with
    $y_i = x_i W_1/\sqrt{K}$ and $x_i$ the scalar channels of $h_i$. For the energy-only loss
    $L = (E-\hat E)^2/N^2$ of one structure, $\partial L/\partial W_2[c] = \frac{2(E-\hat E)}{N^2}\,\mathrm{scale}\sum_i c\,\mathrm{silu}(y_{ic})/\sqrt{w}$.
    Written naively and compared with the library:
    """),
    code(r"""
    s = train[0]
    result = student.evaluate(s.positions, s.numbers)
    x = result.intermediates[-1].h[:, :, 0]  # (n_atoms, K): scalar channels of the last layer's features
    W_1, W_2 = student.weights.layers[-1].readout
    y = x @ W_1 / np.sqrt(W_1.shape[0])  # (n_atoms, w)
    c = config.readout_activation_constant
    silu = y / (1 + np.exp(-y))
    naive = 2 * (result.energy - s.energy) / s.n_atoms**2 * config.scale * (c * silu).sum(axis=0) / np.sqrt(W_2.shape[0])
    _, gradient = loss_and_gradient(student, [s], {"energy": 1.0})
    print("naive  :", np.round(naive[:4], 6))
    print("library:", np.round(gradient["layer1.readout.2"][:4, 0], 6))
    print("max difference:", np.max(np.abs(naive - gradient["layer1.readout.2"][:, 0])))
    """),
    md(r"""
    ## The force term: a derivative along a direction, taken by a complex step

    Collect what the loss says about each force, $g_i = \partial L/\partial F_i$. Since $F_i = -\partial E/\partial r_i$,

    $$\sum_i g_i\cdot F_i = -\sum_i g_i\cdot\frac{\partial E}{\partial r_i} = D_\delta E, \qquad \delta_i = -g_i,$$

    the derivative of the energy when the atoms move along $\delta$. So the force term's gradient is the parameter
    gradient of one scalar, $\partial_\theta D_\delta E$. A directional derivative can be taken exactly by the
    **complex step**: for an analytic $f$, $f(x+ih\delta) = f(x) + ih\,D_\delta f(x) + O(h^2)$, so
    $\mathrm{Im}\,f(x+ih\delta)/h = D_\delta f(x) + O(h^2)$ with *no subtraction*. First on a function of one variable:
    central differences lose digits as $h$ shrinks (cancellation); the complex step does not.
    """),
    code(r"""
    f = lambda x: np.exp(x) * np.sin(3 * x) / (1 + x**2)  # noqa: E731
    exact = lambda x: (np.exp(x) * (np.sin(3 * x) + 3 * np.cos(3 * x)) * (1 + x**2) - np.exp(x) * np.sin(3 * x) * 2 * x) / (1 + x**2) ** 2  # noqa: E731
    h = np.logspace(-1, -20, 40)
    x0 = 0.7
    central = np.abs((f(x0 + h) - f(x0 - h)) / (2 * h) - exact(x0)) / abs(exact(x0))
    complex_step = np.abs(np.imag(f(x0 + 1j * h)) / h - exact(x0)) / abs(exact(x0))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.loglog(h, np.maximum(central, 1e-17), label="central difference")
    ax.loglog(h, np.maximum(complex_step, 1e-17), label="complex step")
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error")
    ax.invert_xaxis()
    ax.legend()
    plt.show()
    print(f"complex step at h = 1e-20: relative error {complex_step[-1]:.1e}")
    """),
    md(r"""
    On MACE, with the positions moved to $r + ih\delta$: the imaginary part of the energy is $h\,D_\delta E$, and it
    must equal $-h\sum_i \delta_i\cdot F_i$ from the hand-derived forces (notebook 08):
    """),
    code(r"""
    delta = rng.standard_normal((3, 3))
    h_step = 1e-20
    D_delta_E = student.evaluate(s.positions + 1j * h_step * delta, s.numbers).energy.imag / h_step
    F = student.evaluate(s.positions, s.numbers, forces=True).forces
    print(f"complex step: D_delta E = {D_delta_E:.15f}")
    print(f"from forces : -sum F.delta = {-np.sum(F * delta):.15f}")
    """),
    md(r"""
    The same trick applied to the *parameter gradient* (which is also an analytic function of the positions) gives
    $\partial_\theta D_\delta E$: `loss_and_gradient` runs the hand-written reverse pass once on complex positions
    $r+ih\delta$ with energy cotangent $1 + ih\,c_s$ ($c_s = \partial L/\partial E_s$), and the imaginary part over $h$
    is the whole $\partial L/\partial\theta$ (`docs/training.md` has the derivation, stress included).

    **Check against central differences** of the loss along random directions in parameter space: the error falls
    as $h^2$ until round-off.
    """),
    code(r"""
    P = student.parameters
    names = list(P)
    flat = np.concatenate([np.ravel(P[n]) for n in names])

    def unflat(v):
        out, k = {}, 0
        for n in names:
            out[n] = v[k : k + P[n].size].reshape(P[n].shape)
            k += P[n].size
        return out

    batch = train[:4]
    check = check_vjp(
        lambda v: np.array(loss(mt.MACE(config, unflat(v)), batch, weights)),
        lambda v, g: g * np.concatenate([np.ravel(G) for G in loss_and_gradient(mt.MACE(config, unflat(v)), batch, weights)[1].values()]),
        flat, steps=np.logspace(-1, -7, 7), n_directions=2,
    )
    print(check)
    """),
    md(r"""
    ## A live fit

    mace-torch's recipe (Adam with AMSGrad, weight decay on the product and mixing weights, gradient clipping, an
    exponential moving average of the weights, a plateau scheduler; `macetutor.trainer`) for 25 epochs. The same loop
    runs from the command line as `macetutor train` with mace-torch's flag names.
    """),
    code(r"""
    import tempfile

    from macetutor.trainer import TrainingOptions, errors
    from macetutor.trainer import train as fit

    options = TrainingOptions(max_num_epochs=25, batch_size=5, lr=0.01, forces_weight=10.0, ema=True, seed=0)
    with tempfile.TemporaryDirectory() as run:
        before = errors(student, test)
        trained = fit(student, train[:32], train[32:], options, run, progress=lambda *a, **k: None)
        import csv
        with open(f"{run}/MACE.log.csv") as f:
            log = list(csv.DictReader(f))
    after = errors(trained, test)
    print(f"test RMSE before: E {1000 * before['rmse_e_per_atom']:.1f} meV/atom, F {1000 * before['rmse_f']:.1f} meV/Å")
    print(f"test RMSE after : E {1000 * after['rmse_e_per_atom']:.1f} meV/atom, F {1000 * after['rmse_f']:.1f} meV/Å")
    """),
    code(r"""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [int(r["epoch"]) for r in log]
    left.semilogy(epochs, [float(r["train_loss"]) for r in log], label="training loss")
    left.semilogy(epochs, [float(r["valid_loss"]) for r in log], label="validation loss")
    left.set_xlabel("epoch")
    left.legend()
    F_ref = np.concatenate([t.forces.ravel() for t in test])
    F_pred = np.concatenate([trained.evaluate(t.positions, t.numbers, forces=True).forces.ravel() for t in test])
    right.plot(F_ref, F_pred, ".", ms=4)
    lim = np.max(np.abs(F_ref)) * 1.1
    right.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    right.set_xlabel("teacher force (eV/Å)")
    right.set_ylabel("student force (eV/Å)")
    right.set_title("test set")
    plt.tight_layout()
    plt.show()
    """),
    md(r"""
    ## Questions

    1. The complex step needs every function on the path to be analytic. Which line of `macetutor.so3` would break it
       if the edge length were computed with `np.linalg.norm`? Why does the neighbour list use only real parts?
    2. With only the energy term, the complex step should reduce to the plain reverse pass. Check it with
       `loss_and_gradient(student, [s], {"energy": 1.0})` against the real reverse pass.
    3. The stress term uses a strain direction $\varepsilon = G/V$ (`macetutor.training`). Derive it from
       $\sigma = V^{-1}\partial E/\partial\varepsilon$ as the force term was derived above.
    4. Train with `forces_weight=0`. What happens to the test force error, and why?
    """),
]

NOTEBOOKS = {"12_training.ipynb": NB12}

if __name__ == "__main__":
    cli(NOTEBOOKS, __doc__)
