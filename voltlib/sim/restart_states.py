"""The network state a restart starts from (METHODS.md section 9), taken from a stored run: numpy only.

The state at recorded sample k is the state at the start of integration step m = k * record_dt / dt,
where Brian2 records v (StateMonitor, when='start'). Before step m the network is fully described
by the voltages, each neuron's last spike (its refractory clock) and the spikes emitted at steps
n < m that arrive at steps n + delay_steps >= m (the spikes in flight); step m's noise draw is
already future noise. restarts.py replays such a state in Brian2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voltlib.config import SimConfig

NO_SPIKE_STEPS = 10**9  # "steps since the last spike" of a neuron that never spiked (Brian2's -1e4 s)


def steps_per_sample(sim: SimConfig) -> int:
    """Integration steps per recorded sample (10 at dt 0.1 ms, record 1 ms)."""
    return int(round(sim.record_dt_ms / sim.dt_ms))


def delay_steps(sim: SimConfig) -> int:
    """The synaptic delay in integration steps, rounded as Brian2's spike queue does (15)."""
    return int(np.round(sim.network.delay_ms / sim.dt_ms))


def spike_steps(spike_t_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """Integration step of each spike (spike times are exact multiples of dt), int64 [n_spikes]."""
    return np.round(np.asarray(spike_t_ms, np.float64) / dt_ms).astype(np.int64)


def steps_since_last_spike(spike_i: np.ndarray, steps: np.ndarray, m: int, n_neurons: int) -> np.ndarray:
    """Steps from each neuron's last spike strictly before step m to m (NO_SPIKE_STEPS if none), int64 [n]."""
    before = steps < m
    last = np.full(n_neurons, -1, np.int64)
    np.maximum.at(last, np.asarray(spike_i)[before], steps[before])
    return np.where(last >= 0, m - last, NO_SPIKE_STEPS)


def spikes_in_flight(spike_i: np.ndarray, steps: np.ndarray, m: int, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Spikes emitted at n < m arriving at n + delay >= m: (neuron [k], arrival step - m in [0, delay)), int64."""
    sel = (steps < m) & (steps + delay >= m)
    return np.asarray(spike_i, np.int64)[sel], steps[sel] + delay - m


@dataclass
class RestartStates:
    """Saved network states at S start times: v_mv [S, n], since_spike [S, n] steps, in-flight spikes, run [S]."""

    v_mv: np.ndarray  # float64 [S, n] voltage at the start of step m (mV)
    since_spike: np.ndarray  # int64 [S, n] steps since the last spike before m (NO_SPIKE_STEPS if none)
    flight_start: np.ndarray  # int64 [k] which start time each in-flight spike belongs to
    flight_neuron: np.ndarray  # int64 [k] its presynaptic neuron
    flight_arrival: np.ndarray  # int64 [k] its arrival step relative to m, in [0, delay_steps)
    run: np.ndarray  # int64 [S] the run whose connectivity applies
    sample: np.ndarray  # int64 [S] the recorded sample index k of the start (t = k * record_dt)

    def __len__(self) -> int:
        return len(self.run)


def states_at(
    v_mv: np.ndarray, spike_i: np.ndarray, spike_t_ms: np.ndarray, samples: np.ndarray, sim: SimConfig, run: int = 0
) -> RestartStates:
    """The restart states of one run at the given recorded samples (v_mv [T, n] mV, all the run's spikes)."""
    spb, delay, n = steps_per_sample(sim), delay_steps(sim), v_mv.shape[1]
    steps = spike_steps(spike_t_ms, sim.dt_ms)
    samples = np.asarray(samples, np.int64)
    since, fs, fn, fa = [], [], [], []
    for s, k in enumerate(samples):
        m = int(k) * spb
        since.append(steps_since_last_spike(spike_i, steps, m, n))
        neuron, arrival = spikes_in_flight(spike_i, steps, m, delay)
        fs.append(np.full(len(neuron), s, np.int64))
        fn.append(neuron)
        fa.append(arrival)
    return RestartStates(
        v_mv=np.asarray(v_mv[samples], np.float64),
        since_spike=np.array(since, np.int64),
        flight_start=np.concatenate(fs),
        flight_neuron=np.concatenate(fn),
        flight_arrival=np.concatenate(fa),
        run=np.full(len(samples), run, np.int64),
        sample=samples,
    )


def concat_states(parts: list[RestartStates]) -> RestartStates:
    """Several RestartStates as one, start indices of the in-flight spikes renumbered."""
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return RestartStates(
        v_mv=np.concatenate([p.v_mv for p in parts]),
        since_spike=np.concatenate([p.since_spike for p in parts]),
        flight_start=np.concatenate([p.flight_start + o for p, o in zip(parts, offsets)]),
        flight_neuron=np.concatenate([p.flight_neuron for p in parts]),
        flight_arrival=np.concatenate([p.flight_arrival for p in parts]),
        run=np.concatenate([p.run for p in parts]),
        sample=np.concatenate([p.sample for p in parts]),
    )


def subset_states(states: RestartStates, idx: np.ndarray) -> RestartStates:
    """The states idx (sorted int array), in-flight spikes renumbered."""
    new = np.full(len(states), -1, np.int64)
    new[idx] = np.arange(len(idx))
    keep = new[states.flight_start] >= 0
    return RestartStates(
        v_mv=states.v_mv[idx],
        since_spike=states.since_spike[idx],
        flight_start=new[states.flight_start[keep]],
        flight_neuron=states.flight_neuron[keep],
        flight_arrival=states.flight_arrival[keep],
        run=states.run[idx],
        sample=states.sample[idx],
    )


def choose_start_samples(n_samples: int, first: int, max_h: int, n_starts: int, seed: int, run: int) -> np.ndarray:
    """A seeded sorted sample (without replacement) of start samples in [first, n_samples - 1 - max_h], int64."""
    last = n_samples - 1 - max_h
    if last < first:
        raise ValueError(
            f"no start sample fits: a run of {n_samples} samples leaves none in [{first}, {last}]; "
            "expected runs longer than discard + window + the largest horizon. "
            "Simulate longer runs or lower the horizons."
        )
    pool = np.arange(first, last + 1)
    n_starts = min(n_starts, len(pool))
    # one stream per run, so a run's start times do not depend on which other runs are used
    rng = np.random.default_rng([seed, run])
    return np.sort(rng.choice(pool, size=n_starts, replace=False)).astype(np.int64)
