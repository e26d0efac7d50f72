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


def evaluate(y_true_z: np.ndarray, y_pred_z: np.ndarray, std_mv: np.ndarray, n_exc: int,
             y_persist_z: np.ndarray | None = None) -> dict:
    """Returns every metric of [samples, n] z-unit forecasts: R^2s, MSE/RMSE/MAE in z and mV, skill, E vs I."""
    t = np.asarray(y_true_z, dtype=np.float64)
    p = np.asarray(y_pred_z, dtype=np.float64)
    if t.ndim != 2 or t.shape != p.shape:
        raise ValueError(f"y_true_z {t.shape} and y_pred_z {p.shape} must both be [samples, neurons] "
                         "of one shape; pass Split.targets() and the model's predictions for those windows.")
    std = np.asarray(std_mv, dtype=np.float64)
    if std.shape != (t.shape[1],):
        raise ValueError(f"std_mv has shape {std.shape}; expected ({t.shape[1]},), one std per neuron "
                         "(Dataset.std_mv).")
    err_z = p - t
    err_mv = err_z * std
    per_neuron = r2_per_neuron(t, p)
    out = {
        "r2": r2_pooled(t, p),
        "r2_per_neuron_mean": float(per_neuron.mean()),
        "mse_z": float(np.mean(err_z ** 2)),
        "rmse_z": float(np.sqrt(np.mean(err_z ** 2))),
        "mae_z": float(np.mean(np.abs(err_z))),
        "mse_mv": float(np.mean(err_mv ** 2)),
        "rmse_mv": float(np.sqrt(np.mean(err_mv ** 2))),
        "mae_mv": float(np.mean(np.abs(err_mv))),
        # pooled over the neurons of each population, same definition as r2
        "r2_exc": r2_pooled(t[:, :n_exc], p[:, :n_exc]) if n_exc > 0 else float("nan"),
        "r2_inh": r2_pooled(t[:, n_exc:], p[:, n_exc:]) if n_exc < t.shape[1] else float("nan"),
        "r2_per_neuron": per_neuron.tolist(),
    }
    if y_persist_z is not None:
        q = np.asarray(y_persist_z, dtype=np.float64)
        out["skill_vs_persistence"] = float(1.0 - np.mean(err_z ** 2) / np.mean((q - t) ** 2))
    return out
