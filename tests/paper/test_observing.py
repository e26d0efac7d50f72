"""Notebook 10's reading of the observer's product: scores, intervals, shares and words, on hand-made numbers."""

import numpy as np
import pytest

from voltlib.config import get_profile
from voltlib.paper import observing, prose
from voltlib.sim.restart_states import choose_start_samples

QUICK = get_profile("quick")


def test_start_samples_are_a_seeded_subset_of_the_ceilings():
    pool = choose_start_samples(10_000, 800 + 149, 20, QUICK.ceiling.n_start_times, QUICK.ceiling.seed, 3)
    picked = observing.start_samples(QUICK, 3, 10_000)
    assert len(picked) == QUICK.observer.n_start_times
    assert set(picked) <= set(pool)
    assert np.array_equal(picked, np.sort(picked))
    assert np.array_equal(picked, observing.start_samples(QUICK, 3, 10_000))
    assert not np.array_equal(picked, observing.start_samples(QUICK, 4, 10_000))


def test_scores_of_a_perfect_ensemble_are_zero_and_of_a_shifted_one_its_shift():
    rng = np.random.default_rng(0)
    target = rng.normal(-60, 3, (5, 4))
    mean, std = np.full(4, -60.0), np.full(4, 2.0)
    perfect = observing._scores(np.repeat(target[:, None], 8, axis=1), target, mean, std, 0.0, rng)
    assert np.allclose(perfect["se"], 0) and np.allclose(perfect["crps"], 0)
    shifted = observing._scores(np.repeat(target[:, None] + 1.0, 8, axis=1), target, mean, std, 0.0, rng)
    assert np.allclose(shifted["se"], 0.25)  # 1 mV is half a z unit here
    assert np.allclose(shifted["crps"], 0.5)  # a point mass: the absolute error
    assert np.allclose(shifted["in90"], 0.0)
    assert shifted["pit"].shape == (20,) and (shifted["pit"] < 1 / 9 + 1e-12).all()  # y below every member


def test_a_drawn_ensembles_error_is_that_of_its_distributions_mean_not_of_m_draws():
    rng = np.random.default_rng(3)
    mean, std = np.zeros(50), np.ones(50)
    target = rng.standard_normal((400, 50))  # y ~ N(0, 1); the predictive distribution N(0, 1): error 1 on average
    members = rng.standard_normal((400, 4, 50))  # 4 draws: their mean errs by 1 + 1/4
    drawn = observing._scores(members, target, mean, std, 0.0, rng)
    fixed = observing._scores(members, target, mean, std, 0.0, rng, drawn=False)
    assert fixed["se"].mean() == pytest.approx(1.25, rel=0.03)
    assert drawn["se"].mean() == pytest.approx(1.0, rel=0.03)
    # the fair CRPS is the distribution's, 1/sqrt(pi) - ... for N(0,1) against N(0,1): E = 1/sqrt(pi)
    assert drawn["crps"].mean() == pytest.approx(1 / np.sqrt(np.pi), rel=0.03)
    assert fixed["crps"].mean() > drawn["crps"].mean() + 0.05


def test_summarise_turns_squared_errors_into_r2_with_an_interval_over_runs():
    run_of = np.repeat([0, 1, 2, 3], 10)
    se = np.where(run_of < 2, 0.1, 0.3)  # two good runs, two bad ones
    ones = np.ones(40)
    per_start = {"se": se, "crps": se, "in50": 0.5 * ones, "in90": 0.9 * ones, "pit": (np.arange(400) + 0.5) / 400}
    s = observing.summarise(per_start, run_of, target_var_z=0.8)
    assert s["r2"] == pytest.approx(1 - 0.2 / 0.8)
    lo, hi = s["r2_ci"]
    assert lo < s["r2"] < hi and hi - lo > 0.05  # the runs differ: a real interval
    assert s["coverage_90"]["value"] == pytest.approx(0.9) and s["coverage_90"]["ci"] == pytest.approx([0.9, 0.9])
    assert s["pit_histogram"] == pytest.approx([1.0] * 10)
    single = observing.summarise(per_start, np.zeros(40, int), 0.8)
    assert all(np.isnan(single["r2_ci"]))  # one test run: no interval


def test_paired_difference_is_positive_where_the_first_errs_less():
    run_of = np.repeat([0, 1, 2], 5)
    rng = np.random.default_rng(1)
    b = rng.uniform(0.2, 0.4, 15)
    d = observing.paired(b - 0.05, b, run_of, target_var_z=0.5)
    assert d["difference"] == pytest.approx(0.1)
    assert d["ci"][0] == pytest.approx(0.1) and d["ci"][1] == pytest.approx(0.1)  # the same shift in every run


def product(observer=0.8, oracle=0.9):
    """A hand-made product at two horizons, 4 start times in 2 test runs, target variance 1 (so R^2 = 1 - se)."""

    def entry(r2):
        return {
            "r2": r2,
            "r2_ci": [r2 - 0.02, r2 + 0.02],
            "crps_z": {"value": 0.3, "ci": [0.29, 0.31]},
            "coverage_50": {"value": 0.48, "ci": [0.46, 0.5]},
            "coverage_90": {"value": 0.87, "ci": [0.85, 0.89]},
            "pit_histogram": [1.0] * 10,
        }

    r2 = {
        "oracle": (oracle, oracle - 0.1),
        "observer": (observer, observer - 0.1),
        "observer_true_wiring": (observer + 0.01, observer - 0.09),
        "quantile_member": (0.7, 0.4),
        "quantile_seeds": (0.71, 0.41),
        "persistence": (0.6, 0.2),
        "mean": (0.1, 0.0),
    }
    scores = {f: {"1": entry(a), "2": entry(b)} for f, (a, b) in r2.items() if f != "mean"}
    diff = {"difference": oracle - observer, "ci": [oracle - observer - 0.01, oracle - observer + 0.01]}
    wiring = {"difference": 0.01, "ci": [-0.01, 0.03]}
    return {
        "horizons_ms": [1.0, 2.0],
        "target_var_z": [1.0, 1.0],
        "scores": scores,
        "per_start": {
            "run": [0, 0, 1, 1],
            "sample": [900, 950, 900, 990],
            "se": {f: {"1": [1 - a] * 4, "2": [1 - b] * 4} for f, (a, b) in r2.items()},
        },
        "differences": {
            "oracle_minus_observer": {"1": diff, "2": diff},
            "true_minus_inferred_wiring": {"1": wiring, "2": wiring},
        },
        "distributional": {
            "member": "wiring",
            "quantiles": 64,
            "seeds": 2,
            "trainings": [{"params": 1234, "epochs": 7}, {"params": 1234, "epochs": 9}],
        },
    }


def test_learned_scores_pair_the_member_with_the_observer_at_the_same_start_times():
    prod = product()
    learned = observing.learned_scores(prod, {"se": {"1": [0.3, 0.3, 0.3, 0.3], "2": [0.5, 0.45, 0.5, 0.45]}})
    assert learned["1"]["r2"] == pytest.approx(0.7)
    d = learned["1"]["observer_minus_learned"]
    assert d["difference"] == pytest.approx(0.1) and d["ci"] == pytest.approx([0.1, 0.1])  # the same in every run
    assert learned["2"]["r2"] == pytest.approx(0.525)
    assert observing.learned_scores(prod, None) is None


def test_decomposition_shares_the_gap_between_floor_learned_observer_and_oracle():
    prod = product()
    learned = observing.learned_scores(prod, {"se": {"1": [0.3] * 4, "2": [0.5] * 4}})
    assert observing.floor_at_starts(prod) == pytest.approx({"1": 0.6, "2": 0.2})  # persistence above the mean
    d = observing.decomposition(prod, learned)
    assert d["1"]["observer_share_of_oracle_gain"] == pytest.approx((0.8 - 0.6) / (0.9 - 0.6))
    assert d["1"]["learned_share_of_observer_gain"] == pytest.approx(0.5)
    assert d["1"]["learned_share_of_oracle_gain"] == pytest.approx(0.1 / 0.3)
    assert observing.decomposition(prod, None)["1"]["learned_share_of_observer_gain"] is None
    # no share where the larger R²'s interval does not clear the floor, or where it has no interval
    low = product(observer=0.61)
    assert observing.decomposition(low, None)["1"]["observer_share_of_oracle_gain"] is not None
    low_learned = observing.learned_scores(low, {"se": {"1": [0.4] * 4, "2": [0.9] * 4}})
    assert observing.decomposition(low, low_learned)["1"]["learned_share_of_observer_gain"] is None
    one_run = product()
    one_run["scores"]["oracle"]["1"]["r2_ci"] = [None, None]
    assert observing.decomposition(one_run, None)["1"]["observer_share_of_oracle_gain"] is None
    table = observing.decomposition_frame(observing.decomposition(one_run, None))
    assert table.loc["the observer's share of the oracle's gain", "1 ms"] == "no gain to share"


@pytest.mark.parametrize("observer, between", [(0.8, True), (0.65, False)])
def test_the_findings_say_whether_the_observer_lies_between_learned_and_oracle(observer, between):
    prod = product(observer=observer)
    learned = observing.learned_scores(prod, {"se": {"1": [0.3] * 4, "2": [0.45] * 4}})
    d = observing.decomposition(prod, learned)
    fields = observing.findings_fields(prod, d, learned, "3 + population spikes")
    assert fields["between_all"] is between
    text = prose.render("observer_findings", **fields)
    if between:
        assert "lies between the learned forecaster and the oracle" in text
        assert "the observer's R² is 0.100 higher" in text
    else:
        assert "falls below the learned forecaster or above the oracle at 1 ms;" in text
        assert "the observer's R² is 0.050 lower" in text
    assert "the oracle's R² is 0.100 higher" in text or "the oracle's R² is 0.250 higher" in text
    assert "that much no forecaster of these samples can have" in text
    assert "not distinguishable" in text  # the true wiring's 0.01 [-0.01, 0.03]


def test_r2_rows_put_the_brian2_ceiling_beside_the_numpy_oracle():
    prod = product()
    learned = observing.learned_scores(prod, {"se": {"1": [0.3] * 4, "2": [0.5] * 4}})
    ceiling = {"horizons_ms": [1, 2], "ceiling_r2": [0.91, 0.8], "ceiling_r2_ci": [[0.9, 0.92], [0.79, 0.81]]}
    rows = observing.r2_rows(prod, ceiling, learned, "best member")
    assert rows["oracle ceiling (Brian2 restarts, notebook 06)"]["1"] == (0.91, (0.9, 0.92))
    assert rows[observing.LABELS["oracle"]]["2"][0] == pytest.approx(0.8)
    assert rows["best member"]["1"][0] == pytest.approx(0.7)
    table = observing.r2_frame(rows)
    assert list(table.columns) == ["1 ms", "2 ms"] and len(table) == 8
    colors = observing.row_colors(rows, {**dict.fromkeys(observing.FORECASTERS, "f"), "learned": "l"} | {"oracle": "o"})
    assert colors[observing.BRIAN2_CEILING] == "o" and colors["best member"] == "l"
    assert colors[observing.LABELS["quantile_seeds"]] == "f"


@pytest.mark.parametrize("coverage, miss, words", [(0.9, 0.0, "inside the 88 % to 92 %"), (0.85, -0.03, "3.0 % below")])
def test_the_findings_say_how_far_the_distributional_members_90_interval_misses(coverage, miss, words):
    prod = product()
    prod["scores"]["quantile_seeds"]["1"]["coverage_90"] = {"value": coverage, "ci": [coverage - 0.01, coverage + 0.01]}
    fields = observing.findings_fields(prod, observing.decomposition(prod, None), None, None)
    assert fields["distributional"]["miss_90"] == pytest.approx(miss)
    text = prose.render("observer_findings", **fields)
    assert words in text
    assert ("too narrow" in text) is (miss < 0)
    assert "2 seeds" in text and "64 quantile outputs" in text
    assert "Its CRPS (z) is 0.300 (95 % CI 0.290 to 0.310) pooled" in text.replace("\xa0", " ")


def test_score_tables_hold_every_forecaster_at_every_horizon_and_refuse_an_unknown_score():
    prod = product()
    table = observing.score_by_horizon_frame(prod, "coverage_90")
    assert list(table.columns) == ["1 ms", "2 ms"] and len(table) == len(observing.FORECASTERS)
    assert table.loc[observing.LABELS["quantile_seeds"], "1 ms"].startswith("87")
    assert observing.score_by_horizon_frame(prod, "crps_z").loc[observing.LABELS["oracle"], "2 ms"].startswith("0.300")
    with pytest.raises(ValueError, match="expected one of"):
        observing.score_by_horizon_frame(prod, "coverage_80")


def test_the_distributional_note_names_the_member_and_whether_it_is_notebook_08s_best():
    prod = product()
    same = observing.distributional_note(prod, "wiring")
    assert "It is notebook 08's best member that reads only the recording." in same
    assert "with 64 outputs per horizon" in same and "from 2 seeds (1,234 parameters; 7, 9 epochs)" in same
    other = observing.distributional_note(prod, "clock")
    assert "Notebook 08's best member that reads only the recording is *2 + own spike clock*" in other
    assert "Notebook 08 scored no member" in observing.distributional_note(prod, None)
