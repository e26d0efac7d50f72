"""Firing rates and ISI irregularity, against hand-computed values."""

import numpy as np
import pytest

from voltlib.sim.stats import cv_isi, fano_factor, golomb_chi, population_counts, rate_peak, rates_hz, run_state


def test_rates_count_spikes_per_second():
    spike_i = np.array([0, 0, 1, 2, 2, 2])
    np.testing.assert_allclose(rates_hz(spike_i, 4, duration_s=2.0), [1.0, 0.5, 1.5, 0.0])


def test_cv_of_known_intervals():
    # neuron 0: perfectly regular (CV 0); neuron 1: ISIs 1, 3, 1, 3 ms -> mean 2, std 1 -> CV 0.5
    t0 = np.arange(0, 50, 5.0)
    t1 = np.cumsum([0, 1, 3, 1, 3]).astype(float)
    spike_i = np.r_[np.zeros_like(t0, int), np.ones_like(t1, int), [2, 2]]
    spike_t = np.r_[t0, t1, [1.0, 4.0]]
    order = np.argsort(spike_t, kind="stable")  # monitors give time order, not neuron order
    cv = cv_isi(spike_i[order], spike_t[order], 4)
    assert cv[0] == pytest.approx(0.0)
    assert cv[1] == pytest.approx(0.5)
    assert np.isnan(cv[2]) and np.isnan(cv[3])  # fewer than 3 spikes: undefined


def test_rates_reject_nonpositive_duration():
    with pytest.raises(ValueError, match="duration_s"):
        rates_hz(np.array([0]), 1, 0.0)


# ---------------------------------------------------------------- population synchrony


def _poisson_counts(rate_per_bin, n_bins, seed=0):
    return np.random.default_rng(seed).poisson(rate_per_bin, n_bins).astype(float)


def test_population_counts_bin_each_spike_once_and_leave_out_the_span_outside():
    t = np.array([0.0, 0.4, 0.99, 1.0, 2.5, 3.0, -0.1])  # 3.0 is the end, -0.1 before the start: neither counts
    np.testing.assert_array_equal(population_counts(t, 0.0, 3.0), [3, 1, 1])
    with pytest.raises(ValueError, match="no bin"):
        population_counts(t, 1.0, 1.5)


def test_fano_is_one_for_poisson_counts_below_for_regular_and_far_above_for_bursts():
    assert fano_factor(_poisson_counts(3.0, 200_000)) == pytest.approx(1.0, abs=0.02)
    assert fano_factor(np.tile([1.0, 2.0], 1000)) == pytest.approx(0.25 / 1.5)
    bursts = np.zeros(1000)
    bursts[::25] = 100.0  # every neuron fires in the same bin every 25 ms: mean 4, variance 384
    assert fano_factor(bursts) == pytest.approx(96.0)
    assert np.isnan(fano_factor(np.zeros(10)))


def test_chi_is_one_for_identical_neurons_and_one_over_root_n_for_independent_ones():
    rng = np.random.default_rng(1)
    common = rng.normal(size=(20_000, 1))
    assert golomb_chi(np.repeat(common, 50, axis=1) - 60.0) == pytest.approx(1.0)
    assert golomb_chi(rng.normal(size=(20_000, 100))) == pytest.approx(0.1, abs=0.01)
    # half shared, half own noise of equal variance: var(mean) -> 1/2, each var 1 -> chi -> sqrt(1/2)
    half = (common + rng.normal(size=(20_000, 400))) / np.sqrt(2)
    assert golomb_chi(half) == pytest.approx(np.sqrt(0.5), abs=0.02)
    with pytest.raises(ValueError, match="expected"):
        golomb_chi(np.zeros(10))


def test_rate_peak_finds_a_population_oscillation_that_a_poisson_population_lacks():
    t_s = np.arange(20_000) / 1000.0
    modulated = np.random.default_rng(2).poisson(2.0 * (1 + 0.8 * np.sin(2 * np.pi * 40.0 * t_s))).astype(float)
    osc = rate_peak(modulated)
    assert osc["peak_hz"] == pytest.approx(40.0, abs=1000 / 512)  # within one bin of the spectrum
    assert osc["peak_over_median"] > 50
    flat = rate_peak(_poisson_counts(2.0, 20_000, seed=3))
    assert flat["peak_over_median"] < 5
    with pytest.raises(ValueError, match="simulate longer"):
        rate_peak(np.ones(100))


def test_run_state_leaves_the_transient_out():
    # 4 neurons, 2 s at 1 ms; during the first 500 ms neuron 0 fires every ms, afterwards each neuron every 100 ms
    v = np.random.default_rng(4).normal(-60, 1, size=(2000, 4))
    late = np.arange(500.0, 2000.0, 100.0)
    spike_t = np.r_[np.arange(0.0, 500.0), np.tile(late, 4)]
    spike_i = np.r_[np.zeros(500, int), np.repeat(np.arange(4), len(late))]
    st = run_state(v, spike_i, spike_t, t0_ms=500.0)
    assert st["rate_hz"] == pytest.approx(10.0)  # 15 spikes in 1.5 s per neuron
    assert st["cv_isi"] == pytest.approx(0.0)
    assert st["chi"] == pytest.approx(0.5, abs=0.1)  # independent voltages of 4 neurons
    assert st["fano"] > 1  # all four fire in the same bins: synchronous
