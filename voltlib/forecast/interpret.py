"""What a trained CNN-LSTM uses (notebook 07): filters, ablations, importance, sensitivity, hidden states.

Every quantity here is computed from a model and test windows; none is asserted. Evaluation sets
are capped (the notebook states the caps) because each importance value costs a pass over them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import signal

from voltlib.config import ModelConfig, TrainConfig, config_hash
from voltlib.forecast.data import Dataset, Split
from voltlib.forecast.metrics import r2_pooled
from voltlib.forecast.models import Forecaster, ablated, evaluating, in_batches
from voltlib.forecast.train import fit_or_load

# ---------------------------------------------------------------- filters


def filter_summary(model: Forecaster) -> dict:
    """Returns the conv weights' mean |w| per neuron offset ([3], [5]) and per input time channel ([window] each)."""
    out = {}
    for name in ("conv1", "conv2"):
        w = getattr(model.cnn, name).weight.detach().abs().cpu().numpy()  # [out_t, in_t, k]
        k = w.shape[2]
        out[name] = {
            "offsets": (np.arange(k) - k // 2).tolist(),
            "by_offset": w.mean(axis=(0, 1)),
            "by_input_step": w.mean(axis=(0, 2)),
            "by_step_offset": w.mean(axis=0),
        }
        # > 1: the centre tap (the neuron itself) outweighs its index neighbours
        out[name]["centre_over_neighbours"] = float(w[:, :, k // 2].mean() / np.delete(w, k // 2, axis=2).mean())
    return out


# ---------------------------------------------------------------- ablations and importance


def predict_x(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Returns the model's forecasts [b, n] (z) for windows x [b, window, n] already in memory."""
    with evaluating(model):
        return in_batches(lambda s: model(x[s]), len(x), batch_size)


def mse_per_output(y: torch.Tensor, pred: torch.Tensor) -> np.ndarray:
    """Returns the mean squared error of each output neuron, float64 [n]."""
    return ((pred.double() - y.double()) ** 2).mean(dim=0).numpy()


@torch.inference_mode()
def permutation_importance(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, groups: list, axis: str, seed: int = 0
) -> np.ndarray:
    """Returns the MSE increase per output [len(groups), n] when a group of input neurons ('neuron') or steps ('lag') is shuffled."""
    if axis not in ("neuron", "lag"):
        raise ValueError(f"axis={axis!r}: expected 'neuron' (groups of input neurons) or 'lag' (groups of time steps).")
    base = mse_per_output(y, predict_x(model, x))
    perm = torch.as_tensor(np.random.default_rng(seed).permutation(len(x)))
    out = np.empty((len(groups), y.shape[1]))
    for g, members in enumerate(groups):
        members = torch.as_tensor(np.atleast_1d(members))
        at = (slice(None), slice(None), members) if axis == "neuron" else (slice(None), members)
        # shuffle in place and restore: a window keeps everything except this group, which comes from another window
        saved = x[at].clone()
        x[at] = saved[perm]
        out[g] = mse_per_output(y, predict_x(model, x)) - base
        x[at] = saved
    return out


def lag_groups(window: int, edges=(1, 2, 3, 5, 10, 20, 50)) -> tuple[list, list]:
    """Returns (labels, index arrays into the window's time axis) of lag groups; lag 1 is the last input sample."""
    bounds = [b for b in (1, *edges, window + 1) if b <= window + 1]
    bounds = sorted(set(bounds))
    labels, groups = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        labels.append(f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}")
        groups.append(window - np.arange(lo, hi))  # lag L is time index window - L
    return labels, groups


def sensitivity(model: torch.nn.Module, x: torch.Tensor, last_steps: int | None = None) -> np.ndarray:
    """Returns d forecast_out / d input_in averaged over windows, summed over the last `last_steps` steps (all if None): [in, out]."""
    model.eval()
    x = x.clone().requires_grad_(True)
    y = model(x)
    n_out = y.shape[1]
    steps = slice(None) if last_steps is None else slice(x.shape[1] - last_steps, None)
    out = np.empty((x.shape[2], n_out))
    for i in range(n_out):
        (g,) = torch.autograd.grad(y[:, i].sum(), x, retain_graph=i < n_out - 1)
        out[:, i] = g[:, steps].sum(dim=1).mean(dim=0).double().numpy()
    return out


def offdiag(m: np.ndarray) -> np.ndarray:
    """Returns the off-diagonal entries of a square matrix, flat."""
    return m[~np.eye(len(m), dtype=bool)]


def connectivity_correlation(sens: np.ndarray, weights: dict, own_run: int) -> dict:
    """Returns the Pearson correlation of off-diagonal sensitivity with the own run's weights [pre, post], and with other runs' (null)."""
    s = offdiag(sens)
    corr = {int(r): float(np.corrcoef(s, offdiag(w))[0, 1]) for r, w in weights.items()}
    others = [c for r, c in corr.items() if r != own_run]
    return {
        "own_run": int(own_run),
        "r_own": corr[own_run],
        "r_other_runs": others,
        "r_other_mean": float(np.mean(others)) if others else float("nan"),
        "r_other_sd": float(np.std(others, ddof=1)) if len(others) > 1 else float("nan"),
    }


# ---------------------------------------------------------------- the neuron-order control


def permute_split(split: Split, perm: np.ndarray) -> Split:
    """Returns the split with neurons reordered: new neuron j is old neuron perm[j] (inputs and targets)."""
    return dataclasses.replace(split, series=split.series[:, torch.as_tensor(perm)].contiguous())


def permute_dataset(ds: Dataset, perm: np.ndarray) -> Dataset:
    """Returns the dataset with a fixed neuron permutation applied to every split (new j = old perm[j]), keyed apart."""
    perm = np.asarray(perm, np.int64)
    if sorted(perm.tolist()) != list(range(len(ds.std_mv))):
        raise ValueError(f"perm must be a permutation of 0..{len(ds.std_mv) - 1}; got {len(perm)} entries.")
    return dataclasses.replace(
        ds,
        train=permute_split(ds.train, perm),
        val=permute_split(ds.val, perm),
        test=permute_split(ds.test, perm),
        mean_mv=ds.mean_mv[perm],
        std_mv=ds.std_mv[perm],
        key=permuted_key(ds.key, perm),
    )


def permuted_key(dataset_key: str, perm: np.ndarray) -> str:
    """The key of a dataset with its neurons permuted by perm (permute_dataset's), from the original's key."""
    return config_hash({"data": dataset_key, "neuron_perm": np.asarray(perm, np.int64).tolist()})


def unpermute(values: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Returns values [..., n] given in permuted order back in the original neuron order."""
    return np.asarray(values)[..., np.argsort(perm)]


def ablation_predictions(
    model: Forecaster, phase3: torch.nn.Module, no_residual: torch.nn.Module, x: torch.Tensor
) -> dict:
    """Forecasts [b, n] (z) of the full model, each part switched off (evaluated) or trained without (retrained), and persistence."""

    def pred(m):
        return predict_x(m, x).numpy()

    out = {"full CNN-LSTM": pred(model)}
    with ablated(model, cnn=True):
        out["CNN switched off"] = pred(model)
    out["no CNN, retrained (phase 3)"] = pred(phase3)
    with ablated(model, residual=True):
        out["residual switched off"] = pred(model)
    out["no residual, retrained"] = pred(no_residual)
    with ablated(model, cnn=True, residual=True):
        out["both switched off"] = pred(model)
    out["persistence"] = x[:, -1].numpy()
    return out


def ablation_r2(
    model: Forecaster, phase3: torch.nn.Module, no_residual: torch.nn.Module, x: torch.Tensor, y: torch.Tensor
) -> dict:
    """Test R^2 of each forecast of `ablation_predictions`."""
    return {k: r2_pooled(y.numpy(), p) for k, p in ablation_predictions(model, phase3, no_residual, x).items()}


def predict_seeds(models: list, x: torch.Tensor, perm: np.ndarray | None = None) -> np.ndarray:
    """Forecasts [seeds, b, n] (z, original neuron order) of several trained models of one window batch.

    perm: the models were trained on neurons permuted by perm (permute_dataset): their inputs are
    permuted the same way and their forecasts mapped back.
    """
    if perm is None:
        return np.stack([predict_x(m.cpu(), x).numpy() for m in models])
    xp = x[:, :, torch.as_tensor(np.asarray(perm))]
    return np.stack([unpermute(predict_x(m.cpu(), xp).numpy(), perm) for m in models])


# ---------------------------------------------------------------- retraining with a part switched off


def fit_or_load_ablated(
    name: str,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    dataset: Dataset,
    device,
    cnn: bool = False,
    residual: bool = False,
) -> tuple[Forecaster, dict]:
    """Returns (model trained with its CNN (cnn=True) and/or residual path (residual=True) switched off from the start, info).

    The switches mean what they mean in models.ablated: True removes that part. Cached by train.fit_or_load.
    """
    if not (cnn or residual):
        raise ValueError(
            "fit_or_load_ablated needs a part to switch off: pass cnn=True and/or residual=True "
            "(train.fit_or_load trains the whole model)."
        )
    return fit_or_load(
        name, model_cfg, train_cfg, dataset, device, variant={"use_cnn": not cnn, "use_residual": not residual}
    )


# ---------------------------------------------------------------- residual head


@torch.inference_mode()
def head_components(model: Forecaster, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Returns the forecast's two additive parts [b, n] (z, output bias left out): from the LSTM branch and from the skip path."""
    model.eval()
    x = model.lstm_input(x)
    h = model.norm(model.lstm(x)[0][:, -1])
    w = model.out.weight  # out is linear, so out(h + s) = W h + W s + bias
    return (h @ w.T).numpy(), (model.skip(x[:, -1]) @ w.T).numpy()


def residual_stats(resid: np.ndarray, skip_part: np.ndarray, lstm_part: np.ndarray) -> dict:
    """Excess kurtosis of residuals [b, n], share of their squared error in the largest 1 %, skip part's variance share."""
    r = np.asarray(resid, np.float64)
    top = np.sort(np.ravel(r) ** 2)[::-1]
    return {
        "excess_kurtosis": float(np.mean(r**4) / np.mean(r**2) ** 2 - 3),
        "top1pct_share_of_sse": float(top[: max(1, len(top) // 100)].sum() / top.sum()),
        "skip_variance_share": float(np.var(skip_part) / (np.var(skip_part) + np.var(lstm_part))),
    }


def acf(series: np.ndarray, max_lag: int) -> np.ndarray:
    """Returns the autocorrelation of each column of series [T, n] at lags 0..max_lag, averaged over columns: [max_lag + 1]."""
    z = series - series.mean(axis=0)
    var = (z**2).mean(axis=0)
    return np.array([np.mean((z[: len(z) - k] * z[k:]).mean(axis=0) / var) for k in range(max_lag + 1)])


# ---------------------------------------------------------------- LSTM hidden states


def hidden_states(model: Forecaster, x: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Returns the LSTM's output at each window's last step [b, hidden] (before the head's LayerNorm)."""
    with evaluating(model):
        return in_batches(lambda s: model.lstm(model.lstm_input(x[s]))[0][:, -1], len(x), batch_size).numpy()


def pca(h: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (scores [b, k] on the top k principal components, explained variance ratio [k])."""
    z = h - h.mean(axis=0)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    return z @ vt[:k].T, (s[:k] ** 2) / np.sum(s**2)


def population_rate_hz(spike_t_ms: np.ndarray, n_neurons: int, t_ms: np.ndarray, sigma_ms: float) -> np.ndarray:
    """Returns the population rate per neuron (Hz) at times t_ms (1-ms bins, Gaussian-smoothed with sigma_ms)."""
    edges = np.arange(t_ms[0] - 0.5, t_ms[-1] + 1.0, 1.0)  # bins centred on each 1-ms sample
    counts = np.histogram(np.asarray(spike_t_ms), edges)[0].astype(np.float64)
    rate = counts / n_neurons * 1000.0
    if sigma_ms > 0:
        k = np.arange(-int(4 * sigma_ms), int(4 * sigma_ms) + 1)
        kern = np.exp(-0.5 * (k / sigma_ms) ** 2)
        rate = np.convolve(rate, kern / kern.sum(), mode="same")
    return rate


def oscillation(rate_hz: np.ndarray, dt_ms: float = 1.0, fmin_hz: float = 5.0) -> dict:
    """Returns the population rate's spectral peak (Hz), its height over the median spectrum, and the band-passed phase [T] (rad)."""
    fs = 1000.0 / dt_ms
    f, p = signal.welch(rate_hz - rate_hz.mean(), fs=fs, nperseg=min(len(rate_hz), 512))
    ok = f >= fmin_hz
    peak = float(f[ok][np.argmax(p[ok])])
    lo, hi = max(peak * 0.7, 1.0), min(peak * 1.3, fs / 2 * 0.95)
    sos = signal.butter(2, [lo, hi], btype="band", fs=fs, output="sos")
    phase = np.angle(signal.hilbert(signal.sosfiltfilt(sos, rate_hz - rate_hz.mean())))
    return {
        "peak_hz": peak,
        "peak_over_median": float(p[ok].max() / np.median(p[ok])),
        "band_hz": (lo, hi),
        "freqs_hz": f,
        "power": p,
        "phase": phase,
    }


def _ridge_fit_predict(x_fit, y_fit, x_new, alpha):
    xm, xs, ym = x_fit.mean(axis=0), x_fit.std(axis=0) + 1e-12, y_fit.mean(axis=0)
    a = (x_fit - xm) / xs  # standardised: one alpha suits every feature set
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y_fit - ym))
    return ((x_new - xm) / xs) @ w + ym


def decode_r2(features: np.ndarray, target: np.ndarray, alphas=(1e-2, 1e0, 1e2, 1e4)) -> float:
    """Returns the held-out R^2 of a ridge decoder of target [T] or [T, k] from features [T, f] (fit: first half, score: second)."""
    x = np.asarray(features, np.float64).reshape(len(features), -1)
    y = np.asarray(target, np.float64).reshape(len(x), -1)
    half, q = len(x) // 2, len(x) // 4  # contiguous blocks: neighbouring samples are not independent

    def inner(alpha):  # two-fold over the first half's quarters
        return sum(
            np.sum((_ridge_fit_predict(x[f], y[f], x[t], alpha) - y[t]) ** 2)
            for f, t in ((slice(0, q), slice(q, half)), (slice(q, half), slice(0, q)))
        )

    best = min(alphas, key=inner)
    return r2_pooled(y[half:], _ridge_fit_predict(x[:half], y[:half], x[half:], best))
