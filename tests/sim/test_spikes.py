"""The spike detector against the simulator's known spikes, its sample convention, and the spike clock."""

import numpy as np
import pytest

from voltlib.config import get_profile, ms_to_samples
from voltlib.sim import spikes
from voltlib.sim.recording import noisy_runs_mv
from voltlib.sim.simulate import simulate

SMOKE = get_profile("smoke")


@pytest.fixture(scope="module")
def smoke():
    return simulate(SMOKE.sim, progress=False)


@pytest.mark.slow
def test_detector_finds_the_simulated_spikes(smoke):
    # the recorded voltages with the protocol's 0.2 mV measurement noise, against Brian2's spike times
    v = noisy_runs_mv(smoke.v_mv, SMOKE.data)
    discard = ms_to_samples(SMOKE.data.discard_ms, SMOKE.sim.record_dt_ms)
    found = []
    for r in range(smoke.n_runs):
        det = spikes.detect(v[r], SMOKE.sim.network.v_reset_mv)
        true = spikes.true_spike_samples(smoke.spike_i[r], smoke.spike_t_ms[r], 100, v.shape[1], 1.0, discard)
        found.append(spikes.match(det, true))
    n_true = sum(m["n_true"] for m in found)
    assert n_true > 5000  # about 30 Hz x 100 neurons x 1.2 s x 4 runs
    hits = sum(m["precision"] * m["n_detected"] for m in found)
    assert hits / sum(m["n_detected"] for m in found) > 0.999
    # a spike in the first kept sample has no sample before it to fall from: a few are missed
    assert sum(m["recall"] * m["n_true"] for m in found) / n_true > 0.998


@pytest.mark.slow
def test_detector_misses_spikes_when_the_rule_is_made_wrong(smoke):
    # the same data with a reset level far from -70 mV finds nothing: the score above is not vacuous
    v = noisy_runs_mv(smoke.v_mv[:1], SMOKE.data)[0]
    assert spikes.detect(v, v_reset_mv=-90.0).sum() == 0


def test_rule_on_hand_made_traces():
    v = np.full((8, 3), -55.0, np.float32)
    v[3, 0] = -70.1  # a reset: a fall of 15 mV to the reset value
    v[3, 1] = -62.5  # a fall of 7.5 mV that does not reach the reset: inhibition, not a spike
    v[5, 2], v[6, 2] = -63.0, -70.0  # a fall of 7 mV onto the reset value: too small a fall
    det = spikes.detect(v, -70.0)
    assert det.sum() == 1 and det[3, 0]
    with pytest.raises(ValueError, match="at least 2-D"):
        spikes.detect(np.zeros(5), -70.0)


def test_true_spike_samples_follow_the_recording_schedule():
    # a spike at 3.0 ms is thresholded after sample 3 was recorded, so it shows at sample 4; at 2.95 ms at sample 3
    true = spikes.true_spike_samples([0, 1, 1], [3.0, 2.95, 9.5], 2, 10, 1.0)
    assert true[4, 0] and true[3, 1] and not true[9, 1]  # 9.5 ms shows at sample 10: outside a 10-sample record
    assert true.sum() == 2
    # with a discard of 2 samples, sample 4 is row 2
    assert spikes.true_spike_samples([0], [3.0], 1, 10, 1.0, start=2)[2, 0]


def test_match_counts_and_tolerance():
    true = np.zeros((10, 1), bool)
    true[[2, 6]] = True
    det = np.zeros((10, 1), bool)
    det[[2, 7, 9]] = True
    exact = spikes.match(det, true)
    assert (exact["precision"], exact["recall"]) == (1 / 3, 1 / 2)
    loose = spikes.match(det, true, tolerance=1)
    assert (loose["precision"], loose["recall"]) == (2 / 3, 1.0)
    with pytest.raises(ValueError, match="one shape"):
        spikes.match(det, true[:5])


def test_clock_counts_samples_since_the_last_spike():
    s = np.zeros((7, 2), bool)
    s[1, 0] = s[4, 0] = True
    clk = spikes.clock(s, cap=3)
    assert clk[:, 0].tolist() == [3, 0, 1, 2, 0, 1, 2]  # before any spike: the cap
    assert clk[:, 1].tolist() == [3] * 7
