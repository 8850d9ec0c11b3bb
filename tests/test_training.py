"""The loss and its parameter gradient (macetutor.training): against central differences (check_vjp, the h^2 regime)
block by block and end to end, against mace-torch's own loss and autograd on several architectures, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from macetutor import MACE, MACEConfig
from macetutor.gradcheck import check_vjp
from macetutor.training import Structure, loss, loss_and_gradient

SMALL = MACEConfig(
    elements=(1, 8),
    hidden_irreps="4x0e+4x1o",
    max_ell=2,
    correlation=(2, 2),
    r_max=4.0,
    num_bessel=4,
    radial_mlp=(8,),
    avg_num_neighbors=2.0,
    atomic_energies=(-1.0, -3.0),
    scale=1.3,
    shift=0.1,
)


def molecule(rng, numbers=(8, 1, 1), weight=1.0) -> Structure:
    n = len(numbers)
    positions = 1.1 * np.cbrt(n) * rng.uniform(-1, 1, (n, 3))
    while np.min([np.linalg.norm(a - b) for k, a in enumerate(positions) for b in positions[:k]] or [1]) < 0.7:
        positions = 1.1 * np.cbrt(n) * rng.uniform(-1, 1, (n, 3))
    return Structure(positions, numbers, energy=rng.normal() - 5, forces=rng.normal(size=(n, 3)), weight=weight)


def crystal(rng, numbers=(1, 8, 1, 1, 8)) -> Structure:
    n = len(numbers)
    cell = np.diag([3.0, 3.2, 3.1]) + 0.1 * rng.standard_normal((3, 3))
    positions = rng.uniform(0, 3, (n, 3))
    return Structure(
        positions,
        numbers,
        cell=cell,
        pbc=True,
        energy=1.0,
        forces=rng.normal(size=(n, 3)),
        stress=0.01 * rng.normal(size=(3, 3)),
        virials=rng.normal(size=(3, 3)),
    )


def flat(parameters) -> np.ndarray:
    return np.concatenate([np.ravel(v) for v in parameters.values()])


def unflat(x, like) -> dict:
    out, start = {}, 0
    for name, value in like.items():
        out[name] = x[start : start + value.size].reshape(value.shape)
        start += value.size
    return out


@pytest.mark.parametrize(
    "weights, kind",
    [
        ({"energy": 1.0, "forces": 10.0}, "molecules"),
        ({"energy": 1.0, "forces": 10.0, "stress": 100.0}, "crystal"),
        ({"forces": 1.0, "virials": 3.0}, "crystal"),
    ],
)
def test_loss_gradient_against_central_differences_end_to_end(weights, kind):
    """dL/dtheta (complex step through the hand-written reverse pass) against central differences of the loss along
    random directions in parameter space: the error falls as h^2 down to round-off."""
    rng = np.random.default_rng(3)
    model = MACE.init(SMALL, seed=1)
    structures = (
        [molecule(rng, weight=0.7), molecule(rng, (8, 1, 1, 8), 1.5)] if kind == "molecules" else [crystal(rng)]
    )
    P = model.parameters

    def f(x):
        return np.array(loss(MACE(SMALL, unflat(x, P)), structures, weights))

    def vjp(x, g):
        return g * flat(loss_and_gradient(MACE(SMALL, unflat(x, P)), structures, weights)[1])

    result = check_vjp(f, vjp, flat(P), steps=np.logspace(-2, -6, 5), n_directions=2)
    print(result)
    assert result.shows_second_order()
    assert result.best_error < 1e-8


def test_every_parameter_gets_its_gradient_and_only_its_names():
    rng = np.random.default_rng(0)
    model = MACE.init(SMALL, seed=2)
    _, G = loss_and_gradient(model, [molecule(rng)], {"energy": 1.0, "forces": 1.0})
    assert list(G) == list(model.parameters)
    for name, value in model.parameters.items():
        assert G[name].shape == value.shape and G[name].dtype == np.float64
        assert np.all(np.isfinite(G[name]))
    assert np.any(G["layer0.radial.0"] != 0) and np.any(G["embedding"] != 0)


def test_energy_only_gradient_is_the_plain_reverse_pass():
    """With only the energy term the complex step must reduce to c dE/dtheta: check it against the real reverse pass
    run with the cotangent c (no complex numbers)."""
    from macetutor.backends import get_backend
    from macetutor.layer import interaction_layer

    rng = np.random.default_rng(1)
    model = MACE.init(SMALL, seed=3)
    s = molecule(rng)
    L, G = loss_and_gradient(model, [s], {"energy": 1.0})
    E = model.evaluate(s.positions, s.numbers).energy
    c = 2.0 * (E - s.energy) / s.n_atoms**2
    ops = get_backend("numpy")
    graph = model.graph(s.positions, s.numbers, None, False, None, ops, derivatives=False)
    h, layers, saved = model.initial_features(graph, {}), [], []
    for w, shapes in zip(model.weights.layers, model.shapes, strict=True):
        values, kept = interaction_layer(h, graph, w, shapes, model.config, ops)
        layers.append(values)
        saved.append(kept)
        h = values.h
    _, grads = model.reverse_pass(np.full(s.n_atoms, c), layers, saved, graph, ops, weights=True)
    for name, value in grads.named().items():
        np.testing.assert_allclose(G[name], value, rtol=1e-13, atol=1e-15 * np.max(np.abs(value)))
    assert L == pytest.approx(((E - s.energy) / s.n_atoms) ** 2, rel=1e-14)


# ------------------------------------------------------------------ block by block


def test_block_weight_gradients_against_central_differences():
    """Each *_weight_grads beside its block, against central differences of the block's output (check_vjp)."""
    from macetutor import basis, nonlinear, product, radial, readout
    from macetutor.irreps import Irrep, dim

    rng = np.random.default_rng(0)
    irreps = [Irrep(0, 1), Irrep(1, -1)]
    x = rng.normal(size=(5, 3, dim(irreps)))
    W = [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))]
    z = np.array([0, 1, 1, 0, 1])
    checks = {}
    checks["linear"] = check_vjp(
        lambda w: basis.linear(x, irreps, [w[:3], w[3:]]),
        lambda w, g: np.concatenate(basis.linear_weight_grads(g, x, irreps, [w[:3], w[3:]])),
        np.concatenate(W),
    )
    W_self = rng.normal(size=(6, 2, 4))
    checks["self_connection"] = check_vjp(
        lambda w: basis.self_connection(x, irreps, irreps, z, [w[:3], w[3:]]),
        lambda w, g: np.concatenate(basis.self_connection_weight_grads(g, x, irreps, irreps, z, [w[:3], w[3:]])),
        W_self,
    )
    b = rng.normal(size=(7, 4))
    W_mlp = [rng.normal(size=(4, 5)), rng.normal(size=(5, 6))]
    checks["radial_mlp"] = check_vjp(
        lambda w: radial.radial_mlp(b, [w[:20].reshape(4, 5), w[20:].reshape(5, 6)])[0],
        lambda w, g: np.concatenate(
            [
                v.ravel()
                for v in radial.radial_mlp_vjp(
                    g,
                    radial.radial_mlp(b, [w[:20].reshape(4, 5), w[20:].reshape(5, 6)])[1],
                    [w[:20].reshape(4, 5), w[20:].reshape(5, 6)],
                    x=b,
                )[1]
            ]
        ),
        np.concatenate([v.ravel() for v in W_mlp]),
    )
    shapes = [(4, 5), (5,), (5,), (5,), (5, 2), (2,)]  # W1, b1, gamma, beta, W2, b2
    sizes = [int(np.prod(s)) for s in shapes]

    def split(w):
        parts, start = [], 0
        for s, n in zip(shapes, sizes, strict=True):
            parts.append(w[start : start + n].reshape(s))
            start += n
        W1, b1, gamma, beta, W2, b2 = parts
        return (W1, W2), (b1, b2), ((gamma, beta),)

    def ln_vjp(w, g):
        Ws, bs, norm = split(w)
        _, saved = nonlinear.layer_norm_mlp(b, Ws, bs, norm)
        dW, db, dnorm = nonlinear.layer_norm_mlp_vjp(g, saved, Ws, norm, x=b)[1]
        return np.concatenate([dW[0].ravel(), db[0], dnorm[0][0], dnorm[0][1], dW[1].ravel(), db[1]])

    w0 = rng.normal(size=sum(sizes))
    checks["layer_norm_mlp"] = check_vjp(lambda w: nonlinear.layer_norm_mlp(b, *split(w))[0], ln_vjp, w0)
    head = np.array([0, 1, 1, 0, 1])
    h = rng.normal(size=(5, 3, 4))
    for name, shape_list in (("readout linear", [(3, 2)]), ("readout MLP", [(3, 8), (8, 2)])):
        sizes_r = [int(np.prod(s)) for s in shape_list]

        def split_r(w, shape_list=shape_list, sizes_r=sizes_r):
            return tuple(w[sum(sizes_r[:k]) : sum(sizes_r[: k + 1])].reshape(s) for k, s in enumerate(shape_list))

        checks[name] = check_vjp(
            lambda w, split_r=split_r: readout.readout(h, split_r(w), 1.7, head)[0],
            lambda w, g, split_r=split_r: np.concatenate(
                [
                    v.ravel()
                    for v in readout.readout_weight_grads(
                        g, h, readout.readout(h, split_r(w), 1.7, head)[1], split_r(w), 1.7, head
                    )
                ]
            ),
            rng.normal(size=sum(sizes_r)),
        )
    B = {1: rng.normal(size=(5, 3, 2, 3)), 2: rng.normal(size=(5, 3, 4, 3))}
    checks["message"] = check_vjp(
        lambda w: product.message(B, {1: w[:, :2], 2: w[:, 2:]}, z),
        lambda w, g: np.concatenate([v for _, v in sorted(product.message_weight_grads(g, B, z, 2).items())], axis=1),
        rng.normal(size=(2, 6, 3)),
    )
    emb = rng.normal(size=(2, 3))
    checks["node_embedding"] = check_vjp(
        lambda w: basis.node_embedding(z, w), lambda w, g: basis.node_embedding_weight_grads(g, z, w), emb
    )
    for name, result in checks.items():
        print(name, result.table())
        linear_in_weights = result.errors[0] < 1e-10  # central differences are exact at every h: no h^2 regime
        assert linear_in_weights or result.shows_second_order(), name
        assert result.best_error < 1e-8, name


def test_numba_product_weight_gradients_equal_numpy():
    from macetutor.backends import get_backend

    model = MACE.init(SMALL, seed=4)
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 4, 9))
    z = np.array([0, 1, 0, 1, 1, 0])
    products = model.weights.layers[0].products
    grad_m = rng.normal(size=(6, 4, 4))
    ops_np, ops_nb = get_backend("numpy"), get_backend("numba")
    _, B = ops_np.product_basis_and_message(A, z, products)
    reference = ops_np.product_basis_and_message_weight_grads(grad_m, A, z, products, B)
    compiled = ops_nb.product_basis_and_message_weight_grads(grad_m, A, z, products, None)
    for r_irrep, c_irrep in zip(reference, compiled, strict=True):
        for r, c in zip(r_irrep, c_irrep, strict=True):
            np.testing.assert_allclose(c, r, rtol=1e-12, atol=1e-12 * np.max(np.abs(r)))


# ------------------------------------------------------------------ bad input


def test_bad_input_is_refused_before_any_work():
    rng = np.random.default_rng(0)
    model = MACE.init(SMALL, seed=0)
    good = molecule(rng)
    with pytest.raises(ValueError, match="empty"):
        loss(model, [], {"energy": 1.0})
    with pytest.raises(ValueError, match="no forces label"):
        loss(model, [Structure(good.positions, good.numbers, energy=1.0)], {"energy": 1.0, "forces": 1.0})
    with pytest.raises(ValueError, match="not in this model"):
        loss(model, [Structure(good.positions, [8, 1, 6], energy=1.0)], {"energy": 1.0})
    with pytest.raises(ValueError, match="forces must have shape"):
        Structure(good.positions, good.numbers, forces=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Structure(good.positions, good.numbers, energy=float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        Structure(good.positions, good.numbers, forces=np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="unknown loss term"):
        loss(model, [good], {"energy": 1.0, "force": 1.0})
    with pytest.raises(ValueError, match="not periodic"):
        loss(model, [Structure(good.positions, good.numbers, stress=np.zeros(6))], {"stress": 1.0})


def test_stress_in_voigt_order_is_the_full_tensor():
    s = Structure(np.zeros((1, 3)), [1], stress=[1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(s.stress, [[1, 6, 5], [6, 2, 4], [5, 4, 3]])


def test_read_structures_reads_mace_torch_keys(tmp_path):
    pytest.importorskip("ase")
    import ase
    import ase.io

    rng = np.random.default_rng(0)
    atoms = ase.Atoms("OH2", positions=rng.normal(size=(3, 3)))
    atoms.info["REF_energy"] = -3.5
    atoms.arrays["REF_forces"] = rng.normal(size=(3, 3))
    atoms.info["config_weight"] = 2.0
    ase.io.write(tmp_path / "a.xyz", [atoms, atoms], format="extxyz")
    from macetutor.training import read_structures

    structures = read_structures(tmp_path / "a.xyz")
    assert len(structures) == 2
    assert structures[0].energy == -3.5 and structures[0].weight == 2.0
    np.testing.assert_allclose(structures[1].forces, atoms.arrays["REF_forces"])
    assert structures[0].stress is None


# ------------------------------------------------------------------ against mace-torch's own loss and autograd

FAMILIES = ["OFF23", "MP-0a", "MPA-0", "MH-1", "OMOL", "options: Soft + Gaussian", "l = 2, three layers"]


def _mace_torch_model(family):
    from published_families import COMMON, ELEMENTS, build

    if family != "l = 2, three layers":
        return build(family)
    from macetutor.interop.mace_torch import random_mace_torch_model

    return random_mace_torch_model(ELEMENTS, "4x0e+4x1o+4x2e", 2, 3, 3, scale_shift=(1.3, -0.2), **COMMON)


def _labelled(rng, family):
    molecules = [molecule(rng, (8, 1, 6, 1), 0.7), molecule(rng, (6, 1, 1, 8, 1), 1.3)]
    solid = crystal(rng, (1, 8, 6, 1, 8, 6))
    for s in [*molecules, solid]:
        if family == "MH-1":
            s.head = "spice_wB97M"
        if family == "OMOL":
            s.features = {"total_charge": 1, "total_spin": 2}
    return molecules, solid


@pytest.mark.verify
@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_loss_and_gradient_equal_mace_torch_autograd(family):
    """The same weights, the same structures: macetutor's loss and hand-derived gradient against mace-torch's loss
    module and torch autograd (create_graph for the force and stress terms). Gradients are mapped onto macetutor's
    names by the importer's (orthogonal) correspondence (macetutor.interop.mace_torch_training). Loss <= 1e-12
    relative; each parameter's gradient <= 1e-9 relative to its largest entry."""
    pytest.importorskip("mace")
    from macetutor.interop.mace_torch import from_mace_torch
    from macetutor.interop.mace_torch_training import mace_torch_loss_and_gradient

    torch_model = _mace_torch_model(family)
    model = from_mace_torch(torch_model)
    molecules, solid = _labelled(np.random.default_rng(7), family)
    cases = [
        (molecules, {"energy": 1.0, "forces": 10.0}),
        ([solid, *molecules], {"energy": 1.0, "forces": 10.0}),
        ([solid], {"energy": 1.0, "forces": 10.0, "stress": 100.0}),
        ([solid], {"energy": 1.0, "forces": 10.0, "virials": 3.0}),
    ]
    for structures, weights in cases:
        L_ref, G_ref = mace_torch_loss_and_gradient(torch_model, structures, weights)
        L, G = loss_and_gradient(model, structures, weights)
        assert L == pytest.approx(L_ref, rel=1e-12), weights
        assert list(G) == list(G_ref)
        for name in G:
            scale = np.max(np.abs(G_ref[name]), initial=0.0)
            error = np.max(np.abs(G[name] - G_ref[name]), initial=0.0)
            assert error <= 1e-9 * scale + 1e-300, (family, weights, name, error, scale)


def test_numba_training_gradient_equals_numpy():
    """Item 5 of the training issue: the numba path of the loss and its gradient (complex-step pass on the compiled
    kernels) equals the NumPy specification to 1e-12."""
    rng = np.random.default_rng(5)
    model = MACE.init(SMALL, seed=6)
    structures = [molecule(rng), crystal(rng)]
    weights = {"energy": 1.0, "forces": 10.0}
    L_np, G_np = loss_and_gradient(model, structures, weights, backend="numpy")
    L_nb, G_nb = loss_and_gradient(model, structures, weights, backend="numba")
    assert L_nb == pytest.approx(L_np, rel=1e-12)
    for name in G_np:
        np.testing.assert_allclose(G_nb[name], G_np[name], rtol=0, atol=1e-12 * np.max(np.abs(G_np[name])))


def test_a_batch_is_the_sum_of_its_structures():
    """One disjoint graph for the batch gives the same loss terms and gradient as the structures one by one."""
    from macetutor.training import batch_gradient

    rng = np.random.default_rng(8)
    model = MACE.init(SMALL, seed=7)
    structures = [molecule(rng), crystal(rng), molecule(rng, (8, 1, 1, 8))]
    cotangents = [(0.3 * k, rng.normal(size=(s.n_atoms, 3)), 0.01 * np.eye(3)) for k, s in enumerate(structures)]
    together = batch_gradient(model, structures, cotangents)
    for name in together:
        alone = sum(batch_gradient(model, [s], [c])[name] for s, c in zip(structures, cotangents, strict=True))
        np.testing.assert_allclose(together[name], alone, rtol=0, atol=1e-13 * np.max(np.abs(alone)))
