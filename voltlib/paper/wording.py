"""What the numbers of notebooks 02, 05, 06 and 07 say in words: every condition that chooses a sentence of
their templates (voltlib/paper/templates), and the fields those templates are filled from.

Each condition is a function of the numbers it reads, its threshold a keyword argument, so a template says
`{% if heavy_tailed %}` and a test can put a number on either side of the line.
"""

from __future__ import annotations

import numpy as np

from voltlib import display

# --- notebook 02: the baselines against the source's numbers -------------------------------------------


def normalisation_fields(mean_mv, std_mv) -> dict:
    """The normalisation template's numbers: the range of the per-neuron means and standard deviations
    (mV) and the standard deviations' mean."""
    mean_mv, std_mv = np.asarray(mean_mv, float), np.asarray(std_mv, float)
    return {
        "mean_lo": float(mean_mv.min()),
        "mean_hi": float(mean_mv.max()),
        "std_lo": float(std_mv.min()),
        "std_hi": float(std_mv.max()),
        "std_mean": float(std_mv.mean()),
    }


def distance(x, ref, spec: str = ".3f") -> str:
    """How far x is from ref, and on which side: '0.122 above' (x at or above ref) or '0.052 below'."""
    return f"{abs(x - ref):{spec}} {'above' if x >= ref else 'below'}"


def above(scores: dict, ref) -> list:
    """The keys of scores whose value is above ref (strictly), in the order of scores."""
    return [k for k, v in scores.items() if v > ref]


def source_vs_baselines(r2_1ms: dict, best: str, source_r2: dict) -> dict:
    """The fields of templates/baselines_vs_source.md: r2_1ms {baseline: R² at 1 ms on the clean protocol},
    best (the best baseline's key), source_r2 (config.SOURCE_R2)."""
    p4 = source_r2["phase4_cnn_lstm"]
    return {
        "r2": r2_1ms,
        "best": best,
        "source": source_r2,
        "beat_p1": above(r2_1ms, source_r2["phase1_lstm"]),
        "n_baselines": len(r2_1ms),
        "p4_vs_persistence": distance(p4, r2_1ms["persistence"]),
        "p4_vs_best": distance(p4, r2_1ms[best]),
    }


# --- notebook 06: error analysis -----------------------------------------------------------------------


def ei_differs(ei: dict, alpha: float = 0.05) -> bool:
    """Whether excitatory and inhibitory neurons' R² differ detectably (analysis.ei_test's p below alpha)."""
    return ei["p"] < alpha


def error_driver(rho_rate: dict, rho_deg: dict, alpha: float = 0.05) -> str:
    """What goes with a neuron's error: "rate" when the rate's correlation is detectable and larger in size
    than the in-degree's, else "in-degree" when the in-degree's is detectable, else "neither"."""
    if rho_rate["p"] < alpha and abs(rho_rate["rho"]) > abs(rho_deg["rho"]):
        return "rate"
    if rho_deg["p"] < alpha:
        return "in-degree"
    return "neither"


def resets_outsized(reset: dict, factor: float = 1.5) -> bool:
    """Whether the targets near a reset carry more than `factor` times their share of the samples in
    squared error (analysis.reset_share)."""
    return reset["share_of_error"] > factor * reset["share_of_samples"]


def stable_over_time(mse, tolerance: float = 1.25) -> bool:
    """Whether the binned MSE over time in the run stays within `tolerance` times its smallest bin (NaN
    bins ignored)."""
    return bool(np.nanmax(mse) < tolerance * np.nanmin(mse))


def direct_better(multi: dict, horizons_ms) -> list:
    """The horizons beyond the first at which the model trained at the horizon beats the rolled-out one
    (analysis.multistep's R²)."""
    return [h for h in horizons_ms[1:] if multi[h]["direct"]["r2"] > multi[h]["rollout"]["r2"]]


def best_share(shares: dict, i: int = 0):
    """The model with the largest share of the achievable gain at the i-th horizon (the first on a tie)."""
    return max(shares, key=lambda k: shares[k][i])


def mean_floor_from(horizons_ms, persistence_r2, mean_r2):
    """The first horizon from which the training mean scores above persistence (so the gain's floor is the
    mean), or None where persistence is the better trivial forecast at every horizon."""
    return min((h for h, p, m in zip(horizons_ms, persistence_r2, mean_r2) if m > p), default=None)


def exceeds_ceiling(models_r2: dict, ceiling_ci) -> bool:
    """Whether any model's R² at any horizon is above the upper end of the ceiling's interval there."""
    return not all(v[i] <= ceiling_ci[i][1] for v in models_r2.values() for i in range(len(ceiling_ci)))


def predictability_fields(
    horizons_ms, ceiling_r2, ceiling_ci, ceiling_oracle, models_r2, shares, share_cis, model="CNN-LSTM direct"
) -> dict:
    """The fields of templates/predictability.md. models_r2 {name: R² by horizon}, with "persistence" and
    "training mean" under their display names; shares, share_cis {name: share (interval) by horizon}; model:
    the one the paragraph is about."""
    pers, mean_r2 = models_r2[display.name("persistence")], models_r2[display.name("mean")]
    best = best_share(shares)
    return {
        "ceiling": ceiling_r2[0],
        "ceiling_ci": ceiling_ci[0],
        "ceiling_oracle": ceiling_oracle[0],
        "persistence": pers[0],
        "model_r2": models_r2[model][0],
        "share": shares[model][0],
        "share_ci": share_cis[model][0],
        "best": best,
        "best_share": shares[best][0],
        "best_ci": share_cis.get(best, [None])[0],
        "h_last": horizons_ms[-1],
        "ceiling_last": ceiling_r2[-1],
        "mean_from": mean_floor_from(horizons_ms, pers, mean_r2),
        "exceeds": exceeds_ceiling(models_r2, ceiling_ci),
    }


# --- notebook 07: interpretability ---------------------------------------------------------------------


def filter_fields(filt: dict, filt0: dict, n_newest: int = 10, factor: float = 1.2) -> dict:
    """The fields of templates/cnn_filters.md from interpret.filter_summary of the trained model (filt) and
    of the same model at initialisation (filt0): the centre tap over its neighbours in each convolution,
    the mean weight on the newest `n_newest` input steps and on the older ones, whether the newest weigh
    more than `factor` times the older (reads_newest), and each convolution's mean weight over its initial."""
    steps = filt["conv1"]["by_input_step"]
    newest, older = steps[-n_newest:].mean(), steps[:-n_newest].mean()
    return {
        "centre": {k: filt[k]["centre_over_neighbours"] for k in ("conv1", "conv2")},
        "centre_initial": {k: filt0[k]["centre_over_neighbours"] for k in ("conv1", "conv2")},
        "n_newest": n_newest,
        "newest": newest,
        "older": older,
        "reads_newest": bool(newest > factor * older),
        "shrink": {k: np.mean(filt[k]["by_offset"]) / np.mean(filt0[k]["by_offset"]) for k in ("conv1", "conv2")},
    }


def graph_z(corr: dict) -> float:
    """How many SDs of the other runs' correlations the own run's lies above their mean
    (interpret.connectivity_correlation)."""
    return (corr["r_own"] - corr["r_other_mean"]) / corr["r_other_sd"]


def reflects_graph(z: float, threshold: float = 3.0) -> bool:
    """Whether the model's sensitivity reflects the run's own graph: its z against the null above threshold."""
    return z > threshold


def resolved(cmp: dict) -> bool:
    """Whether a comparison's interval excludes zero (its verdict is not 'not distinguishable ...')."""
    return not cmp["verdict"].startswith("not")


def weak_peak(osc: dict, factor: float = 5.0) -> bool:
    """Whether the population rate's spectral peak is weak: under `factor` times the median power."""
    return osc["peak_over_median"] < factor


def hidden_carries_phase(decoded_hidden: float, decoded_input: float, margin: float = 0.05) -> bool:
    """Whether the hidden state decodes the oscillation phase better, by more than margin, than the last
    input sample does (or than 0, where the input decodes nothing)."""
    return decoded_hidden > max(decoded_input, 0) + margin


def heavy_tailed(excess_kurtosis: float, threshold: float = 1.0) -> bool:
    """Whether residuals are heavy-tailed: excess kurtosis above threshold."""
    return excess_kurtosis > threshold


def autocorrelated(lag1: float, threshold: float = 0.2) -> bool:
    """Whether residuals are autocorrelated in time: lag-1 autocorrelation above threshold."""
    return lag1 > threshold
