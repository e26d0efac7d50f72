"""The conditions that choose the words of notebooks 02, 05, 06 and 07, each on both sides of its line with
hand-made numbers, and their templates rendered from such numbers in either branch."""

import numpy as np
import pytest

from voltlib import display
from voltlib.paper import prose
from voltlib.paper import wording as W

NBSP = display.NBSP


# --- the conditions, both branches ---------------------------------------------------------------------


def test_distance_says_how_far_and_on_which_side():
    assert W.distance(0.755, 0.633) == "0.122 above"
    assert W.distance(0.5, 0.5) == "0.000 above"  # at the reference counts as above
    assert W.distance(0.5, 0.552) == "0.052 below"


def test_above_keeps_the_order_and_is_strict():
    assert W.above({"a": 0.6, "b": 0.4, "c": 0.7, "d": 0.5}, 0.5) == ["a", "c"]
    assert W.above({"a": 0.1}, 0.5) == []


def test_the_source_against_the_baselines():
    r2 = {"mean": 0.0, "persistence": 0.6, "ar_ridge": 0.7, "population_ridge": 0.65, "own_lags_boosting": 0.8}
    f = W.source_vs_baselines(r2, "own_lags_boosting", {"phase1_lstm": 0.62, "phase4_cnn_lstm": 0.755})
    assert f["beat_p1"] == ["ar_ridge", "population_ridge", "own_lags_boosting"]
    assert (f["n_baselines"], f["p4_vs_persistence"], f["p4_vs_best"]) == (5, "0.155 above", "0.045 below")


def test_ei_differs_below_alpha_only():
    assert W.ei_differs({"p": 0.01}) and not W.ei_differs({"p": 0.05}) and not W.ei_differs({"p": 0.3})


@pytest.mark.parametrize(
    "rate, deg, driver",
    [
        ({"rho": 0.5, "p": 0.001}, {"rho": 0.1, "p": 0.001}, "rate"),
        ({"rho": -0.5, "p": 0.001}, {"rho": 0.1, "p": 0.3}, "rate"),  # the size of rho, not its sign
        ({"rho": 0.1, "p": 0.001}, {"rho": 0.3, "p": 0.001}, "in-degree"),  # detectable but smaller
        ({"rho": 0.5, "p": 0.2}, {"rho": 0.1, "p": 0.01}, "in-degree"),  # larger but not detectable
        ({"rho": 0.5, "p": 0.2}, {"rho": 0.1, "p": 0.2}, "neither"),
    ],
)
def test_error_driver(rate, deg, driver):
    assert W.error_driver(rate, deg) == driver


def test_resets_outsized_beyond_one_and_a_half_their_share():
    assert W.resets_outsized({"share_of_error": 0.31, "share_of_samples": 0.2})
    assert not W.resets_outsized({"share_of_error": 0.3, "share_of_samples": 0.2})


def test_stable_over_time_within_a_quarter_ignoring_empty_bins():
    assert W.stable_over_time([0.10, np.nan, 0.12])
    assert not W.stable_over_time([0.10, np.nan, 0.125])


def test_direct_better_counts_horizons_beyond_the_first():
    multi = {
        h: {"direct": {"r2": d}, "rollout": {"r2": r}} for h, d, r in [(1, 0.9, 0.8), (2, 0.7, 0.6), (5, 0.3, 0.4)]
    }
    assert W.direct_better(multi, [1, 2, 5]) == [2]


def test_best_share_at_a_horizon():
    shares = {"a": [0.5, 0.9], "b": [0.7, 0.1]}
    assert W.best_share(shares) == "b" and W.best_share(shares, 1) == "a"


def test_mean_floor_from_the_first_horizon_where_the_mean_wins_or_none():
    assert W.mean_floor_from([1, 2, 5, 10], [0.9, 0.5, -0.1, -0.3], [0.0, 0.0, 0.0, 0.0]) == 5
    assert W.mean_floor_from([1, 2], [0.9, 0.5], [0.0, 0.0]) is None


def test_exceeds_ceiling_only_beyond_its_interval():
    ci = [[0.85, 0.9], [0.6, 0.7]]
    assert not W.exceeds_ceiling({"a": [0.9, 0.3], "b": [0.1, 0.7]}, ci)
    assert W.exceeds_ceiling({"a": [0.8, 0.3], "b": [0.1, 0.71]}, ci)


def test_the_hidden_state_carries_the_phase_by_a_margin_over_the_input_or_zero():
    assert W.hidden_carries_phase(0.36, 0.3) and not W.hidden_carries_phase(0.35, 0.3)
    assert W.hidden_carries_phase(0.06, -0.4) and not W.hidden_carries_phase(0.05, -0.4)  # a negative R² counts as 0


@pytest.mark.parametrize(
    "fn, below, above",
    [
        (W.heavy_tailed, 1.0, 1.01),
        (W.autocorrelated, 0.2, 0.21),
        (W.reflects_graph, 3.0, 3.1),
    ],
)
def test_thresholds_are_strict(fn, below, above):
    assert not fn(below) and fn(above)


def test_a_weak_peak_under_five_times_the_median():
    assert W.weak_peak({"peak_over_median": 4.9}) and not W.weak_peak({"peak_over_median": 5.0})


def test_resolved_when_the_verdict_is_a_direction():
    assert W.resolved({"verdict": "lower"}) and not W.resolved({"verdict": "not distinguishable at this budget"})


def test_graph_z():
    assert W.graph_z({"r_own": 0.3, "r_other_mean": 0.1, "r_other_sd": 0.05}) == pytest.approx(4.0)


def _filters(by_step, offsets=(1.0, 1.0)):
    return {
        k: {"centre_over_neighbours": 1.5, "by_input_step": np.asarray(by_step), "by_offset": [o]}
        for k, o in zip(("conv1", "conv2"), offsets)
    }


def test_filter_fields_read_the_newest_steps_and_the_shrinking():
    steps = np.r_[np.full(20, 1.0), np.full(10, 1.3)]
    f = W.filter_fields(_filters(steps, (0.9, 0.5)), _filters(steps))
    assert (f["newest"], f["older"], f["reads_newest"]) == (pytest.approx(1.3), pytest.approx(1.0), True)
    assert f["shrink"] == {"conv1": pytest.approx(0.9), "conv2": pytest.approx(0.5)}
    assert not W.filter_fields(_filters(np.r_[np.full(20, 1.0), np.full(10, 1.2)]), _filters(steps))["reads_newest"]


# --- the templates, filled from hand-made numbers --------------------------------------------------------


def _cmp(d, lo, hi, verdict):
    return {"difference": d, "ci": [lo, hi], "verdict": verdict}


def test_the_leak_paragraph():
    o = {
        "frac_test_targets_inside_a_train_input": 0.9912,
        "mean_samples_shared_with_nearest_train": 141.4,
        "n_train_windows_spanning_two_runs": 7,
    }
    text = prose.render("dataset_leak", o=o, window=150)
    assert text.startswith("Under the original protocol 99.1 % of test targets appear")
    assert "shares on average 141 of its 150 samples with its nearest training window; 7 training windows join" in text


def test_the_baselines_against_the_source():
    r2 = {"mean": 0.0, "persistence": 0.6, "ar_ridge": 0.7, "population_ridge": 0.65, "own_lags_boosting": 0.8}
    f = W.source_vs_baselines(r2, "own_lags_boosting", {"phase1_lstm": 0.62, "phase4_cnn_lstm": 0.755})
    text = prose.render("baselines_vs_source", profile="smoke", **f)
    assert "The source's basic LSTM (0.62) sits below 3 of these 5 baselines (AR per neuron, population ridge," in text
    assert "Its final CNN-LSTM (0.755) is 0.155 above persistence and 0.045 below the best baseline here (" in text
    assert "\n" not in text


def test_the_cnn_lstm_verdicts():
    cmp = {
        "leak_effect": _cmp(0.05, 0.02, 0.08, "higher"),
        "cnn_lstm_vs_persistence": _cmp(0.1, 0.05, 0.15, "higher"),
        "cnn_lstm_vs_best_baseline": _cmp(-0.01, -0.03, 0.01, "not distinguishable at this budget"),
    }
    text = prose.render(
        "cnn_lstm_verdicts",
        budget_words="5 epochs",
        n_seeds=2,
        original_r2=0.7,
        clean_r2=0.65,
        source_r2=0.755,
        cmp=cmp,
        best_baseline="AR per neuron",
        best_baseline_r2=0.66,
        best_phase="phase 4 CNN-LSTM",
        best_phase_r2=0.65,
    )
    assert text.startswith("Trained for 5 epochs, the CNN-LSTM (2 training seeds) reaches R² = 0.700 on")
    assert "(the source: 0.755). The leak's effect, original minus clean: 0.050 higher (95" in text
    assert "(R² 0.660): not distinguishable at this budget (difference -0.010," in text
    assert text.endswith("The best phase on the clean protocol is phase 4 CNN-LSTM (R² 0.650).")


def _neuron_bias(p_ei, driver):
    ei = {"median_exc": 0.7, "median_inh": 0.65, "p": p_ei, "p_exc_better": 0.61}
    rho = {"rho": 0.2, "p": 0.01}
    return prose.render("neuron_bias", ei=ei, ei_differs=W.ei_differs(ei), rho_deg=rho, rho_rate=rho, driver=driver)


def test_the_neuron_bias_paragraphs_in_each_branch():
    differ = _neuron_bias(0.01, "rate").split("\n\n")
    assert len(differ) == 2
    assert differ[0].endswith("with probability 0.61 - a difference the source did not report.")
    assert differ[1].endswith(
        "(p = 0.01). The rate, i.e. how often the neuron resets, goes with its error more than its in-degree does."
    )
    same = _neuron_bias(0.2, "in-degree").split("\n\n")
    assert same[0].endswith("0.61 - no detectable difference, as the source said.")
    assert same[1].endswith("In-degree goes with the error at least as much as the rate does.")
    assert _neuron_bias(0.2, "neither").endswith("(p = 0.01). Neither relation is detectable here.")


def _timing(outsized, stable):
    reset = {"share_of_samples": 0.123, "share_of_error": 0.456, "mse_near": 1.234, "mse_far": 0.0567}
    unseen = {"share_of_samples": 0.0123, "share_of_error": 0.2}
    return prose.render(
        "error_timing",
        reset_ms=3.0,
        reset=reset,
        unseen=unseen,
        outsized=outsized,
        mse_min=0.1,
        mse_max=0.2,
        stable=stable,
    )


def test_the_error_timing_paragraphs_in_each_branch():
    first, second = _timing(True, True).split("\n\n")
    assert "within 3 ms after the neuron's spike are 12.3 % of test samples but carry 46 % of" in first
    assert (
        "(MSE 1.23 there vs 0.057 elsewhere, z units). A reset between the last input and the target (1.23 % of"
        in first
    )
    assert first.endswith(
        "alone carries 20 %. Resets are where the model fails, against the source's claim: no reader "
        "of past voltages can foresee the spike."
    )
    assert second.endswith("the MSE varies from 0.100 to 0.200 (z units) - stable, in agreement with the source.")
    first, second = _timing(False, False).split("\n\n")
    assert first.endswith("alone carries 20 %. Resets carry no outsized share of the error.")
    assert second.endswith("(z units) - not stable: it changes by more than 25 % over the run.")


def test_the_multistep_paragraph():
    last = {"rollout": {"r2": 0.1}, "direct": {"r2": 0.3}, "persistence": {"r2": -0.2}}
    text = prose.render("multistep", h_last=20.0, last=last, better=[2, 20], n_beyond=4)
    assert text == (
        "Rolled out, the 1-ms model reaches R² 0.100 at 20 ms; trained directly at that horizon, 0.300 (persistence: "
        "-0.200). Direct training beats the rollout at 2 of 4 horizons beyond 1 ms. The source reported only 1-ms "
        "forecasts."
    )


def _predictability(mean_r2, model_r2):
    names = {k: display.name(k) for k in ("persistence", "mean")}
    models = {"CNN-LSTM direct": model_r2, names["persistence"]: [0.6, -0.1], names["mean"]: mean_r2}
    shares = {"CNN-LSTM direct": [0.5, 0.2], "AR per neuron": [0.6, 0.1]}
    cis = {"CNN-LSTM direct": [[0.4, 0.6], None], "AR per neuron": [None, None]}
    f = W.predictability_fields([1, 20], [0.9, 0.3], [[0.85, 0.95], [0.2, 0.4]], [0.92, 0.31], models, shares, cis)
    return prose.render("predictability", **f)


def test_the_predictability_paragraph_in_each_branch():
    text = _predictability([0.0, 0.0], [0.75, 0.2])
    assert text.startswith(
        f"At 1 ms the ceiling is R² = 0.900 (95{NBSP}%{NBSP}CI 0.850{NBSP}to{NBSP}0.950; 0.920 "
        "without the measurement noise) and persistence scores 0.600. The CNN-LSTM (0.750) captures "
        f"50 % of the achievable gain over persistence (95{NBSP}%{NBSP}CI 40{NBSP}to{NBSP}60{NBSP}%)"
    )
    assert "the best at 1 ms is AR per neuron (60 %, no interval: fewer than 2 test runs). At 20 ms the ceiling" in text
    assert text.endswith(
        "falls to 0.300. From 20 ms on persistence falls below the mean forecast, so the floor there "
        "is the mean: a share counts only what a model adds to the better trivial forecast. No model "
        "exceeds the ceiling beyond its interval."
    )
    text = _predictability([-0.2, -0.3], [0.96, 0.2])
    assert text.endswith("falls to 0.300. **A model exceeds the ceiling beyond its interval: a bug to find.**")


def test_the_filter_paragraph_in_each_branch():
    steps = np.r_[np.full(20, 1.0), np.full(10, 1.3)]
    text = prose.render("cnn_filters", **W.filter_fields(_filters(steps, (0.9, 0.5)), _filters(steps)))
    assert (
        "The weights on the newest 10 input steps average 1.3000 against 1.0000 on older ones: the block reads "
        "mainly the newest samples. Training shrank conv2's weights to 0.50 of their initial mean size (conv1's: "
        "0.90)."
    ) in text
    flat = prose.render("cnn_filters", **W.filter_fields(_filters(np.ones(30)), _filters(np.ones(30))))
    assert "against 1.0000 on older ones. Training shrank" in flat


ABLATION = {
    "full CNN-LSTM": 0.7,
    "CNN switched off": 0.6,
    "no CNN, retrained (phase 3)": 0.68,
    "residual switched off": 0.2,
    "no residual, retrained": 0.69,
}


def test_the_ablation_paragraph():
    text = prose.render(
        "ablations",
        ablation=ABLATION,
        own_share=0.8,
        lag_labels=["1", "2", "51-150"],
        imp_lag=np.array([0.5, 0.1, 0.00012]),
    )
    assert "moves R² from 0.700 to 0.600; a model trained without it reaches 0.680." in text
    assert "for 80 % of the summed permutation importance, all other neurons' inputs together for 20 %." in text
    assert text.endswith("raises the MSE by 0.500 when shuffled, lags 51-150 together by 0.0001 (z units²).")


CORR = {"r_own": 0.25, "r_other_mean": 0.1, "r_other_sd": 0.05, "r_other_runs": [0.1, 0.05, 0.15]}


def test_the_connectivity_paragraph_in_each_branch():
    z = W.graph_z(CORR)
    text = prose.render("connectivity", own_run=3, corr=CORR, z=z, reflects=W.reflects_graph(z))
    assert (
        "with test run 3's connectivity at r = 0.250, and with the graphs of the 3 other runs at r = 0.100 +- 0.050"
        in text
    )
    assert text.endswith(
        "(own run +3.0 SD from that null). The model's cross-neuron sensitivity does not reflect "
        "this run's graph more than any other run's."
    )
    text = prose.render("connectivity", own_run=3, corr=CORR, z=3.5, reflects=True)
    assert text.endswith(
        "(own run +3.5 SD from that null). The model's cross-neuron sensitivity reflects this run's graph."
    )


def test_the_shuffled_order_paragraph_in_each_branch():
    same = _cmp(-0.001, -0.01, 0.01, "not distinguishable at this budget")
    fields = dict(n_shuffled=1, n_ordered=2, r2_shuffled=0.69, r2_ordered=0.7)
    text = prose.render("shuffled_order", **fields, cmp=same, resolved=W.resolved(same))
    assert text.startswith(
        "Trained on shuffled neuron order (1 seed), the CNN-LSTM scores R² 0.690 on the same test "
        "windows, against 0.700 in the original order (2 seeds). Shuffled minus original: not"
    )
    assert text.endswith(
        "). The neuron order makes no difference this budget can resolve: the convolution finds no "
        "spatial layout to use."
    )
    lower = _cmp(-0.05, -0.08, -0.02, "lower")
    text = prose.render("shuffled_order", **fields, cmp=lower, resolved=W.resolved(lower))
    assert text.endswith("). The order changes the score beyond the interval.")


def _hidden(peak_over_median, phase_hidden):
    osc = {"peak_hz": 12.4, "peak_over_median": peak_over_median}
    dh, di = {"rate": 0.8, "phase (cos, sin)": phase_hidden}, {"rate": 0.5, "phase (cos, sin)": 0.1}
    return prose.render(
        "hidden_states",
        osc=osc,
        weak_peak=W.weak_peak(osc),
        top3_explained=np.float32(0.654),
        pc_rate=[0.91, 0.2, 0.05],
        hidden=dh,
        last_input=di,
        carries_phase=W.hidden_carries_phase(dh["phase (cos, sin)"], di["phase (cos, sin)"]),
    )


def test_the_hidden_state_paragraph_in_each_branch():
    weak = _hidden(2.0, 0.12)
    assert (
        "spectral peak at 12 Hz, 2.0 times the median power (a weak peak: the network is asynchronous rather than "
        "oscillating). The top three hidden PCs (65 % of the variance) correlate with the rate at |r| = 0.91, 0.20, "
        "0.05. Held out,"
    ) in weak
    assert weak.endswith(
        "gives 0.50 and 0.10. The hidden state carries no more about the phase than the newest voltages themselves."
    )
    strong = _hidden(8.0, 0.4)
    assert "8.0 times the median power. The top three" in strong
    assert strong.endswith("The hidden state carries the phase beyond what the newest voltages already show.")


def _residuals(kurt, lag1):
    stats = {"skip_variance_share": 0.3, "excess_kurtosis": kurt, "top1pct_share_of_sse": 0.25}
    parts = {**ABLATION, "skip part alone (+ bias)": 0.55}
    return prose.render(
        "residuals",
        stats=stats,
        parts=parts,
        lag1=lag1,
        lag1_persistence=0.5,
        heavy_tailed=W.heavy_tailed(kurt),
        autocorrelated=W.autocorrelated(lag1),
    )


def test_the_residual_paragraph_in_each_branch():
    text = _residuals(5.0, 0.4)
    assert text.startswith(
        "*Source: residual connections preserve 15 % of original signal information.* Ours: the "
        "skip part carries 30 % of the summed variance"
    )
    assert (
        "it scores R² 0.550. Switched off, the model scores 0.200; trained without it, it reaches 0.690 (with it: 0.700)."
        in text
    )
    assert text.endswith(
        "The residuals are heavy-tailed (excess kurtosis 5.0; the largest 1 % carry 25 % of the squared "
        "error) and autocorrelated (lag-1 autocorrelation 0.40; persistence's 0.50)."
    )
    assert _residuals(0.5, 0.1).endswith(
        "The residuals are not heavy-tailed (excess kurtosis 0.5; the largest 1 % "
        "carry 25 % of the squared error) and nearly uncorrelated in time (lag-1 "
        "autocorrelation 0.10; persistence's 0.50)."
    )


def test_the_findings_are_a_list_read_back_as_its_sentences():
    text = prose.render(
        "interpretability_findings",
        ablation=ABLATION,
        own_share=0.8,
        r2_shuffled=0.69,
        r2_ordered=0.7,
        n_seeds=2,
        shuffle_cmp=_cmp(-0.05, -0.08, -0.02, "lower"),
        corr=CORR,
        phase_hidden=0.4,
        phase_input=0.1,
    )
    items = prose.items(text)
    assert text == "\n".join(f"- {f}" for f in items) and len(items) == 5
    assert items[0].endswith("switching the residual path off gives 0.200 (retrained: 0.690).")
    assert (
        items[1]
        == "A neuron's own input history carries 80 % of the permutation importance; all other neurons together 20 %."
    )
    assert items[2].startswith(
        "Trained on a shuffled neuron order the CNN-LSTM scores 0.690 (original order 0.700, 2 seeds"
    )
    assert (
        items[4]
        == "Hidden states decode the population-rate oscillation phase with held-out R² 0.40, the last input sample alone with 0.10."
    )


def test_the_captions_of_the_data_the_normalisation_the_spread_and_the_evaluation_sets():
    from voltlib.config import get_profile

    cfg = get_profile("smoke")
    text = prose.render("dataset_size", n_runs=4, sim=cfg.sim, data=cfg.data, kept=1200)
    assert text == (
        f"4 runs x {cfg.sim.duration_s:g} s; the first {cfg.data.discard_ms:g} ms of each run are dropped, "
        f"N(0, {cfg.data.meas_noise_mv} mV) measurement noise is added (seed {cfg.data.noise_seed}), leaving 1200 "
        "samples per run."
    )
    fields = W.normalisation_fields(np.array([-60.04, -55.0]), np.array([2.0, 3.0]))
    text = prose.render("normalisation", **fields)
    assert (
        text
        == "Per-neuron means -60.0 to -55.0 mV, standard deviations 2.00 to 3.00 mV (mean 2.50 mV, clean protocol)."
    )
    text = prose.render(
        "neuron_spread", spread={"min": -0.1, "max": 0.8, "sd": 0.05}, n=100, h_last=20.0, mean_last=0.1
    )
    assert text == (
        "At 1 ms the per-neuron R² ranges from -0.100 to 0.800 (SD 0.050 over 100 neurons); the source reported "
        "0.720-0.789 on its leaky split. At 20 ms the per-neuron mean is 0.100."
    )
    text = prose.render("evaluation_sets", n_test=12345, n_eval=2000, n_perm=500, n=100, caps=cfg.analysis)
    assert text.startswith(
        "Evaluation sets (seeded subsets of the 12,345 clean test windows): 2,000 windows for ablations and lag "
        "importance, 500 for the per-neuron permutation importance (100 passes), "
    )
    assert text.endswith("consecutive windows of that run for hidden-state and residual time series.")
