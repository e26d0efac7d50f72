"""Metrics against hand-computed values and against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from voltlib.forecast.metrics import (
    bootstrap_r2,
    evaluate,
    gain_share,
    gain_share_interval,
    independent_difference,
    interval,
    paired_difference,
    r2_from_stats,
    r2_per_neuron,
    r2_pooled,
    run_stats,
    run_sums,
    skill_vs_persistence,
    verdict,
)

Y_TRUE = np.array([[1.0, 2.0], [3.0, 4.0]])
Y_PRED = np.array([[1.0, 3.0], [2.0, 4.0]])
STD_MV = np.array([2.0, 10.0])


def test_hand_computed_values():
    m = evaluate(Y_TRUE, Y_PRED, STD_MV, n_exc=1, y_persist_z=np.array([[0.0, 0.0], [3.0, 4.0]]))
    # errors (pred - true): [[0, 1], [-1, 0]]; global mean 2.5 -> SST = 2.25 + 0.25 + 0.25 + 2.25 = 5
    assert m["r2"] == pytest.approx(1 - 2 / 5)
    # each neuron: SST 2 around its own mean, SSE 1
    assert m["r2_per_neuron"] == pytest.approx([0.5, 0.5])
    assert m["r2_per_neuron_mean"] == pytest.approx(0.5)
    assert (m["mse_z"], m["mae_z"], m["rmse_z"]) == pytest.approx((0.5, 0.5, np.sqrt(0.5)))
    # in mV: errors [[0, 10], [-2, 0]]
    assert (m["mse_mv"], m["mae_mv"], m["rmse_mv"]) == pytest.approx((26.0, 3.0, np.sqrt(26.0)))
    assert (m["r2_exc"], m["r2_inh"]) == pytest.approx((0.5, 0.5))
    # persistence errors [[-1, -2], [0, 0]] -> MSE 1.25; skill = 1 - 0.5 / 1.25
    assert m["skill_vs_persistence"] == pytest.approx(0.6)
    assert "skill_vs_persistence" not in evaluate(Y_TRUE, Y_PRED, STD_MV, n_exc=1)


def test_against_sklearn():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(500, 7)) + np.arange(7) * 0.3
    p = t + rng.normal(scale=0.6, size=t.shape)
    m = evaluate(t, p, np.ones(7), n_exc=5)
    assert m["r2"] == pytest.approx(r2_score(t.ravel(), p.ravel()), abs=1e-12)
    assert np.allclose(m["r2_per_neuron"], r2_score(t, p, multioutput="raw_values"))
    assert m["mse_z"] == pytest.approx(mean_squared_error(t, p))
    assert m["mae_z"] == pytest.approx(mean_absolute_error(t, p))
    assert m["r2_exc"] == pytest.approx(r2_score(t[:, :5].ravel(), p[:, :5].ravel()))
    assert m["r2_inh"] == pytest.approx(r2_score(t[:, 5:].ravel(), p[:, 5:].ravel()))


def test_pooled_differs_from_per_neuron_when_neuron_means_differ():
    # pooled SST includes the spread between neuron means, so it rewards getting the offsets right
    t = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])
    p = t + np.array([[0.5, -0.5], [-0.5, 0.5], [0.5, -0.5]])
    assert r2_per_neuron(t, p) == pytest.approx([1 - 0.75 / 2, 1 - 0.75 / 2])
    assert r2_pooled(t, p) == pytest.approx(1 - 1.5 / (np.var(t) * 6))
    assert r2_pooled(t, p) > 0.95 > r2_per_neuron(t, p).mean()


def test_shape_errors():
    with pytest.raises(ValueError, match="one shape"):
        evaluate(Y_TRUE, Y_PRED[:1], STD_MV, 1)
    with pytest.raises(ValueError, match="one std per neuron"):
        evaluate(Y_TRUE, Y_PRED, np.ones(3), 1)


# --- run-level bootstrap ----------------------------------------------------------------------------


def _runs_problem(rng, n_runs=8, t=200, n=5):
    """Forecast = signal, target = signal + unit noise; each run has its own signal scale (runs differ)."""
    scale = rng.uniform(0.5, 1.5, size=n_runs)
    x = rng.normal(size=(n_runs, t, n)) * scale[:, None, None]
    y = x + rng.normal(size=x.shape)
    return y.reshape(-1, n), x.reshape(-1, n), np.repeat(np.arange(n_runs), t)


def test_run_sums_give_back_the_pooled_r2():
    y, p, runs = _runs_problem(np.random.default_rng(0))
    s = run_sums(y, p, runs)
    n, tot, sq, sse = (s[k].sum() for k in ("n", "sum", "sumsq", "sse"))
    assert 1 - sse / (sq - tot**2 / n) == pytest.approx(r2_pooled(y, p), rel=1e-12)


def test_run_bootstrap_interval_covers_the_true_r2_about_95_percent():
    # true pooled R^2 = 1 - 1 / (E[scale^2] + 1), E[scale^2] = (1.5^3 - 0.5^3) / 3 for scale ~ U(0.5, 1.5)
    true = 1 - 1 / ((1.5**3 - 0.5**3) / 3 + 1)
    rng = np.random.default_rng(1)
    reps, hits = 300, 0
    for _ in range(reps):
        y, p, runs = _runs_problem(rng)
        est = r2_pooled(y, p)
        lo, hi = interval(bootstrap_r2(y, {"m": p}, runs, n_boot=500, seed=int(rng.integers(2**31)))["m"], est, 8)
        hits += lo <= true <= hi
    # binomial sd of the coverage at 300 repetitions is 1.3 points: 95 % +- 4 points is the stated tolerance
    assert 0.91 <= hits / reps <= 0.99


def test_paired_difference_of_identical_forecasters_covers_zero_and_a_planted_one_is_found():
    y, p, runs = _runs_problem(np.random.default_rng(2))
    worse = p + 0.15  # a planted bias: R^2 lower by about 0.01
    b = bootstrap_r2(y, {"a": p, "a again": p.copy(), "worse": worse}, runs, seed=3)
    same = interval(b["a"] - b["a again"], 0.0, 8)
    assert same[0] <= 0 <= same[1]
    est = r2_pooled(y, p) - r2_pooled(y, worse)
    lo, hi = interval(b["a"] - b["worse"], est, 8)
    assert 0 < lo <= est <= hi
    # unpaired, the two forecasters' own intervals overlap: pairing is what resolves the difference
    ia, iw = interval(b["a"], r2_pooled(y, p), 8), interval(b["worse"], r2_pooled(y, worse), 8)
    assert iw[1] > ia[0]


def test_seed_axis_is_averaged_and_identical_seeds_change_nothing():
    y, p, runs = _runs_problem(np.random.default_rng(4))
    one = bootstrap_r2(y, {"m": p}, runs, n_boot=300, seed=5)["m"]
    three = bootstrap_r2(y, {"m": np.stack([p, p, p])}, runs, n_boot=300, seed=5)["m"]
    np.testing.assert_allclose(three, one, rtol=1e-12)


def test_run_sums_reject_mismatched_run_labels():
    with pytest.raises(ValueError, match="one run index per forecast sample"):
        run_sums(np.zeros((10, 3)), np.zeros((10, 3)), np.zeros(9, int))


def test_gain_share_by_hand():
    assert gain_share(0.7, 0.6, 0.8) == pytest.approx(0.5)
    assert gain_share(0.6, 0.6, 0.8) == pytest.approx(0.0)
    assert gain_share(0.8, 0.6, 0.8) == pytest.approx(1.0)
    assert gain_share(0.5, 0.6, 0.8) == pytest.approx(-0.5)  # below persistence
    np.testing.assert_allclose(gain_share([0.7, 0.3], [0.6, 0.2], [0.8, 0.4]), [0.5, 0.5])
    assert np.isnan(gain_share(0.5, 0.6, 0.6))  # no achievable gain: undefined, not a division error


def test_skill_against_persistence_by_hand():
    y = np.array([[0.0, 1.0], [2.0, 3.0]])
    # persistence errs by 1 everywhere (MSE 1), the forecast by 0.5 (MSE 0.25): skill 0.75
    assert skill_vs_persistence(y, y + 0.5, y - 1.0) == pytest.approx(0.75)
    assert evaluate(y, y + 0.5, np.ones(2), 1, y_persist_z=y - 1.0)["skill_vs_persistence"] == pytest.approx(0.75)


def test_run_labels_need_not_be_contiguous_and_evaluate_reports_the_interval():
    y, p, runs = _runs_problem(np.random.default_rng(7))
    sparse = np.array([3, 17, 18, 40, 41, 42, 60, 99])[runs]  # the test runs of a clean split, say
    a = bootstrap_r2(y, {"m": p}, runs, n_boot=400, seed=1)["m"]
    b = bootstrap_r2(y, {"m": p}, sparse, n_boot=400, seed=1)["m"]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    out = evaluate(y, p, np.ones(y.shape[1]), 2, run_of_sample=sparse)
    lo, hi = out["r2_ci"]
    assert lo < out["r2"] < hi and hi - lo < 0.2


def test_run_stats_hold_what_the_r2_and_its_comparisons_need():
    y, p, runs = _runs_problem(np.random.default_rng(8))
    st = run_stats(y, p, runs + 10)
    assert st["runs"] == list(range(10, 18)) and np.shape(st["sse"]) == (1, 8)
    assert r2_from_stats(st) == pytest.approx(r2_pooled(y, p), rel=1e-12)
    two = run_stats(y, np.stack([p, p + 0.1]), runs)
    assert r2_from_stats(two) == pytest.approx((r2_pooled(y, p) + r2_pooled(y, p + 0.1)) / 2, rel=1e-12)


def test_paired_difference_from_stored_stats_covers_zero_for_twins_and_finds_a_planted_gap():
    y, p, runs = _runs_problem(np.random.default_rng(9))
    a, twin, worse = (run_stats(y, q, runs) for q in (p, p.copy(), p + 0.15))
    same = paired_difference(a, twin)
    assert same["difference"] == 0 and same["ci"][0] <= 0 <= same["ci"][1]
    assert verdict(same["ci"]) == "not distinguishable at this budget"
    gap = paired_difference(a, worse)
    assert gap["ci"][0] > 0 and verdict(gap["ci"]) == "higher"
    assert verdict(paired_difference(worse, a)["ci"], lower="below") == "below"
    with pytest.raises(ValueError, match="same test windows"):
        paired_difference(a, run_stats(y[:-5], p[:-5], runs[:-5]))


def test_independent_difference_is_wider_than_the_paired_one():
    y, p, runs = _runs_problem(np.random.default_rng(10))
    a, worse = run_stats(y, p, runs), run_stats(y, p + 0.15, runs)
    paired, apart = paired_difference(a, worse), independent_difference(a, worse)
    assert apart["difference"] == pytest.approx(paired["difference"])
    assert apart["ci"][1] - apart["ci"][0] > 2 * (paired["ci"][1] - paired["ci"][0])
    assert apart["ci"][0] < apart["difference"] < apart["ci"][1]


def test_the_gain_floor_is_the_better_trivial_forecast():
    from voltlib.forecast.metrics import gain_floor

    assert gain_floor(-0.65, -0.001) == pytest.approx(-0.001)  # 5 ms: the mean beats persistence
    assert gain_floor(0.61, -0.001) == pytest.approx(0.61)
    np.testing.assert_allclose(gain_floor([0.6, -0.65], [0.0, 0.0]), [0.6, 0.0])


def test_gain_share_interval_of_a_forecaster_at_the_floor_or_the_ceiling():
    y, p, runs = _runs_problem(np.random.default_rng(11))
    floor = run_stats(y, 0.5 * p, runs)
    model = run_stats(y, p, runs)
    r2_m, r2_f = r2_from_stats(model), r2_from_stats(floor)
    # the ceiling at the model's own R^2 with a tight interval: the share is 1 and its interval holds 1
    at_ceiling = gain_share_interval(model, floor, r2_m, (r2_m - 1e-4, r2_m + 1e-4))
    assert at_ceiling["share"] == pytest.approx(1.0)
    assert at_ceiling["ci"][0] < 1.0 < at_ceiling["ci"][1]
    # the floor against itself: no gain, an interval around 0
    none = gain_share_interval(floor, floor, r2_m, (r2_m - 0.01, r2_m + 0.01))
    assert none["share"] == pytest.approx(0.0) and none["ci"][0] <= 0.0 <= none["ci"][1]
    # halfway, and a less certain ceiling widens the interval
    half = gain_share_interval(run_stats(y, 0.75 * p, runs), floor, r2_m, (r2_m - 0.002, r2_m + 0.002))
    wide = gain_share_interval(run_stats(y, 0.75 * p, runs), floor, r2_m, (r2_m - 0.05, r2_m + 0.05))
    assert half["ci"][0] < gain_share(r2_from_stats(run_stats(y, 0.75 * p, runs)), r2_f, r2_m) < half["ci"][1]
    assert np.diff(wide["ci"])[0] > np.diff(half["ci"])[0]
    # one test run: no interval
    one = run_stats(y[:200], p[:200], runs[:200])
    assert np.isnan(gain_share_interval(one, run_stats(y[:200], 0.5 * p[:200], runs[:200]), 0.9, (0.8, 1.0))["ci"][0])
