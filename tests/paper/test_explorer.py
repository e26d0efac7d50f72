"""06's explorer on the smoke simulation: each forecaster's trace is the paper's forecast of the same targets."""

import dataclasses

import numpy as np
import pytest

from voltlib import paths
from voltlib.forecast import baselines, staircase
from voltlib.forecast.metrics import r2_pooled
from voltlib.paper import analysis
from voltlib.paper.explorer import ORACLE, ROLLOUT, Explorer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup():
    return analysis.setup("smoke", all_horizons=True)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No trained model at all: a lab opened before the notebooks that train them have run."""
    monkeypatch.setattr(paths, "MODELS", tmp_path / "models")
    return tmp_path


def on_test_windows(S, view, hs, run):
    """Rows of the clean test split at horizon hs whose target is one of the view's targets, and where in the view."""
    ds = S.datasets[hs]
    run_of, sample = analysis.target_samples(ds.test, S.kept, S.discard)
    rows = np.flatnonzero((run_of == run) & np.isin(sample, view.t_samples))
    return rows, np.searchsorted(view.t_samples, sample[rows])


@pytest.mark.parametrize("h_ms", [1, 5])
def test_baseline_traces_are_notebook_02s_forecasts_of_the_same_targets(setup, empty_cache, h_ms):
    S = setup
    ex, run, neuron, hs = Explorer(S, results_dir=empty_cache), int(S.ds1.runs["test"][0]), 7, int(h_ms)
    view = ex.view(run, neuron, t0=300, n_samples=200, horizon_ms=h_ms, keys=list(baselines.BASELINES))
    rows, at = on_test_windows(S, view, hs, run)
    assert len(rows) >= 10  # the span holds test windows' targets (stride 15)
    ds = S.datasets[hs]
    mv = lambda z: z[rows, neuron] * ds.std_mv[neuron] + ds.mean_mv[neuron]  # noqa: E731
    np.testing.assert_allclose(view.truth[at], mv(ds.test.targets()), rtol=0, atol=1e-4)
    batch = {
        "persistence": ds.test.last_values(),
        "ar_ridge": baselines.ar_ridge(ds)[0],
        "population_ridge": baselines.population_ridge(ds)[0],
        "own_lags_boosting": baselines.own_lags_boosting(ds)[0],
    }
    for key, pred in batch.items():
        np.testing.assert_allclose(view.traces[ex.label(key)][at], mv(pred), rtol=0, atol=1e-4, err_msg=key)
    np.testing.assert_allclose(view.traces["training mean"], ds.mean_mv[neuron])
    # the trace is not the truth moved: the boosted trees differ from persistence on the span
    assert np.abs(view.traces["boosted trees"] - view.traces["persistence"]).max() > 0.05


def test_span_r2_is_the_pooled_r2_of_the_shown_arrays(setup, empty_cache):
    S = setup
    ex = Explorer(S, results_dir=empty_cache)
    view = ex.view(int(S.ds1.runs["test"][0]), 3, 250, 150, 2, ["persistence", "ar_ridge", "own_lags_boosting"])
    for label, trace in view.traces.items():
        sse, sst = np.sum((view.truth - trace) ** 2), np.sum((view.truth - view.truth.mean()) ** 2)
        assert view.r2[label] == pytest.approx(1 - sse / sst, rel=1e-9)
        assert view.r2[label] == r2_pooled(view.truth, trace)
    assert "R² on the shown 150 targets:" in view.summary()


def test_models_not_trained_yet_are_listed_with_what_trains_them(setup, empty_cache):
    S = setup
    ex = Explorer(S, results_dir=empty_cache)
    keys = [f.key for f in ex.forecasters()]
    assert len(keys) == len(baselines.BASELINES) + 4 + 1 + len(staircase.MEMBERS) + 1  # every forecaster of the paper
    run = int(S.ds1.runs["test"][0])
    view = ex.view(run, 0, 300, 100, 1, [k for k in keys if k != ORACLE])
    why = view.unavailable
    assert why["CNN-LSTM direct"].startswith("not trained yet: notebook 05_cnn_lstm trains it")
    assert why["basic LSTM"].startswith("not trained yet: notebook 03_baseline_lstm trains it")
    assert why["CNN-LSTM rollout"] == "at 1 ms the rollout is the direct CNN-LSTM itself"
    members = [k for k in why if k.startswith("staircase")]
    assert len(members) == len(staircase.MEMBERS) and all("notebook 08 trains it" in why[k] for k in members)
    assert set(view.traces) == {ex.label(b) for b in baselines.BASELINES}
    view5 = ex.view(run, 0, 300, 100, 5, ["phase1_lstm", ROLLOUT])
    assert view5.unavailable["basic LSTM"] == "the paper trains phases 1-3 at 1 ms only (Methods section 5)"
    assert view5.unavailable["CNN-LSTM rollout"].startswith("not trained yet")
    assert "not shown: basic LSTM: the paper trains phases 1-3" in view5.summary()
    with pytest.raises(KeyError, match="'lstm' is not a forecaster of the explorer; choose one of"):
        ex.view(run, 0, 300, 100, 1, ["lstm"])


def test_a_member_trace_is_its_forecast_of_the_test_targets(setup, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "MODELS", tmp_path / "models")
    small = dataclasses.replace(setup.cfg.beyond, rows_per_epoch=4000, val_rows=2000, max_epochs=1)
    S = dataclasses.replace(setup, cfg=dataclasses.replace(setup.cfg, beyond=small))
    inp = staircase.build_inputs(S.sim, S.cfg.data, S.ds1.runs, tuple(S.h_samples))
    member = staircase.members(small)[1]
    model, _, scale = staircase.fit_member(
        member, staircase.member_train_config(small), inp, S.ds1.runs, S.cfg.data.window - 1, S.cfg.sim, S.cfg.data
    )
    (tmp_path / "results").mkdir()
    ex = Explorer(S, results_dir=tmp_path / "results")
    run, neuron = int(S.ds1.runs["test"][0]), 11
    batch = staircase.forecasts_z(model, member, inp, scale, S.datasets)
    for h_ms in (1, 10):
        hs = int(h_ms)
        view = ex.view(run, neuron, 300, 300, h_ms, ["member:clock", "member:wiring"])
        label = "staircase " + staircase.MEMBER_LABELS["clock"]
        assert (
            label in view.traces
            and "not trained yet" in view.unavailable["staircase " + staircase.MEMBER_LABELS["wiring"]]
        )
        rows, at = on_test_windows(S, view, hs, run)
        ds = S.datasets[hs]
        expected = batch[hs][rows, neuron] * ds.std_mv[neuron] + ds.mean_mv[neuron]
        np.testing.assert_allclose(view.traces[label][at], expected, rtol=0, atol=1e-3)


def test_the_oracle_beats_persistence_and_its_band_holds_the_truth(setup, empty_cache):
    S = setup
    ex = Explorer(S, results_dir=empty_cache)
    view = ex.view(int(S.ds1.runs["test"][0]), 5, 300, 120, 2, ["persistence", ORACLE])
    label = ex.label(ORACLE)
    assert view.r2[label] > view.r2["persistence"]
    lo, hi = view.bands[label]
    assert np.all(lo < view.traces[label]) and np.all(view.traces[label] < hi)
    inside = np.mean((lo <= view.truth) & (view.truth <= hi))
    assert inside > 0.8, f"the oracle's band holds {inside:.0%} of the truth"
    too_long = ex.view(int(S.ds1.runs["test"][0]), 5, 300, 1000, 2, [ORACLE])
    assert "choose a span of at most 400 ms" in too_long.unavailable[label]
