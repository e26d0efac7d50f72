"""The abstract's numbers: best baseline and phase, gain share, ceiling lookup, absent and damaged results."""

import json

import pytest

from voltlib.paper import summary as S

BASE = {
    "clean": {
        "mean": {"1": {"r2": 0.0}, "20": {"r2": -0.001}},
        "persistence": {"1": {"r2": 0.61}, "20": {"r2": -0.9}},
        "ar_ridge": {"1": {"r2": 0.66}, "20": {"r2": -0.05}},
    }
}


def test_best_baseline_is_the_best_of_all_baselines_at_each_horizon():
    assert S.best_baseline(BASE, "clean", 1) == ("ar_ridge", 0.66)
    assert S.best_baseline(BASE, "clean", 20) == ("mean", -0.001)  # far ahead, predicting the mean wins
    assert S.best_baseline(BASE, "original", 1) == (None, None)


def test_best_phase_counts_only_the_ladder_phases():
    ladder = {
        "clean": {
            "phase1_lstm": {"r2": 0.37},
            "phase4_cnn_lstm": {"r2": 0.65},
            "phase4_cnn_lstm_shuffled_neurons": {"r2": 0.99},
        }
    }
    assert S.best_phase(ladder, "clean") == ("phase4_cnn_lstm", 0.65)


def test_gain_share_of_recorded_values():
    assert S.gain_share(0.7, 0.6, 0.8) == pytest.approx(0.5)
    assert S.gain_share(None, 0.6, 0.8) is None
    assert S.gain_share(0.7, 0.8, 0.8) is None  # no gain to share


def test_horizon_lookups_match_written_keys():
    assert S.baseline_r2(BASE, "clean", "ar_ridge", 1.0) == 0.66
    ceiling = {"horizons_ms": [1, 2, 5], "ceiling_r2": [0.79, 0.55, 0.2], "ceiling_r2_ci": [[0.78, 0.8], None, None]}
    assert S.ceiling_at(ceiling, 1) == (0.79, (0.78, 0.8))
    assert S.ceiling_at(ceiling, 2) == (0.55, None)
    assert S.ceiling_at(ceiling, 10) == (None, None)


def test_absent_or_damaged_results_count_as_missing(tmp_path):
    (tmp_path / "ladder.json").write_text(json.dumps({"clean": {}}))
    (tmp_path / "baselines.json").write_text("{ not json")
    out = S.load_results("smoke", results_dir=tmp_path)
    assert out["ladder"] == {"clean": {}} and out["baselines"] is None and out["ceiling"] is None
    assert S.num(None) == S.MISSING and S.pct(0.256) == "26 %"


def test_devices_are_every_recorded_device_once():
    results = {
        "ladder": {"clean": {"phase1_lstm": {"device": "cpu (2 threads)"}}},
        "analysis": {"x": [{"device": "cuda (NVIDIA H100)"}, {"device": "cpu (2 threads)"}]},
        "ceiling": None,
    }
    assert S.devices(results) == ["cpu (2 threads)", "cuda (NVIDIA H100)"]


def _entry(rng, y, runs, bias, seeds=1):
    import numpy as np

    from voltlib.forecast.metrics import run_stats

    preds = np.stack([y + bias + rng.normal(scale=0.5, size=y.shape) for _ in range(seeds)])
    return {"run_stats": run_stats(y, preds if seeds > 1 else preds[0], runs)}


def test_compare_and_say_follow_the_interval():
    import numpy as np

    rng = np.random.default_rng(0)
    runs = np.repeat(np.arange(8), 50)
    y = rng.normal(size=(400, 5))
    good, twin, bad = _entry(rng, y, runs, 0.0, seeds=3), _entry(rng, y, runs, 0.0), _entry(rng, y, runs, 0.6)
    gap = S.compare(good, bad, True, "good", "bad")
    assert gap["verdict"] == "higher" and gap["ci"][0] > 0 and (gap["a"], gap["b"]) == ("good", "bad")
    plain = lambda text: text.replace("\u00a0", " ")  # noqa: E731  (say joins an interval with non-breaking spaces)
    assert plain(S.say(gap)).startswith(f"{gap['difference']:.3f} higher (95 % CI ")
    assert S.say(S.compare(bad, good), lower="below").split()[1] == "below"
    # a lower difference is said with magnitudes: "0.600 lower (95 % CI 0.55 to 0.65)", no double negative
    worse = S.compare(bad, good)
    lo, hi = (float(v) for v in S.say(worse).split("CI")[1].strip(" )").replace("\u00a0", " ").split(" to "))
    assert S.say(worse).startswith(f"{-worse['difference']:.3f} lower") and 0 < lo <= -worse["difference"] <= hi
    same = S.compare(good, twin)
    assert same["verdict"] == "not distinguishable at this budget"
    assert plain(S.say(same)).startswith("not distinguishable at this budget (difference ")
    apart = S.compare(good, bad, paired=False)
    assert not apart["paired"] and apart["ci"][1] - apart["ci"][0] > gap["ci"][1] - gap["ci"][0]
    assert S.say(None) == S.MISSING
    no_interval = {**gap, "ci": [None, None]}
    assert "no interval: fewer than 2 test runs" in S.say(no_interval)


def test_ladder_comparisons_name_each_difference_the_paper_states():
    import numpy as np

    rng = np.random.default_rng(1)
    runs = np.repeat(np.arange(8), 50)
    y = rng.normal(size=(400, 5))
    e = lambda bias: {**_entry(rng, y, runs, bias), "r2": 0.0}  # noqa: E731
    ladder = {
        "original": {"phase4_cnn_lstm": e(0.0)},
        "clean": {"phase1_lstm": e(0.9), "phase3_lstm_res": e(0.3), "phase4_cnn_lstm": e(0.0)},
    }
    base = {
        "clean": {
            n: {"1": {**e(b), "r2": r}}
            for n, b, r in (("persistence", 0.5, 0.6), ("ar_ridge", 0.2, 0.7), ("mean", 1.5, 0.0))
        }
    }
    cmp = S.ladder_comparisons(ladder, base)
    assert set(cmp) == {
        "leak_effect",
        "cnn_lstm_vs_persistence",
        "cnn_lstm_vs_best_baseline",
        "cnn_lstm_vs_ar_ridge",
        "phase3_lstm_res_vs_phase1_lstm",
        "phase4_cnn_lstm_vs_phase3_lstm_res",
    }
    assert cmp["cnn_lstm_vs_best_baseline"]["b"] == "AR per neuron" and not cmp["leak_effect"]["paired"]
    assert cmp["cnn_lstm_vs_persistence"]["verdict"] == "higher"
    assert cmp["leak_effect"]["verdict"] == "not distinguishable at this budget"
    table = S.comparison_table(cmp)
    assert list(table.columns) == ["R² difference", "95 % CI", "verdict"] and len(table) == 6
    assert "the leak: CNN-LSTM, original minus clean protocol" in table.index
    assert "LSTM + ResNet minus basic LSTM" in table.index and "CNN-LSTM minus persistence" in table.index
    assert not any("_" in label for label in table.index)


def test_the_floor_is_persistence_until_the_mean_scores_higher():
    clean = {"persistence": {"1": {"r2": 0.6}, "5": {"r2": -0.65}}, "mean": {"1": {"r2": 0.0}, "5": {"r2": 0.0}}}
    assert S.floor_baseline(clean, 1) == "persistence"
    assert S.floor_baseline(clean, 5) == "mean"
