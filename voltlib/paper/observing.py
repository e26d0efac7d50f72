"""Notebook 10: the best forecast an observer of the recording can make, and forecasts as distributions.

At the ceiling's own start times on the clean test runs, three forecasters give an ensemble of the
voltages h ms ahead (METHODS.md section 15): the oracle (the simulator's exact state run forward
with fresh noise: sim.observer.oracle_ensemble), the observer (particle filters of the noisy
recording, with the wiring inferred from the run's past or, labelled, the true one:
sim.observer.observer_ensemble), and persistence with its training residuals (the trivial reference).
Each is scored as a mean forecast (R^2 against the same target variance as the ceiling) and as a
distribution (CRPS, central 50 % and 90 % interval coverage, PIT), with intervals over test runs.
The product is cached under data/observer/, keyed on everything that makes it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from voltlib import display, paths
from voltlib.config import Profile, config_hash, ms_to_samples
from voltlib.forecast import probabilistic as prob
from voltlib.forecast import staircase
from voltlib.forecast.ceiling import clean_test_facts
from voltlib.forecast.metrics import gain_share, interval
from voltlib.sim import observer as ob
from voltlib.sim import spikes, wiring
from voltlib.sim.recording import noisy_runs_mv
from voltlib.sim.restart_states import choose_start_samples, states_at
from voltlib.store import horizon_key

CACHE_VERSION = 3  # 2: the distributional member and its seeds' ensemble; 3: intervals at the members' positions
N_BOOT = 2000
CHUNK = 8  # start times filtered at once: bounds the particles' memory (8 x 100 x 1024 x 15 floats)
PERSISTENCE_ORIGINS = 4000  # training origins whose persistence residuals make persistence's ensemble
PIT_BINS = 10
DRAWN = ("oracle", "observer", "observer_true_wiring")  # ensembles of random draws of the predictive distribution
QUANTILED = ("quantile_member", "quantile_seeds")  # the distributional member's quantiles: one seed, all its seeds
FORECASTERS = (*DRAWN, *QUANTILED, "persistence")
LABELS = {
    "oracle": "oracle (the simulator's state)",
    "observer": "observer (recording, wiring inferred)",
    "observer_true_wiring": "observer (recording, true wiring)",
    "quantile_member": "staircase member, quantile output (seed 0)",
    "quantile_seeds": "staircase member, quantile output (its seeds pooled)",
    "persistence": "persistence + its residuals",
}


BRIAN2_CEILING = "oracle ceiling (Brian2 restarts, notebook 06)"  # r2_rows' row of notebook 06's ceiling


def product_path(cfg: Profile) -> Path:
    """data/observer/<hash>.json: keyed on the version, the network, data, ceiling and observer settings."""
    return paths.DATA / "observer" / f"{config_hash(CACHE_VERSION, cfg.sim, cfg.data, cfg.ceiling, cfg.observer)}.json"


def start_samples(cfg: Profile, run: int, n_samples: int) -> np.ndarray:
    """The observer's start samples of one test run: a seeded subset of the ceiling's (forecast/ceiling.py)."""
    h_max = ms_to_samples(max(cfg.ceiling.horizons_ms), cfg.sim.record_dt_ms)
    first = ms_to_samples(cfg.data.discard_ms, cfg.sim.record_dt_ms) + cfg.data.window - 1
    pool = choose_start_samples(n_samples, first, h_max, cfg.ceiling.n_start_times, cfg.ceiling.seed, run)
    rng = np.random.default_rng([cfg.observer.seed, run])
    return np.sort(rng.choice(pool, size=min(cfg.observer.n_start_times, len(pool)), replace=False))


def inferred_graphs(y_kept: np.ndarray, runs: dict, test_runs: list[int], dyn: ob.Dynamics) -> dict:
    """{run: [B, n, n] jumps per checkpoint} of the test runs, inferred causally from each run's recording."""
    detected = spikes.detect(y_kept, dyn.v_reset_mv)
    alpha, _ = wiring.choose_alpha([wiring.block_moments(y_kept[r], detected[r]) for r in runs["val"]])
    out = {}
    for r in test_runs:
        coupling = wiring.coupling(wiring.checkpoint_coefficients(wiring.block_moments(y_kept[r], detected[r]), alpha))
        out[r] = ob.synapse_weights(2.0 * coupling, dyn)  # a coupling estimates half a jump
    return out


def _stretches(y_run: np.ndarray, kept_samples: np.ndarray, burn_in: int) -> np.ndarray:
    """The burn_in + 1 samples ending at each start (kept coordinates): [S, burn_in + 1, n]."""
    return np.stack([y_run[k - burn_in : k + 1] for k in kept_samples])


def _observer_run(y_run, kept, graphs, dyn, meas_sd, n_particles, burn_in, n_members, h_max, seed):
    """The observer's ensembles [S, M, h_max + 1, n] and filter diagnostics at one run's starts, in chunks."""
    ens, ess, collapsed = [], [], []
    for c in range(0, len(kept), CHUNK):
        part = slice(c, c + CHUNK)
        e, filt = ob.observer_ensemble(
            _stretches(y_run, kept[part], burn_in),
            graphs[part],
            dyn,
            meas_sd,
            n_particles,
            n_members,
            h_max,
            [seed, c],
        )
        ens.append(e)
        ess.append(filt.ess[:, -1].mean(axis=1))  # at the forecast origin, over neurons
        collapsed.append(filt.collapsed.mean(axis=(1, 2)))
    return np.concatenate(ens), np.concatenate(ess), np.concatenate(collapsed)


def _scores(ens_mv, y_target_mv, mean_mv, std_mv, meas_sd, rng, drawn: bool = True) -> dict:
    """Per start time: squared error of the ensemble mean, CRPS, inside the central 50 / 90 % intervals (z
    units, pooled over neurons), and every PIT value. ens_mv [S, M, n]; y_target_mv [S, n], recorded.

    drawn: the members are random draws of the predictive distribution (the oracle's, the observer's). Then the
    squared error is that of the distribution's own mean, the mean of M draws erring by Var / M more on
    average, so the members' variance over M is subtracted (an unbiased estimate), and the CRPS is the fair one
    (the distribution's, not the M draws'). Persistence's members are fixed quantiles: neither applies."""
    noisy = ens_mv + meas_sd * rng.standard_normal(ens_mv.shape)  # the recorded target carries the noise
    z = np.moveaxis((noisy - mean_mv) / std_mv, 1, -1)  # [S, n, M]
    y = (y_target_mv - mean_mv) / std_mv
    mean_z = (ens_mv.mean(axis=1) - mean_mv) / std_mv
    se = ((mean_z - y) ** 2).mean(axis=1)
    if drawn:
        se = se - (ens_mv.var(axis=1, ddof=1) / std_mv**2).mean(axis=1) / ens_mv.shape[1]
    out = {
        "se": se,
        "crps": prob.crps_ensemble(z, y, fair=drawn).mean(axis=1),
        "pit": prob.pit(z, y, seed=int(rng.integers(2**31))).ravel(),
    }
    # the members read as quantiles at the levels they stand for: random draws at (k + 1)/(M + 1), fixed quantiles at
    # (k + 0.5)/M (probabilistic.POSITIONS), so that a calibrated forecast's interval covers its level at any M
    positions = "weibull" if drawn else "hazen"
    for level in (0.5, 0.9):
        lo, hi = prob.central_interval(z, level, positions)
        out[f"in{int(level * 100)}"] = ((y >= lo) & (y <= hi)).mean(axis=1)
    return out


def compute_product(cfg: Profile, sim, progress: bool = False) -> dict:
    """The oracle, the observer (inferred and true wiring) and persistence as ensembles at the observer's start
    times of the clean test runs, scored at every horizon, with the filter's convergence check (cached JSON).

    On one BLAS thread wherever it runs (a fan-out worker has one, a notebook's kernel more), so the wiring's
    ridge sums in one order and the product is the same in-process and on the fan-out."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _compute_product(cfg, sim, progress)


def _compute_product(cfg: Profile, sim, progress: bool) -> dict:
    t0 = time.perf_counter()
    oc, dyn = cfg.observer, ob.Dynamics.of(cfg.sim)
    dt = cfg.sim.record_dt_ms
    horizons_ms = list(cfg.ceiling.horizons_ms)
    h_samples = [ms_to_samples(h, dt) for h in horizons_ms]
    h_max, meas = max(h_samples), cfg.data.meas_noise_mv
    burn_in = ms_to_samples(oc.burn_in_ms, dt)
    discard = ms_to_samples(cfg.data.discard_ms, dt)
    test_runs, std_mv, target_var_z = clean_test_facts(sim, cfg.data, h_samples)
    from voltlib.forecast.data import make_dataset

    ds = make_dataset(sim, cfg.data, "clean", h_samples[0])
    mean_mv, runs = np.asarray(ds.mean_mv, np.float64), ds.runs
    assert runs is not None, "a clean dataset names its runs"
    y_kept = noisy_runs_mv(np.asarray(sim.v_mv), cfg.data, dt).astype(np.float64)  # [R, kept, n]
    test_runs = test_runs[: oc.n_test_runs]
    inferred = inferred_graphs(y_kept, runs, test_runs, dyn)
    rng = np.random.default_rng([oc.seed, 1])
    # persistence's residuals on training origins, per horizon, in z units pooled over neurons
    # as the n_members quantiles of those residuals (probabilistic.residual_ensemble of a zero forecast)
    quantiles = {}
    for h in h_samples:
        r_idx = rng.choice(runs["train"], PERSISTENCE_ORIGINS)
        t_idx = rng.integers(0, y_kept.shape[1] - h, PERSISTENCE_ORIGINS)
        residuals = ((y_kept[r_idx, t_idx + h] - y_kept[r_idx, t_idx]) / std_mv).ravel()
        quantiles[h] = prob.residual_ensemble(0.0, residuals, oc.n_members)
    spec, inp, fitted = distributional_member(cfg, sim, runs, tuple(h_samples))
    rng_q = np.random.default_rng([oc.seed, 3])  # its own stream: the other forecasters' draws stay as they were
    per_start: dict = {f: {h: [] for h in h_samples} for f in FORECASTERS}
    mean_se: dict = {h: [] for h in h_samples}
    run_of, ess_all, collapsed_all, samples_all = [], [], [], []
    example: dict = {}
    for run in test_runs:
        samples = start_samples(cfg, run, sim.v_mv.shape[1])
        kept = samples - discard
        st = states_at(sim.v_mv[run], sim.spike_i[run], sim.spike_t_ms[run], samples, cfg.sim, run=run)
        true_w = np.repeat(sim.weights_mv(run)[None].astype(np.float64), len(samples), axis=0)
        inf_w = inferred[run][kept // wiring.STEP]
        ens = {
            "oracle": ob.oracle_ensemble(st.v_mv, st.since_spike, true_w, dyn, oc.n_members, h_max, [oc.seed, run, 0]),
        }
        ens["observer"], ess, collapsed = _observer_run(
            y_kept[run], kept, inf_w, dyn, meas, oc.n_particles, burn_in, oc.n_members, h_max, [oc.seed, run, 1]
        )
        ens["observer_true_wiring"], _, _ = _observer_run(
            y_kept[run], kept, true_w, dyn, meas, oc.n_particles, burn_in, oc.n_members, h_max, [oc.seed, run, 2]
        )
        # the member's quantiles [S, n, horizons, Q] per seed; its inputs are the same recorded voltages
        q_mv = [
            staircase.forecast_quantiles_mv(m, spec, inp, scale, np.full(len(kept), run), kept)
            for m, _, scale in fitted
        ]
        for j, h in enumerate(h_samples):
            target = y_kept[run][kept + h]
            for name in DRAWN:
                scored = _scores(ens[name][:, :, h], target, mean_mv, std_mv, meas, rng)
                per_start[name][h].append(scored)
            # the quantiles forecast the recorded value, noise included: scored as they are, like persistence's
            per_seed = [np.moveaxis(q[:, :, j], -1, 1) for q in q_mv]  # [S, Q, n] each
            for name, ens_q in (("quantile_member", per_seed[0]), ("quantile_seeds", np.concatenate(per_seed, axis=1))):
                per_start[name][h].append(_scores(ens_q, target, mean_mv, std_mv, 0.0, rng_q, drawn=False))
            pers = y_kept[run][kept][:, None, :] + quantiles[h][:, None] * std_mv
            # persistence's ensemble already carries the recorded noise: score it as it is (no extra noise)
            per_start["persistence"][h].append(_scores(pers, target, mean_mv, std_mv, 0.0, rng, drawn=False))
            mean_se[h].append((((target - mean_mv) / std_mv) ** 2).mean(axis=1))  # the training mean's forecast
        if not example:
            example = near_threshold_example(ens, y_kept[run], kept, samples, run, h_samples[0], horizons_ms[0])
            at, neuron = example.pop("start"), example["neuron"]
            pers_1 = y_kept[run][kept[at], neuron]
            example["members_mv"]["persistence"] = (pers_1 + quantiles[h_samples[0]] * std_mv[neuron]).tolist()
            example["members_mv"]["quantile_seeds"] = np.concatenate([q[at, neuron, 0] for q in q_mv]).tolist()
        run_of.append(np.full(len(samples), run))
        samples_all.append(samples)
        ess_all.append(ess)
        collapsed_all.append(collapsed)
        if progress:
            print(
                f"[observer] test run {run}: {len(samples)} start times, {time.perf_counter() - t0:.0f} s", flush=True
            )
    run_of_start = np.concatenate(run_of)
    merged = {
        f: {h: {k: np.concatenate([p[k] for p in per_start[f][h]]) for k in per_start[f][h][0]} for h in h_samples}
        for f in FORECASTERS
    }
    out = {
        "profile": cfg.name,
        "horizons_ms": horizons_ms,
        "test_runs": [int(r) for r in test_runs],
        "n_start_times": int(len(run_of_start)),
        "n_particles": oc.n_particles,
        "burn_in_ms": oc.burn_in_ms,
        "n_members": oc.n_members,
        "target_var_z": [float(v) for v in target_var_z],
        "scores": {
            f: {
                horizon_key(h_ms): summarise(merged[f][h], run_of_start, target_var_z[i])
                for i, (h, h_ms) in enumerate(zip(h_samples, horizons_ms))
            }
            for f in FORECASTERS
        },
        "per_start": {
            "run": run_of_start.tolist(),
            "sample": np.concatenate(samples_all).tolist(),
            "se": {
                **{
                    f: {horizon_key(h_ms): merged[f][h]["se"].tolist() for h, h_ms in zip(h_samples, horizons_ms)}
                    for f in FORECASTERS
                },
                "mean": {
                    horizon_key(h_ms): np.concatenate(mean_se[h]).tolist() for h, h_ms in zip(h_samples, horizons_ms)
                },
            },
        },
        "differences": {
            pair: {
                horizon_key(h_ms): paired(merged[a][h]["se"], merged[b][h]["se"], run_of_start, target_var_z[i])
                for i, (h, h_ms) in enumerate(zip(h_samples, horizons_ms))
            }
            for pair, (a, b) in {
                "oracle_minus_observer": ("oracle", "observer"),
                "true_minus_inferred_wiring": ("observer_true_wiring", "observer"),
            }.items()
        },
        "filter": {
            "ess_at_origin_mean": float(np.mean(np.concatenate(ess_all))),
            "ess_at_origin_min": float(np.min(np.concatenate(ess_all))),
            "collapsed_share": float(np.mean(np.concatenate(collapsed_all))),
        },
        "distributional": {
            "member": spec.name,
            "quantiles": spec.quantiles,
            "seeds": len(fitted),
            "trainings": [
                {k: info.get(k) for k in ("params", "epochs", "best_epoch", "best_val_loss", "train_s")}
                for _, info, _ in fitted
            ],
        },
        "example": example,
        "convergence": convergence(cfg, sim, y_kept, test_runs[0], inferred[test_runs[0]], mean_mv, std_mv, dyn),
        "wall_s": time.perf_counter() - t0,
    }
    return out


def distributional_member(cfg: Profile, sim, runs: dict, horizons: tuple):
    """(member spec, its inputs, [(model, info, scale) per seed]): the profile's distributional staircase member,
    trained (or loaded from data/models/beyond/) on the clean training runs with the family's schedule and seeds."""
    oc, bc = cfg.observer, cfg.beyond
    spec = staircase.MemberConfig(oc.distributional_member, hidden=bc.hidden, depth=bc.depth, quantiles=oc.quantiles)
    inp = staircase.build_inputs(sim, cfg.data, runs, horizons)
    t_lo = cfg.data.window - 1
    fitted = [
        staircase.fit_member(spec, staircase.member_train_config(bc, seed=k), inp, runs, t_lo, cfg.sim, cfg.data)
        for k in range(bc.seeds)
    ]
    return spec, inp, fitted


def near_threshold_example(ens: dict, y_run, kept, samples, run: int, h: int, h_ms) -> dict:
    """The start and neuron of a run where the oracle's ensemble h samples ahead is widest (a threshold
    splits it), with every forecaster's members there (mV, measurement noise not added) and the recorded value."""
    spread = ens["oracle"][:, :, h].var(axis=1)  # [S, n]
    s, i = np.unravel_index(int(np.argmax(spread)), spread.shape)
    return {
        "run": int(run),
        "sample": int(samples[s]),
        "start": int(s),
        "neuron": int(i),
        "horizon_ms": float(h_ms),
        "recorded_mv": float(y_run[kept[s] + h, i]),
        "members_mv": {name: e[s, :, h, i].tolist() for name, e in ens.items()},
    }


def _boot_runs(values: np.ndarray, run_of: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray, int]:
    """(mean over start times, its bootstrap means over resampled test runs [N_BOOT], number of runs)."""
    runs = np.unique(run_of)
    sums = np.array([values[run_of == r].sum() for r in runs])
    counts = np.array([np.sum(run_of == r) for r in runs])
    pick = np.random.default_rng(seed).integers(0, len(runs), size=(N_BOOT, len(runs)))
    return float(values.mean()), sums[pick].sum(axis=1) / counts[pick].sum(axis=1), len(runs)


def _with_ci(values, run_of, transform=lambda x: x) -> dict:
    est, boot, n_runs = _boot_runs(np.asarray(values, np.float64), run_of)
    lo, hi = interval(transform(boot), transform(est), n_runs)
    return {"value": float(transform(est)), "ci": [lo, hi]}


def summarise(per_start: dict, run_of: np.ndarray, target_var_z: float) -> dict:
    """R^2, CRPS (z), coverage of the central 50 / 90 % intervals and the PIT histogram, each with its interval
    over test runs (R^2 = 1 - mean squared error / the test targets' variance, as the ceiling's)."""
    r2 = _with_ci(per_start["se"], run_of, lambda m: 1.0 - m / target_var_z)
    return {
        "r2": r2["value"],
        "r2_ci": r2["ci"],
        "crps_z": _with_ci(per_start["crps"], run_of),
        "coverage_50": _with_ci(per_start["in50"], run_of),
        "coverage_90": _with_ci(per_start["in90"], run_of),
        "pit_histogram": prob.pit_histogram(per_start["pit"], PIT_BINS).tolist(),
    }


def paired(se_a: np.ndarray, se_b: np.ndarray, run_of: np.ndarray, target_var_z: float) -> dict:
    """R^2(a) - R^2(b) on the same start times, with its interval over test runs (paired)."""
    d = _with_ci(np.asarray(se_b) - np.asarray(se_a), run_of, lambda m: m / target_var_z)
    return {"difference": d["value"], "ci": d["ci"]}


def convergence(cfg: Profile, sim, y_kept, run: int, graphs, mean_mv, std_mv, dyn) -> dict:
    """The 1-ms R^2 of the observer on the first test run's first start times as the particles double (at the
    profile's burn-in) and as the burn-in grows (at the profile's particles): the check that the estimate settles."""
    oc, dt = cfg.observer, cfg.sim.record_dt_ms
    discard = ms_to_samples(cfg.data.discard_ms, dt)
    samples = start_samples(cfg, run, sim.v_mv.shape[1])[: oc.check_starts]
    kept = samples - discard
    h = ms_to_samples(min(cfg.ceiling.horizons_ms), dt)
    y = (y_kept[run][kept + h] - mean_mv) / std_mv
    w = graphs[kept // wiring.STEP]

    def mse(particles: int, burn_ms: float) -> float:
        burn = ms_to_samples(burn_ms, dt)
        ens, _, _ = _observer_run(
            y_kept[run], kept, w, dyn, cfg.data.meas_noise_mv, particles, burn, oc.n_members, h, [oc.seed, 9]
        )
        members = ens[:, :, h]  # the error of the distribution's mean: the M draws' excess Var / M taken off
        raw = np.mean(((members.mean(axis=1) - mean_mv) / std_mv - y) ** 2)
        return float(raw - np.mean(members.var(axis=1, ddof=1) / std_mv**2) / members.shape[1])

    return {
        "starts": int(len(kept)),
        "particles": {str(p): mse(p, oc.burn_in_ms) for p in oc.check_particles},
        "burn_in_ms": {f"{b:g}": mse(oc.n_particles, b) for b in oc.check_burn_in_ms},
    }


def missing_product(cfg: Profile) -> bool:
    """True when the observer's product is neither archived nor cached (the fan-out then computes it)."""
    from voltlib.paper import products
    from voltlib.store import verify

    path = product_path(cfg)
    return products.find(cfg.name, path) is None and verify(path) is not None


def product(cfg: Profile, sim=None, progress: bool = False) -> dict:
    """The observer's product from the committed archive (`make products`), else its cache, else computed here
    (simulating or loading the runs) and cached."""
    from voltlib.paper import products

    def compute() -> dict:
        from voltlib.sim.simulate import simulate

        return compute_product(cfg, sim if sim is not None else simulate(cfg.sim, progress=progress), progress)

    return products.read_or_compute(cfg.name, product_path(cfg), compute, "computing the observer again")


# ---------------------------------------------------------------- reading it: tables and shares


def r2_rows(prod: dict, ceiling: dict, learned: dict | None, learned_label: str) -> dict:
    """{row label: {horizon key: (R^2, ci)}}: the Brian2 oracle ceiling of notebook 06 (its own start times), then at
    the observer's start times the numpy oracle, both observers, the learned forecaster (learned_scores) and
    persistence."""
    from voltlib.paper.summary import ceiling_at

    rows: dict = {BRIAN2_CEILING: {horizon_key(h): ceiling_at(ceiling, h) for h in prod["horizons_ms"]}}
    for f in FORECASTERS:
        rows[LABELS[f]] = {hk: (e["r2"], e["r2_ci"]) for hk, e in prod["scores"][f].items()}
    if learned is not None:
        rows[learned_label] = {hk: (e["r2"], e["r2_ci"]) for hk, e in learned.items()}
    return rows


def _stacked(value, ci) -> str:
    """ "0.792 [0.787, 0.796]" that may break before its interval, so five horizons fit the report's column."""
    return _stacked_text(display.with_interval(value, ci))


def _stacked_text(text: str) -> str:
    return text.replace(display.NBSP + "[", " [", 1)


def gaps(prod: dict, learned: dict | None) -> dict:
    """{label: {horizon key: paired difference of R^2}}: what the recording hides (the oracle minus the observer)
    and, with a learned forecaster, what learning leaves (the observer minus it), at the same start times."""
    out = {"what the recording hides: oracle - observer": prod["differences"]["oracle_minus_observer"]}
    if learned is not None:
        out["what learning leaves: observer - learned"] = {hk: e["observer_minus_learned"] for hk, e in learned.items()}
    return out


def r2_frame(rows: dict):
    """r2_rows as a table of "0.861 [0.850, 0.870]" cells, one column per horizon."""
    import pandas as pd

    table = pd.DataFrame(
        {label: {f"{hk} ms": _stacked(v, ci) for hk, (v, ci) in cells.items()} for label, cells in rows.items()}
    ).T
    table.columns.name = "R² [95 % CI]"
    return table


def floor_at_starts(prod: dict) -> dict:
    """{horizon key: R^2 of the floor at the observer's start times}: the better of persistence and the training
    mean there (section 9's floor, on the same targets as the forecasters it is the floor of)."""
    out = {}
    for i, hk in enumerate(prod["scores"]["oracle"]):
        var = prod["target_var_z"][i]
        mean_r2 = 1.0 - float(np.mean(prod["per_start"]["se"]["mean"][hk])) / var
        out[hk] = max(prod["scores"]["persistence"][hk]["r2"], mean_r2)
    return out


def _share(top: float, top_ci, bottom: float, floor: float) -> float | None:
    """(bottom - floor) / (top - floor), or None where top's interval does not clear the floor, or there is no
    interval (one test run): a share of a gain that may be nothing is no share."""
    lo = None if top_ci is None else top_ci[0]
    if lo is None or not np.isfinite(lo) or lo <= floor:
        return None
    return float(gain_share(bottom, floor, top))


def decomposition(prod: dict, learned: dict | None) -> dict:
    """{horizon key: shares of the gain above the floor, at the observer's start times}: what the observer
    reaches of the oracle's gain, what the learned forecaster reaches of the observer's and of the oracle's.
    A share is None where the larger R^2's interval does not clear the floor."""
    floor_r2 = floor_at_starts(prod)
    out = {}
    for hk, floor in floor_r2.items():
        ora, obs = prod["scores"]["oracle"][hk], prod["scores"]["observer"][hk]
        ln = None if learned is None else learned[hk]
        out[hk] = {
            "floor": floor,
            "oracle": ora["r2"],
            "observer": obs["r2"],
            "learned": None if ln is None else ln["r2"],
            "observer_share_of_oracle_gain": _share(ora["r2"], ora["r2_ci"], obs["r2"], floor),
            "learned_share_of_observer_gain": None if ln is None else _share(obs["r2"], obs["r2_ci"], ln["r2"], floor),
            "learned_share_of_oracle_gain": None if ln is None else _share(ora["r2"], ora["r2_ci"], ln["r2"], floor),
        }
    return out


SCORE_NAMES = {"crps_z": "CRPS (z)", "coverage_50": "50 % interval covers", "coverage_90": "90 % interval covers"}


def score_by_horizon_frame(prod: dict, key: str):
    """One distributional score (a key of SCORE_NAMES) of every forecaster at every horizon, with its interval."""
    import pandas as pd

    if key not in SCORE_NAMES:
        raise ValueError(
            f"score {key!r} is not one of the observer's distributional scores: expected one of {list(SCORE_NAMES)}."
        )
    as_pct = key.startswith("coverage")
    rows = {}
    for f in FORECASTERS:
        rows[LABELS[f]] = {
            f"{hk} ms": _stacked_text(
                display.with_interval(e[key]["value"], e[key]["ci"], ".0f", 100, "%")
                if as_pct
                else display.with_interval(e[key]["value"], e[key]["ci"])
            )
            for hk, e in prod["scores"][f].items()
        }
    table = pd.DataFrame(rows).T
    table.columns.name = f"{SCORE_NAMES[key]} [95 % CI]"
    return table


def record(prod: dict, decomposed: dict, learned: dict | None) -> dict:
    """The layout of results/<profile>/observer.json: the product, the learned forecaster at its start times and
    the decomposition."""
    return {**prod, "learned": learned, "decomposition": decomposed}


def row_colors(rows: dict, colors: dict) -> dict:
    """{row label of r2_rows: its colour}: the forecasters' own, the Brian2 ceiling as the oracle's, the learned one."""
    by_label = {LABELS[f]: colors[f] for f in FORECASTERS}
    by_label[BRIAN2_CEILING] = colors["oracle"]
    return {label: by_label.get(label, colors["learned"]) for label in rows}


def filter_frame(prod: dict):
    """How the filter fared at the forecast origins: effective particles, collapses, its settings."""
    import pandas as pd

    f = prod["filter"]
    return pd.DataFrame(
        {
            "particles per neuron": [prod["n_particles"]],
            "burn-in (ms)": [prod["burn_in_ms"]],
            "ensemble members": [prod["n_members"]],
            "start times (test runs)": [f"{prod['n_start_times']} ({len(prod['test_runs'])})"],
            "effective particles at the origin, mean (min)": [
                f"{f['ess_at_origin_mean']:.0f} ({f['ess_at_origin_min']:.1f})"
            ],
            "weightings collapsed on one particle": [
                display.with_interval(f["collapsed_share"], None, ".1f", 100, "%")
            ],
        },
        index=["the observer's filter"],
    ).T


def decomposition_frame(decomposed: dict):
    """decomposition() as a table of percentages, one column per horizon."""
    import pandas as pd

    def pct(x):
        return "no gain to share" if x is None else f"{100 * x:.0f}{display.NBSP}%"

    rows = {
        "R² of the floor (persistence or the mean)": {f"{hk} ms": f"{d['floor']:.3f}" for hk, d in decomposed.items()},
        "the observer's share of the oracle's gain": {
            f"{hk} ms": pct(d["observer_share_of_oracle_gain"]) for hk, d in decomposed.items()
        },
        "the learned forecaster's share of the observer's gain": {
            f"{hk} ms": pct(d["learned_share_of_observer_gain"]) for hk, d in decomposed.items()
        },
        "the learned forecaster's share of the oracle's gain": {
            f"{hk} ms": pct(d["learned_share_of_oracle_gain"]) for hk, d in decomposed.items()
        },
    }
    table = pd.DataFrame(rows).T
    table.columns.name = "share of the gain above the floor"
    return table


def findings_fields(prod: dict, decomposed: dict, learned: dict | None, learned_label: str | None) -> dict:
    """The fields of the observer_findings template; learned: learned_scores (the same start times), or None."""
    from voltlib.forecast.metrics import verdict

    hks = list(prod["scores"]["oracle"])
    first = hks[0]
    sc, diffs = prod["scores"], prod["differences"]["oracle_minus_observer"]
    # between: the observer neither below the learned forecaster nor above the oracle, by the paired intervals
    not_between = [
        hk
        for hk in hks
        if verdict(diffs[hk]["ci"]) == "lower"
        or (learned is not None and verdict(learned[hk]["observer_minus_learned"]["ci"]) == "lower")
    ]
    return {
        "first_ms": float(first),
        "oracle": sc["oracle"][first]["r2"],
        "observer": sc["observer"][first]["r2"],
        "observer_ci": sc["observer"][first]["r2_ci"],
        "learned": None if learned is None else {"label": learned_label, **learned[first]},
        "hidden": diffs[first],
        "hidden_decided": verdict(diffs[first]["ci"]) == "higher",
        "wiring": prod["differences"]["true_minus_inferred_wiring"][first],
        "shares": [
            {"h": hk, "learned": d["learned_share_of_observer_gain"], "observer": d["observer_share_of_oracle_gain"]}
            for hk, d in decomposed.items()
        ],
        "between_all": not not_between,
        "not_between": not_between,
        # the distributional member has its own sentence (distributional_fields)
        "coverage": {f: sc[f][first]["coverage_90"] for f in (*DRAWN, "persistence")},
        "crps": {f: sc[f][first]["crps_z"]["value"] for f in (*DRAWN, "persistence")},
        "labels": LABELS,
        "distributional": distributional_fields(prod, first),
    }


def distributional_note(prod: dict, best_name: str | None) -> str:
    """One paragraph: which member forecasts distributions, how it trained, and whether it is notebook 08's best."""
    from voltlib.forecast.staircase import MEMBER_LABELS

    d = prod["distributional"]
    t = d["trainings"]
    member = MEMBER_LABELS[d["member"]]
    if best_name == d["member"]:
        whose = "It is notebook 08's best member that reads only the recording."
    elif best_name:
        whose = (
            f"Notebook 08's best member that reads only the recording is *{MEMBER_LABELS.get(best_name, best_name)}* "
            "at this profile; the profile's observer settings name this one."
        )
    else:
        whose = "Notebook 08 scored no member at this profile; the profile's observer settings name this one."
    return (
        f"The distributional forecaster is the staircase member *{member}* with {d['quantiles']} outputs per "
        f"horizon, the quantiles at the levels (k + 0.5)/{d['quantiles']}, trained by the pinball loss on the "
        f"training runs with the family's schedule from {display.count(d['seeds'], 'seed')} "
        f"({display.count(t[0]['params'], 'parameter')}; {', '.join(str(x['epochs']) for x in t)} epochs). "
        f"{whose} Its quantiles are read as equally likely values of the recorded voltage; one seed and all "
        "seeds pooled (a mixture of their distributions) are scored."
    )


CALIBRATED_90 = (0.88, 0.92)  # where a calibrated forecaster's central 90 % interval coverage lies, at this sample size


def distributional_fields(prod: dict, hk: str) -> dict:
    """The distributional member at one horizon: which member, its seeds pooled and one seed's 90 % and 50 %
    coverage with intervals, how far the pooled 90 % coverage lies outside CALIBRATED_90 (0 inside; negative: too
    narrow), and the CRPS of it, one seed and persistence."""
    from voltlib.forecast.staircase import MEMBER_LABELS

    d, sc = prod["distributional"], prod["scores"]
    c90 = sc["quantile_seeds"][hk]["coverage_90"]["value"]
    lo, hi = CALIBRATED_90
    return {
        "member": MEMBER_LABELS[d["member"]],
        "quantiles": d["quantiles"],
        "seeds": d["seeds"],
        "pooled": {k: sc["quantile_seeds"][hk][k] for k in ("coverage_90", "coverage_50", "crps_z")},
        "one": {k: sc["quantile_member"][hk][k] for k in ("coverage_90", "coverage_50", "crps_z")},
        "persistence_crps": sc["persistence"][hk]["crps_z"],
        "miss_90": 0.0 if lo <= c90 <= hi else (c90 - lo if c90 < lo else c90 - hi),
        "target_90": list(CALIBRATED_90),
    }


def learned_at_starts(cfg: Profile, sim, prod: dict, member_name: str) -> dict | None:
    """Notebook 08's member `member_name` scored at the observer's own start times: {"se": {horizon key: per-start
    squared error (z, pooled over neurons, mean over its seeds)}}; None if a seed of it is not trained and cached."""
    from voltlib.forecast.data import make_datasets

    dt = cfg.sim.record_dt_ms
    h_samples = tuple(ms_to_samples(h, dt) for h in cfg.data.horizons_ms)
    ds = make_datasets(sim, cfg.data, "clean", h_samples[:1])[h_samples[0]]
    runs = ds.runs
    assert runs is not None, "a clean dataset names its runs"
    inp = staircase.build_inputs(sim, cfg.data, runs, h_samples)
    spec = {m.name: m for m in staircase.members(cfg.beyond)}[member_name]
    loaded = []
    for k in range(cfg.beyond.seeds):
        train_cfg = staircase.member_train_config(cfg.beyond, seed=k)
        entry = staircase.load_member(spec, train_cfg, inp, runs, cfg.data.window - 1, cfg.sim, cfg.data)
        if entry is None:
            return None
        loaded.append(entry)
    discard = ms_to_samples(cfg.data.discard_ms, dt)
    run = np.asarray(prod["per_start"]["run"], np.int64)
    kept = np.asarray(prod["per_start"]["sample"], np.int64) - discard
    y_kept = inp.v_mv.numpy()
    mean_mv, std_mv = np.asarray(ds.mean_mv, np.float64), np.asarray(ds.std_mv, np.float64)
    se: dict[str, list] = {}
    for model, _, scale in loaded:
        mv = staircase.forecast_mv(model, spec, inp, scale, run, kept)  # [starts, n, horizons]
        for j, (h, h_ms) in enumerate(zip(h_samples, cfg.data.horizons_ms)):
            z = (mv[..., j] - mean_mv) / std_mv
            y = (y_kept[run, kept + h] - mean_mv) / std_mv
            se.setdefault(horizon_key(h_ms), []).append(((z - y) ** 2).mean(axis=1))
    return {"se": {hk: np.mean(v, axis=0).tolist() for hk, v in se.items()}}


def learned_scores(prod: dict, learned: dict | None) -> dict | None:
    """The learned forecaster at the observer's start times by horizon key: its R^2 with its interval over test
    runs and the paired difference observer minus learned (R^2) with its interval; None without it."""
    if learned is None:
        return None
    run_of = np.asarray(prod["per_start"]["run"])
    out = {}
    for i, hk in enumerate(prod["scores"]["oracle"]):
        se, var = np.asarray(learned["se"][hk]), prod["target_var_z"][i]
        r2 = _with_ci(se, run_of, lambda m, v=var: 1.0 - m / v)
        observer_se = np.asarray(prod["per_start"]["se"]["observer"][hk])
        out[hk] = {"r2": r2["value"], "r2_ci": r2["ci"], "observer_minus_learned": paired(observer_se, se, run_of, var)}
    return out
