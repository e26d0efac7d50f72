"""The abstract's numbers: best baseline and phase, gain share, ceiling lookup, absent and damaged results."""

import json

import pytest

from voltlib import summary as S

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
