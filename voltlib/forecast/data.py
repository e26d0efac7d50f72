"""The forecasting task of METHODS.md section 3 under both protocols of section 4.

A window is 150 consecutive samples of all neurons (z-scored); its target is every neuron's value
`horizon` samples after the window's last sample. Windows are never copied: a `Split` holds one
z-scored series and the start index of each window, and builds batches by indexing at batch time.

original: the source's pipeline. Drop the first discard_ms of each run, add N(0, meas_noise_mv)
    noise (seeded here, unseeded there), concatenate all runs end to end, z-score with statistics
    over all data, cut windows over the whole concatenation (so some straddle two runs), shuffle
    them and split 70/15/15 by window. The source counted starts as range(0, T - window - 1, stride)
    (one valid start short at the end) and sized splits with int(); both are kept, so 50 runs x 10 s
    give 21,459 / 4,598 / 4,600 windows. Its shuffle was torch.randperm after torch.manual_seed(42);
    ours is the same call on a private generator seeded with split_seed.
clean: the same preprocessing, but runs are split whole (seeded shuffle; 50 runs -> 35 / 7 / 8),
    statistics come from training runs only, and every window lies inside one run.

The measurement noise of run r depends only on (noise_seed, r), so both protocols see the same
noisy voltages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import torch

from voltlib.config import (
    PROTOCOLS,
    DataConfig,
    NetworkConfig,
    SimConfig,
    config_hash,
    ms_to_samples,
)
from voltlib.sim.recording import noisy_runs_mv
from voltlib.sim.simulate import Simulation

SPLITS = ("train", "val", "test")
# the source's split sizes at its scale (50 runs x 10 s, window 150, stride 15, horizon 1)
SOURCE_WINDOW_COUNTS = {"train": 21_459, "val": 4_598, "test": 4_600}


@dataclass
class Split:
    """One split's z-scored series [T, n] and the windows cut from it (start indices, not copies)."""

    series: torch.Tensor  # [T, n_neurons] float32, z units
    starts: np.ndarray  # int64 [n_windows]: index into series of each window's first sample
    window: int
    horizon: int
    run_of_window: np.ndarray  # int64 [n_windows]: simulation run of each window's target
    origin: np.ndarray | None = None  # int64 [T]: each series sample's index in the all-runs kept concatenation

    def __len__(self) -> int:
        return len(self.starts)

    def target_index(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Index into series of each window's target sample: start + window - 1 + horizon, int64 [b]."""
        s = self.starts if idx is None else self.starts[np.asarray(idx)]
        return s + self.window - 1 + self.horizon

    def get_batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (x [b, window, n], y [b, n]) float32 z for the windows idx, gathered from the series."""
        s = torch.as_tensor(self.starts[np.asarray(idx)], dtype=torch.long)
        x = self.series[s[:, None] + torch.arange(self.window)]
        y = self.series[s + self.window - 1 + self.horizon]
        return x, y

    def lags(self, n_lags: int, idx: np.ndarray | None = None) -> np.ndarray:
        """Returns the last n_lags samples of each window, newest first: [b, n_lags, n] float32 z."""
        s = self.starts if idx is None else self.starts[np.asarray(idx)]
        rows = s[:, None] + self.window - 1 - np.arange(n_lags)[None, :]
        return self.series.numpy()[rows]

    def targets(self) -> np.ndarray:
        """Returns every window's target, [n_windows, n] float32 z."""
        return self.series.numpy()[self.target_index()]

    def last_values(self) -> np.ndarray:
        """Returns every window's last input sample (the persistence forecast), [n_windows, n] float32 z."""
        return self.series.numpy()[self.starts + self.window - 1]


@dataclass
class Dataset:
    """The three splits of one protocol at one horizon, with the normalisation statistics (mV)."""

    protocol: str
    train: Split
    val: Split
    test: Split
    mean_mv: np.ndarray  # [n] per-neuron mean (mV): mV = z * std_mv + mean_mv
    std_mv: np.ndarray  # [n] per-neuron std (mV)
    n_exc: int
    key: str  # hash of the simulation config, data config, protocol and horizon
    runs: dict | None = None  # {split: int64 array of run indices}; clean only (original mixes runs)
    kept_samples: int = 0  # samples per run after the discard

    def split(self, name: str) -> Split:
        """The Split called name ('train', 'val' or 'test')."""
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def _fail(what: str, expected: str, todo: str) -> NoReturn:
    raise ValueError(f"{what}; expected {expected}. {todo}")


def _check_inputs(v_mv: np.ndarray, data: DataConfig, protocol: str, horizon: int, discard: int) -> None:
    if protocol not in PROTOCOLS:
        _fail(f"unknown protocol {protocol!r}", f"one of {PROTOCOLS}", "Pass protocol='original' or 'clean'.")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        _fail(
            f"horizon={horizon!r} is invalid",
            "an integer >= 1 (samples after the window's last sample)",
            "Pass horizon=1 for the source's next-sample task.",
        )
    if v_mv.ndim != 3:
        _fail(
            f"v_mv has shape {v_mv.shape} ({v_mv.ndim}-D)",
            "a 3-D array [run, time, neuron]",
            "Stack single runs with v_mv[None] or np.stack(runs).",
        )
    kept = v_mv.shape[1] - discard
    if data.window + horizon > kept:
        _fail(
            f"window ({data.window}) + horizon ({horizon}) = {data.window + horizon} samples do not fit "
            f"in a run's kept length ({v_mv.shape[1]} samples - {discard} discarded = {kept})",
            "window + horizon <= samples per run - discarded samples",
            "Simulate longer runs, or lower data.discard_ms, data.window or the horizon.",
        )
    bad = np.flatnonzero(~np.isfinite(v_mv).all(axis=(1, 2)))
    if bad.size:
        _fail(
            f"runs {bad.tolist()} contain NaN or inf voltages",
            "finite voltages in every run",
            "Delete those runs' cache files under data/sim/ and simulate them again.",
        )


def array_simulation(v_mv: np.ndarray, n_exc: int, record_dt_ms: float = 1.0) -> Simulation:
    """Returns a Simulation wrapping given voltages v_mv[run, time, neuron] (mV; no spikes or synapses)."""
    v_mv = np.asarray(v_mv, dtype=np.float32)
    if v_mv.ndim != 3:
        _fail(f"v_mv has shape {v_mv.shape}", "a 3-D array [run, time, neuron]", "Stack runs with np.stack.")
    n_runs, n_t, n = v_mv.shape
    sim = SimConfig(
        network=NetworkConfig(n_exc=n_exc, n_inh=n - n_exc),
        n_runs=n_runs,
        duration_s=n_t * record_dt_ms / 1000,
        dt_ms=record_dt_ms,
        record_dt_ms=record_dt_ms,
    )
    empty = [np.zeros(0, np.int32)] * n_runs
    return Simulation(
        sim=sim,
        v_mv=v_mv,
        spike_i=empty,
        spike_t_ms=[np.zeros(0)] * n_runs,
        syn_i=empty,
        syn_j=empty,
        seeds=list(range(n_runs)),
        wall_s=0.0,
        run_s=np.zeros(n_runs),
    )


def split_sizes(n: int, fractions: tuple) -> tuple[int, int, int]:
    """Returns (n_train, n_val, n_test): int(f * n) for train and val as the source did, the rest to test."""
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    n_test = n - n_train - n_val
    # small inputs (e.g. 4 smoke runs -> 2 / 0 / 2): give an empty val or test one item from the
    # other held-out split if it has two, else from train
    if n_val == 0 and n_test > 1:
        n_val, n_test = 1, n_test - 1
    if n_val == 0 and n_train > 1:
        n_train, n_val = n_train - 1, 1
    if n_test == 0 and n_train > 1:
        n_train, n_test = n_train - 1, 1
    return n_train, n_val, n_test


def source_window_starts(n_samples: int, window: int, horizon: int, stride: int) -> np.ndarray:
    """Returns the source's window starts over a series of n_samples: range(0, T - window - horizon, stride)."""
    # the source wrote range(0, T - L - 1, stride) with a one-step target: the last valid start is
    # never used. Kept for the original protocol so the counts are the source's.
    return np.arange(0, max(n_samples - window - horizon, 0), stride, dtype=np.int64)


def segment_window_starts(n_samples: int, window: int, horizon: int, stride: int) -> np.ndarray:
    """Returns every start in one segment whose window and target fit: 0, stride, ... <= T - window - horizon."""
    return np.arange(0, n_samples - window - horizon + 1, stride, dtype=np.int64)


def _permutation(n: int, seed: int) -> np.ndarray:
    """The permutation torch.randperm(n) gives after torch.manual_seed(seed), without touching global state."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen).numpy().astype(np.int64)


def _zscore(x_mv: np.ndarray, mean_mv: np.ndarray, std_mv: np.ndarray) -> torch.Tensor:
    z = (x_mv - mean_mv.astype(np.float32)) / std_mv.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))


def _stats(x_mv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and population std (ddof 0, as the source) of [..., n] mV, float64 [n]."""
    flat = x_mv.reshape(-1, x_mv.shape[-1])
    mean = flat.mean(axis=0, dtype=np.float64)
    std = flat.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0  # a constant neuron stays constant in z instead of becoming NaN
    return mean, std


def dataset_key(sim_cfg, data: DataConfig, protocol: str, horizon: int) -> str:
    """The key of the Dataset make_dataset cuts (what trained models are cached under), without cutting it."""
    return config_hash(sim_cfg, data, protocol, int(horizon))


def make_dataset(sim, data: DataConfig, protocol: str, horizon: int | None = None) -> Dataset:
    """Returns the windowed Dataset of one protocol at one horizon (samples) from a Simulation."""
    horizon = data.horizon if horizon is None else horizon
    return make_datasets(sim, data, protocol, (horizon,))[horizon]


def make_datasets(sim, data: DataConfig, protocol: str, horizons: tuple, runs: dict | None = None) -> dict:
    """Returns {horizon: Dataset} for several horizons (samples), adding the measurement noise only once.

    runs: the clean protocol's {split: run indices} when given (e.g. a recording's segments in time
    order, voltlib.workflow.forecast_recording); by default the seeded shuffle of METHODS.md section 4.
    """
    record_dt_ms = sim.sim.record_dt_ms
    discard = ms_to_samples(data.discard_ms, record_dt_ms)
    v_mv = np.asarray(sim.v_mv)
    for h in horizons:
        _check_inputs(v_mv, data, protocol, h, discard)
    n_runs, kept = v_mv.shape[0], v_mv.shape[1] - discard
    if protocol == "clean" and min(split_sizes(n_runs, data.split_fractions)) == 0:
        _fail(
            f"the clean protocol cannot split {n_runs} run(s) into train, val and test "
            f"(sizes {split_sizes(n_runs, data.split_fractions)})",
            "at least 3 runs",
            "Simulate more runs (sim.n_runs) or use protocol='original'.",
        )
    runs_mv = noisy_runs_mv(v_mv, data, record_dt_ms)
    series, mean_mv, std_mv, runs = _normalise(runs_mv, data, protocol, runs)
    del runs_mv
    out = {}
    for h in horizons:
        cut = _cut_original if protocol == "original" else _cut_clean
        splits = cut(series, kept, runs, data, int(h))
        for name, sp in zip(SPLITS, splits):
            if len(sp) == 0:
                _fail(
                    f"the {protocol} {name} split is empty ({n_runs} runs of {kept} kept samples)",
                    "at least one window in train, val and test (the clean protocol needs >= 3 runs)",
                    "Simulate more or longer runs (sim.n_runs, sim.duration_s).",
                )
        train, val, test = splits
        out[h] = Dataset(
            protocol,
            train,
            val,
            test,
            mean_mv=mean_mv,
            std_mv=std_mv,
            n_exc=sim.sim.network.n_exc,
            key=dataset_key(sim.sim, data, protocol, int(h)),
            runs=runs,
            kept_samples=kept,
        )
    return out


def _normalise(runs_mv: np.ndarray, data: DataConfig, protocol: str, runs: dict | None = None):
    """Returns ({split: (series [T, n] z, origin [T])}, mean_mv [n], std_mv [n], {split: runs} or None)."""
    n_runs, kept, n = runs_mv.shape
    if protocol == "original":
        all_mv = runs_mv.reshape(n_runs * kept, n)
        mean_mv, std_mv = _stats(all_mv)
        whole = (_zscore(all_mv, mean_mv, std_mv), np.arange(n_runs * kept, dtype=np.int64))
        return {name: whole for name in SPLITS}, mean_mv, std_mv, None
    if runs is None:
        order = np.random.default_rng(data.split_seed).permutation(n_runs)
        n_train, n_val, _ = split_sizes(n_runs, data.split_fractions)
        runs = {
            "train": np.sort(order[:n_train]),
            "val": np.sort(order[n_train : n_train + n_val]),
            "test": np.sort(order[n_train + n_val :]),
        }
    else:
        runs = {k: np.asarray(runs[k], dtype=np.int64) for k in SPLITS}
    mean_mv, std_mv = _stats(runs_mv[runs["train"]])  # training runs only
    series = {}
    for name, rs in runs.items():
        # segment k of this split's series is run rs[k]
        origin = (rs[:, None] * kept + np.arange(kept)[None, :]).ravel().astype(np.int64)
        series[name] = (_zscore(runs_mv[rs].reshape(len(rs) * kept, n), mean_mv, std_mv), origin)
    return series, mean_mv, std_mv, runs


def _cut_original(series: dict, kept: int, runs, data: DataConfig, horizon: int) -> list:
    z, origin = series["train"]
    starts = source_window_starts(len(z), data.window, horizon, data.stride)
    order = starts[_permutation(len(starts), data.split_seed)]
    n_train, n_val, _ = split_sizes(len(starts), data.split_fractions)
    parts = (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])
    return [Split(z, p, data.window, horizon, (p + data.window - 1 + horizon) // kept, origin) for p in parts]


def _cut_clean(series: dict, kept: int, runs: dict, data: DataConfig, horizon: int) -> list:
    local = segment_window_starts(kept, data.window, horizon, data.stride)
    out = []
    for name in SPLITS:
        z, origin = series[name]
        rs = runs[name]
        # windows are cut inside each run's segment only, so none crosses a run boundary
        starts = (np.arange(len(rs))[:, None] * kept + local[None, :]).ravel()
        out.append(Split(z, starts, data.window, horizon, np.repeat(rs, len(local)).astype(np.int64), origin))
    return out


def leak_stats(ds: Dataset) -> dict:
    """Returns how much test windows share with training windows (fractions, samples) in run-sample coordinates."""
    tr, te = ds.train, ds.test
    w = tr.window
    assert tr.origin is not None and te.origin is not None, "make_datasets gives every Split its origin"
    # global coordinates: a window is contiguous in its split's series and within one segment
    # (clean) or in the one concatenation (original), so its global span is origin[start] + [0, w)
    tr_start = np.sort(tr.origin[tr.starts])
    te_start = te.origin[te.starts]
    te_target = te.origin[te.target_index()]
    # target inside some training input span: a training start in [target - w + 1, target]
    lo = np.searchsorted(tr_start, te_target - w + 1, side="left")
    hi = np.searchsorted(tr_start, te_target, side="right")
    target_in_train_input = hi > lo
    # samples shared with the nearest training window: w - |start difference|, floored at 0
    pos = np.searchsorted(tr_start, te_start)
    left = tr_start[np.clip(pos - 1, 0, len(tr_start) - 1)]
    right = tr_start[np.clip(pos, 0, len(tr_start) - 1)]
    nearest = np.minimum(np.abs(te_start - left), np.abs(te_start - right))
    shared = np.maximum(w - nearest, 0)
    te_runs = np.unique(te.run_of_window)
    return {
        "n_test_windows": int(len(te)),
        "frac_test_targets_inside_a_train_input": float(target_in_train_input.mean()),
        "frac_test_windows_overlapping_train": float((shared > 0).mean()),
        "mean_samples_shared_with_nearest_train": float(shared.mean()),
        "median_samples_shared_with_nearest_train": float(np.median(shared)),
        "frac_test_samples_shared_mean": float(shared.mean() / w),
        "frac_test_runs_seen_in_training": float(np.isin(te_runs, tr.run_of_window).mean()),
    }


def protocol_summary(ds: Dataset) -> dict:
    """Returns split sizes (windows, runs), windows spanning two runs, and leak_stats of one Dataset."""
    out = {"protocol": ds.protocol, "horizon": ds.test.horizon, "kept_samples_per_run": ds.kept_samples}
    for name in SPLITS:
        sp = ds.split(name)
        assert sp.origin is not None, "make_datasets gives every Split its origin"
        first_run = sp.origin[sp.starts] // ds.kept_samples
        out[f"n_{name}_windows"] = len(sp)
        out[f"n_{name}_runs"] = int(len(np.unique(sp.run_of_window)))
        out[f"n_{name}_windows_spanning_two_runs"] = int(np.sum(first_run != sp.run_of_window))
    return {**out, **leak_stats(ds)}
