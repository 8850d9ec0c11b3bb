"""mace-torch's training recipe in NumPy: statistics of the training set, Adam with AMSGrad and weight decay, EMA,
ReduceLROnPlateau, the second stage, gradient clipping, validation, checkpoints, a log and a learning curve.

What each piece reproduces (mace-torch 0.3.16, ``mace_run_train`` defaults in brackets):

    E0s "average"        least squares: E_s ~ sum_z n_{s,z} E0_z over the training set      data/utils.compute_average_E0s
    avg_num_neighbors    mean over the training set's atoms of their number of neighbours within r_max
    scale, shift         rms of the training forces, 0 ["rms_forces_scaling", --model MACE]
    Adam                 torch.optim.Adam(amsgrad=True) [lr 0.01, betas (0.9, 0.999), eps 1e-8]; weight decay
                         [5e-7] added to the gradient of the decayed groups: the interactions' "linear" (the mixing
                         after the neighbour sum, layer{t}.linear.*) and all product weights (layer{t}.product*)
    clipping             the gradient's total 2-norm clipped to [10] (torch.nn.utils.clip_grad_norm_)
    EMA                  torch_ema.ExponentialMovingAverage [decay 0.99, --ema]; validation and checkpoints use the
                         averaged weights; decay_k = min(decay, (1 + k) / (10 + k)) at update k
    ReduceLROnPlateau    on the validation loss, stepped at the start of every epoch after the first
                         [factor 0.8, patience 50, threshold 1e-4 relative]
    stage two            from epoch start_stage_two on [3/4 of max_num_epochs, --swa]: loss weights switched
                         [energy 1000, forces 100] and the learning rate set to [1e-3] (mace-torch's SWALR anneals to
                         it over one epoch; macetutor sets it at once, and keeps no separate averaged model, as the
                         model mace-torch saves is the trained one, not the SWA average)

The gradient of each batch is :func:`macetutor.training.loss_and_gradient` (exact, hand-derived). Checkpoints and
the best model are written in macetutor's own formats (.npz, no pickle); a run resumes from its checkpoint.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from macetutor.model import MACE
from macetutor.training import Structure, loss, loss_and_gradient, predict

__all__ = [
    "TrainingOptions",
    "Adam",
    "EMA",
    "ReduceLROnPlateau",
    "average_E0s",
    "average_num_neighbors",
    "rms_forces",
    "hidden_irreps_of",
    "config_from_data",
    "decayed",
    "clip_gradient",
    "optimiser_step",
    "optimiser_steps",
    "errors",
    "train",
    "plot_learning_curve",
]


@dataclass
class TrainingOptions:
    """The hyper-parameters, with mace-torch's flag names and defaults."""

    energy_weight: float = 1.0
    forces_weight: float = 100.0
    stress_weight: float = 0.0
    virials_weight: float = 0.0
    lr: float = 0.01
    weight_decay: float = 5e-7
    amsgrad: bool = True
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    batch_size: int = 10
    valid_batch_size: int = 10
    max_num_epochs: int = 2048
    patience: int = 2048
    eval_interval: int = 1
    clip_grad: float | None = 10.0
    ema: bool = False
    ema_decay: float = 0.99
    lr_factor: float = 0.8
    scheduler_patience: int = 50
    swa: bool = False  # stage two
    start_swa: int | None = None
    swa_energy_weight: float = 1000.0
    swa_forces_weight: float = 100.0
    swa_stress_weight: float = 10.0
    swa_virials_weight: float = 10.0
    swa_lr: float = 1e-3
    seed: int = 123
    backend: str = "numba"  # the compiled kernels (tests hold them equal to the NumPy specification)

    def loss_weights(self, stage_two: bool = False) -> dict:
        if stage_two:
            return {
                "energy": self.swa_energy_weight,
                "forces": self.swa_forces_weight,
                "stress": self.swa_stress_weight if self.stress_weight else 0.0,
                "virials": self.swa_virials_weight if self.virials_weight else 0.0,
            }
        return {
            "energy": self.energy_weight,
            "forces": self.forces_weight,
            "stress": self.stress_weight,
            "virials": self.virials_weight,
        }


# ------------------------------------------------------------------ training-set statistics


def average_E0s(structures, elements) -> np.ndarray:
    """E0 per element by least squares, E_s ~ sum_z n_{s,z} E0_z (mace-torch's --E0s average). (n_elements,)"""
    counts = np.array([[np.count_nonzero(s.numbers == z) for z in elements] for s in structures], dtype=float)
    energies = np.array([s.energy for s in structures])  # (n_structures,)
    return np.linalg.lstsq(counts, energies, rcond=None)[0]


def average_num_neighbors(structures, r_max: float) -> float:
    """The mean, over every atom of the training set that has a neighbour, of its number of neighbours within r_max
    (mace-torch's compute_avg_num_neighbors counts the receivers of the edges)."""
    from macetutor.neighbors import neighbor_list

    counts = []
    for s in structures:
        _, receivers, _, _ = neighbor_list(s.positions, r_max, cell=s.cell, pbc=s.pbc)
        counts.append(np.bincount(receivers)[np.unique(receivers)])
    return float(np.mean(np.concatenate(counts)))


def rms_forces(structures) -> float:
    """sqrt(mean F^2) over every force component of the training set (mace-torch's rms_forces_scaling)."""
    forces = np.concatenate([s.forces.ravel() for s in structures])
    return float(np.sqrt(np.mean(forces * forces)))


def hidden_irreps_of(num_channels: int, max_L: int) -> str:
    """mace-torch's hidden irreps from --num_channels and --max_L: "Kx0e+Kx1o+..." up to l = max_L."""
    return "+".join(f"{num_channels}x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(max_L + 1))


def config_from_data(
    train_set,
    E0: dict,
    *,
    hidden_irreps: str,
    max_ell: int,
    correlation: int,
    num_interactions: int,
    r_max: float,
    num_radial_basis: int,
    radial_MLP,
    MLP_irreps: str,
    num_cutoff_basis: int = 5,
    scaling: str = "rms_forces_scaling",
):
    """The :class:`macetutor.MACEConfig` that ``mace_run_train --model MACE`` builds from these flags and this
    training set: the given E0s ({Z: eV}; elements sorted), avg_num_neighbors and the rms-forces scale from the data."""
    from macetutor import MACEConfig

    elements = tuple(sorted(E0))
    return MACEConfig(
        elements=elements,
        hidden_irreps=hidden_irreps,
        max_ell=max_ell,
        correlation=(correlation,) * num_interactions,
        r_max=r_max,
        num_bessel=num_radial_basis,
        num_polynomial_cutoff=num_cutoff_basis,
        radial_mlp=tuple(radial_MLP),
        mlp_width=int(MLP_irreps.split("x")[0]),
        avg_num_neighbors=average_num_neighbors(train_set, r_max),
        atomic_energies=tuple(float(E0[z]) for z in elements),
        scale=rms_forces(train_set) if scaling == "rms_forces_scaling" else 1.0,
        shift=0.0,
    )


# ------------------------------------------------------------------ the optimiser and its companions


def decayed(name: str, config) -> bool:
    """Is parameter ``name`` in one of mace-torch's weight-decay groups? (interactions' "linear.weight", products)"""
    parts = name.split(".")
    if not parts[0].startswith("layer"):
        return False
    t = int(parts[0][5:])
    from macetutor.config import layer_shapes

    if parts[1] == "linear" and len(parts) == 3:  # the mixing after the neighbour sum (mace-torch's linear.weight)
        return not layer_shapes(config, t).nonlinear  # (the non-linear block names it linear_1: not decayed)
    return parts[1] in ("product", "product_linear")


class Adam:
    """torch.optim.Adam, with AMSGrad and L2 weight decay per parameter (added to the gradient, as torch does):

    g <- g + wd theta;   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2;   v_max <- max(v_max, v)
    theta <- theta - lr / (1 - b1^k) m / (sqrt(v_max) / sqrt(1 - b2^k) + eps)     (v in place of v_max without
    AMSGrad)
    """

    def __init__(self, parameters: dict, lr, weight_decay: dict, betas=(0.9, 0.999), eps=1e-8, amsgrad=True):
        self.lr, self.weight_decay, self.betas, self.eps, self.amsgrad = lr, weight_decay, betas, eps, amsgrad
        self.k = 0
        self.m = {n: np.zeros_like(p) for n, p in parameters.items()}
        self.v = {n: np.zeros_like(p) for n, p in parameters.items()}
        self.v_max = {n: np.zeros_like(p) for n, p in parameters.items()}

    def step(self, parameters: dict, gradient: dict, frozen=()) -> dict:
        """The updated parameters (new arrays); ``frozen`` names are left as they are (E0)."""
        self.k += 1
        b1, b2 = self.betas
        bias1, bias2 = 1.0 - b1**self.k, 1.0 - b2**self.k
        new = {}
        for name, theta in parameters.items():
            if name in frozen:
                new[name] = theta
                continue
            g = gradient[name] + self.weight_decay.get(name, 0.0) * theta
            self.m[name] = b1 * self.m[name] + (1.0 - b1) * g
            self.v[name] = b2 * self.v[name] + (1.0 - b2) * g * g
            v = self.v[name]
            if self.amsgrad:
                self.v_max[name] = np.maximum(self.v_max[name], v)
                v = self.v_max[name]
            denominator = np.sqrt(v) / np.sqrt(bias2) + self.eps
            new[name] = theta - (self.lr / bias1) * self.m[name] / denominator
        return new

    def state(self) -> dict:
        out = {"k": np.array(self.k), "lr": np.array(self.lr)}
        for key in ("m", "v", "v_max"):
            out |= {f"{key}/{n}": a for n, a in getattr(self, key).items()}
        return out

    def load_state(self, state: dict) -> None:
        self.k, self.lr = int(state["k"]), float(state["lr"])
        for key in ("m", "v", "v_max"):
            getattr(self, key).update({n: np.array(state[f"{key}/{n}"]) for n in getattr(self, key)})


class EMA:
    """torch_ema.ExponentialMovingAverage: shadow <- shadow - (1 - d_k)(shadow - theta), d_k = min(d, (1+k)/(10+k))."""

    def __init__(self, parameters: dict, decay: float):
        self.decay, self.k = decay, 0
        self.shadow = {n: np.array(p) for n, p in parameters.items()}

    def update(self, parameters: dict) -> None:
        self.k += 1
        d = min(self.decay, (1 + self.k) / (10 + self.k))
        for name, theta in parameters.items():
            self.shadow[name] = self.shadow[name] - (1.0 - d) * (self.shadow[name] - theta)


class ReduceLROnPlateau:
    """torch.optim.lr_scheduler.ReduceLROnPlateau (mode min, threshold 1e-4 relative, no cooldown): after more than
    ``patience`` epochs without a new best (by a relative margin), lr <- factor lr."""

    def __init__(self, factor: float = 0.8, patience: int = 50, threshold: float = 1e-4):
        self.factor, self.patience, self.threshold = factor, patience, threshold
        self.best, self.bad_epochs = np.inf, 0

    def step(self, metric: float, lr: float) -> float:
        if metric < self.best * (1.0 - self.threshold):
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.bad_epochs = 0
            new = lr * self.factor
            return new if lr - new > 1e-8 else lr
        return lr


def clip_gradient(gradient: dict, max_norm: float | None, frozen=()) -> dict:
    """torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max_norm / (|g| + 1e-6)), |g| the total 2-norm."""
    if max_norm is None:
        return gradient
    total = np.sqrt(sum(np.sum(g * g) for name, g in gradient.items() if name not in frozen))
    factor = min(1.0, max_norm / (total + 1e-6))
    return {name: g * factor for name, g in gradient.items()}


def optimiser_step(model: MACE, parameters: dict, batch, weights: dict, adam: Adam, ema, options) -> tuple:
    """One step of mace-torch's take_step: loss and exact gradient of the batch, clipping, Adam, EMA. E0 stays fixed
    (a buffer in mace-torch). Returns (the batch's loss, the new parameters)."""
    current = MACE(model.config, parameters, model.constants)
    L, gradient = loss_and_gradient(current, batch, weights, options.backend)
    gradient = clip_gradient(gradient, options.clip_grad, frozen=("E0",))
    parameters = adam.step(parameters, gradient, frozen=("E0",))
    if ema is not None:
        ema.update(parameters)
    return L, parameters


def optimiser_steps(model: MACE, batches, options) -> tuple[list, dict, dict | None]:
    """:func:`optimiser_step` over ``batches`` in order, from ``model``'s weights, with mace-torch's optimiser set-up
    (Adam with ``options``' betas, eps and AMSGrad; weight decay on :func:`decayed` parameters; EMA if asked).
    Returns (the loss of every step, the final parameters, the EMA weights or None)."""
    parameters = {n: np.array(p) for n, p in model.parameters.items()}
    wd = {n: options.weight_decay for n in parameters if decayed(n, model.config)}
    adam = Adam(parameters, options.lr, wd, (options.beta1, options.beta2), options.eps, options.amsgrad)
    ema = EMA(parameters, options.ema_decay) if options.ema else None
    losses = []
    for batch in batches:
        L, parameters = optimiser_step(model, parameters, batch, options.loss_weights(), adam, ema, options)
        losses.append(L)
    return losses, parameters, None if ema is None else ema.shadow


# ------------------------------------------------------------------ evaluation


def errors(model: MACE, structures, backend="numpy") -> dict:
    """RMSE of the energy per atom (eV/atom), of the force components (eV/Å) and of the stress (eV/Å^3, periodic
    structures with a stress label), and the number of structures, over ``structures``."""
    e, f, s = [], [], []
    for st in structures:
        p = predict(model, st, forces=st.forces is not None, stress=st.stress is not None, backend=backend)
        if st.energy is not None:
            e.append((p.energy - st.energy) / st.n_atoms)
        if st.forces is not None:
            f.append((p.forces - st.forces).ravel())
        if st.stress is not None and p.stress is not None:
            s.append((p.stress - st.stress).ravel())

    def rms(values):
        return (
            float(np.sqrt(np.mean(np.square(np.concatenate([np.atleast_1d(v) for v in values]))))) if values else None
        )

    return {"rmse_e_per_atom": rms(e), "rmse_f": rms(f), "rmse_stress": rms(s), "n": len(structures)}


# ------------------------------------------------------------------ the loop


@dataclass
class _State:
    epoch: int = 0
    lowest_loss: float = np.inf
    bad_epochs: int = 0
    stage_two: bool = False
    history: list = field(default_factory=list)


def train(
    model: MACE,
    train_set: list[Structure],
    valid_set: list[Structure],
    options: TrainingOptions,
    directory,
    name: str = "MACE",
    progress=print,
    batches=None,
) -> MACE:
    """Train ``model`` with mace-torch's recipe (module docstring); returns the best model (lowest validation loss,
    EMA weights when ``options.ema``). Writes into ``directory``: ``{name}.npz`` (best model), ``{name}.checkpoint.npz``
    (everything needed to resume, rewritten every epoch), ``{name}.log.csv`` (one row per evaluated epoch). A run finds
    its checkpoint and resumes from it. ``batches(epoch)``, when given, returns that epoch's batches (lists of indices
    into ``train_set``) in place of the seeded shuffle -- e.g. the order ``mace_run_train``'s data loader draws
    (:func:`macetutor.experiments.mace_run_train_batches`), to train along the same path. (Longer than most
    functions: mace-torch's epoch loop -- scheduler, stage two, training, validation, best model, patience,
    checkpoint -- kept in one place in its order.)"""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "best": directory / f"{name}.npz",
        "checkpoint": directory / f"{name}.checkpoint.npz",
        "log": directory / f"{name}.log.csv",
    }
    if not train_set:
        raise ValueError("the training set is empty")
    if not valid_set:
        raise ValueError("the validation set is empty")
    loss(model, train_set[:1], options.loss_weights())  # labels, elements: a clear error before any training
    loss(model, valid_set[:1], options.loss_weights())
    start_swa = options.start_swa if options.start_swa is not None else max(1, options.max_num_epochs // 4 * 3)
    parameters = {n: np.array(p) for n, p in model.parameters.items()}
    wd = {n: options.weight_decay for n in parameters if decayed(n, model.config)}
    adam = Adam(parameters, options.lr, wd, (options.beta1, options.beta2), options.eps, options.amsgrad)
    ema = EMA(parameters, options.ema_decay) if options.ema else None
    scheduler = ReduceLROnPlateau(options.lr_factor, options.scheduler_patience)
    state, rng = _State(), np.random.default_rng(options.seed)
    if paths["checkpoint"].exists():
        parameters, state, rng = _resume(paths["checkpoint"], adam, ema, scheduler, model, options)
        progress(f"resumed from {paths['checkpoint']} at epoch {state.epoch}")
    valid_loss = state.history[-1]["valid_loss"] if state.history else np.inf
    best = MACE.load(paths["best"]) if paths["best"].exists() else model
    while state.epoch < options.max_num_epochs:
        stage_two = options.swa and state.epoch >= start_swa
        if not stage_two and state.epoch > 0 and np.isfinite(valid_loss):
            adam.lr = scheduler.step(valid_loss, adam.lr)
        if stage_two and not state.stage_two:
            progress(
                f"stage two from epoch {state.epoch}: loss weights {options.loss_weights(True)}, lr {options.swa_lr}"
            )
            state.stage_two, state.lowest_loss, adam.lr = True, np.inf, options.swa_lr
        weights = options.loss_weights(stage_two)
        started = time.perf_counter()
        parameters, train_losses = _train_epoch(
            model, parameters, train_set, weights, adam, ema, options, rng, state, progress, batches
        )
        evaluated = MACE(model.config, ema.shadow if ema is not None else parameters, model.constants)
        if state.epoch % options.eval_interval == 0:
            row = _validate(evaluated, valid_set, weights, options, state.epoch, adam.lr, train_losses, started)
            valid_loss = row["valid_loss"]
            state.history.append(row)
            _append_log(paths["log"], row)
            progress(
                f"\repoch {state.epoch:4d}  loss {row['train_loss']:.4e}  valid loss {valid_loss:.4e}  "
                f"RMSE E {1000 * (row['valid_rmse_e_per_atom'] or 0):.1f} meV/atom  "
                f"F {1000 * (row['valid_rmse_f'] or 0):.1f} meV/Å  lr {adam.lr:.2e}  ({row['seconds']:.1f} s)"
            )
            if valid_loss < state.lowest_loss:
                state.lowest_loss, state.bad_epochs, best = valid_loss, 0, evaluated
                best.save(paths["best"])
            else:
                state.bad_epochs += 1
                if state.bad_epochs >= options.patience:
                    progress(f"stopping: no better validation loss for {options.patience} evaluations")
                    state.epoch += 1
                    _save_checkpoint(paths["checkpoint"], parameters, state, rng, adam, ema, scheduler)
                    break
        state.epoch += 1
        _save_checkpoint(paths["checkpoint"], parameters, state, rng, adam, ema, scheduler)
    return best


def _train_epoch(model, parameters, train_set, weights, adam, ema, options, rng, state, progress, batches_of=None):
    """One pass over the training set in a seeded random order (or the batches ``batches_of(epoch)`` gives), batch
    by batch: (the new parameters, batch losses)."""
    if batches_of is None:
        shuffled = rng.permutation(len(train_set))
        batches = [shuffled[k : k + options.batch_size] for k in range(0, len(shuffled), options.batch_size)]
    else:
        batches = batches_of(state.epoch)
    losses = []
    for b, batch in enumerate(batches):
        L, parameters = optimiser_step(model, parameters, [train_set[k] for k in batch], weights, adam, ema, options)
        losses.append(L)
        progress(f"\repoch {state.epoch:4d}  batch {b + 1}/{len(batches)}  loss {L:.4e}", end="")
    return parameters, losses


def _validate(model, valid_set, weights, options, epoch, lr, train_losses, started) -> dict:
    """The log row of an evaluated epoch: losses and the validation RMSEs (of the EMA weights when kept)."""
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": float(np.mean(train_losses)),
        "valid_loss": loss(model, valid_set, weights, options.backend),
        **{f"valid_{k}": v for k, v in errors(model, valid_set, options.backend).items() if k != "n"},
        "seconds": time.perf_counter() - started,
    }


def _append_log(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _save_checkpoint(path: Path, parameters, state: _State, rng, adam: Adam, ema, scheduler) -> None:
    """Everything to resume, as one .npz (no pickle), written to a temporary file and renamed (never half-written)."""
    arrays = {f"parameters/{n}": p for n, p in parameters.items()}
    arrays |= {f"adam/{k}": v for k, v in adam.state().items()}
    if ema is not None:
        arrays |= {f"ema/{n}": p for n, p in ema.shadow.items()} | {"ema_k": np.array(ema.k)}
    meta = {
        "epoch": state.epoch,
        "lowest_loss": state.lowest_loss,
        "bad_epochs": state.bad_epochs,
        "stage_two": state.stage_two,
        "history": state.history,
        "rng": rng.bit_generator.state,
        "scheduler": {"best": scheduler.best, "bad_epochs": scheduler.bad_epochs},
    }
    temporary = path.with_suffix(".tmp.npz")
    with open(temporary, "wb") as f:
        np.savez(f, __state__=np.array(json.dumps(meta, default=float)), **arrays)
    temporary.replace(path)


def _resume(path: Path, adam: Adam, ema, scheduler, model: MACE, options):
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__state__"]))
        parameters = {k.split("/", 1)[1]: np.array(data[k]) for k in data.files if k.startswith("parameters/")}
        if set(parameters) != set(model.parameters):
            raise ValueError(
                f"{path} is the checkpoint of another model (its parameters differ); remove it to start over"
            )
        adam.load_state({k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("adam/")})
        if ema is not None:
            ema.shadow = {k.split("/", 1)[1]: np.array(data[k]) for k in data.files if k.startswith("ema/")}
            ema.k = int(data["ema_k"])
    state = _State(meta["epoch"], meta["lowest_loss"], meta["bad_epochs"], meta["stage_two"], meta["history"])
    scheduler.best, scheduler.bad_epochs = meta["scheduler"]["best"], meta["scheduler"]["bad_epochs"]
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng"]
    return parameters, state, rng


def options_as_dict(options: TrainingOptions) -> dict:
    return asdict(options)


def plot_learning_curve(log_csv, path) -> None:
    """The learning curve of a run (its CSV log): training and validation loss, and the validation RMSEs, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_csv) as f:
        rows = list(csv.DictReader(f))
    epoch = [int(r["epoch"]) for r in rows]

    def column(name):
        return [float(r[name]) if r.get(name) not in (None, "", "None") else np.nan for r in rows]

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.semilogy(epoch, column("train_loss"), label="training loss")
    left.semilogy(epoch, column("valid_loss"), label="validation loss")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    right.semilogy(epoch, 1000 * np.array(column("valid_rmse_e_per_atom")), label="E (meV/atom)")
    right.semilogy(epoch, 1000 * np.array(column("valid_rmse_f")), label="F (meV/Å)")
    right.set_xlabel("epoch")
    right.set_ylabel("validation RMSE")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
