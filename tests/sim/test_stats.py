"""Firing rates and ISI irregularity, against hand-computed values."""

import numpy as np
import pytest

from voltlib.sim.stats import cv_isi, rates_hz


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
