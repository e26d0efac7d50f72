"""The predictability ceiling of METHODS.md section 9: from replica variances to a ceiling R^2, cached.

An oracle that knows the network's full state at time t (every voltage, every refractory clock,
every spike still travelling on the 1.5 ms delays, the connectivity) but not the noise to come
(the external Poisson input and the white-noise current) predicts E[v(t+h) | state]. Its mean
squared error, E[Var(v(t+h) | state)], is the least any forecaster of the voltage can reach.

We estimate it by restarting the network from states of the stored clean test runs, K times each
with fresh noise, and taking the unbiased variance (ddof 1) across the K replicas of v(t+h),
averaged over start times. What a state is and how it is read from a stored run: restart_states.py;
how Brian2 replays it exactly with fresh noise: restarts.py. Here the variances become R^2 against
the variance of the models' test targets, with and without the measurement noise
(data.meas_noise_mv) that the models' recorded targets carry, and are cached under data/ceiling/.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from voltlib import paths
from voltlib.config import config_hash, get_profile, ms_to_samples
from voltlib.sim.restart_states import choose_start_samples, concat_states, states_at
from voltlib.sim.restarts import replicas_in_child
from voltlib.store import load_checked, parse_json, write_json

N_BOOT = 2000  # bootstrap resamples of start times for the confidence intervals
# part of the cache key: raise it when the cached dict changes meaning (2: ceiling_r2 includes the
# measurement noise, ceiling_r2_oracle does not), so that older files are recomputed, not misread
CACHE_VERSION = 2


def ceiling_dir() -> Path:
    """data/ceiling/: the cached ceiling estimates."""
    return paths.DATA / "ceiling"


def summarise(
    var_mv2: np.ndarray,
    std_mv: np.ndarray,
    target_var_z: np.ndarray,
    meas_noise_mv: float,
    seed: int,
    n_boot: int = N_BOOT,
) -> dict:
    """Ceiling R^2 per horizon, with and without measurement noise, and 95 % intervals, from var_mv2 [S, H, n] mV^2."""
    var_z = var_mv2 / np.asarray(std_mv, np.float64) ** 2  # z = (v - mean) / std is linear
    meas_z = (meas_noise_mv / np.asarray(std_mv, np.float64)) ** 2  # [n] unpredictable target noise
    target_var_z = np.asarray(target_var_z, np.float64)
    per_start = var_z.mean(axis=2)  # [S, H] pooled over neurons
    # start times are resampled whole (all neurons, all horizons together); the denominator, the
    # variance of the models' test targets, is the same for every forecaster and held fixed
    rng = np.random.default_rng(seed)
    boot = per_start[rng.integers(0, len(per_start), size=(n_boot, len(per_start)))].mean(axis=1)  # [B, H]

    def r2(err_z):
        return 1.0 - err_z / target_var_z

    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    e_z = per_start.mean(axis=0)
    return {
        "e_var_mv2": var_mv2.mean(axis=(0, 2)),
        "e_var_mv2_se": var_mv2.mean(axis=2).std(axis=0, ddof=1) / np.sqrt(len(var_mv2)),
        "e_var_mv2_per_neuron": var_mv2.mean(axis=0),
        "e_var_z": e_z,
        "target_var_z": target_var_z,
        # the ceiling a forecaster of the recorded voltages faces: its targets carry the measurement noise
        "ceiling_r2": r2(e_z + meas_z.mean()),
        "ceiling_r2_ci": np.stack([r2(hi + meas_z.mean()), r2(lo + meas_z.mean())], axis=1),
        # the oracle's own, on the noiseless voltages
        "ceiling_r2_oracle": r2(e_z),
        "ceiling_r2_oracle_ci": np.stack([r2(hi), r2(lo)], axis=1),
        "ci": "95 % percentile bootstrap over start times (2000 resamples); target variance held fixed",
    }


def cache_path(profile_name: str, test_runs=None, std_mv=None, target_var_z=None, sim_cfg=None) -> Path:
    """data/ceiling/<hash of CACHE_VERSION, the sim, data, ceiling configs, the arguments as given (None = derived)>.json.

    sim_cfg: another network's runs at the profile's ceiling settings (notebook 09's states); None, the profile's.
    """
    p = get_profile(profile_name)
    p = p if sim_cfg is None else replace(p, sim=sim_cfg)

    def rounded(x):
        return None if x is None else [round(float(v), 9) for v in np.ravel(x)]

    runs = None if test_runs is None else [int(r) for r in test_runs]
    key = config_hash(CACHE_VERSION, p.sim, p.data, p.ceiling, runs, rounded(std_mv), rounded(target_var_z))
    return ceiling_dir() / f"{key}.json"


def compute_ceiling(
    profile_name: str,
    test_runs: list[int] | None = None,
    std_mv=None,
    target_var_z=None,
    force: bool = False,
    progress: bool = True,
    sim_cfg=None,
) -> dict:
    """The profile's ceiling on clean test runs (cached JSON dict): horizons_ms, e_var_mv2, ceiling R^2s and CIs."""
    # test_runs: run indices (the first ceiling.n_test_runs are used; default the clean protocol's
    # test runs); std_mv [n]: per-neuron std of the z-scoring (default the clean training runs');
    # target_var_z [horizons]: pooled variance of the z-scored test targets (default from the clean
    # test split, as metrics.r2_pooled's SST / N). Derived defaults are functions of the profile,
    # so the cache is keyed on the arguments as given and a hit loads nothing else.
    # sim_cfg: the runs of another network (a state of notebook 09) at this profile's ceiling settings
    path = cache_path(profile_name, test_runs, std_mv, target_var_z, sim_cfg)
    cached = None if force else load_checked(path, parse_json, "recomputing the ceiling")
    if cached is not None:
        return cached
    p = get_profile(profile_name)
    cfg, sim_cfg, data_cfg = p.ceiling, p.sim if sim_cfg is None else sim_cfg, p.data
    horizons = [int(h) for h in cfg.horizons_ms]
    h_samples = [ms_to_samples(h, sim_cfg.record_dt_ms) for h in horizons]

    from voltlib.sim.simulate import simulate

    sim = simulate(sim_cfg, progress=progress)
    t0 = time.perf_counter()
    if test_runs is None or std_mv is None or target_var_z is None:
        ds_runs, ds_std, ds_var = clean_test_facts(sim, data_cfg, h_samples)
        test_runs = ds_runs if test_runs is None else test_runs
        std_mv = ds_std if std_mv is None else std_mv
        target_var_z = ds_var if target_var_z is None else target_var_z
    runs = [int(r) for r in list(test_runs)[: cfg.n_test_runs]]

    discard = ms_to_samples(data_cfg.discard_ms, sim_cfg.record_dt_ms)
    # states at possible window ends: the last input sample of a model's window is >= discard + window - 1
    first = discard + data_cfg.window - 1
    parts = []
    for r in runs:
        samples = choose_start_samples(sim.v_mv.shape[1], first, max(h_samples), cfg.n_start_times, cfg.seed, r)
        parts.append(states_at(sim.v_mv[r], sim.spike_i[r], sim.spike_t_ms[r], samples, sim_cfg, run=r))
    states = concat_states(parts)
    syn = {r: (sim.syn_i[r], sim.syn_j[r]) for r in runs}
    t1 = time.perf_counter()
    mean_mv, var_mv2 = replicas_in_child(states, syn, sim_cfg, cfg.n_replicas, max(h_samples), cfg.seed, progress)
    if np.abs(var_mv2[:, 0]).max() > 1e-9 or np.abs(mean_mv[:, 0] - states.v_mv).max() > 1e-6:
        raise RuntimeError(
            "the restarts did not start from the saved voltages (lag 0 differs between replicas "
            "or from the state); the restart bookkeeping is broken."
        )
    out = {
        "profile": profile_name,
        "horizons_ms": horizons,
        "test_runs": runs,
        "n_start_times": len(states),
        "n_replicas": cfg.n_replicas,
        **summarise(var_mv2[:, h_samples], std_mv, target_var_z, data_cfg.meas_noise_mv, cfg.seed),
        # the typical (median) spread is the subthreshold noise; the mean adds the rare pairs whose
        # replicas split across a threshold crossing (a -20 mV reset in some replicas, not others)
        "e_var_mv2_median": np.median(var_mv2[:, h_samples], axis=(0, 2)),
        "e_var_mv2_by_lag": var_mv2.mean(axis=(0, 2)),
        "lags_ms": np.arange(var_mv2.shape[1]) * sim_cfg.record_dt_ms,
        "mean_in_flight_spikes": len(states.flight_start) / len(states),
        "std_mv": np.asarray(std_mv, np.float64),
        "meas_noise_mv": data_cfg.meas_noise_mv,
        "restarts_wall_s": time.perf_counter() - t1,  # the Brian2 child process alone
        "wall_s": time.perf_counter() - t0,
    }  # plus the test-set facts and state extraction
    write_json(path, out)
    return parse_json(path)  # the values a later cache hit returns, to the last digit


def clean_test_facts(sim, data_cfg, h_samples: list[int]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Clean protocol facts: (test runs, per-neuron std_mv [n] of training runs, pooled target variance z [H])."""
    from voltlib.forecast.data import make_datasets

    sets = make_datasets(sim, data_cfg, "clean", tuple(h_samples))
    target_var = []
    for h in h_samples:
        y = sets[h].test.targets().astype(np.float64)
        target_var.append(np.mean((y - y.mean()) ** 2))  # SST / N of metrics.r2_pooled
    ds = sets[h_samples[0]]
    return [int(r) for r in ds.runs["test"]], np.asarray(ds.std_mv, np.float64), np.array(target_var)
