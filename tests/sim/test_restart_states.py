"""The restart state by hand: spikes in flight, refractory clocks, sample-to-step conversion, start times."""

import numpy as np
import pytest

from voltlib.config import get_profile
from voltlib.sim import restart_states as RS

SMOKE = get_profile("smoke").sim


# ---------------------------------------------------------------- bookkeeping by hand


def test_spikes_in_flight_by_hand():
    # delay 15 steps, state at the start of step m = 100: a spike emitted at step n arrives at n + 15
    spike_i = np.array([0, 1, 2, 3, 4, 5, 6])
    steps = np.array([84, 85, 92, 99, 100, 120, 85])
    neuron, arrival = RS.spikes_in_flight(spike_i, steps, m=100, delay=15)
    # 84 arrived at 99 (already in v); 100 and 120 are not yet emitted at the start of step 100
    assert neuron.tolist() == [1, 2, 3, 6]
    assert arrival.tolist() == [0, 7, 14, 0]  # arrival step - m: 85 + 15 - 100 = 0, ..., 99 + 15 - 100 = 14


def test_steps_since_last_spike_by_hand():
    spike_i = np.array([0, 0, 1, 2, 0])
    steps = np.array([80, 95, 100, 30, 130])
    since = RS.steps_since_last_spike(spike_i, steps, m=100, n_neurons=4)
    # neuron 0: last spike before 100 is 95; neuron 1 spikes at 100 (future); 3 never spikes
    assert since.tolist() == [5, RS.NO_SPIKE_STEPS, 70, RS.NO_SPIKE_STEPS]


def test_states_at_converts_times_and_samples():
    sim = SMOKE  # dt 0.1 ms, samples every 1 ms, delay 1.5 ms
    v_mv = np.arange(30 * 3, dtype=np.float32).reshape(30, 3)
    spike_i = np.array([0, 1, 2])
    spike_t_ms = np.array([8.5, 9.9, 19.0])  # steps 85, 99, 190
    st = RS.states_at(v_mv, spike_i, spike_t_ms, [10, 20], sim, run=7)
    assert st.v_mv.tolist() == [v_mv[10].tolist(), v_mv[20].tolist()]
    assert st.flight_start.tolist() == [0, 0, 1]  # at sample 10 (step 100): 85 and 99; at 20 (step 200): 190
    assert st.flight_neuron.tolist() == [0, 1, 2] and st.flight_arrival.tolist() == [0, 14, 5]
    assert st.since_spike.tolist() == [[15, 1, RS.NO_SPIKE_STEPS], [115, 101, 10]]
    assert st.run.tolist() == [7, 7] and st.sample.tolist() == [10, 20]


def test_start_samples_are_seeded_and_in_range():
    a = RS.choose_start_samples(2000, 949, 20, 50, seed=1, run=3)
    assert len(np.unique(a)) == 50 and a.min() >= 949 and a.max() <= 2000 - 1 - 20
    assert np.array_equal(a, RS.choose_start_samples(2000, 949, 20, 50, seed=1, run=3))
    assert not np.array_equal(a, RS.choose_start_samples(2000, 949, 20, 50, seed=1, run=4))
    with pytest.raises(ValueError, match="no start sample fits"):
        RS.choose_start_samples(100, 90, 20, 5, seed=1, run=0)


def test_subset_states_keeps_and_renumbers_the_chosen_states_spikes_in_flight():
    v_mv = np.arange(30 * 3, dtype=np.float32).reshape(30, 3)
    # steps 85, 99, 190: two spikes in flight at step 100, one at 200, none at 250
    st = RS.states_at(v_mv, np.array([0, 1, 2]), np.array([8.5, 9.9, 19.0]), [10, 20, 25], SMOKE)
    part = RS.subset_states(st, np.array([1, 2]))
    assert part.sample.tolist() == [20, 25] and len(part) == 2
    assert part.v_mv.tolist() == st.v_mv[1:].tolist() and part.since_spike.tolist() == st.since_spike[1:].tolist()
    assert (
        part.flight_start.tolist() == [0] and part.flight_neuron.tolist() == [2] and part.flight_arrival.tolist() == [5]
    )
    both = RS.concat_states([RS.subset_states(st, np.array([0])), part])
    assert both.flight_start.tolist() == st.flight_start.tolist() and both.sample.tolist() == st.sample.tolist()
