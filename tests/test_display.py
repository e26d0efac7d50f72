"""voltlib.display: how every number, interval, count and name reaches the reader."""

import math

import numpy as np
import pandas as pd
import pytest

from voltlib import display as D
from voltlib.config import PHASES
from voltlib.forecast.baselines import BASELINES

NB = "\u00a0"


def test_missing_values_truth_values_and_integers():
    for missing in (None, float("nan"), np.nan, np.float64("nan")):
        assert D.number(missing) == "–"
    assert D.number(True) == "yes" and D.number(np.False_) == "no"
    assert D.number(19845) == "19,845" and D.number(np.int64(2188168)) == "2,188,168"
    assert D.number(0.61234) == "0.612" and D.number(0.61234, ".1f") == "0.6"
    assert D.number(-0.0001) == "0.000"  # never a negative zero
    assert D.number("12 x 2") == "12 x 2"


def test_intervals_never_break_inside_their_brackets():
    assert D.interval((0.3791, 0.3842)) == f"[0.379,{NB}0.384]"
    assert D.with_interval(0.381, (0.3791, 0.3842)) == f"0.381{NB}[0.379,{NB}0.384]"
    assert D.with_interval(0.83, (0.81, 0.86), ".0f", 100, "%") == f"83{NB}%{NB}[81,{NB}86]"
    assert D.interval((-0.0004, -0.0001)) == f"[0.000,{NB}0.000]"
    for none in (None, (None, 0.5), (-math.inf, math.inf), (float("nan"), 1.0)):
        assert D.interval(none) == "–" and D.ci_words(none) == ""
    assert D.with_interval(0.5, None) == "0.500" and D.with_interval(None, (0.1, 0.2)) == "–"
    assert " " not in D.ci_words((-0.126, -0.119)).split("CI")[1].strip()
    assert D.ci_words((0.81, 0.86), ".0f", 100, "%").replace(NB, " ") == "95 % CI 81 to 86 %"


def test_signed_differences():
    assert D.signed(0.0412) == "+0.041" and D.signed(-0.122) == "-0.122"
    assert D.signed(-0.0002) == "0.000" and D.signed(None) == "–"


def test_counts_agree_with_their_noun():
    assert D.count(1, "test run") == "1 test run" and D.count(8, "test run") == "8 test runs"
    assert D.count(1200, "window") == "1,200 windows" and D.count(2, "thread") == "2 threads"
    with pytest.raises(TypeError, match="whole number"):
        D.count(1.5, "seed")


def test_every_model_and_comparison_has_a_reader_name():
    for key in (*BASELINES, *PHASES):
        assert "_" not in D.name(key), key
    assert D.name("own_lags_boosting") == "boosted trees" and D.name("phase4_cnn_lstm") == "CNN-LSTM"
    assert D.name("phase2_large_lstm_vs_phase1_lstm") == "larger LSTM minus basic LSTM"
    assert D.name("cnn_lstm_vs_persistence") == "CNN-LSTM minus persistence"
    assert "_" not in D.name("leak_effect") and "_" not in D.name("frac_test_targets_inside_a_train_input")
    assert D.name("already a label") == "already a label"
    assert D.name("skill_vs_persistence") == "skill vs persistence" and D.name("r2_exc") == "R², excitatory neurons"


def test_frame_formats_every_cell_and_label():
    df = pd.DataFrame(
        {"source": [30.0, None], "cached": [True, False], "parameters": [19845, 7]},
        index=["own_lags_boosting", "mean"],
    )
    out = D.frame(df, ".2f", row_specs={"mean": ".0f"})
    assert list(out.index) == ["boosted trees", "training mean"]
    assert out.loc["boosted trees"].tolist() == ["30.00", "yes", "19,845"]
    assert out.loc["training mean"].tolist() == ["–", "no", "7"]
    multi = pd.DataFrame({"1": [0.5, 0.6]}, index=pd.MultiIndex.from_tuples([("clean", "ar_ridge"), ("clean", "mean")]))
    assert [i[1] for i in D.frame(multi).index] == ["AR per neuron", "training mean"]
