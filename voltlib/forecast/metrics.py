"""The metrics of METHODS.md section 8, defined once.

Pooled R^2 is the source's: r2_score(y_true.flatten(), y_pred.flatten()), i.e. 1 - SSE/SST with SSE
summed over every neuron and sample and SST taken around the one global mean of all targets (not
around each neuron's mean). On z-scored data each neuron's mean is near 0, so the two differ little;
per-neuron R^2 (SST around that neuron's own mean) is reported beside it.
mV figures multiply each neuron's z error by that neuron's std_mv (the source's "mV" were z units).
"""

from __future__ import annotations

import numpy as np


def r2_pooled(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Returns 1 - SSE/SST over all entries, SST around the global mean of y_true (sklearn on flattened arrays)."""
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    sst = np.sum((t - t.mean()) ** 2)
    return float(1.0 - np.sum((t - p) ** 2) / sst)


def r2_per_neuron(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Returns each neuron's R^2 (SST around its own mean), float64 [n]."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    sst = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    return 1.0 - np.sum((t - p) ** 2, axis=0) / sst


def skill_vs_persistence(y_true: np.ndarray, y_pred: np.ndarray, y_persist: np.ndarray) -> float:
    """Returns 1 - MSE(forecast) / MSE(persistence): the share of persistence's squared error a forecast removes."""
    t = np.asarray(y_true, dtype=np.float64)
    return float(
        1.0 - np.mean((np.asarray(y_pred, np.float64) - t) ** 2) / np.mean((np.asarray(y_persist, np.float64) - t) ** 2)
    )


def gain_share(r2_model, r2_floor, r2_ceiling):
    """Returns (R2_model - R2_floor) / (R2_ceiling - R2_floor), the share of the achievable gain; float or array."""
    model, floor, ceil = (np.asarray(x, np.float64) for x in (r2_model, r2_floor, r2_ceiling))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ceil > floor, (model - floor) / (ceil - floor), np.nan)  # no gain to share: undefined
    return float(out) if out.ndim == 0 else out


def gain_floor(r2_persistence, r2_mean):
    """The floor of the achievable gain: the better of the two trivial forecasts (persistence, the training mean)."""
    out = np.maximum(np.asarray(r2_persistence, np.float64), np.asarray(r2_mean, np.float64))
    return float(out) if out.ndim == 0 else out


def evaluate(
    y_true_z: np.ndarray,
    y_pred_z: np.ndarray,
    std_mv: np.ndarray,
    n_exc: int,
    y_persist_z: np.ndarray | None = None,
    run_of_sample: np.ndarray | None = None,
) -> dict:
    """Returns every metric of [samples, n] z-unit forecasts: R^2s, MSE/RMSE/MAE in z and mV, skill, E vs I.

    With run_of_sample (the simulation run of each sample), also run_stats (`run_stats`: what paired
    comparisons are computed from) and r2_ci: the 95 % interval of the pooled R^2 over test runs.
    """
    t = np.asarray(y_true_z, dtype=np.float64)
    p = np.asarray(y_pred_z, dtype=np.float64)
    if t.ndim != 2 or t.shape != p.shape:
        raise ValueError(
            f"y_true_z {t.shape} and y_pred_z {p.shape} must both be [samples, neurons] "
            "of one shape; pass Split.targets() and the model's predictions for those windows."
        )
    std = np.asarray(std_mv, dtype=np.float64)
    if std.shape != (t.shape[1],):
        raise ValueError(
            f"std_mv has shape {std.shape}; expected ({t.shape[1]},), one std per neuron (Dataset.std_mv)."
        )
    err_z = p - t
    err_mv = err_z * std
    per_neuron = r2_per_neuron(t, p)
    out = {
        "r2": r2_pooled(t, p),
        "r2_per_neuron_mean": float(per_neuron.mean()),
        "mse_z": float(np.mean(err_z**2)),
        "rmse_z": float(np.sqrt(np.mean(err_z**2))),
        "mae_z": float(np.mean(np.abs(err_z))),
        "mse_mv": float(np.mean(err_mv**2)),
        "rmse_mv": float(np.sqrt(np.mean(err_mv**2))),
        "mae_mv": float(np.mean(np.abs(err_mv))),
        # pooled over the neurons of each population, same definition as r2
        "r2_exc": r2_pooled(t[:, :n_exc], p[:, :n_exc]) if n_exc > 0 else float("nan"),
        "r2_inh": r2_pooled(t[:, n_exc:], p[:, n_exc:]) if n_exc < t.shape[1] else float("nan"),
        "r2_per_neuron": per_neuron.tolist(),
    }
    if y_persist_z is not None:
        out["skill_vs_persistence"] = skill_vs_persistence(t, p, y_persist_z)
    if run_of_sample is not None:
        out["run_stats"] = run_stats(t, p, run_of_sample)
        samples = bootstrap_stats({"m": out["run_stats"]})["m"]
        out["r2_ci"] = interval(samples, out["r2"], len(out["run_stats"]["runs"]))
    return out


# --- uncertainty: bootstrap over whole test runs (the unit of independence) ---------------------------


def run_sums(y_true: np.ndarray, y_pred: np.ndarray, run_of_sample: np.ndarray, n_runs: int | None = None) -> dict:
    """Per-run sufficient statistics of pooled R^2: count, sum and sum of squares of targets, SSE; each [runs]."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    runs = np.asarray(run_of_sample)
    if t.shape != p.shape or t.ndim < 1 or runs.shape != t.shape[:1]:
        raise ValueError(
            f"y_true {t.shape}, y_pred {p.shape} and run_of_sample {runs.shape} must share their "
            "first (sample) axis: pass one run index per forecast sample."
        )
    n_runs = int(runs.max()) + 1 if n_runs is None else n_runs
    flat = lambda a: a.reshape(len(a), -1).sum(axis=1)  # noqa: E731  (sum over neurons)
    width = t[0].size
    return {
        "n": np.bincount(runs, minlength=n_runs) * float(width),
        "sum": np.bincount(runs, flat(t), minlength=n_runs),
        "sumsq": np.bincount(runs, flat(t**2), minlength=n_runs),
        "sse": np.bincount(runs, flat((t - p) ** 2), minlength=n_runs),
    }


def _pooled_r2_from_sums(n, s, q, sse):
    """Pooled R^2 (SST around the global mean) from summed statistics; broadcasts."""
    return 1.0 - sse / (q - s**2 / n)


def run_stats(y_true: np.ndarray, preds: np.ndarray, run_of_sample: np.ndarray) -> dict:
    """What a run-level bootstrap of pooled R^2 needs, small enough to keep in results JSON.

    preds: [samples, ...] forecasts, or [seeds, samples, ...] for several training seeds.
    Returns {"runs": the R run ids (sorted), "n", "sum", "sumsq": the targets' per-run count, sum and
    sum of squares [R], "sse": per seed and run squared error [S][R]}, all plain lists.
    """
    ids, labels = np.unique(np.asarray(run_of_sample), return_inverse=True)
    pred = np.asarray(preds)
    stacked = pred[None] if pred.shape == np.shape(y_true) else pred
    sums = [run_sums(y_true, p, labels, len(ids)) for p in stacked]
    return {
        "runs": ids.tolist(),
        **{k: sums[0][k].tolist() for k in ("n", "sum", "sumsq")},
        "sse": [x["sse"].tolist() for x in sums],
    }


def r2_from_stats(stats: dict) -> float:
    """The pooled R^2 (the mean over seeds) that run statistics describe."""
    n, s, q = (np.sum(stats[k]) for k in ("n", "sum", "sumsq"))
    return float(np.mean(_pooled_r2_from_sums(n, s, q, np.sum(stats["sse"], axis=1))))


def _same_test_set(stats: dict) -> None:
    first = next(iter(stats.values()))
    for name, st in stats.items():
        same = st["runs"] == first["runs"] and all(
            np.allclose(st[k], first[k], rtol=1e-9) for k in ("n", "sum", "sumsq")
        )
        if not same:
            raise ValueError(
                f"{name!r} was scored on other test samples than {next(iter(stats))!r} (other runs or targets): a "
                "paired comparison needs both forecasters on the same test windows. Compare them with "
                "independent_difference instead."
            )


def bootstrap_stats(stats: dict, n_boot: int = 2000, seed: int = 0) -> dict:
    """Pooled R^2 of each forecaster on run-resampled test sets, {name: [n_boot]}, from run_stats.

    All share one draw of runs, which makes differences between them paired (they must have been
    scored on the same test samples). A forecaster with several seeds also redraws its seeds in each
    resample and averages their R^2. The spread of a resampled mean over R runs is narrower than the
    sampling spread by sqrt((R-1)/R); `interval` widens it back.
    """
    _same_test_set(stats)
    first = next(iter(stats.values()))
    n_runs = len(first["runs"])
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=n_boot).astype(np.float64)  # [B, R]
    n, s, q = (w @ np.asarray(first[k], np.float64) for k in ("n", "sum", "sumsq"))  # [B]
    out = {}
    for name, st in stats.items():
        sse = np.asarray(st["sse"], np.float64)  # [S, R]
        r2 = _pooled_r2_from_sums(n, s, q, sse @ w.T)  # [S, B]
        pick = rng.integers(0, len(sse), size=(len(sse), n_boot)) if len(sse) > 1 else np.zeros((1, n_boot), int)
        out[name] = np.take_along_axis(r2, pick, axis=0).mean(axis=0)
    return out


def bootstrap_r2(y_true: np.ndarray, preds: dict, run_of_sample: np.ndarray, n_boot: int = 2000, seed: int = 0) -> dict:
    """bootstrap_stats of forecasts: preds maps a name to [samples, ...] or [seeds, samples, ...] forecasts."""
    stats = {name: run_stats(y_true, p, run_of_sample) for name, p in preds.items()}
    return bootstrap_stats(stats, n_boot, seed)


def interval(samples: np.ndarray, estimate: float, n_runs: int, level: float = 0.95) -> tuple[float, float]:
    """A percentile interval moved to `estimate` from bootstrap samples, widened by sqrt(R/(R-1)); NaN for R < 2 runs."""
    if n_runs < 2:
        return float("nan"), float("nan")  # one test run: nothing to resample, no interval
    samples = np.asarray(samples, dtype=np.float64)
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    center = samples.mean()
    widen = np.sqrt(n_runs / (n_runs - 1))
    return float(estimate + (lo - center) * widen), float(estimate + (hi - center) * widen)


def paired_difference(a: dict, b: dict, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """R^2(a) - R^2(b) of two forecasters scored on the same test samples (run_stats of each), with its interval.

    Returns {"difference", "ci": (lo, hi)}: a paired bootstrap over test runs (and seeds where a
    forecaster has several).
    """
    boot = bootstrap_stats({"a": a, "b": b}, n_boot, seed)
    est = r2_from_stats(a) - r2_from_stats(b)
    return {"difference": est, "ci": interval(boot["a"] - boot["b"], est, len(a["runs"]), level)}


def independent_difference(a: dict, b: dict, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """R^2(a) - R^2(b) of forecasters scored on different test samples (e.g. the two protocols), with its interval.

    The two are resampled independently, each widened for its own number of runs.
    """
    rng = np.random.default_rng(seed)
    devs = []
    for st in (a, b):
        samples = bootstrap_stats({"m": st}, n_boot, int(rng.integers(2**31)))["m"]
        r = len(st["runs"])
        devs.append((samples - samples.mean()) * (np.sqrt(r / (r - 1)) if r > 1 else np.nan))
    est = r2_from_stats(a) - r2_from_stats(b)
    lo, hi = np.quantile(devs[0] - devs[1], [(1 - level) / 2, (1 + level) / 2])
    return {"difference": est, "ci": (float(est + lo), float(est + hi))}


def gain_share_interval(
    model: dict, floor: dict, ceiling_r2: float, ceiling_ci, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict:
    """The share of the achievable gain (gain_share) of a forecaster with its interval, from run_stats.

    The forecaster and the floor (a trivial forecast scored on the same test samples) are resampled
    together over test runs (widened by sqrt(R/(R-1)) as in `interval`); the ceiling, estimated on
    other samples (restarts of the simulator), is drawn independently from the normal its 95 %
    interval describes. Returns {"share", "ci": (lo, hi)}; NaN bounds with fewer than 2 test runs.
    """
    est = gain_share(r2_from_stats(model), r2_from_stats(floor), ceiling_r2)
    n_runs = len(model["runs"])
    if n_runs < 2 or ceiling_ci is None or not all(np.isfinite(ceiling_ci)):
        return {"share": float(est), "ci": (float("nan"), float("nan"))}
    boot = bootstrap_stats({"m": model, "f": floor}, n_boot, seed)
    widen = np.sqrt(n_runs / (n_runs - 1))
    m = r2_from_stats(model) + (boot["m"] - boot["m"].mean()) * widen
    f = r2_from_stats(floor) + (boot["f"] - boot["f"].mean()) * widen
    sd = (ceiling_ci[1] - ceiling_ci[0]) / (2 * 1.959964)
    c = ceiling_r2 + sd * np.random.default_rng([seed, 1]).standard_normal(n_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = (m - f) / (c - f)
    lo, hi = np.nanquantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return {"share": float(est), "ci": (float(lo), float(hi))}


def verdict(ci, higher: str = "higher", lower: str = "lower") -> str:
    """The word a difference's interval allows: `higher` if it excludes zero from above, `lower` from
    below, else (also without an interval: NaN or None) 'not distinguishable at this budget'."""
    lo, hi = (np.nan, np.nan) if ci is None else (np.nan if v is None else v for v in ci)
    if lo > 0:
        return higher
    if hi < 0:
        return lower
    return "not distinguishable at this budget"
