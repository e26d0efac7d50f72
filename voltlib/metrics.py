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


def evaluate(
    y_true_z: np.ndarray,
    y_pred_z: np.ndarray,
    std_mv: np.ndarray,
    n_exc: int,
    y_persist_z: np.ndarray | None = None,
    run_of_sample: np.ndarray | None = None,
) -> dict:
    """Returns every metric of [samples, n] z-unit forecasts: R^2s, MSE/RMSE/MAE in z and mV, skill, E vs I.

    With run_of_sample (the simulation run of each sample), also r2_ci: the 95 % interval of the pooled
    R^2 over test runs (`r2_interval`).
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
        out["r2_ci"] = r2_interval(t, p, run_of_sample, estimate=out["r2"])
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


def bootstrap_r2(y_true: np.ndarray, preds: dict, run_of_sample: np.ndarray, n_boot: int = 2000, seed: int = 0) -> dict:
    """Pooled R^2 of each forecaster on run-resampled test sets: {name: [n_boot]}, one resample shared by all.

    preds maps a name to [samples, ...] forecasts, or to [seeds, samples, ...] for several training seeds
    (each resample then also redraws the seeds and averages their R^2). Sharing the resamples makes
    differences between forecasters paired. The spread of a resampled mean over R runs is narrower
    than the sampling spread by sqrt((R-1)/R); `interval` widens it back.
    """
    _, runs = np.unique(np.asarray(run_of_sample), return_inverse=True)  # labels 0..R-1: every run is drawn
    n_runs = int(runs.max()) + 1
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=n_boot).astype(np.float64)  # [B, R]
    out = {}
    for name, pred in preds.items():
        pred = np.asarray(pred)
        stacked = pred[None] if pred.shape == np.shape(y_true) else pred
        sums = [run_sums(y_true, p, runs, n_runs) for p in stacked]
        n, s, q = (w @ sums[0][k] for k in ("n", "sum", "sumsq"))  # [B]
        r2 = _pooled_r2_from_sums(n, s, q, np.stack([w @ x["sse"] for x in sums]))  # [S, B]
        pick = rng.integers(0, len(sums), size=(len(sums), n_boot)) if len(sums) > 1 else np.zeros((1, n_boot), int)
        out[name] = np.take_along_axis(r2, pick, axis=0).mean(axis=0)
    return out


def interval(samples: np.ndarray, estimate: float, n_runs: int, level: float = 0.95) -> tuple[float, float]:
    """A percentile interval moved to `estimate` from bootstrap samples, widened by sqrt(R/(R-1)); NaN for R < 2 runs."""
    if n_runs < 2:
        return float("nan"), float("nan")  # one test run: nothing to resample, no interval
    samples = np.asarray(samples, dtype=np.float64)
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    center = samples.mean()
    widen = np.sqrt(n_runs / (n_runs - 1))
    return float(estimate + (lo - center) * widen), float(estimate + (hi - center) * widen)


def r2_interval(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    run_of_sample: np.ndarray,
    estimate: float | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Returns the `level` interval of a forecast's pooled R^2 by bootstrap over whole test runs."""
    estimate = r2_pooled(y_true, y_pred) if estimate is None else estimate
    samples = bootstrap_r2(y_true, {"m": y_pred}, run_of_sample, n_boot=n_boot, seed=seed)["m"]
    return interval(samples, estimate, len(np.unique(run_of_sample)), level)


def format_interval(ci, spec: str = ".3f") -> str:
    """An interval as 'lo to hi' for tables, or 'n/a' where none could be computed (e.g. one test run)."""
    if ci is None or any(v is None or not np.isfinite(v) for v in ci):
        return "n/a"
    return f"{format(ci[0], spec)} to {format(ci[1], spec)}"
