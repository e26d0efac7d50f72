"""The wiring of one run inferred from its own recorded past, causally (METHODS.md section 11).

Every run has its own random graph, so a forecaster that is to use the synapses of a test run must
read them from that run. A spike of neuron j detected at sample t happened in [t - 1, t) and arrives
1.5 ms later, in [t + 0.5, t + 1.5): it lands in the increment v[t+1] - v[t] or in the next one,
about half the time each. So each neuron i's one-sample increments are regressed, by ridge, on

    y_i(t) = v_i(t+1) - v_i(t)  ~  b_i + c_i v_i(t) + sum_j W[j, i] a_j(t),   a_j(t) = s_j(t) + s_j(t-1)

(the leak makes the increment depend on v_i itself; the regressor is v_i - V_REF_MV), leaving out the samples around neuron i's own
spikes (a reset, or the refractory clamp: s_i at t-1, t or t+1). W[j, i] estimates half the jump
of the synapse j -> i, in mV, and zero where there is none.

Causality: the moments are summed in blocks of `step` samples, and the coupling used at a forecast
origin t is the one fitted on every whole block before t's block: checkpoint c = t // step reads the
increments of samples before c * step, whose last one ends at sample c * step itself, so it reads no
sample after the first origin that uses it. Block 0 has no past and no coupling.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from voltlib.sim.spikes import widened

STEP = 500  # samples per block: the coupling is refitted every 0.5 s of the run's past
ALPHAS = (10.0, 30.0, 100.0)  # ridge penalty (in samples) on the couplings, chosen by validation
V_REF_MV = -60.0  # the leak regressor is v - V_REF_MV: centred near the mean voltage, the system is well conditioned


def arrivals(spikes: np.ndarray) -> np.ndarray:
    """Returns a[t] = s[t] + s[t-1] (spikes that may arrive in the increment after t), float32 [T, n]."""
    s = np.asarray(spikes, dtype=np.float32)
    a = s.copy()
    a[1:] += s[:-1]
    return a


def own_spike_mask(spikes: np.ndarray) -> np.ndarray:
    """Returns bool [T, n]: True where neuron i's increment after t is free of its own reset (s_i at t-1, t, t+1)."""
    ok = ~widened(spikes, 1)
    ok[-1] = False  # the last sample has no increment after it
    return ok


def block_moments(v_mv: np.ndarray, spikes: np.ndarray, step: int = STEP) -> dict:
    """Per block of `step` samples and per neuron, the moments of the increment regression.

    Returns {"xx": [B, n, n+2, n+2], "xy": [B, n, n+2], "yy": [B, n], "count": [B, n]} float64, the
    regressors ordered (1, v_i, a_0 ... a_{n-1}).
    """
    v = np.asarray(v_mv, dtype=np.float64) - V_REF_MV
    if v.ndim != 2 or np.shape(spikes) != v.shape:
        raise ValueError(
            f"v_mv {v.shape} and spikes {np.shape(spikes)} must both be [time, neuron] of one run: "
            "pass one run's recorded voltages and the spikes detected in them (voltlib.sim.spikes.detect)."
        )
    n_t, n = v.shape
    a = arrivals(spikes).astype(np.float64)
    ok = own_spike_mask(spikes)
    y = np.zeros_like(v)
    y[:-1] = v[1:] - v[:-1]
    n_blocks = -(-n_t // step)
    f = n + 2
    xx = np.zeros((n_blocks, n, f, f))
    xy = np.zeros((n_blocks, n, f))
    yy = np.zeros((n_blocks, n))
    count = np.zeros((n_blocks, n))
    for b in range(n_blocks):
        sl = slice(b * step, min((b + 1) * step, n_t))
        ab, vb, yb, mb = a[sl], v[sl], y[sl], ok[sl].astype(np.float64)
        full = ab.T @ ab  # the shared a a' part; each neuron subtracts its masked rows below
        for i in range(n):
            out = ~ok[sl, i]
            aa = full - ab[out].T @ ab[out] if out.any() else full
            m = mb[:, i]
            mv, my = m * vb[:, i], m * yb[:, i]
            xx[b, i, 2:, 2:] = aa
            xx[b, i, 0, 0] = m.sum()
            xx[b, i, 0, 1] = xx[b, i, 1, 0] = mv.sum()
            xx[b, i, 1, 1] = (mv * vb[:, i]).sum()
            xx[b, i, 0, 2:] = xx[b, i, 2:, 0] = m @ ab
            xx[b, i, 1, 2:] = xx[b, i, 2:, 1] = mv @ ab
            xy[b, i, 0], xy[b, i, 1], xy[b, i, 2:] = my.sum(), (my * vb[:, i]).sum(), my @ ab
            yy[b, i] = (my * yb[:, i]).sum()
            count[b, i] = m.sum()
    return {"xx": xx, "xy": xy, "yy": yy, "count": count}


def _solve(xx: np.ndarray, xy: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge coefficients [n, n+2] from summed moments; the intercept and the leak term are not penalised."""
    f = xx.shape[-1]
    pen = np.full(f, alpha)
    pen[:2] = 1e-6  # keeps an empty block solvable (all-zero moments give all-zero coefficients)
    diag = np.arange(f)
    a = xx.copy()
    a[..., diag, diag] += pen
    return np.linalg.solve(a, xy[..., None])[..., 0]


def checkpoint_coefficients(moments: dict, alpha: float) -> np.ndarray:
    """Returns the causal fits [B, n, n+2]: checkpoint c from blocks 0..c-1 (checkpoint 0 all zeros)."""
    xx, xy = moments["xx"], moments["xy"]
    coef = np.zeros(xy.shape)
    run_xx, run_xy = np.zeros(xx.shape[1:]), np.zeros(xy.shape[1:])
    for c in range(1, len(xx)):  # a running sum: np.cumsum over the whole [B, n, f, f] array is 5x slower
        run_xx += xx[c - 1]
        run_xy += xy[c - 1]
        coef[c] = _solve(run_xx, run_xy, alpha)
    return coef


def coupling(coef: np.ndarray) -> np.ndarray:
    """The couplings W[..., pre j, post i] (mV per arrival) out of fits [..., n_post, n+2]."""
    return np.swapaxes(coef[..., 2:], -1, -2)


def causal_mse(moments: dict, coef: np.ndarray) -> float:
    """Mean squared error of each block's increments predicted by the checkpoint fitted before it (blocks >= 1)."""
    xx, xy, yy, cnt = moments["xx"][1:], moments["xy"][1:], moments["yy"][1:], moments["count"][1:]
    w = coef[1:]
    sse = np.einsum("bif,bifg,big->bi", w, xx, w) - 2 * np.einsum("bif,bif->bi", w, xy) + yy
    return float(sse.sum() / cnt.sum())


def choose_alpha(moments_by_run: list[dict], alphas=ALPHAS) -> tuple[float, dict]:
    """The ridge penalty with the least causal increment error over these (validation) runs, and every score."""
    scores = {a: float(np.mean([causal_mse(m, checkpoint_coefficients(m, a)) for m in moments_by_run])) for a in alphas}
    return min(scores, key=scores.__getitem__), scores


def drive(spikes: np.ndarray, couplings: np.ndarray, step: int = STEP) -> np.ndarray:
    """Returns D[t, i] = sum_j W_c(t)[j, i] s_j(t), float32 [T, n]: this sample's spikes weighted by the coupling.

    couplings: [B, n, n] per checkpoint (causal: c(t) = t // step), or one [n, n] for all samples.
    """
    s = np.asarray(spikes, dtype=np.float32)
    w = np.asarray(couplings, dtype=np.float32)
    if w.ndim == 2:
        return s @ w
    out = np.empty_like(s)
    for c in range(w.shape[0]):
        sl = slice(c * step, (c + 1) * step)
        out[sl] = s[sl] @ w[c]
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of scores separating labels True from False (ties count half)."""
    scores, labels = np.asarray(scores, np.float64).ravel(), np.asarray(labels, bool).ravel()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def recovery(w_hat: np.ndarray, w_true: np.ndarray, n_exc: int) -> dict:
    """ROC AUC of inferred couplings [pre, post] for the true synapses, by presynaptic type (E: W > 0, I: W < 0)."""
    n = w_true.shape[0]
    off = ~np.eye(n, dtype=bool)  # no neuron synapses onto itself
    exc = np.zeros((n, n), bool)
    exc[:n_exc] = True
    out = {}
    for kind, rows, sign in (("E", exc, 1.0), ("I", ~exc, -1.0)):
        sel = rows & off
        out[kind] = auc(sign * w_hat[sel], w_true[sel] != 0)
    return out


def recovery_by_checkpoint(couplings: np.ndarray, w_true: np.ndarray, n_exc: int) -> dict:
    """{"E": [B], "I": [B]}: `recovery` of each checkpoint's coupling [B, n, n] (NaN at checkpoint 0, no past)."""
    out: dict[str, list[float]] = {"E": [], "I": []}
    for c, w in enumerate(couplings):
        rec = recovery(w, w_true, n_exc) if c > 0 else {"E": float("nan"), "I": float("nan")}
        for kind in out:
            out[kind].append(rec[kind])
    return {k: np.array(v) for k, v in out.items()}


def recovery_table(couplings: dict, weights: dict, n_exc: int) -> tuple[dict, dict]:
    """(auc, null): {"E"|"I": [runs, checkpoints]} ROC AUC of each run's couplings against its own graph,
    and against the other runs' graphs (their mean; NaN when there is no other run).

    couplings: {run: [B, n, n]}; weights: {run: true jumps [pre, post]} for the same runs.
    """
    runs = list(couplings)
    own = [recovery_by_checkpoint(couplings[r], weights[r], n_exc) for r in runs]
    auc = {k: np.array([o[k] for o in own]) for k in ("E", "I")}
    null = {k: np.full_like(auc[k], np.nan) for k in auc}
    for a, r in enumerate(runs):
        others = [recovery_by_checkpoint(couplings[r], weights[o], n_exc) for o in runs if o != r]
        for k in null:
            if others:
                null[k][a] = np.mean([x[k] for x in others], axis=0)
    return auc, null
