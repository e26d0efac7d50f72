"""Training as METHODS.md section 6 says, checkpoints, and the trained-model cache.

One epoch: (warm-up sets the lr) -> shuffled mini-batches: MSE, backward, clip grad norm, Adam step
-> validation MSE -> ReduceLROnPlateau (after warm-up) -> early-stopping bookkeeping -> checkpoint.
With TrainConfig.lr_schedule "cosine" the rate instead follows cosine_lr step by step to min_lr at
the schedule's end (the training-budget study), and the plateau rule is off.
At the end the best-validation weights are restored.

Randomness: the model's initial weights come from `TrainConfig.seed`; every epoch reseeds torch and
numpy from (seed, epoch), so an epoch's window order and dropout masks do not depend on how the
training got there. That is what makes a resumed training end exactly where an uninterrupted one
would, without storing generator states in the checkpoint.

Files, under paths.MODELS/<key>/ with key = hash(dataset key, model config, train config), each
with its sha256 sidecar (store.atomic_path) and checked against it before use:
    checkpoint.pt       every epoch, atomically; loaded with torch.load(weights_only=True)
    model.safetensors   the final (best-validation) weights, all finite
    info.json           history, best epoch, seconds, parameters, device
A damaged, unrecorded or non-finite file is announced in one line and trained again; a training
that ends without finite weights and a finite validation loss raises and caches nothing.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from voltlib import paths
from voltlib.config import ModelConfig, TrainConfig, config_hash, to_dict
from voltlib.device import describe, keep_freed_memory, pick_device
from voltlib.forecast.models import Forecaster, build_model, count_params, evaluating, in_batches
from voltlib.store import (
    UnusableFile,
    atomic_path,
    load_checked,
    parse_json,
    record_read,
    remove,
    verify,
    write_json,
)

CACHE_VERSION = 2  # bump when models.py or this loop changes what a config trains into (2: init_weights)
# Every CPU training runs on this many torch threads, wherever it runs (a notebook's kernel, WORKERS=1,
# a Dask worker of any size): another count sums in another order and trains other weights (the clean
# phase-4 R^2 was -0.240212 on 2 threads, -0.240193 on 1). It is part of every model's cache key.
FIT_THREADS = 1

M = TypeVar("M", bound=nn.Module)  # the kind of model a cache entry's weights are loaded into


class TrainingDiverged(RuntimeError):
    """A training ended without a usable model (NaN or infinite weights or validation losses)."""


def warmup_lr(cfg: TrainConfig, epoch: int) -> float | None:
    """Returns the lr epoch `epoch` (0-based) starts with, or None once ReduceLROnPlateau owns it.

    Linear from warmup_start_lr at epoch 0 to lr at epoch warmup_epochs (the first after warm-up).
    """
    if epoch < cfg.warmup_epochs:
        return cfg.warmup_start_lr + (cfg.lr - cfg.warmup_start_lr) * epoch / cfg.warmup_epochs
    if epoch == cfg.warmup_epochs:
        return cfg.lr
    return None


def cosine_lr(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """The lr of optimiser step `step` (0-based, counted from the end of warm-up) of a cosine schedule.

    From cfg.lr at step 0 down to cfg.min_lr at step total_steps (the schedule's last step ends there),
    so that a training of any length ends with its rate decayed: a budget is trained to its end.
    """
    frac = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))


@dataclass
class EarlyStopping:
    """Counts epochs without a validation improvement larger than min_delta."""

    patience: int
    min_delta: float
    best: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0

    def step(self, val_loss: float, epoch: int) -> bool:
        """Records one epoch's validation loss; returns True if it is a new best."""
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def stop(self) -> bool:
        return self.bad_epochs >= self.patience


def epoch_windows(cfg: TrainConfig, n_train: int, epoch: int) -> np.ndarray:
    """Returns the training-window indices of one epoch, shuffled: all, or max_train_windows of them."""
    rng = np.random.default_rng([cfg.seed, epoch])
    idx = rng.permutation(n_train)
    return idx[: cfg.max_train_windows] if cfg.max_train_windows else idx


def eval_windows(cfg: TrainConfig, n_val: int) -> np.ndarray:
    """Returns the validation-window indices used every epoch: all, or a fixed seeded subset."""
    if not cfg.max_eval_windows or cfg.max_eval_windows >= n_val:
        return np.arange(n_val)
    rng = np.random.default_rng([cfg.seed, 10**6])
    return np.sort(rng.choice(n_val, cfg.max_eval_windows, replace=False))


def predict(
    model: nn.Module,
    split,
    device: torch.device | str | None = None,
    batch_size: int = 512,
    idx: np.ndarray | None = None,
) -> np.ndarray:
    """Returns the model's forecasts [n_windows, n] (z units) for a split (or its windows `idx`)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    idx = np.arange(len(split)) if idx is None else np.asarray(idx)
    if len(idx) == 0:
        return np.zeros((0, split.series.shape[1]), np.float32)
    with evaluating(model, device):
        return in_batches(
            lambda s: model(split.get_batch(idx[s])[0].to(device)).float().cpu(), len(idx), batch_size
        ).numpy()


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (forecast, target) -> mean loss


@torch.inference_mode()
def mean_loss(
    model: nn.Module, split, idx: np.ndarray, device: torch.device, loss: Loss, batch_size: int = 512
) -> float:
    """Returns the mean of a per-row loss (a batch mean, weighted by the batch's rows) on windows idx of a split."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for b in range(0, len(idx), batch_size):
        x, y = split.get_batch(idx[b : b + batch_size])
        x, y = x.to(device), y.to(device)
        total += loss(model(x), y).double() * len(x)
    return total.item() / len(idx)


@torch.inference_mode()
def mse(model: nn.Module, split, idx: np.ndarray, device: torch.device, batch_size: int = 512) -> float:
    """Returns the mean squared error (z units^2) of the model on windows idx of a split, per output."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for b in range(0, len(idx), batch_size):
        x, y = split.get_batch(idx[b : b + batch_size])
        x, y = x.to(device), y.to(device)
        total += F.mse_loss(model(x), y, reduction="sum").double()
        count += y.numel()
    return total.item() / count


def _cpu_copy(state: dict) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def nonfinite(state: dict) -> list[str]:
    """Names of the tensors of a state dict that hold a NaN or an infinity (floating tensors only)."""
    return [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]


def _load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)  # data, never code


def _load_weights(model: M, path: Path) -> M:
    """model with the weights of a safetensors file loaded; UnusableFile if any of them is NaN or infinite."""
    from safetensors.torch import load_file

    state = load_file(path)
    bad = nonfinite(state)
    if bad:
        more = ", ..." if len(bad) > 3 else ""
        raise UnusableFile(f"holds NaN or infinite weights ({', '.join(bad[:3])}{more})")
    model.load_state_dict(state)
    return model


def train(
    model: nn.Module,
    cfg: TrainConfig,
    train_split,
    val_split,
    device: torch.device,
    checkpoint: Path | None = None,
    progress: bool = False,
    stop_after: int | None = None,
    loss: Loss | None = None,
) -> dict:
    """Trains model in place (best-validation weights restored); returns {history, best_epoch, ...}.

    checkpoint: written every epoch and resumed from if it exists. stop_after: return after that many
    epochs of this call, as an interruption would (the checkpoint lets a later call go on). loss: the
    (forecast, target) -> mean loss trained and validated on instead of the MSE (a quantile forecaster's).
    """
    criterion = F.mse_loss if loss is None else loss
    keep_freed_memory()
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr
    )
    stopper = EarlyStopping(cfg.early_stop, cfg.min_delta)
    history, best_state, start, done, train_s = [], _cpu_copy(model.state_dict()), 0, False, 0.0

    ck = None if checkpoint is None else load_checked(checkpoint, _load_checkpoint, "training from the first epoch")
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        plateau.load_state_dict(ck["plateau"])
        stopper = EarlyStopping(cfg.early_stop, cfg.min_delta, **ck["early_stopping"])
        history, best_state, start, done, train_s = (
            ck["history"],
            ck["best_state"],
            ck["next_epoch"],
            ck["done"],
            ck["train_s"],
        )

    val_idx = eval_windows(cfg, len(val_split))
    cosine = cfg.lr_schedule == "cosine"
    steps_per_epoch = -(-len(epoch_windows(cfg, len(train_split), 0)) // cfg.batch_size)
    cosine_steps = (cfg.max_epochs - cfg.warmup_epochs) * steps_per_epoch
    epoch = start
    while not done and epoch < cfg.max_epochs:
        t0 = time.perf_counter()
        lr = warmup_lr(cfg, epoch)
        if lr is not None:
            for group in opt.param_groups:
                group["lr"] = lr
        lr_used = opt.param_groups[0]["lr"]
        if cosine and epoch >= cfg.warmup_epochs:  # the rate its first step takes
            lr_used = cosine_lr(cfg, (epoch - cfg.warmup_epochs) * steps_per_epoch, cosine_steps)
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # dropout masks depend on (seed, epoch) only

        model.train()
        idx = epoch_windows(cfg, len(train_split), epoch)
        batches = range(0, len(idx), cfg.batch_size)
        bar = tqdm(
            batches, desc=f"epoch {epoch + 1}/{cfg.max_epochs}", leave=False, disable=None if progress else True
        )  # None: no bar when not a terminal
        total = torch.zeros((), dtype=torch.float64, device=device)
        for step, b in enumerate(bar):
            if cosine and epoch >= cfg.warmup_epochs:
                for group in opt.param_groups:
                    group["lr"] = cosine_lr(cfg, (epoch - cfg.warmup_epochs) * steps_per_epoch + step, cosine_steps)
            x, y = train_split.get_batch(idx[b : b + cfg.batch_size])
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            batch_loss = criterion(model(x), y)
            batch_loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            total += batch_loss.detach().double() * len(x)
        bar.close()
        train_loss = total.item() / len(idx)
        val_loss = (
            mse(model, val_split, val_idx, device)
            if loss is None
            else mean_loss(model, val_split, val_idx, device, loss)
        )

        if epoch >= cfg.warmup_epochs and not cosine:  # the plateau schedule starts after warm-up
            plateau.step(val_loss)
        if stopper.step(val_loss, epoch):
            best_state = _cpu_copy(model.state_dict())
        seconds = time.perf_counter() - t0
        train_s += seconds
        history.append(
            {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "lr": lr_used, "seconds": seconds}
        )
        if progress and bar.disable:
            print(
                f"epoch {epoch + 1:3d}  train {train_loss:.4f}  val {val_loss:.4f}  lr {lr_used:.2e}  "
                f"{seconds:.1f} s" + ("  *" if stopper.best_epoch == epoch else ""),
                flush=True,
            )
        epoch += 1
        done = stopper.stop or epoch >= cfg.max_epochs
        if checkpoint is not None:
            ck = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "plateau": plateau.state_dict(),
                "early_stopping": {
                    "best": stopper.best,
                    "best_epoch": stopper.best_epoch,
                    "bad_epochs": stopper.bad_epochs,
                },
                "history": history,
                "best_state": best_state,
                "next_epoch": epoch,
                "done": done,
                "train_s": train_s,
            }
            with atomic_path(checkpoint) as tmp:
                torch.save(ck, tmp)
        if stop_after is not None and epoch - start >= stop_after and not done:
            return {"interrupted": True, "epochs": epoch, "history": history}

    model.load_state_dict(best_state)
    model.eval()
    return {
        "interrupted": False,
        "history": history,
        "epochs": len(history),
        "best_epoch": stopper.best_epoch + 1,
        "best_val_loss": stopper.best,
        "train_s": train_s,
    }


def model_key(dataset_key: str, model_cfg: ModelConfig, train_cfg: TrainConfig) -> str:
    """Returns the cache key of a trained model: a hash of its data, model and training configs and its threads."""
    return config_hash(
        {"data": dataset_key, "cache_version": CACHE_VERSION, "cpu_threads": FIT_THREADS}, model_cfg, train_cfg
    )


@contextmanager
def fit_threads(device: torch.device):
    """Runs the block on FIT_THREADS torch threads when it trains on the CPU; the caller's count is restored."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(FIT_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def flushed_denormals():
    """Runs the block with the CPU's subnormal floats flushed to zero (where the CPU supports it); restored after.

    A long training's Adam state and some weights decay into the subnormal range (below 1.2e-38), where the
    CPU's float arithmetic is many times slower: in `make budget`'s 320,000-window-pass trainings 11 % of the
    CNN-LSTM's weights were subnormal by epoch 33, an epoch took 145 s instead of 30, and one training batch
    of those weights 0.91 s on one thread against 0.17 s flushed (as fresh weights take). Flushed, such a
    value is 0, a change far below anything a forecast resolves. Yields whether flushing is on."""
    on = torch.set_flush_denormal(True)
    try:
        yield on
    finally:
        torch.set_flush_denormal(False)


def model_dir(dataset_key: str, model_cfg: ModelConfig, train_cfg: TrainConfig) -> Path:
    """Returns paths.MODELS/<key>/, where this trained model lives."""
    return paths.MODELS / model_key(dataset_key, model_cfg, train_cfg)


ABLATION_SWITCHES = ("use_cnn", "use_residual")


def check_variant(variant: dict | None) -> None:
    """Raises ValueError if variant names a switch that is not an ablation switch."""
    unknown = set(variant or {}) - set(ABLATION_SWITCHES)
    if unknown:
        raise ValueError(f"variant has unknown switches {sorted(unknown)}; allowed: {list(ABLATION_SWITCHES)}.")


def cache_folder(dataset_key: str, model_cfg: ModelConfig, train_cfg: TrainConfig, variant: dict | None = None) -> Path:
    """Returns the cache folder of one training: model_dir, keyed apart by the ablation switches if any."""
    folder = model_dir(dataset_key, model_cfg, train_cfg)
    return folder.with_name(config_hash({"model": folder.name, **variant})) if variant else folder


def initial_model(
    model_cfg: ModelConfig, train_cfg: TrainConfig, window: int, n_neurons: int, variant: dict | None = None
) -> Forecaster:
    """The untrained model of a training: weights seeded by train_cfg.seed, ablation switches applied."""
    torch.manual_seed(train_cfg.seed)  # initial weights
    model = build_model(model_cfg, window=window, n_neurons=n_neurons)
    for switch, on in (variant or {}).items():  # a switch can turn a part off, never on
        setattr(model, switch, getattr(model, switch) and on)
    return model


def load_cached(
    folder: Path, model_cfg: ModelConfig, train_cfg: TrainConfig, window: int, n_neurons: int, variant=None
) -> tuple[Forecaster, dict] | None:
    """(model in eval mode, info with cached=True) if folder holds this training, intact; else None.

    A damaged entry is announced once (store.load_checked), naming its first damaged file.
    """
    return load_entry(folder, lambda: initial_model(model_cfg, train_cfg, window, n_neurons, variant))


def load_entry(folder: Path, fresh: Callable[[], M]) -> tuple[M, dict] | None:
    """(model in eval mode, info with cached=True) of a cache entry save_trained wrote, intact; else None.

    fresh: builds the untrained model the weights are loaded into. Info is read first (written last).
    """
    info = load_checked(folder / "info.json", parse_json, "retraining")
    load = lambda p: _load_weights(fresh(), p)  # noqa: E731
    model = None if info is None else load_checked(folder / "model.safetensors", load, "retraining")
    if model is None:
        return None
    info["cached"] = True
    return model.eval(), info


ARCHIVED_FITS = "fits"  # results/archive/<profile>/fits/<cache folder name>/: the trainings `make products` archives
ENTRY = ("info.json", "model.safetensors")  # the files of a cache entry (save_trained), info written last


def intact(folder: Path) -> bool:
    """True if a cache entry's files (ENTRY) are all there and match their checksums."""
    return all(verify(Path(folder) / name) is None for name in ENTRY)


def archived_entry(folder: Path) -> Path | None:
    """The committed archive's copy of the training cached at `folder` (results/archive/<profile>/fits/<its
    name>/, which `make products` fills: the shuffled-order control at quick), if its files match their
    checksums; else None. The name is a hash of everything that makes the training, so a copy of another
    configuration is never found."""
    for found in sorted(paths.ARCHIVE.glob(f"*/{ARCHIVED_FITS}/{Path(folder).name}")):
        if intact(found):
            return found
    return None


def load_archived(folder: Path, fresh: Callable[[], M]) -> tuple[M, dict] | None:
    """(model in eval mode, info with cached=True and archived=<its folder>) from the archive's copy of the
    training cached at `folder`; None if there is none. The build records its files as read (a changed archive
    reruns the notebook); a committed file is never removed here."""
    found = archived_entry(folder)
    if found is None:
        return None
    for name in ENTRY:
        record_read(found / name)
    info = parse_json(found / "info.json")
    model = _load_weights(fresh(), found / "model.safetensors")
    info["cached"], info["archived"] = True, str(found.relative_to(paths.ARCHIVE.parent.parent))
    return model.eval(), info


def fit(
    name: str,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    dataset,
    device: torch.device,
    folder: Path,
    variant: dict | None = None,
    checkpoint: Path | None = None,
    progress: bool = False,
) -> tuple[Forecaster, dict, dict]:
    """Trains one model from its seeded initial weights; returns (model in eval mode, CPU state dict, info).

    Writes nothing but the checkpoint (if given; resumed from if it exists, removed when a training
    diverges so that a rerun does not resume into the same end). folder names the cache entry in info
    and in errors. TrainingDiverged if the training ends without finite weights and validation loss.
    """
    window, n = dataset.train.window, dataset.train.series.shape[1]
    model = initial_model(model_cfg, train_cfg, window, n, variant)
    with fit_threads(device):
        result = train(model, train_cfg, dataset.train, dataset.val, device, checkpoint=checkpoint, progress=progress)
        trained_on = describe(device)  # with its thread count
    state = _cpu_copy(model.state_dict())
    bad = nonfinite(state)
    if bad or not math.isfinite(result["best_val_loss"]):
        if checkpoint is not None:
            remove(checkpoint)
        losses = ", ".join(f"{h['val_loss']:.3g}" for h in result["history"])
        what = (
            f"weights {', '.join(bad[:3])} are NaN or infinite"
            if bad
            else f"no epoch reached a finite validation loss (validation losses: {losses})"
        )
        raise TrainingDiverged(
            f"training {name} ({folder}) ended without a usable model: {what}. Nothing was "
            "cached. Expected finite weights and losses: lower the learning rate "
            "(TrainConfig.lr) or look for NaN in the data, then run again."
        )
    info = {
        "name": name,
        "key": folder.name,
        "data_key": dataset.key,
        "model": to_dict(model_cfg),
        "train": to_dict(train_cfg),
        "params": count_params(model),
        "device": trained_on,
        "torch": torch.__version__,
        "epochs": result["epochs"],
        "best_epoch": result["best_epoch"],
        "best_val_loss": result["best_val_loss"],
        "train_s": result["train_s"],
        "history": result["history"],
        **({"variant": variant} if variant else {}),
    }
    return model.eval(), state, info


def weights_bytes(state: dict) -> bytes:
    """A state dict as safetensors bytes (what a Dask worker sends back to the client)."""
    from safetensors.torch import save

    return save(state)


def save_trained(folder: Path, weights: dict | bytes, info: dict) -> None:
    """Writes a finished training into its cache folder: weights (a state dict or safetensors bytes), then info.

    Each file atomically with its checksum, info last: an entry without info is not one. Weights that
    hold NaN or infinities are refused (UnusableFile), so a damaged transfer is never cached.
    """
    from safetensors.torch import load, save_file

    if isinstance(weights, (bytes, bytearray)):
        bad = nonfinite(load(bytes(weights)))
        if bad:
            raise UnusableFile(f"the weights sent for {folder.name} hold NaN or infinite values ({', '.join(bad[:3])})")
        with atomic_path(folder / "model.safetensors") as tmp:
            Path(tmp).write_bytes(weights)
    else:
        with atomic_path(folder / "model.safetensors") as tmp:
            save_file(weights, str(tmp))
    write_json(folder / "info.json", {k: v for k, v in info.items() if k != "cached"})
    remove(folder / "checkpoint.pt")  # the final weights replace it


def fit_or_load(
    name: str,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    dataset,
    device: torch.device | str | None = None,
    progress: bool = False,
    variant: dict | None = None,
) -> tuple[Forecaster, dict]:
    """Returns (trained model in eval mode, info): from the cache if this exact training was done before.

    variant: ablation switches ({"use_cnn": False} and/or {"use_residual": False}) set on the model
    before training, so it learns without that part from the start; they are part of the cache key.
    info: name, key, history [per epoch: train_loss, val_loss, lr, seconds], best_epoch, epochs,
    train_s, params, device, variant (if any), cached (True if loaded).
    """
    check_variant(variant)
    device = device if isinstance(device, torch.device) else pick_device(device)
    window, n = dataset.train.window, dataset.train.series.shape[1]
    folder = cache_folder(dataset.key, model_cfg, train_cfg, variant)
    cached = load_cached(folder, model_cfg, train_cfg, window, n, variant)
    if cached is None:
        cached = load_archived(folder, lambda: initial_model(model_cfg, train_cfg, window, n, variant))
    if cached is not None:
        return cached[0].to(device), cached[1]
    model, state, info = fit(
        name, model_cfg, train_cfg, dataset, device, folder, variant, folder / "checkpoint.pt", progress
    )
    save_trained(folder, state, info)
    info["cached"] = False
    return model, info


def clear_cached(dataset_key: str, model_cfg: ModelConfig, train_cfg: TrainConfig) -> None:
    """Deletes one cached trained model (weights, info and checkpoint) so the next call retrains it."""
    shutil.rmtree(model_dir(dataset_key, model_cfg, train_cfg), ignore_errors=True)
