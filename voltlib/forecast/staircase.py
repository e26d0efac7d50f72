"""Beyond the source: a staircase of small forecasters, each told one more thing (METHODS.md section 11).

Every member is one network shared by all neurons (the neuron is the batch axis), reading one
neuron's inputs at the forecast origin t and predicting its change v(t + h) - v(t) at every horizon
of the paper at once (one multi-horizon head). Each sees only the recorded (noisy, 1 ms) voltages:

    own          the neuron's own last LAGS samples (mV)
    clock        + its detected spikes over those samples and its spike clock (voltlib.sim.spikes)
    wiring       + the population's detected spikes: this neuron's input drive sum_j W[j, i] s_j(t - k)
                 through the coupling W inferred causally from the run's own past (voltlib.sim.wiring), the
                 E and I population counts, and how much past the coupling was fitted on
    oracle       the same with the run's true synapses as W: knowledge a recording would not have,
                 an upper bound on what learning the wiring could add

They learn from the clean protocol's training runs, are selected on its validation runs, and are
scored on its test windows (the targets every other model of the paper is scored on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from voltlib import paths
from voltlib.config import (
    BeyondConfig,
    TrainConfig,
    config_hash,
    ms_to_samples,
    to_dict,
)
from voltlib.forecast.data import Dataset
from voltlib.forecast.metrics import r2_pooled
from voltlib.forecast.models import count_params
from voltlib.forecast.train import fit_threads, load_entry, predict, save_trained, train, weights_bytes
from voltlib.sim import spikes, wiring
from voltlib.sim.recording import noisy_runs_mv

MEMBERS = ("own", "clock", "wiring", "oracle")
MEMBER_LABELS = {
    "own": "1 own history, shared weights",
    "clock": "2 + own spike clock",
    "wiring": "3 + population spikes, wiring inferred from the run",
    "oracle": "4 + the true wiring (oracle-informed)",
}
LAGS = 20  # own samples read (ms)
DRIVE_LAGS = 10  # lags of the input drive (ms): what is arriving now and what arrived lately
POP_LAGS = 30  # lags of the population counts (ms): the network's rhythm
CLOCK_STATES = 4  # one-hot clock states 0..3 samples (the reset and the 2-ms refractory clamp)
V_CENTER_MV, V_SCALE_MV = -60.0, 6.0  # inputs in mV are centred and scaled once for every neuron
POP_SCALE = 0.03  # a typical fraction of a population spiking per ms (30 Hz)
POOL_EPOCHS = 10  # the training pool holds this many epochs' worth of rows
# part of the cache key: raise it when this file changes what a configuration trains into
FAMILY_VERSION = 1
# the constants of what a member reads and how it trains, in every member's cache key and the family's record's
LAYOUT = [LAGS, DRIVE_LAGS, POP_LAGS, CLOCK_STATES, spikes.CLOCK_CAP, wiring.STEP, POOL_EPOCHS]


@dataclass(frozen=True)
class MemberConfig:
    """One member of the staircase: what it reads and its size."""

    name: str
    hidden: int = 128
    depth: int = 2
    # > 0: a distributional member that forecasts this many quantiles of each change, at the levels
    # (k + 0.5) / quantiles, trained on the pinball loss; 0: the mean forecaster. Left out of the cache key at 0.
    quantiles: int = field(default=0, metadata={"hash_omit_default": True})

    def __post_init__(self):
        if self.name not in MEMBERS:
            raise ValueError(f"member name {self.name!r} is not one of the staircase's: expected one of {MEMBERS}.")
        if not isinstance(self.quantiles, int) or self.quantiles < 0 or self.quantiles == 1:
            raise ValueError(
                f"member quantiles={self.quantiles!r}: expected 0 (a mean forecaster) or a whole number >= 2 of "
                "quantile levels."
            )

    def reads(self, part: str) -> bool:
        """True if the member reads `part` ('clock' or 'population')."""
        order = {"own": 0, "clock": 1, "wiring": 2, "oracle": 2}
        need = {"clock": 1, "population": 2}[part]
        return order[self.name] >= need


def quantile_levels(n: int) -> torch.Tensor:
    """The n quantile levels (k + 0.5) / n, k = 0..n-1, of a distributional member (float32 [n])."""
    return (torch.arange(n, dtype=torch.float64) + 0.5).div(n).float()


def pinball_loss(n_levels: int):
    """The mean pinball (quantile) loss of forecasts [b, horizons * n_levels] (horizon-major) of targets [b, horizons].

    Its minimiser at each level tau is the tau-quantile of the target; averaged over levels (k + 0.5) / n it is
    half the CRPS of the n quantiles read as an equally weighted ensemble, to O(1 / n)."""
    tau = quantile_levels(n_levels)

    def loss(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        u = y[:, :, None] - pred.view(len(y), y.shape[1], n_levels)
        return torch.maximum(tau * u, (tau - 1.0) * u).mean()

    return loss


def member_train_config(cfg: BeyondConfig, seed: int = 0) -> TrainConfig:
    """The family's schedule: Adam, batches of 1024 (neuron, origin) rows, cfg.rows_per_epoch rows an epoch,
    the learning rate halved after an epoch without progress, early stopping; the best validation epoch kept."""
    return TrainConfig(
        lr=cfg.lr,
        weight_decay=0.0,
        batch_size=1024,
        warmup_epochs=0,
        plateau_factor=0.5,
        plateau_patience=1,
        min_lr=1e-5,
        early_stop=cfg.early_stop,
        max_epochs=cfg.max_epochs,
        seed=seed,
        max_train_windows=cfg.rows_per_epoch,
        max_eval_windows=cfg.val_rows,
    )


def members(cfg: BeyondConfig) -> list[MemberConfig]:
    """The staircase's members at a profile's size, in order."""
    return [MemberConfig(name, hidden=cfg.hidden, depth=cfg.depth) for name in MEMBERS]


@dataclass
class Inputs:
    """What the family reads, for every run: voltages, detected spikes, clocks and input drives (torch)."""

    v_mv: torch.Tensor  # [R, T, n] recorded voltages after the discard (noisy), mV
    spikes: torch.Tensor  # [R, T, n] detected spikes, float 0/1
    clock: torch.Tensor  # [R, T, n] samples since the last detected spike, capped
    drive_inferred: torch.Tensor  # [R, T, n] input drive through the causally inferred coupling (mV)
    drive_true: torch.Tensor  # [R, T, n] input drive through the true synapses (half the jumps, mV)
    population: torch.Tensor  # [R, T, 2] fraction of E and of I neurons spiking at each sample
    past: torch.Tensor  # [T] (or [R, T]) share of the run's kept samples the inferred coupling was fitted on
    horizons: tuple  # samples ahead of each output
    alpha: float  # the ridge penalty of the coupling, chosen on the validation runs
    alpha_scores: dict
    couplings: dict  # {run: [B, n, n] causal couplings per checkpoint} for the runs asked for
    detection: dict  # precision and recall of the spike detector against the simulator's spikes

    @property
    def n_samples(self) -> int:
        return self.v_mv.shape[1]


def build_inputs(sim, data_cfg, runs: dict, horizons: tuple, keep_couplings=()) -> Inputs:
    """Reads every run's spikes and drives from its recorded voltages; runs: the clean {split: run ids}.

    The coupling's ridge penalty is chosen on the validation runs; keep_couplings: the runs whose
    per-checkpoint couplings are kept (the test runs, to compare with their true synapses).
    """
    net = sim.sim.network
    dt_ms = sim.sim.record_dt_ms
    v = noisy_runs_mv(np.asarray(sim.v_mv), data_cfg, dt_ms)  # the very voltages the datasets z-score
    s = spikes.detect(v, net.v_reset_mv)
    discard = ms_to_samples(data_cfg.discard_ms, dt_ms)
    # the validation runs' moments choose the penalty; every run's are then made, used and dropped one
    # at a time (a run's moments are about 160 MB)
    alpha, scores = wiring.choose_alpha([wiring.block_moments(v[r], s[r]) for r in runs["val"]])
    drive_inf = np.empty_like(v)
    drive_true = np.empty_like(v)
    kept = {}
    keep = {int(x) for x in keep_couplings}
    for r in range(len(v)):
        w_ck = wiring.coupling(wiring.checkpoint_coefficients(wiring.block_moments(v[r], s[r]), alpha))
        drive_inf[r] = wiring.drive(s[r], w_ck)
        drive_true[r] = wiring.drive(s[r], sim.weights_mv(r) / 2)  # the regression's estimand: half a jump
        if r in keep:
            kept[r] = w_ck.astype(np.float32)
    true = np.stack(
        [
            spikes.true_spike_samples(sim.spike_i[r], sim.spike_t_ms[r], net.n_neurons, v.shape[1], dt_ms, discard)
            for r in runs["test"]
        ]
    )
    detection = spikes.match(s[runs["test"]].reshape(-1, net.n_neurons), true.reshape(-1, net.n_neurons))
    pop = np.stack([s[..., : net.n_exc].mean(-1), s[..., net.n_exc :].mean(-1)], axis=-1).astype(np.float32)
    t = np.arange(v.shape[1])
    past = ((t // wiring.STEP) * wiring.STEP / v.shape[1]).astype(np.float32)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return Inputs(
        v_mv=as_t(v),
        spikes=as_t(s),
        clock=as_t(spikes.clock(s)),
        drive_inferred=as_t(drive_inf),
        drive_true=as_t(drive_true),
        population=as_t(pop),
        past=as_t(past),
        horizons=tuple(int(h) for h in horizons),
        alpha=float(alpha),
        alpha_scores={str(k): v for k, v in scores.items()},
        couplings=kept,
        detection=detection,
    )


def n_features(member: MemberConfig) -> int:
    """The width of a member's input row."""
    n = LAGS
    if member.reads("clock"):
        n += LAGS + 1 + CLOCK_STATES
    if member.reads("population"):
        n += DRIVE_LAGS + 2 * POP_LAGS + 1
    return n


def features(member: MemberConfig, inp: Inputs, r: torch.Tensor, t: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    """The input rows [b, n_features] of neurons i of runs r at origins t (each a long tensor [b])."""

    def lagged(a, n_lags, neuron=True):
        tt = t[:, None] - torch.arange(n_lags)[None, :]
        return a[r[:, None], tt, i[:, None]] if neuron else a[r[:, None], tt]

    parts = [(lagged(inp.v_mv, LAGS) - V_CENTER_MV) / V_SCALE_MV]
    if member.reads("clock"):
        clk = inp.clock[r, t, i]
        parts += [
            lagged(inp.spikes, LAGS),
            (clk / spikes.CLOCK_CAP)[:, None],
            (clk[:, None] == torch.arange(CLOCK_STATES)[None, :]).float(),
        ]
    if member.reads("population"):
        drive = inp.drive_true if member.name == "oracle" else inp.drive_inferred
        # past: [T], one run's share, or [R, T] when runs are segments of one recording (forecast_recording)
        past = inp.past[r, t] if inp.past.ndim == 2 else inp.past[t]
        past = torch.ones_like(past) if member.name == "oracle" else past
        parts += [
            lagged(drive, DRIVE_LAGS),
            lagged(inp.population, POP_LAGS, neuron=False).reshape(len(t), -1) / POP_SCALE,
            past[:, None],
        ]
    return torch.cat(parts, dim=1)


class Rows:
    """(run, origin, neuron) rows of some runs, indexed 0..len-1: what train.train draws its batches from.

    Row k of all R * n_t * n is neuron k % n at origin t_lo + (k // n) % n_t of run runs[k // (n * n_t)].
    pool: keep only that many of them, a seeded sample drawn once, so that each epoch's shuffle
    (train.epoch_windows permutes every row index) costs a fraction of a permutation of all of them.
    """

    def __init__(
        self,
        member: MemberConfig,
        inp: Inputs,
        runs,
        t_lo: int,
        scale: torch.Tensor,
        pool: int | None = None,
        seed: int = 0,
    ):
        self.member, self.inp, self.scale = member, inp, scale
        self.runs = torch.as_tensor(np.asarray(runs), dtype=torch.long)
        self.n = inp.v_mv.shape[2]
        self.t_lo, self.n_t = t_lo, inp.n_samples - max(inp.horizons) - t_lo
        if self.n_t < 1:
            raise ValueError(
                f"runs of {inp.n_samples} samples leave no origin between {t_lo} and the longest horizon "
                f"({max(inp.horizons)} samples): simulate longer runs or shorten the window."
            )
        self.total = len(self.runs) * self.n_t * self.n
        self.pool = None
        if pool is not None and pool < self.total:
            rng = np.random.default_rng([seed, 7])
            self.pool = torch.from_numpy(np.sort(rng.choice(self.total, pool, replace=False)))

    def __len__(self) -> int:
        return len(self.pool) if self.pool is not None else self.total

    def decode(self, idx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        if self.pool is not None:
            k = self.pool[k]
        return self.runs[k // (self.n * self.n_t)], self.t_lo + (k // self.n) % self.n_t, k % self.n

    def get_batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        """(features [b, F], scaled changes [b, horizons]) of rows idx."""
        r, t, i = self.decode(idx)
        return features(self.member, self.inp, r, t, i), targets(self.inp, r, t, i) / self.scale


def targets(inp: Inputs, r, t, i) -> torch.Tensor:
    """The changes v(t + h) - v(t) in mV at every horizon, [b, horizons]."""
    v = inp.v_mv
    return torch.stack([v[r, t + h, i] - v[r, t, i] for h in inp.horizons], dim=1)


def change_scale(inp: Inputs, runs, t_lo: int) -> torch.Tensor:
    """The SD of each horizon's change over these runs' origins (mV, [horizons]): the loss weighs horizons alike."""
    v = inp.v_mv[torch.as_tensor(np.asarray(runs))]
    t_hi = inp.n_samples - max(inp.horizons)
    return torch.stack([(v[:, t_lo + h : t_hi + h] - v[:, t_lo:t_hi]).std() for h in inp.horizons])


class SharedMLP(nn.Module):
    """One small network applied to every neuron's row: Linear-GELU x depth, then one output per horizon."""

    def __init__(self, n_in: int, hidden: int, depth: int, n_out: int):
        super().__init__()
        layers, width = [], n_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_out)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def member_key(member: MemberConfig, train_cfg: TrainConfig, sim_cfg, data_cfg, inp: Inputs, t_lo: int) -> str:
    return config_hash(
        {
            "family": FAMILY_VERSION,
            "horizons": list(inp.horizons),
            "alpha": inp.alpha,
            "t_lo": t_lo,
            "layout": LAYOUT,
        },
        member,
        train_cfg,
        sim_cfg,
        data_cfg,
    )


def member_folder(member: MemberConfig, train_cfg: TrainConfig, inp: Inputs, t_lo: int, sim_cfg, data_cfg):
    """data/models/beyond/<member>[-q<quantiles>]-<key>/: where one member's training is cached."""
    kind = f"{member.name}-q{member.quantiles}" if member.quantiles else member.name
    return paths.MODELS / "beyond" / f"{kind}-{member_key(member, train_cfg, sim_cfg, data_cfg, inp, t_lo)}"


def load_member(member: MemberConfig, train_cfg: TrainConfig, inp: Inputs, runs: dict, t_lo: int, sim_cfg, data_cfg):
    """(model in eval mode, info, scale) of one member from its cache entry; None if it was never trained
    (notebook 08 trains it) or its files fail their checksums. Trains nothing."""
    folder = member_folder(member, train_cfg, inp, t_lo, sim_cfg, data_cfg)
    if not (folder / "info.json").is_file():
        return None
    cached = load_entry(folder, lambda: _fresh_member(member, train_cfg, inp))
    return None if cached is None else (cached[0], cached[1], change_scale(inp, runs["train"], t_lo))


def _fresh_member(member: MemberConfig, train_cfg: TrainConfig, inp: Inputs) -> SharedMLP:
    torch.manual_seed(train_cfg.seed)
    return SharedMLP(n_features(member), member.hidden, member.depth, len(inp.horizons) * max(member.quantiles, 1))


def fit_member(member: MemberConfig, train_cfg: TrainConfig, inp: Inputs, runs: dict, t_lo: int, sim_cfg, data_cfg):
    """Trains (or loads from data/models/beyond/) one member; returns (model in eval mode, info, scale)."""
    folder = member_folder(member, train_cfg, inp, t_lo, sim_cfg, data_cfg)
    scale = change_scale(inp, runs["train"], t_lo)

    def fresh():
        return _fresh_member(member, train_cfg, inp)

    cached = load_entry(folder, fresh)
    if cached is not None:
        return cached[0], cached[1], scale
    model = fresh()
    pool = POOL_EPOCHS * train_cfg.max_train_windows if train_cfg.max_train_windows else None
    tr = Rows(member, inp, runs["train"], t_lo, scale, pool=pool, seed=train_cfg.seed)
    va = Rows(member, inp, runs["val"], t_lo, scale)
    loss = pinball_loss(member.quantiles) if member.quantiles else None
    with fit_threads(torch.device("cpu")):  # train.FIT_THREADS wherever it trains: a kernel, a fan-out worker
        result = train(model, train_cfg, tr, va, torch.device("cpu"), checkpoint=folder / "checkpoint.pt", loss=loss)
    if not math.isfinite(result["best_val_loss"]):
        raise RuntimeError(
            f"the {member.name} forecaster reached no finite validation loss; nothing was cached. Lower its "
            "learning rate (beyond.member_train_config) and run again."
        )
    info = {
        "name": member.name,
        "member": to_dict(member),
        "train": to_dict(train_cfg),
        "params": count_params(model),
        "epochs": result["epochs"],
        "best_epoch": result["best_epoch"],
        "best_val_loss": result["best_val_loss"],
        "train_s": result["train_s"],
        "history": result["history"],
    }
    save_trained(folder, {k: v.detach().clone() for k, v in model.state_dict().items()}, info)
    return model.eval(), {**info, "cached": False}, scale


def window_origins(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(run, origin sample within the run's kept samples) of every test window of a clean dataset."""
    te = ds.test
    assert te.origin is not None, "make_datasets gives every Split its origin"
    last = te.origin[te.starts + te.window - 1]
    run, t = last // ds.kept_samples, last % ds.kept_samples
    if not np.array_equal(run, te.run_of_window):
        raise ValueError("the dataset's test windows do not lie inside single runs: pass a clean-protocol dataset")
    return run, t


class _Origins:
    """The rows of all neurons at given (run, origin) pairs, in window-major order, for train.predict."""

    def __init__(self, member, inp, run, t):
        self.member, self.inp, self.n = member, inp, inp.v_mv.shape[2]
        self.run, self.t = torch.as_tensor(run, dtype=torch.long), torch.as_tensor(t, dtype=torch.long)

    def __len__(self):
        return len(self.run) * self.n

    def get_batch(self, idx):
        k = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        r, t, i = self.run[k // self.n], self.t[k // self.n], k % self.n
        return features(self.member, self.inp, r, t, i), None


def forecast_mv(model, member: MemberConfig, inp: Inputs, scale: torch.Tensor, run, t) -> np.ndarray:
    """Forecast voltages (mV) [origins, n, horizons] of every neuron at (run, origin) pairs."""
    rows = _Origins(member, inp, run, t)
    change = predict(model, rows, torch.device("cpu"), batch_size=8192) * scale.numpy()
    last = inp.v_mv[torch.as_tensor(run), torch.as_tensor(t)].numpy()  # [origins, n]
    return last[..., None] + change.reshape(len(run), rows.n, -1)


def forecast_quantiles_mv(model, member: MemberConfig, inp: Inputs, scale: torch.Tensor, run, t) -> np.ndarray:
    """A distributional member's quantiles of v(t + h) (mV) [origins, n, horizons, quantiles] at (run, origin)
    pairs, sorted along the last axis (a crossing of two levels' outputs is resolved by sorting them)."""
    if not member.quantiles:
        raise ValueError(f"the {member.name} member forecasts a mean, not quantiles: use forecast_mv for it.")
    rows = _Origins(member, inp, run, t)
    q = predict(model, rows, torch.device("cpu"), batch_size=8192).reshape(len(run), rows.n, len(inp.horizons), -1)
    last = inp.v_mv[torch.as_tensor(run), torch.as_tensor(t)].numpy()  # [origins, n]
    return last[..., None, None] + np.sort(q, axis=-1) * scale.numpy()[:, None]


def forecasts_z(model, member: MemberConfig, inp: Inputs, scale: torch.Tensor, datasets: dict) -> dict:
    """{horizon (samples): z forecasts [test windows, n]} on each horizon's clean test windows.

    datasets: {horizon: Dataset} for every horizon of inp. A window's origin (its last sample) is the
    same at every horizon, and a longer horizon only drops windows at the end of a run, so the
    forecasts are computed once at the shortest horizon's windows and picked out for the others.
    """
    first = datasets[min(inp.horizons)]
    run0, t0 = window_origins(first)
    all_mv = forecast_mv(model, member, inp, scale, run0, t0)
    key0 = run0 * first.kept_samples + t0
    out = {}
    for k, h in enumerate(inp.horizons):
        ds = datasets[h]
        run, t = window_origins(ds)
        pos = np.searchsorted(key0, run * ds.kept_samples + t)
        if not np.array_equal(key0[np.minimum(pos, len(key0) - 1)], run * ds.kept_samples + t):
            raise ValueError(f"the test windows at horizon {h} are not among those at horizon {min(inp.horizons)}")
        out[h] = ((all_mv[pos, :, k] - ds.mean_mv) / ds.std_mv).astype(np.float32)
    return out


def r2_by_past(pred_z: np.ndarray, ds: Dataset, n_checkpoints: int, step: int = wiring.STEP) -> np.ndarray:
    """Pooled R^2 [n_checkpoints] of the forecasts made while each checkpoint's coupling was in use (NaN: none)."""
    _, t = window_origins(ds)
    block = t // step
    y = ds.test.targets()
    return np.array(
        [r2_pooled(y[block == b], pred_z[block == b]) if np.any(block == b) else np.nan for b in range(n_checkpoints)]
    )


def fit_family(cfg: BeyondConfig, inp: Inputs, runs: dict, t_lo: int, sim_cfg, data_cfg) -> dict:
    """{member name: [(model, info, scale) per training seed]}: every member of the staircase, trained or loaded."""
    return {
        m.name: [
            fit_member(m, member_train_config(cfg, seed=k), inp, runs, t_lo, sim_cfg, data_cfg)
            for k in range(cfg.seeds)
        ]
        for m in members(cfg)
    }


def family_record_path(profile) -> Path:
    """data/models/beyond/family-<hash>.json: the record that a profile's whole family is trained (train_family),
    naming each member's cache folder; keyed on everything a member's key holds but the ridge penalty, which
    only the inputs tell."""
    key = config_hash({"family": FAMILY_VERSION, "layout": LAYOUT}, profile.beyond, profile.sim, profile.data)
    return paths.MODELS / "beyond" / f"family-{key}.json"


def family_inputs(profile, sim, keep_couplings=()) -> tuple[Inputs, dict]:
    """(the family's inputs at every horizon of the profile, the clean protocol's {split: run ids}): what
    notebook 08 and train_family read the runs with."""
    from voltlib.forecast.data import make_datasets

    h_samples = tuple(ms_to_samples(h, profile.sim.record_dt_ms) for h in profile.data.horizons_ms)
    runs = make_datasets(sim, profile.data, "clean", h_samples[:1])[h_samples[0]].runs
    return build_inputs(sim, profile.data, runs, h_samples, keep_couplings), runs


def train_family(profile, sim) -> dict:
    """Every member of a profile's family, every training seed, trained (or loaded) as notebook 08 would:
    what the build's fan-out runs on a worker. {"members": [{"folder", "weights" (safetensors bytes), "info"}],
    "record": {"members": [{folder, name, seed, train_s, epochs}], "alpha"}}."""
    inp, runs = family_inputs(profile, sim)
    t_lo = profile.data.window - 1
    out, record = [], []
    for m in members(profile.beyond):
        for k in range(profile.beyond.seeds):
            train_cfg = member_train_config(profile.beyond, seed=k)
            model, info, _ = fit_member(m, train_cfg, inp, runs, t_lo, profile.sim, profile.data)
            folder = member_folder(m, train_cfg, inp, t_lo, profile.sim, profile.data)
            info = {key: v for key, v in info.items() if key != "cached"}
            out.append({"folder": folder.name, "weights": weights_bytes(model.state_dict()), "info": info})
            record.append({"folder": folder.name, "name": m.name, "seed": k, "train_s": info["train_s"],
                           "epochs": info["epochs"]})  # fmt: skip
    return {"members": out, "record": {"members": record, "alpha": inp.alpha}}


def family_missing(profile) -> bool:
    """True unless the profile's family record is intact and every member it names is cached intact."""
    from voltlib.forecast.train import intact
    from voltlib.store import parse_json, verify

    path = family_record_path(profile)
    if verify(path) is not None:
        return True
    return not all(intact(paths.MODELS / "beyond" / m["folder"]) for m in parse_json(path)["members"])


def family_forecasts(fitted: dict, cfg: BeyondConfig, inp: Inputs, datasets: dict) -> dict:
    """{member name: {horizon (samples): z forecasts [seeds, test windows, n]}} on the clean test windows."""
    out = {}
    for m in members(cfg):
        per_seed = [forecasts_z(model, m, inp, scale, datasets) for model, _, scale in fitted[m.name]]
        out[m.name] = {h: np.stack([p[h] for p in per_seed]) for h in inp.horizons}
    return out
