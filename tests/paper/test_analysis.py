"""Error analysis on hand-made spikes, constructed errors and stand-in models whose forecasts are known."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from voltlib.config import DataConfig
from voltlib.forecast.data import array_simulation, make_dataset
from voltlib.forecast.metrics import r2_pooled
from voltlib.paper.analysis import (
    at_horizon,
    binned_error,
    dense_split,
    ei_test,
    multistep,
    rates_and_in_degrees,
    reset_share,
    rmse_mv_per_neuron,
    rollout,
    segment_of_run,
    span_windows,
    spike_clock,
    spike_offset_ms,
    split_spike_clock,
    target_samples,
)

INF = np.inf
# 4 runs x 60 samples at 1 ms, 10 discarded -> 50 kept; windows of 5, stride 1
SMALL = DataConfig(discard_ms=10, meas_noise_mv=0.0, window=5, stride=1, horizon=1)


class LastTwoLags(nn.Module):
    """A linear stand-in: y = a * x[t] + b * x[t-1] for every neuron."""

    def __init__(self, a=0.9, b=-0.2):
        super().__init__()
        self.a, self.b = a, b
        self.dummy = nn.Parameter(torch.zeros(1))  # gives rollout a device to read

    def forward(self, x):
        return self.a * x[:, -1] + self.b * x[:, -2]


def small_sim(seed=0):
    rng = np.random.default_rng(seed)
    return array_simulation(rng.standard_normal((4, 60, 3)).cumsum(axis=1), n_exc=2)


def test_spike_clock_by_hand():
    # neuron 0 spikes at 5 and 12 ms, neuron 1 at 3 ms, neuron 2 never
    i, t = np.array([0, 1, 0]), np.array([5.0, 3.0, 12.0])
    since, until = spike_clock(i, t, 3, np.array([0.0, 5.0, 6.0, 12.0, 20.0]))
    # a sample at t shows only spikes strictly before t (recorded at the step's start)
    np.testing.assert_array_equal(since[:, 0], [INF, INF, 1, 7, 8])
    np.testing.assert_array_equal(until[:, 0], [5, 0, 6, 0, INF])
    np.testing.assert_array_equal(since[:, 1], [INF, 2, 3, 9, 17])
    np.testing.assert_array_equal(until[:, 1], [3, INF, INF, INF, INF])
    assert np.isinf(since[:, 2]).all() and np.isinf(until[:, 2]).all()
    np.testing.assert_array_equal(spike_offset_ms(since, until)[:, 0], [-5, -0.0, 1, -0.0, 8])


def test_target_spike_clock_follows_the_run_and_the_discard():
    sim = small_sim()
    # run 3: neuron 1 spikes at 20 ms; every other run is silent
    sim.spike_i[3], sim.spike_t_ms[3] = np.array([1]), np.array([20.0])
    ds = make_dataset(sim, SMALL, "clean")
    test = ds.test
    run, sample = target_samples(test, ds.kept_samples, 10)
    assert (run == test.run_of_window).all()
    # first window of a segment: starts at kept sample 0 = run sample 10; target 5 samples later
    assert sample[0] == 10 + 5
    since, _ = split_spike_clock(sim, test, ds.kept_samples)
    expected = np.where((run == 3) & (sample > 20), sample - 20.0, INF)
    np.testing.assert_array_equal(since[:, 1], expected)
    assert np.isinf(since[:, [0, 2]]).all()


def test_reset_share_constructed():
    sq_err = np.array([[4.0, 1.0], [1.0, 1.0]])
    since = np.array([[1.0, 10.0], [20.0, 2.0]])
    share = reset_share(sq_err, since, within_ms=3)
    # the two near-spike samples carry 4 + 1 of 7 squared-error units
    assert share["share_of_error"] == pytest.approx(5 / 7)
    assert share["share_of_samples"] == pytest.approx(0.5)
    assert (share["mse_near"], share["mse_far"]) == pytest.approx((2.5, 1.0))


def test_binned_error_shares_sum_to_covered_error():
    b = binned_error(np.array([0.5, 1.5, 1.6, 9.0]), np.array([1.0, 2.0, 4.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(b["mse"], [1.0, 3.0])
    np.testing.assert_array_equal(b["count"], [1, 2])
    np.testing.assert_allclose(b["share"], [0.1, 0.6])  # the sample at 9 lies outside the bins


def test_rollout_one_step_is_direct_and_later_steps_read_own_forecasts():
    ds = make_dataset(small_sim(), SMALL, "clean", horizon=3)
    model = LastTwoLags()
    roll = rollout(model, ds.test, steps=3, batch_size=7)
    x = ds.test.get_batch(np.arange(len(ds.test)))[0].double()
    y1 = 0.9 * x[:, -1] - 0.2 * x[:, -2]
    y2 = 0.9 * y1 - 0.2 * x[:, -1]
    y3 = 0.9 * y2 - 0.2 * y1
    np.testing.assert_allclose(roll[0], y1.numpy(), atol=1e-5)
    np.testing.assert_allclose(roll[1], y2.numpy(), atol=1e-5)
    np.testing.assert_allclose(roll[2], y3.numpy(), atol=1e-5)
    # step 1 is the model's direct one-step forecast; step 2 is not the forecast from true data
    with torch.no_grad():
        direct = model(x.float()).numpy()
    np.testing.assert_allclose(roll[0], direct, atol=1e-6)
    assert not np.allclose(roll[1], 0.9 * ds.test.targets() - 0.2 * x[:, -1].numpy(), atol=1e-3)


def test_at_horizon_keeps_windows_and_moves_targets():
    ds = make_dataset(small_sim(), SMALL, "clean", horizon=4)
    h2 = at_horizon(ds.test, 2)
    np.testing.assert_array_equal(h2.starts, ds.test.starts)
    np.testing.assert_array_equal(h2.targets(), ds.test.series.numpy()[ds.test.starts + 5 - 1 + 2])
    with pytest.raises(ValueError, match="horizon"):
        at_horizon(ds.test, 5)


def test_dense_split_is_contiguous_within_one_run():
    ds = make_dataset(small_sim(), SMALL, "clean", horizon=1)
    run = int(ds.test.run_of_window[0])
    seg = segment_of_run(ds.test, ds.kept_samples, run)
    d = dense_split(ds.test, ds.kept_samples, seg, first=3, n_windows=10, horizon=2)
    np.testing.assert_array_equal(np.diff(d.starts), 1)
    assert (d.run_of_window == run).all() and d.starts[0] == seg * ds.kept_samples + 3
    # asking for too many windows stops at the segment's end: last target index kept - 1
    d = dense_split(ds.test, ds.kept_samples, seg, first=40, n_windows=100, horizon=2)
    assert d.target_index()[-1] == seg * ds.kept_samples + ds.kept_samples - 1


def test_a_span_of_windows_starts_at_the_chosen_target_sample_and_stops_at_the_run():
    ds = make_dataset(small_sim(), SMALL, "clean", horizon=3)
    kept, run = ds.kept_samples, int(ds.test.run_of_window[0])
    seg = segment_of_run(ds.test, kept, run)
    series = ds.test.series.numpy()[seg * kept : (seg + 1) * kept]
    d, k = span_windows(ds.test, kept, run, t0=20, n_samples=10, horizon=3)
    np.testing.assert_array_equal(k, np.arange(20, 30))  # targets from t0 on, not a window later
    np.testing.assert_allclose(d.targets()[:, 1], series[20:30, 1], rtol=1e-6)
    np.testing.assert_allclose(d.last_values()[:, 1], series[17:27, 1], rtol=1e-6)  # persistence, 3 samples back
    # near the run's end the span stops at its last sample; before the first full window it starts there
    np.testing.assert_array_equal(span_windows(ds.test, kept, run, 45, 10, 3)[1], np.arange(45, kept))
    np.testing.assert_array_equal(
        span_windows(ds.test, kept, run, 0, 4, 3)[1], np.arange(SMALL.window - 1 + 3, SMALL.window + 3 + 3)
    )


def test_ei_test_detects_a_separation():
    r2 = np.r_[np.linspace(0.7, 0.8, 8), np.linspace(0.5, 0.6, 4)]
    res = ei_test(r2, n_exc=8)
    assert res["p_exc_better"] == 1.0 and res["p"] < 0.01
    assert res["median_exc"] == pytest.approx(0.75) and res["median_inh"] == pytest.approx(0.55)
    same = ei_test(np.r_[np.arange(8.0), np.arange(8.0)], n_exc=8)
    assert same["p_exc_better"] == pytest.approx(0.5) and same["p"] > 0.9


def test_rates_in_degrees_and_rmse_per_neuron_by_hand():
    sim = dataclasses.replace(
        small_sim(),
        spike_i=[np.array([0, 0, 1, 0]), np.array([2])],
        spike_t_ms=[np.array([5.0, 20.0, 30.0, 59.0]), np.array([40.0])],
        syn_j=[np.array([1, 1, 2]), np.array([0])],
    )
    rate, indeg = rates_and_in_degrees(sim, runs=[0, 1], discard=10)
    # kept: 50 samples of 1 ms = 0.05 s; run 0 neuron 0 spikes at 20 and 59 ms after the 10-ms discard (5 ms is dropped)
    np.testing.assert_allclose(rate, [[40.0, 20.0, 0.0], [0.0, 0.0, 20.0]])
    np.testing.assert_array_equal(indeg, [[0, 2, 1], [1, 0, 0]])
    y = np.zeros((4, 2))
    np.testing.assert_allclose(rmse_mv_per_neuron(y + [1.0, 0.5], y, std_mv=np.array([2.0, 10.0])), [2.0, 5.0])


def test_multistep_direct_rollout_and_persistence_on_the_same_windows():
    ds = make_dataset(small_sim(), dataclasses.replace(SMALL, horizon=3), "clean")
    one = LastTwoLags()
    idx = np.arange(0, len(ds.test), 2)
    out = multistep({1: one, 3: LastTwoLags(1.0, 0.0)}, ds.test, [1, 3], [1, 3], idx)
    sp3 = at_horizon(ds.test, 3)
    y3, last = sp3.targets()[idx], sp3.last_values()[idx]
    assert out[3]["direct"]["r2"] == pytest.approx(r2_pooled(y3, last))  # a(1, 0) model is persistence
    assert out[3]["persistence"]["skill_vs_persistence"] == pytest.approx(0.0)
    roll = rollout(one, ds.test, 3, idx=idx)
    assert out[3]["rollout"]["r2"] == pytest.approx(r2_pooled(y3, roll[2]))


def test_setup_gives_the_profile_s_clean_datasets(monkeypatch, tmp_path):
    from voltlib.paper import analysis

    # the smoke profile's 4 runs x 2 s, as voltages of 3 neurons (setup's job is the datasets, not Brian2)
    runs = array_simulation(np.random.default_rng(1).standard_normal((4, 2000, 3)).cumsum(axis=1), n_exc=2)
    monkeypatch.setattr(analysis, "simulate", lambda cfg, progress=False: runs)
    s = analysis.setup("smoke", "cpu", all_horizons=True)
    assert s.cfg.name == "smoke" and s.device.type == "cpu" and s.horizons_ms == [1, 2, 5, 10, 20]
    assert set(s.datasets) == {1, 2, 5, 10, 20} and s.ds1 is s.datasets[1]
    assert (s.kept, s.discard, s.n, s.n_exc) == (1200, 800, 3, 2)
    one = analysis.setup("smoke", "cpu")
    assert list(one.datasets) == [1] and one.horizons_ms == [1.0]
    np.testing.assert_array_equal(one.ds1.test.targets(), make_dataset(runs, s.cfg.data, "clean").test.targets())
    with pytest.raises(Exception, match="profile='nope' is invalid"):
        analysis.setup("nope")
