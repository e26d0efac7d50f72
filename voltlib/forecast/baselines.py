"""The naive forecasts of METHODS.md section 7, on exactly the windows the models see.

Each baseline predicts a window's target (all neurons, `horizon` samples after the window's last
sample) from the end of that window, and each is fitted on the training windows' targets only
(one target per window, as the models are). Lags and ridge strength are chosen by validation MSE;
test numbers come from the model fitted on training windows with the chosen settings.
Forecasts are direct: a separate fit per horizon, never an iterated one-step model.

- mean: 0 in z units (the training mean under the clean protocol, the global mean under the original)
- persistence: the window's last value
- ar_ridge: per neuron, ridge regression of its target on its own last p samples (own coefficients)
- population_ridge: ridge regression of every neuron's target on all neurons' last p samples
- own_lags_boosting: one gradient-boosted tree model shared by all neurons, reading a neuron's own
  last k samples in mV (so the spike threshold sits at the same input value for every neuron) and
  predicting its change in mV; no input from other neurons.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from voltlib.config import DataConfig, ms_to_samples
from voltlib.forecast.data import Dataset, Split, make_datasets
from voltlib.forecast.metrics import evaluate
from voltlib.store import horizon_key

BASELINES = ("mean", "persistence", "ar_ridge", "population_ridge", "own_lags_boosting")
AR_LAGS = (1, 2, 3, 5, 10, 20, 30)
POP_LAGS = (1, 2, 3, 5)
BOOST_LAGS = (3, 6)
ALPHAS = (1e-2, 1e0, 1e2, 1e4)  # ridge penalty on the sum of squared errors over training windows
BOOST_TRAIN_ROWS = 150_000  # (window, neuron) pairs the tree model is fitted on (seeded subsample)
# One BLAS/OpenMP thread: the fits are small, and on 2 cores shared with other jobs two threads
# per library were measured 1.5-6x slower than one (threads spinning while waiting for a core).
BASELINE_THREADS = 1


def _one_thread(fn):
    """Runs fn with BASELINE_THREADS BLAS and OpenMP threads."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with threadpool_limits(limits=BASELINE_THREADS):
            return fn(*args, **kwargs)

    return wrapped


def _ridge_path(cov: np.ndarray, xty: np.ndarray, alphas: tuple) -> np.ndarray:
    """Returns ridge weights for each alpha from centred X'X [..., p, p] and X'y [..., p, k]: [a, ..., p, k]."""
    evals, evecs = np.linalg.eigh(cov)
    proj = np.swapaxes(evecs, -1, -2) @ xty
    return np.stack([evecs @ (proj / (evals[..., :, None] + a)) for a in alphas])


def _moments(x_tr, y_tr, x_va, y_va) -> dict:
    """Returns the training and validation second moments ridge needs; x [..., N, F], y [..., N, k] float64."""
    xm, ym = x_tr.mean(axis=-2, keepdims=True), y_tr.mean(axis=-2, keepdims=True)
    n_tr = x_tr.shape[-2]
    xt = np.swapaxes(x_tr, -1, -2)
    # centred moments without materialising centred copies: X'X - N m m'
    cov = xt @ x_tr - n_tr * np.swapaxes(xm, -1, -2) @ xm
    xty = xt @ y_tr - n_tr * np.swapaxes(xm, -1, -2) @ ym
    # validation moments centred by the training means: scoring a (p, alpha) pair then costs a few
    # small products instead of predicting every validation window again
    xv, yv = x_va - xm, y_va - ym
    v_xx, v_xy = np.swapaxes(xv, -1, -2) @ xv, np.swapaxes(xv, -1, -2) @ yv
    return dict(
        cov=cov,
        xty=xty,
        v_xx=v_xx,
        v_xy=v_xy,
        v_yy=np.sum(yv**2, axis=(-2, -1)),
        n_val=yv.shape[-2] * yv.shape[-1],
        x_mean=xm,
        y_mean=ym,
    )


def _fit_select(mom: dict, lag_grid, n_per_lag, alphas):
    """Fits centred ridge on the first p*n_per_lag features for every (p, alpha); returns the val-best fit.

    Returns (p, alpha, w [..., f, k], x_mean [..., 1, f], y_mean [..., 1, k]).
    """
    n_val = mom["n_val"] * int(np.prod(mom["v_yy"].shape))
    best = None
    for p in lag_grid:
        f = p * n_per_lag
        ws = _ridge_path(mom["cov"][..., :f, :f], mom["xty"][..., :f, :], alphas)
        for a, w in zip(alphas, ws):
            sse = (
                np.sum(w * (mom["v_xx"][..., :f, :f] @ w))
                - 2 * np.sum(w * mom["v_xy"][..., :f, :])
                + np.sum(mom["v_yy"])
            )
            if best is None or sse / n_val < best[0]:
                best = (sse / n_val, p, a, w, mom["x_mean"][..., :f], mom["y_mean"])
    assert best is not None, "an empty lag grid or alpha grid: nothing to select from"
    return best[1:]


def _own_lag_features(sp: Split, n_lags: int, neurons: np.ndarray) -> np.ndarray:
    """Returns these neurons' own last n_lags samples as [len(neurons), windows, n_lags] float64 z (newest first)."""
    # gather from a neuron-major copy so each neuron's lags are contiguous reads
    col = np.ascontiguousarray(sp.series.numpy()[:, neurons].T, dtype=np.float64)  # [k, T]
    rows = sp.starts[:, None] + sp.window - 1 - np.arange(n_lags)[None, :]
    return col[:, rows]


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A baseline fitted on a dataset's training windows with the settings validation chose.

    predict(split) forecasts any windows of that dataset's series (its test windows, or the dense
    windows of 06's explorer), z [windows, n], with the very arithmetic the paper's scores use.
    """

    name: str
    settings: dict
    forecast: Callable[[Split], np.ndarray]
    # (split, its dataset) -> z forecasts in that dataset's units: the model applied to another recording
    # (notebook 09's transfer between network states); None for a model defined in z units only
    forecast_other: Callable[[Split, Dataset], np.ndarray] | None = None

    def predict(self, split: Split) -> np.ndarray:
        with threadpool_limits(limits=BASELINE_THREADS):
            return self.forecast(split)

    def predict_other(self, split: Split, dataset: Dataset) -> np.ndarray:
        """Forecasts of windows of another dataset (its own z units), with the fitted model unchanged."""
        if self.forecast_other is None:
            raise ValueError(f"{self.name} is fitted in its dataset's z units and cannot forecast another recording")
        with threadpool_limits(limits=BASELINE_THREADS):
            return self.forecast_other(split, dataset)


@_one_thread
def fit_ar_ridge(ds: Dataset, chunk: int = 25) -> Fitted:
    """The per-neuron ridge AR fitted on ds's training windows, lags and penalty chosen on its validation windows."""
    pmax, n = max(AR_LAGS), ds.train.series.shape[1]
    y_tr_all = ds.train.targets().T.astype(np.float64)  # [n, N]
    y_va_all = ds.val.targets().T.astype(np.float64)
    parts = []
    for lo in range(0, n, chunk):  # neuron chunks keep the float64 lag arrays small
        nb = np.arange(lo, min(lo + chunk, n))
        parts.append(
            _moments(
                _own_lag_features(ds.train, pmax, nb),
                y_tr_all[nb, :, None],
                _own_lag_features(ds.val, pmax, nb),
                y_va_all[nb, :, None],
            )
        )
    mom = {k: (np.concatenate([m[k] for m in parts]) if k != "n_val" else parts[0][k]) for k in parts[0]}
    p, a, w, xm, ym = _fit_select(mom, AR_LAGS, 1, ALPHAS)
    forecast = lambda sp: ((_own_lag_features(sp, p, np.arange(n)) - xm) @ w + ym)[..., 0].T  # noqa: E731
    return Fitted("ar_ridge", {"lags": p, "alpha": a}, forecast)


def ar_ridge(ds: Dataset, chunk: int = 25) -> tuple[np.ndarray, dict]:
    """Returns per-neuron ridge AR test forecasts [n_test, n] z and the chosen {lags, alpha}."""
    fitted = fit_ar_ridge(ds, chunk)
    return fitted.predict(ds.test), fitted.settings


def _population_features(sp: Split, n_lags: int) -> np.ndarray:
    """Returns all neurons' last n_lags samples flattened lag-major: [windows, n_lags * n] float64 z."""
    lags = sp.lags(n_lags)
    return lags.reshape(len(lags), -1).astype(np.float64)


@_one_thread
def fit_population_ridge(ds: Dataset) -> Fitted:
    """The population ridge fitted on ds's training windows, lags and penalty chosen on its validation windows."""
    n = ds.train.series.shape[1]
    pmax = max(POP_LAGS)
    x_tr, x_va = _population_features(ds.train, pmax), _population_features(ds.val, pmax)
    y_tr, y_va = ds.train.targets().astype(np.float64), ds.val.targets().astype(np.float64)
    # lag-major flattening: the first p * n columns are exactly lags 1..p of every neuron
    p, a, w, xm, ym = _fit_select(_moments(x_tr, y_tr, x_va, y_va), POP_LAGS, n, ALPHAS)
    forecast = lambda sp: (_population_features(sp, p) - xm) @ w + ym  # noqa: E731
    return Fitted("population_ridge", {"lags": p, "alpha": a}, forecast)


def population_ridge(ds: Dataset) -> tuple[np.ndarray, dict]:
    """Returns population ridge test forecasts [n_test, n] z and the chosen {lags, alpha}."""
    fitted = fit_population_ridge(ds)
    return fitted.predict(ds.test), fitted.settings


def _boost_rows(sp: Split, ds: Dataset, n_lags: int, rows: np.ndarray | None = None):
    """Returns (features [m, n_lags] mV, last value [m] mV, target [m] mV) for (window, neuron) pairs."""
    lags_mv = sp.lags(n_lags) * ds.std_mv[None, None, :] + ds.mean_mv[None, None, :]  # [w, lag, n]
    x = lags_mv.transpose(0, 2, 1).reshape(-1, n_lags)  # row = w * n + neuron
    y = (sp.targets() * ds.std_mv + ds.mean_mv).reshape(-1)
    if rows is not None:
        x, y = x[rows], y[rows]
    return x, x[:, 0], y


@_one_thread
def fit_own_lags_boosting(ds: Dataset, seed: int = 0) -> Fitted:
    """The boosted trees on each neuron's own lags, fitted on ds's training windows, lags chosen on its validation windows."""
    n = ds.train.series.shape[1]
    rng = np.random.default_rng(seed)
    m_tr = len(ds.train) * n
    rows = np.sort(rng.choice(m_tr, size=min(BOOST_TRAIN_ROWS, m_tr), replace=False))
    best = None
    for k in BOOST_LAGS:
        x, last, y = _boost_rows(ds.train, ds, k, rows)
        # 60 rounds: on validation data more rounds fitted the measurement noise (0.760 at 60, 0.757 at 150)
        model = HistGradientBoostingRegressor(
            max_iter=60, learning_rate=0.1, max_leaf_nodes=31, early_stopping=False, random_state=seed
        )
        model.fit(x, y - last)  # predict the change: the persistence part needs no trees
        xv, lv, yv = _boost_rows(ds.val, ds, k)
        mse = float(np.mean((model.predict(xv) + lv - yv) ** 2))
        if best is None or mse < best[0]:
            best = (mse, k, model)
    assert best is not None, "BOOST_LAGS is empty: nothing to select from"
    _, k, model = best

    def forecast_other(sp: Split, on: Dataset) -> np.ndarray:
        # the trees read and predict millivolts, so they apply to any recording of the same neurons' kind
        xt, lt, _ = _boost_rows(sp, on, k)
        pred_mv = (model.predict(xt) + lt).reshape(len(sp), on.std_mv.shape[0])
        return (pred_mv - on.mean_mv) / on.std_mv

    return Fitted("own_lags_boosting", {"lags": k}, lambda sp: forecast_other(sp, ds), forecast_other)


def own_lags_boosting(ds: Dataset, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Returns test forecasts [n_test, n] z of a tree model on each neuron's own lags, and the chosen {lags}."""
    fitted = fit_own_lags_boosting(ds, seed)
    return fitted.predict(ds.test), fitted.settings


FIT = {"ar_ridge": fit_ar_ridge, "population_ridge": fit_population_ridge, "own_lags_boosting": fit_own_lags_boosting}


@_one_thread
def run_baselines(ds: Dataset) -> dict:
    """Returns {baseline: metrics dict (evaluate() keys plus chosen settings and fit_s)} on ds's test split."""
    y = ds.test.targets()
    persist = ds.test.last_values()
    out = {}
    for name in BASELINES:
        t0 = time.perf_counter()
        extra: dict  # the chosen settings, none for the two that fit nothing
        if name == "mean":
            pred, extra = np.zeros_like(y), {}
        elif name == "persistence":
            pred, extra = persist, {}
        else:
            pred, extra = {
                "ar_ridge": ar_ridge,
                "population_ridge": population_ridge,
                "own_lags_boosting": own_lags_boosting,
            }[name](ds)
        out[name] = {
            **evaluate(y, pred, ds.std_mv, ds.n_exc, y_persist_z=persist, run_of_sample=ds.test.run_of_window),
            **extra,
            "fit_s": time.perf_counter() - t0,
        }
    return out


def baseline_table(sim, data_cfg: DataConfig, protocols=("original", "clean"), horizons=(1, 2, 5, 10, 20)) -> dict:
    """Returns {protocol: {baseline: {horizon key ('1', '2', ...): metrics}}} for every baseline on the test split."""
    dt_ms = sim.sim.record_dt_ms
    steps = {h_ms: ms_to_samples(h_ms, dt_ms) for h_ms in horizons}
    table: dict[str, dict[str, dict]] = {}
    for protocol in protocols:
        datasets = make_datasets(sim, data_cfg, protocol, tuple(sorted(set(steps.values()))))
        table[protocol] = {name: {} for name in BASELINES}
        for h_ms, h in steps.items():
            for name, metrics in run_baselines(datasets[h]).items():
                table[protocol][name][horizon_key(h_ms)] = metrics
        del datasets
    return table


def table_frame(table: dict, metric: str = "r2"):
    """Returns one metric of baseline_table() as a DataFrame: rows (protocol, baseline), columns horizon (ms)."""
    import pandas as pd

    rows = {
        (protocol, name): {h: m[metric] for h, m in by_h.items()}
        for protocol, by_name in table.items()
        for name, by_h in by_name.items()
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns.name = "horizon (ms)"
    return frame
