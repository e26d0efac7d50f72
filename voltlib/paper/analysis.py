"""Error analysis of a trained forecaster (notebook 06): where, when and how far ahead it fails.

Spike clock. Brian2 records v at the start of an integration step, before that step's threshold
and reset, so a sample at time t shows a spike at time s only if s < t. "Time since the last spike"
of a target sample is t minus the neuron's last spike strictly before t; "time to the next spike"
is the first spike at or after t minus t. A spike in [t - h, t) happened after the window's last
input sample (at t - h) and before the target: its reset is in the target but in no input.

Multi-step forecasting compares, on the same windows, a one-step model fed its own predictions
(`rollout`) with models trained directly at horizon h.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import stats as sps

from voltlib import paths
from voltlib.config import Profile, ms_to_samples, notebook_profile
from voltlib.device import pick_device
from voltlib.forecast.data import Dataset, Split, make_dataset, make_datasets
from voltlib.forecast.metrics import r2_per_neuron, r2_pooled, skill_vs_persistence
from voltlib.forecast.models import evaluating, in_batches
from voltlib.forecast.train import predict
from voltlib.sim.simulate import Simulation, simulate

# ---------------------------------------------------------------- what 06 and 07 start from


@dataclasses.dataclass
class Setup:
    """A notebook's starting point: profile, device, simulation and the clean datasets {horizon (samples): Dataset}."""

    cfg: Profile
    device: torch.device
    sim: Simulation
    horizons_ms: list
    datasets: dict

    @property
    def n_exc(self) -> int:
        return self.sim.sim.network.n_exc

    @property
    def n(self) -> int:
        return self.sim.sim.network.n_neurons

    @property
    def dt_ms(self) -> float:
        return self.sim.sim.record_dt_ms

    @property
    def h_samples(self) -> list[int]:
        return [ms_to_samples(h, self.dt_ms) for h in self.horizons_ms]

    @property
    def ds1(self) -> Dataset:
        """The dataset at the first (shortest) horizon."""
        return self.datasets[self.h_samples[0]]

    @property
    def kept(self) -> int:
        """Samples per run after the discard."""
        return self.ds1.kept_samples

    @property
    def discard(self) -> int:
        """Samples dropped at the start of each run."""
        return self.sim.v_mv.shape[1] - self.kept

    @property
    def results(self):
        """results/<profile>/."""
        return paths.results_dir(self.cfg.name)


def setup(profile, device=None, all_horizons: bool = False) -> Setup:
    """Checks the notebook's parameters, picks the device, loads the simulation and cuts the clean datasets.

    all_horizons: every horizon of the profile (notebook 06), else the task's own horizon only (07).
    """
    cfg = notebook_profile(profile, device)
    dev = pick_device(device)
    sim = simulate(cfg.sim, progress=False)
    if all_horizons:
        horizons_ms = list(cfg.data.horizons_ms)
        steps = tuple(ms_to_samples(h, cfg.sim.record_dt_ms) for h in horizons_ms)
        datasets = make_datasets(sim, cfg.data, "clean", steps)
    else:
        horizons_ms = [cfg.data.horizon * cfg.sim.record_dt_ms]
        datasets = {cfg.data.horizon: make_dataset(sim, cfg.data, "clean")}
    return Setup(cfg, dev, sim, horizons_ms, datasets)


def seeded_subset(n_items: int, n_wanted: int, seed: int) -> np.ndarray:
    """Returns min(n_wanted, n_items) sorted indices drawn without replacement by a seeded generator."""
    return np.sort(np.random.default_rng(seed).choice(n_items, min(n_wanted, n_items), replace=False))


# ---------------------------------------------------------------- per neuron


def rmse_mv_per_neuron(y_pred_z: np.ndarray, y_true_z: np.ndarray, std_mv: np.ndarray) -> np.ndarray:
    """Returns each neuron's RMSE in mV, [n], from z-unit forecasts and targets [samples, n]."""
    return np.sqrt(np.mean(((np.asarray(y_pred_z, np.float64) - y_true_z) * std_mv) ** 2, axis=0))


def rates_and_in_degrees(sim: Simulation, runs: list[int], discard: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (firing rate in Hz over the kept samples, synaptic in-degree), each [len(runs), n], per (run, neuron)."""
    n, dt_ms = sim.sim.network.n_neurons, sim.sim.record_dt_ms
    kept_s = (sim.v_mv.shape[1] - discard) * dt_ms / 1000
    rate = np.array(
        [np.bincount(sim.spike_i[r][sim.spike_t_ms[r] >= discard * dt_ms], minlength=n)[:n] / kept_s for r in runs]
    )
    indeg = np.array([np.bincount(sim.syn_j[r], minlength=n)[:n] for r in runs])
    return rate, indeg


# ---------------------------------------------------------------- spike clock


def spike_clock(
    spike_i: np.ndarray, spike_t_ms: np.ndarray, n_neurons: int, t_ms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (since_ms, until_ms) [len(t_ms), n]: time since each neuron's last spike < t, to its next >= t (inf if none)."""
    spike_i, spike_t_ms = np.asarray(spike_i), np.asarray(spike_t_ms, np.float64)
    t_ms = np.asarray(t_ms, np.float64)
    since = np.full((len(t_ms), n_neurons), np.inf)
    until = np.full((len(t_ms), n_neurons), np.inf)
    for n in range(n_neurons):
        s = np.sort(spike_t_ms[spike_i == n])
        if len(s) == 0:
            continue
        k = np.searchsorted(s, t_ms, side="left")  # first spike at or after t
        has_last, has_next = k > 0, k < len(s)
        since[has_last, n] = t_ms[has_last] - s[k[has_last] - 1]
        until[has_next, n] = s[k[has_next]] - t_ms[has_next]
    return since, until


def target_samples(split: Split, kept: int, discard: int, idx=None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (run [b], sample index within the run [b]) of each window's target (clean or original split)."""
    assert split.origin is not None, "make_datasets gives every Split its origin"
    g = split.origin[split.target_index(idx)]
    return g // kept, g % kept + discard


def split_spike_clock(sim, split: Split, kept: int, idx=None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (since_ms, until_ms) [b, n] of each window's target sample, from the simulation's spikes."""
    discard = sim.v_mv.shape[1] - kept
    run, sample = target_samples(split, kept, discard, idx)
    n = sim.v_mv.shape[2]
    since, until = np.empty((len(run), n)), np.empty((len(run), n))
    for r in np.unique(run):
        rows = run == r
        t_ms = sample[rows] * sim.sim.record_dt_ms
        since[rows], until[rows] = spike_clock(sim.spike_i[r], sim.spike_t_ms[r], n, t_ms)
    return since, until


def spike_offset_ms(since_ms: np.ndarray, until_ms: np.ndarray) -> np.ndarray:
    """Returns the signed time from the nearest spike: +since after it, -until before it (ms, same shape)."""
    return np.where(since_ms < until_ms, since_ms, -until_ms)


# ---------------------------------------------------------------- where the error is


def reset_share(sq_err: np.ndarray, since_ms: np.ndarray, within_ms: float) -> dict:
    """Returns the share of summed squared error, and of samples, whose neuron spiked within within_ms before the target."""
    near = since_ms <= within_ms
    total = float(np.sum(sq_err))
    return {
        "within_ms": float(within_ms),
        "share_of_error": float(np.sum(sq_err[near]) / total),
        "share_of_samples": float(near.mean()),
        "mse_near": float(sq_err[near].mean()) if near.any() else float("nan"),
        "mse_far": float(sq_err[~near].mean()) if (~near).any() else float("nan"),
    }


def binned_error(x: np.ndarray, sq_err: np.ndarray, edges: np.ndarray) -> dict:
    """Returns per bin of x: centers, mean squared error, sample count and share of the total squared error."""
    x, sq_err = np.ravel(x), np.ravel(sq_err)
    b = np.digitize(x, edges) - 1
    ok = (b >= 0) & (b < len(edges) - 1)
    count = np.bincount(b[ok], minlength=len(edges) - 1)
    sse = np.bincount(b[ok], weights=sq_err[ok], minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mse = sse / count
    return {"centers": (edges[:-1] + edges[1:]) / 2, "mse": mse, "count": count, "share": sse / sq_err.sum()}


def per_run_neuron_r2(y_true: np.ndarray, y_pred: np.ndarray, run_of_window: np.ndarray) -> dict:
    """Returns {run: per-neuron R^2 [n]} over each run's windows."""
    return {
        int(r): r2_per_neuron(y_true[run_of_window == r], y_pred[run_of_window == r]) for r in np.unique(run_of_window)
    }


def ei_test(r2_neuron: np.ndarray, n_exc: int) -> dict:
    """Returns medians, means and a two-sided Mann-Whitney U test of per-neuron R^2, excitatory vs inhibitory."""
    e, i = np.asarray(r2_neuron[:n_exc]), np.asarray(r2_neuron[n_exc:])
    res = sps.mannwhitneyu(e, i, alternative="two-sided")
    return {
        "median_exc": float(np.median(e)),
        "median_inh": float(np.median(i)),
        "mean_exc": float(e.mean()),
        "mean_inh": float(i.mean()),
        "u": float(res.statistic),
        "p": float(res.pvalue),
        # common-language effect size: P(R^2 of a random E neuron > that of a random I neuron)
        "p_exc_better": float(res.statistic / (len(e) * len(i))),
    }


def spearman(x: np.ndarray, y: np.ndarray) -> dict:
    """Returns Spearman's rho and its p-value of two flat arrays (finite pairs only)."""
    x, y = np.ravel(x), np.ravel(y)
    ok = np.isfinite(x) & np.isfinite(y)
    res = sps.spearmanr(x[ok], y[ok])
    return {"rho": float(res.statistic), "p": float(res.pvalue), "n": int(ok.sum())}


# ---------------------------------------------------------------- horizons


def at_horizon(split: Split, horizon: int) -> Split:
    """Returns the same windows with targets `horizon` samples ahead (horizon <= split.horizon keeps them in their run)."""
    if horizon > split.horizon:
        raise ValueError(
            f"horizon {horizon} > the split's horizon {split.horizon}: its last windows' targets "
            "could fall outside their run. Cut the windows at the largest horizon you need."
        )
    return dataclasses.replace(split, horizon=int(horizon))


def rollout(
    model: torch.nn.Module, split: Split, steps: int, idx=None, device=None, batch_size: int = 512
) -> np.ndarray:
    """Returns a one-step model's autoregressive forecasts [steps, b, n] (z): step k+1 reads its own first k predictions."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    idx = np.arange(len(split)) if idx is None else np.asarray(idx)

    def roll(s: slice) -> torch.Tensor:
        x, out = split.get_batch(idx[s])[0].to(device), []
        for _ in range(steps):
            y = model(x)
            out.append(y.float().cpu())
            x = torch.cat([x[:, 1:], y[:, None].to(x.dtype)], dim=1)  # slide: drop the oldest, append the forecast
        return torch.stack(out, dim=1)  # [b, steps, n]

    with evaluating(model, device):
        return in_batches(roll, len(idx), batch_size).transpose(0, 1).numpy()


def multistep(direct: dict, split_max: Split, horizons_ms: list, h_samples: list, idx: np.ndarray, device=None) -> dict:
    """Returns {horizon_ms: {"rollout", "direct", "persistence": scores}} on the same windows idx of split_max.

    The rollout feeds the first (1-step) model of `direct` its own forecasts; direct[h] was trained at h.
    """
    roll = rollout(direct[horizons_ms[0]], split_max, max(h_samples), idx=idx, device=device)
    out = {}
    for h, hs in zip(horizons_ms, h_samples):
        sp = at_horizon(split_max, hs)
        y, pers = sp.targets()[idx], sp.last_values()[idx]
        out[h] = {
            "rollout": scores(y, roll[hs - 1], pers),
            "direct": scores(y, predict(direct[h], sp, device, idx=idx), pers),
            "persistence": scores(y, pers, pers),
        }
    return out


def scores(y_true: np.ndarray, y_pred: np.ndarray, y_persist: np.ndarray) -> dict:
    """Returns pooled R^2, per-neuron R^2 [n] and MSE (z) with skill against persistence."""
    return {
        "r2": r2_pooled(y_true, y_pred),
        "r2_per_neuron": r2_per_neuron(y_true, y_pred),
        "mse_z": float(np.mean((y_pred - y_true) ** 2)),
        "skill_vs_persistence": skill_vs_persistence(y_true, y_pred, y_persist),
    }


# ---------------------------------------------------------------- contiguous traces


def dense_split(split: Split, kept: int, segment: int, first: int, n_windows: int, horizon: int) -> Split:
    """Returns windows at stride 1 in one run segment of a clean split: starts first..first+n-1 (segment-local)."""
    first = int(min(max(first, 0), kept - split.window - horizon))
    n_windows = int(min(n_windows, kept - split.window - horizon - first + 1))
    starts = segment * kept + first + np.arange(n_windows, dtype=np.int64)
    run = split.run_of_window[np.searchsorted(split.starts, segment * kept)]
    return Split(split.series, starts, split.window, horizon, np.full(n_windows, run, np.int64), split.origin)


def segment_of_run(split: Split, kept: int, run: int) -> int:
    """Returns the segment (block of kept samples) of a clean split's series that holds simulation run `run`."""
    seg = np.unique(split.starts[split.run_of_window == run] // kept)
    if len(seg) != 1:
        raise ValueError(
            f"run {run} is not one segment of this split (runs: {np.unique(split.run_of_window)}); "
            "dense traces need a clean-protocol split."
        )
    return int(seg[0])


def error_profiles(
    sq_err: np.ndarray,
    since_ms: np.ndarray,
    until_ms: np.ndarray,
    v_mv: np.ndarray,
    t_s: np.ndarray,
    within_ms=(0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200),
) -> dict:
    """Returns squared error [b, n] binned by time since spike, spike offset, voltage (mV), time in run (s); reset shares."""
    lo, hi = np.floor(np.percentile(v_mv, 0.5)), np.ceil(np.percentile(v_mv, 99.9))
    t = np.broadcast_to(np.asarray(t_s)[:, None], sq_err.shape)
    cum = [reset_share(sq_err, since_ms, w) for w in within_ms]
    return {
        "since": binned_error(since_ms, sq_err, np.geomspace(0.1, 2000, 25)),
        "offset": binned_error(spike_offset_ms(since_ms, until_ms), sq_err, np.arange(-20.5, 21, 1.0)),
        "voltage": binned_error(v_mv, sq_err, np.arange(lo, hi + 1, 1.0)),
        "time": binned_error(t, sq_err, np.linspace(t.min(), t.max() + 1e-9, 11)),
        "cumulative": {k: [c[k] for c in cum] for k in ("within_ms", "share_of_error", "share_of_samples")},
    }


def span_windows(split: Split, kept: int, run: int, t0: int, n_samples: int, horizon: int):
    """The windows whose targets are samples t0 .. t0 + n_samples - 1 of one run's kept part, `horizon` ahead,
    and those targets' index in the run's kept part, clipped to the targets the run has (the first one a
    full window and `horizon` after the run's start, the last its last sample): (dense split, index [b])."""
    seg = segment_of_run(split, kept, run)
    # the window whose target is sample t0 starts a window and a horizon earlier
    d = dense_split(split, kept, seg, t0 - (split.window - 1 + horizon), n_samples, horizon)
    return d, d.target_index() - seg * kept
