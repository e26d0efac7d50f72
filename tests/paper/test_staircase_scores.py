"""Notebook 08's scores and words (voltlib.paper.staircase_scores) on hand-made forecasts and run statistics
whose R², differences and shares are known, and its conclusion's words as the intervals move across zero."""

import math
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from voltlib.display import NBSP
from voltlib.forecast.metrics import run_stats
from voltlib.forecast.staircase import MEMBER_LABELS
from voltlib.paper import staircase_scores as S

RUNS = np.repeat([3, 5, 8, 9], 5)  # 4 test runs (not numbered 0..3) of 5 windows each; 2 neurons


def _r2(t, p) -> float:
    """Pooled R²: one global mean of every target."""
    return 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)


def _dataset(seed):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(len(RUNS), 2))
    test = SimpleNamespace(targets=lambda: t, last_values=lambda: t + 0.5, run_of_window=RUNS)
    return SimpleNamespace(test=test, std_mv=np.array([2.0, 3.0]), n_exc=1)


def _baseline(t, pred):
    return {"r2": _r2(t, pred), "run_stats": run_stats(t, pred, RUNS)}


@pytest.fixture(scope="module")
def scored():
    """A member at 1 ms (1 sample) and 5 ms (5 samples), two seeds each, against three baselines and a ceiling."""
    datasets = {1: _dataset(1), 5: _dataset(5)}
    t1, t5 = (datasets[h].test.targets() for h in (1, 5))
    rng = np.random.default_rng(0)
    e = lambda: rng.normal(size=t1.shape)  # noqa: E731
    preds = {  # given 5 first: each horizon is paired with its dataset by its number of samples
        5: np.stack([t5 + 1.0 * e(), t5 + 1.2 * e()]),
        1: np.stack([t1 + 0.1 * e(), t1 + 0.2 * e()]),
    }
    baselines = {
        "mean": {"1": _baseline(t1, 0 * t1), "5": _baseline(t5, 0 * t5)},
        "persistence": {"1": _baseline(t1, t1 + 0.5 * e()), "5": _baseline(t5, t5 + 1.5 * e())},
        "ar_ridge": {"1": _baseline(t1, t1 + 0.7 * e()), "5": _baseline(t5, t5 + 0.3 * e())},
    }
    ceiling = {"horizons_ms": [1, 5], "ceiling_r2": [0.995, 0.95], "ceiling_r2_ci": [[0.99, 1.0], [0.94, 0.96]]}
    out = S.score(preds, datasets, (1, 5), baselines, ceiling)
    return SimpleNamespace(out=out, preds=preds, t={1: t1, 5: t5}, baselines=baselines, ceiling=ceiling)


def test_a_members_r2_is_the_mean_of_its_seeds_at_each_horizon(scored):
    out, preds, t = scored.out, scored.preds, scored.t
    assert list(out) == ["1", "5"]
    for hk, h in (("1", 1), ("5", 5)):
        seeds = [_r2(t[h], p) for p in preds[h]]
        assert out[hk]["r2_seeds"] == pytest.approx(seeds)
        assert out[hk]["r2"] == pytest.approx(np.mean(seeds))
        lo, hi = out[hk]["r2_ci"]
        assert lo < out[hk]["r2"] < hi
    assert 0.95 < out["1"]["r2"] < 1 and out["5"]["r2"] < 0.2  # the pairing held: small errors at 1 ms
    assert out["1"]["run_stats"]["runs"] == [3, 5, 8, 9] and len(out["1"]["run_stats"]["sse"]) == 2


def test_the_gain_share_is_measured_from_the_better_trivial_forecast(scored):
    out, b = scored.out, scored.baselines
    # at 1 ms persistence beats the mean; at 5 ms it is far worse than predicting the mean
    assert b["persistence"]["1"]["r2"] > b["mean"]["1"]["r2"] and b["persistence"]["5"]["r2"] < b["mean"]["5"]["r2"]
    assert (out["1"]["floor"], out["5"]["floor"]) == ("persistence", "mean")
    floor1, floor5 = b["persistence"]["1"]["r2"], b["mean"]["5"]["r2"]
    assert out["1"]["gain_share"] == pytest.approx((out["1"]["r2"] - floor1) / (0.995 - floor1))
    assert out["5"]["gain_share"] == pytest.approx((out["5"]["r2"] - floor5) / (0.95 - floor5))
    for hk in ("1", "5"):
        lo, hi = out[hk]["gain_share_ci"]
        assert lo < out[hk]["gain_share"] < hi


def test_each_horizon_is_compared_with_its_own_best_baseline(scored):
    out, b = scored.out, scored.baselines
    assert (out["1"]["best_baseline"], out["5"]["best_baseline"]) == ("persistence", "ar_ridge")
    one, five = out["1"]["vs_best_baseline"], out["5"]["vs_best_baseline"]
    assert one["difference"] == pytest.approx(out["1"]["r2"] - b["persistence"]["1"]["r2"])
    assert five["difference"] == pytest.approx(out["5"]["r2"] - b["ar_ridge"]["5"]["r2"])
    assert (one["verdict"], five["verdict"]) == ("higher", "lower")  # better in every run at 1 ms, worse at 5
    assert one["ci"][0] > 0 and five["ci"][1] < 0
    assert (one["b"], five["b"], one["paired"]) == ("persistence", "ar_ridge", True)


def _stats(sse) -> dict:
    """Run statistics of 4 test runs of 10 targets each, sum 0 and sum of squares 10: SST 40, R² = 1 - sum(sse) / 40."""
    return {"runs": [0, 1, 2, 3], "n": [10.0] * 4, "sum": [0.0] * 4, "sumsq": [10.0] * 4, "sse": [list(sse)]}


def _entry(sse, **kw) -> dict:
    return {"r2": 1 - sum(sse) / 40, "run_stats": _stats(sse), **kw}


def test_a_step_is_the_member_minus_the_one_below_it():
    scores = {"own": {"1": _entry([6] * 4)}, "clock": {"1": _entry([4] * 4)}}
    up = S.step(scores, "clock", "own", "1")
    assert up["difference"] == pytest.approx(0.6 - 0.4)
    assert up["ci"] == pytest.approx([0.2, 0.2])  # every run gains the same: no spread
    assert (up["verdict"], up["a"], up["b"]) == ("higher", MEMBER_LABELS["clock"], MEMBER_LABELS["own"])
    down = S.step(scores, "own", "clock", "1")
    assert down["difference"] == pytest.approx(-0.2) and down["verdict"] == "lower"
    # the same mean gain, made of runs that gain 0.4 and runs that gain nothing: a resample of 4 runs
    # draws only the latter 1 time in 16, so the interval reaches below zero
    same = S.step({"own": {"1": _entry([4, 8, 4, 8])}, "clock": {"1": _entry([4] * 4)}}, "clock", "own", "1")
    assert same["difference"] == pytest.approx(0.2)
    assert same["ci"][0] < 0 < same["ci"][1] and same["verdict"] == "not distinguishable at this budget"


def test_the_family_table_has_a_row_per_member_in_training_order():
    info = {
        "own": [{"params": 1234, "epochs": 3, "train_s": 2.0, "cached": True}] * 2,
        "clock": [
            {"params": 5678, "epochs": 3, "train_s": 2.0, "cached": True},
            {"params": 5678, "epochs": 11, "train_s": 7.0, "cached": False},
        ],
    }
    table = S.family_table(info)
    assert list(table.index) == [MEMBER_LABELS["own"], MEMBER_LABELS["clock"]]
    row = table.loc[MEMBER_LABELS["clock"]]
    assert row["parameters"] == 5678 and row["seeds"] == 2
    assert row["epochs trained, seed by seed"] == "3, 11"
    assert row["training per seed (s)"] == pytest.approx(4.5)
    assert not row["loaded from the cache"]  # one seed was trained now
    assert bool(table.loc[MEMBER_LABELS["own"], "loaded from the cache"])


def test_the_r2_table_puts_members_baselines_and_the_ceiling_side_by_side():
    scores = {
        "own": {"1": {"r2": 0.4, "r2_ci": [0.35, 0.45]}, "5": {"r2": 0.1, "r2_ci": [0.05, 0.15]}},
        "oracle": {"1": {"r2": 0.88, "r2_ci": [math.nan, math.nan]}, "5": {"r2": 0.3, "r2_ci": [0.2, 0.4]}},
    }
    baselines = {"persistence": {"1": {"r2": 0.61, "r2_ci": [0.6, 0.62]}, "5": {"r2": -0.2, "r2_ci": [-0.3, -0.1]}}}
    ceiling = {"horizons_ms": [1, 5], "ceiling_r2": [0.9, 0.5], "ceiling_r2_ci": [[0.89, 0.91], None]}
    table = S.r2_table(scores, baselines, ceiling, (1, 5), ("persistence",))
    assert list(table.columns) == ["1 ms", "5 ms"] and table.columns.name == "test R² [95 % CI]"
    assert list(table.index) == [MEMBER_LABELS["own"], MEMBER_LABELS["oracle"], "persistence", "ceiling (oracle)"]
    cells = table.map(lambda c: c.replace(NBSP, " "))
    assert cells.loc[MEMBER_LABELS["own"]].tolist() == ["0.400 [0.350, 0.450]", "0.100 [0.050, 0.150]"]
    assert cells.loc[MEMBER_LABELS["oracle"], "1 ms"] == "0.880"  # one test run: no interval to show
    assert cells.loc["persistence"].tolist() == ["0.610 [0.600, 0.620]", "-0.200 [-0.300, -0.100]"]
    assert cells.loc["ceiling (oracle)"].tolist() == ["0.900 [0.890, 0.910]", "0.500"]
    assert isinstance(table, pd.DataFrame) and NBSP in table.iloc[0, 0]  # a cell never breaks across lines


HIGHER = {"difference": 0.2, "ci": [0.15, 0.25], "verdict": "higher"}
UNSURE = {"difference": -0.01, "ci": [-0.03, 0.01], "verdict": "not distinguishable at this budget"}


def _staircase(own=(6, 6, 6, 6), oracle=(1.2,) * 4, best_r2=None, vs_at_1=HIGHER):
    """Scores of the four members at 1 ms (R² 0.4, 0.6, 0.8, 0.88 from their runs' errors); the best, the
    wiring member, also at 2 and 5 ms, against persistence at 1 and 2 ms and the AR baseline at 5 ms."""
    wiring = {
        "1": _entry([2] * 4, gain_share=2 / 3, gain_share_ci=[0.6, 0.73], floor="persistence"),
        "2": {"best_baseline": "persistence", "vs_best_baseline": HIGHER},
        "5": {"best_baseline": "ar_ridge", "vs_best_baseline": UNSURE},
    }
    wiring["1"].update(best_baseline="persistence", vs_best_baseline=vs_at_1)
    if best_r2 is not None:
        wiring["1"]["r2"] = best_r2
    return {
        "own": {"1": _entry(own)},
        "clock": {"1": _entry([4] * 4)},
        "wiring": wiring,
        "oracle": {"1": _entry(oracle, gain_share=0.9333)},
    }


INFO = {"wiring": [{"params": 12345, "train_s": 2.0}, {"params": 12345, "train_s": 4.0}]}
BASELINES = {"persistence": {"1": {"r2": 0.6}}}
CEILING = {"horizons_ms": [1, 2, 5], "ceiling_r2": [0.9, 0.8, 0.5], "ceiling_r2_ci": [[0.88, 0.92], None, None]}
UNFORESEEN = {"share_of_error": 0.42, "share_of_samples": 0.031}


def _conclusion(scores) -> list[str]:
    text = S.conclusion(scores, INFO, "wiring", BASELINES, CEILING, (1, 2, 5), UNFORESEEN)
    return text.replace(NBSP, " ").split("\n\n")


def test_the_conclusion_states_the_best_member_its_rivals_its_steps_and_the_mark():
    assert _conclusion(_staircase()) == [
        "The best forecaster that reads only the recording is the staircase's member "
        f"**{MEMBER_LABELS['wiring']}**. It has 12,345 parameters and trained for 3 s per seed (2 seeds). "
        "At 1 ms its R² is 0.800: 67 % [60, 73] of the achievable gain.",
        "Against the best simple baseline (AR per neuron, persistence), its R² is higher at 1, 2 ms; "
        "not distinguishable at this budget at 5 ms. At 1 ms it is 0.200 higher (95 % CI 0.150 to 0.250).",
        "Each step of the staircase against the one before, at 1 ms: "
        f"{MEMBER_LABELS['clock']}, 0.200 higher (95 % CI 0.200 to 0.200); "
        f"{MEMBER_LABELS['wiring']}, 0.200 higher (95 % CI 0.200 to 0.200); "
        f"{MEMBER_LABELS['oracle']}, 0.080 higher (95 % CI 0.080 to 0.080).",
        # 90 % of the way from the floor (persistence, 0.6) to the ceiling (0.9): 0.6 + 0.9 x 0.3
        "A 90 % share at 1 ms needs R² 0.870. The best member falls short by 0.070. "
        "With the true wiring the share is 93 % and clears the mark.",
        "Of the oracle-informed member's squared error at 1 ms, 42 % falls on the 3.1 % of targets that "
        "follow a spike fired after the last input sample. No reader of the samples can time such a reset.",
    ]


def test_a_step_whose_interval_includes_zero_is_not_called_higher():
    # the same mean step from own to clock (0.4 -> 0.6), from runs that gain 0.4 and runs that gain nothing
    steps = _conclusion(_staircase(own=(4, 8, 4, 8)))[2]
    first = re.match(
        rf"Each step of the staircase against the one before, at 1 ms: {re.escape(MEMBER_LABELS['clock'])}, "
        r"not distinguishable at this budget \(difference \+0\.200, 95 % CI (-[\d.]+) to ([\d.]+)\); ",
        steps,
    )
    assert first, steps
    assert float(first[1]) < 0 < float(first[2])
    assert steps.endswith(f"{MEMBER_LABELS['oracle']}, 0.080 higher (95 % CI 0.080 to 0.080).")  # the others stand
    assert steps.count("higher") == 2


def test_an_unsure_lead_over_the_baseline_at_1_ms_is_said_so():
    vs = {"difference": 0.2, "ci": [-0.05, 0.45], "verdict": "not distinguishable at this budget"}
    assert _conclusion(_staircase(vs_at_1=vs))[1] == (
        "Against the best simple baseline (AR per neuron, persistence), its R² is not distinguishable at this "
        "budget at 1, 5 ms; higher at 2 ms. At 1 ms it is not distinguishable at this budget (difference "
        "+0.200, 95 % CI -0.050 to 0.450)."
    )


def test_the_mark_is_cleared_or_missed_in_words_that_say_by_how_much():
    cleared = _conclusion(_staircase(best_r2=0.9))
    assert cleared[3].startswith("A 90 % share at 1 ms needs R² 0.870. The best member clears it by 0.030. ")
    assert "At 1 ms its R² is 0.900" in cleared[0]
    short = _conclusion(_staircase(oracle=(1.5,) * 4))[3]  # the oracle member at R² 0.85, under 0.87
    assert short == (
        "A 90 % share at 1 ms needs R² 0.870. The best member falls short by 0.070. With the true wiring the "
        "share is 93 %, still 0.020 short. The true wiring against the inferred one: 0.050 higher "
        "(95 % CI 0.050 to 0.050)."
    )


def test_the_best_member_is_the_highest_at_the_first_horizon_without_the_true_wiring():
    scores = _staircase(own=(1, 1, 1, 1), oracle=(0.1,) * 4)  # own 0.9 beats wiring 0.8; oracle 0.99 is out
    assert S.best_member(scores) == "own"
    assert S.best_member(_staircase()) == "wiring"
    with pytest.raises(ValueError, match="No member that reads only the recording"):
        S.best_member({"oracle": scores["oracle"]})


def test_the_beyond_record_keeps_the_declared_fields_and_the_training_cost(scored):
    rec = S.beyond_record({"wiring": scored.out}, INFO)
    entry = rec["wiring"]["5"]
    assert set(entry) == {*S.BEYOND_FIELDS, "params", "train_s"}
    assert (entry["params"], entry["train_s"], entry["r2"]) == (12345, 3.0, scored.out["5"]["r2"])


def test_the_share_table_gives_each_member_its_share_and_interval_by_horizon(scored):
    t = S.share_table({"wiring": scored.out}, (1, 5))
    share, ci = scored.out["1"]["gain_share"], scored.out["1"]["gain_share_ci"]
    assert (
        t.loc[MEMBER_LABELS["wiring"], "1 ms"]
        == f"{100 * share:.0f}{NBSP}%{NBSP}[{100 * ci[0]:.0f},{NBSP}{100 * ci[1]:.0f}]"
    )
    assert list(t.columns) == ["1 ms", "5 ms"]


def test_the_recovery_summary_reads_the_whole_past_the_early_checkpoint_and_the_null():
    auc = {"E": np.array([[np.nan, 0.6, 0.9], [np.nan, 0.8, 1.0]]), "I": np.array([[np.nan, 0.5, 0.7]] * 2)}
    null = {"E": np.full((2, 3), 0.5), "I": np.full((2, 3), 0.4)}
    r = S.recovery_summary(auc, null, [0.0, 1.0, 1.5])
    assert (r["past_s"], r["early_s"]) == (1.5, 1.0)
    assert r["auc"] == pytest.approx({"E": 0.95, "I": 0.7}) and r["auc_early"] == pytest.approx({"E": 0.7, "I": 0.5})
    assert r["auc_null"] == pytest.approx({"E": 0.5, "I": 0.4})
    assert S.recovery_summary(auc, {"E": np.full((2, 3), np.nan), "I": null["I"]}, [0.0, 1.0, 1.5])["auc_null"] is None
