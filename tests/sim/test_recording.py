"""voltlib.sim.recording: what an observer records, the voltages after the discard with measurement noise."""

import dataclasses

import numpy as np

from voltlib.config import get_profile
from voltlib.sim.recording import noisy_runs_mv

DATA = get_profile("smoke").data


def test_the_noise_has_the_configured_spread_and_the_discard_is_dropped():
    v = np.zeros((3, 1000, 50), np.float32)
    out = noisy_runs_mv(v, DATA, 1.0)
    discard = int(round(DATA.discard_ms))
    assert out.shape == (3, 1000 - discard, 50) and out.dtype == np.float32
    assert abs(out.std() - DATA.meas_noise_mv) < 0.01 * DATA.meas_noise_mv + 0.005
    assert abs(out.mean()) < 0.01


def test_a_runs_noise_does_not_depend_on_the_other_runs_and_follows_the_seed():
    rng = np.random.default_rng(0)
    v = rng.normal(-60, 5, (4, 1000, 10)).astype(np.float32)
    all_runs = noisy_runs_mv(v, DATA, 1.0)
    assert all_runs.shape[1] == 1000 - int(round(DATA.discard_ms))
    # run 0 alone gets the same noise as run 0 among four
    np.testing.assert_array_equal(noisy_runs_mv(v[:1], DATA, 1.0)[0], all_runs[0])
    assert not np.allclose(all_runs[0] - v[0, -all_runs.shape[1] :], all_runs[1] - v[1, -all_runs.shape[1] :])
    other = noisy_runs_mv(v, dataclasses.replace(DATA, noise_seed=DATA.noise_seed + 1), 1.0)
    assert not np.allclose(other, all_runs)
