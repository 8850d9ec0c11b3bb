"""The training loop (macetutor.trainer): step for step against mace-torch's own training code, its pieces against
torch's, the training-set statistics, checkpoints and resuming."""

from __future__ import annotations

import numpy as np
import pytest

from macetutor import MACE
from macetutor.trainer import (
    EMA,
    Adam,
    ReduceLROnPlateau,
    TrainingOptions,
    average_E0s,
    clip_gradient,
    optimiser_step,
    train,
)
from macetutor.training import Structure


def labelled_molecules(rng, n, numbers=(8, 1, 6, 1)):
    out = []
    base = np.array([[0, 0, 0], [0.97, 0, 0], [-0.5, 1.3, 0.1], [-1.4, 1.5, 0.6]])
    for _ in range(n):
        positions = base + 0.1 * rng.standard_normal(base.shape)
        out.append(Structure(positions, numbers, energy=-20 + rng.normal(), forces=rng.normal(size=(4, 3))))
    return out


@pytest.mark.verify
@pytest.mark.slow
@pytest.mark.parametrize("ema", [False, True])
def test_twenty_steps_equal_mace_torch_take_step(ema):
    """From the same weights, batches and hyper-parameters, 20 optimiser steps of macetutor (exact gradient, Adam with
    AMSGrad, weight decay on mace-torch's groups, clipping, EMA) and of mace-torch's own take_step with
    torch.optim.Adam(amsgrad=True) and torch_ema: the same losses and parameters to <= 1e-8 relative."""
    pytest.importorskip("mace")
    pytest.importorskip("torch_ema")
    from macetutor.interop.mace_torch import from_mace_torch, random_mace_torch_model
    from macetutor.interop.mace_torch_training import mace_torch_training_steps

    torch_model = random_mace_torch_model(
        (1, 6, 8),
        "4x0e+4x1o",
        2,
        2,
        2,
        r_max=4.0,
        num_bessel=6,
        radial_mlp=(16, 16),
        scale_shift=(1.3, 0.0),
        avg_num_neighbors=3.0,
    )
    model = from_mace_torch(torch_model)
    rng = np.random.default_rng(0)
    data = labelled_molecules(rng, 12)
    batches = [[data[k] for k in rng.permutation(12)[:3]] for _ in range(20)]
    options = TrainingOptions(lr=0.01, weight_decay=5e-3, clip_grad=2.0, ema=ema, ema_decay=0.99, forces_weight=10.0)
    reference_losses, reference, reference_ema = mace_torch_training_steps(torch_model, batches, options)

    from macetutor.trainer import decayed

    parameters = {n: np.array(p) for n, p in model.parameters.items()}
    wd = {n: options.weight_decay for n in parameters if decayed(n, model.config)}
    adam = Adam(parameters, options.lr, wd, (options.beta1, options.beta2), options.eps, options.amsgrad)
    averaged = EMA(parameters, options.ema_decay) if ema else None
    losses = []
    for batch in batches:
        L, parameters = optimiser_step(model, parameters, batch, options.loss_weights(), adam, averaged, options)
        losses.append(L)
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-10)
    assert losses[-1] < losses[0]  # (it learns)
    for ours, theirs in [(parameters, reference)] + ([(averaged.shadow, reference_ema)] if ema else []):
        for name in ours:
            scale = np.max(np.abs(theirs[name]))
            assert np.max(np.abs(ours[name] - theirs[name])) <= 1e-8 * scale, name
        moved = max(np.max(np.abs(ours[n] - model.parameters[n])) for n in ours)
        assert moved > 1e-3  # (the comparison is not of untouched weights)


def test_adam_amsgrad_and_weight_decay_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    theta = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=4)}
    reference = [torch.tensor(v, requires_grad=True) for v in theta.values()]
    optimizer = torch.optim.Adam(
        [{"params": [reference[0]], "weight_decay": 0.1}, {"params": [reference[1]], "weight_decay": 0.0}],
        lr=0.05,
        amsgrad=True,
    )
    adam = Adam(theta, 0.05, {"a": 0.1})
    for _ in range(7):
        g = {n: rng.normal(size=v.shape) for n, v in theta.items()}
        for p, gv in zip(reference, g.values(), strict=True):
            p.grad = torch.tensor(gv)
        optimizer.step()
        theta = adam.step(theta, g)
    for p, v in zip(reference, theta.values(), strict=True):
        np.testing.assert_allclose(v, p.detach().numpy(), rtol=1e-14)


def test_clipping_and_plateau_schedule_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    g = {"a": 10 * rng.normal(size=(5, 3)), "b": rng.normal(size=2)}
    tensors = [torch.zeros(v.shape, requires_grad=True, dtype=torch.float64) for v in g.values()]
    for t, v in zip(tensors, g.values(), strict=True):
        t.grad = torch.tensor(v)
    torch.nn.utils.clip_grad_norm_(tensors, max_norm=3.0)
    for t, v in zip(tensors, clip_gradient(g, 3.0).values(), strict=True):
        np.testing.assert_allclose(v, t.grad.numpy(), rtol=1e-14)
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.01)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    ours, lr = ReduceLROnPlateau(0.5, 2), 0.01
    for metric in [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6]:
        reference.step(metric)
        lr = ours.step(metric, lr)
        assert lr == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-15)


def test_average_E0s_is_the_least_squares_solution():
    rng = np.random.default_rng(3)
    E0 = {1: -13.6, 8: -2041.0}
    structures = []
    for _ in range(6):
        n_h, n_o = rng.integers(1, 5), rng.integers(1, 3)
        numbers = [1] * n_h + [8] * n_o
        structures.append(Structure(rng.normal(size=(len(numbers), 3)), numbers, energy=n_h * E0[1] + n_o * E0[8]))
    np.testing.assert_allclose(average_E0s(structures, (1, 8)), [E0[1], E0[8]], rtol=1e-12)


def test_training_reduces_the_loss_and_resumes_from_its_checkpoint(tmp_path):
    """A short run writes the best model, a checkpoint and a log; stopped after 2 epochs and resumed to 4, it ends
    exactly where an uninterrupted 4-epoch run ends."""
    from macetutor import MACEConfig

    config = MACEConfig(
        elements=(1, 6, 8),
        hidden_irreps="4x0e+4x1o",
        max_ell=2,
        correlation=(2, 2),
        r_max=4.0,
        num_bessel=4,
        radial_mlp=(8,),
        avg_num_neighbors=3.0,
        atomic_energies=(-1.0, -5.0, -3.0),
    )
    model = MACE.init(config, seed=0)
    rng = np.random.default_rng(4)
    data = labelled_molecules(rng, 8)
    options = TrainingOptions(max_num_epochs=4, batch_size=3, forces_weight=10.0, ema=True, lr=0.005)
    quiet = lambda *args, **kwargs: None  # noqa: E731
    full = train(model, data[:6], data[6:], options, tmp_path / "full", progress=quiet)
    first = TrainingOptions(**{**options.__dict__, "max_num_epochs": 2})
    train(model, data[:6], data[6:], first, tmp_path / "resumed", progress=quiet)
    resumed = train(model, data[:6], data[6:], options, tmp_path / "resumed", progress=quiet)
    log = (tmp_path / "full" / "MACE.log.csv").read_text().splitlines()
    assert len(log) == 5 and log[0].startswith("epoch,lr,train_loss,valid_loss")
    resumed_log = (tmp_path / "resumed" / "MACE.log.csv").read_text().splitlines()
    without_seconds = [line.rsplit(",", 1)[0] for line in log]  # (wall times differ)
    assert [line.rsplit(",", 1)[0] for line in resumed_log] == without_seconds
    for name in full.parameters:
        np.testing.assert_array_equal(full.parameters[name], resumed.parameters[name])
    losses = [float(line.split(",")[2]) for line in log[1:]]
    assert losses[-1] < losses[0]


def test_training_refuses_bad_input_before_it_starts(tmp_path):
    from macetutor import MACEConfig

    config = MACEConfig(elements=(1, 8), hidden_irreps="4x0e", max_ell=1, correlation=(1,), atomic_energies=(0, 0))
    model = MACE.init(config)
    rng = np.random.default_rng(0)
    unlabelled = [Structure(rng.normal(size=(2, 3)), [1, 8], energy=1.0)]
    with pytest.raises(ValueError, match="no forces label"):
        train(model, unlabelled, unlabelled, TrainingOptions(), tmp_path)
    with pytest.raises(ValueError, match="empty"):
        train(model, [], unlabelled, TrainingOptions(), tmp_path)
    assert not (tmp_path / "MACE.checkpoint.npz").exists()
