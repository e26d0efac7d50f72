"""The ceiling: exact restarts, in-flight spike bookkeeping, unbiased replica variance, gain share."""
import dataclasses

import numpy as np
import pytest

from voltlib import ceiling as C, store
from voltlib.config import NetworkConfig, get_profile
from voltlib.simulate import build_network

SMOKE = get_profile("smoke").sim


# ---------------------------------------------------------------- bookkeeping by hand

def test_spikes_in_flight_by_hand():
    # delay 15 steps, state at the start of step m = 100: a spike emitted at step n arrives at n + 15
    spike_i = np.array([0, 1, 2, 3, 4, 5, 6])
    steps = np.array([84, 85, 92, 99, 100, 120, 85])
    neuron, arrival = C.spikes_in_flight(spike_i, steps, m=100, delay=15)
    # 84 arrived at 99 (already in v); 100 and 120 are not yet emitted at the start of step 100
    assert neuron.tolist() == [1, 2, 3, 6]
    assert arrival.tolist() == [0, 7, 14, 0]       # arrival step - m: 85 + 15 - 100 = 0, ..., 99 + 15 - 100 = 14


def test_steps_since_last_spike_by_hand():
    spike_i = np.array([0, 0, 1, 2, 0])
    steps = np.array([80, 95, 100, 30, 130])
    since = C.steps_since_last_spike(spike_i, steps, m=100, n_neurons=4)
    # neuron 0: last spike before 100 is 95; neuron 1 spikes at 100 (future); 3 never spikes
    assert since.tolist() == [5, C.NO_SPIKE_STEPS, 70, C.NO_SPIKE_STEPS]


def test_states_at_converts_times_and_samples():
    sim = SMOKE                                   # dt 0.1 ms, samples every 1 ms, delay 1.5 ms
    v_mv = np.arange(30 * 3, dtype=np.float32).reshape(30, 3)
    spike_i = np.array([0, 1, 2])
    spike_t_ms = np.array([8.5, 9.9, 19.0])       # steps 85, 99, 190
    st = C.states_at(v_mv, spike_i, spike_t_ms, [10, 20], sim, run=7)
    assert st.v_mv.tolist() == [v_mv[10].tolist(), v_mv[20].tolist()]
    assert st.flight_start.tolist() == [0, 0, 1]  # at sample 10 (step 100): 85 and 99; at 20 (step 200): 190
    assert st.flight_neuron.tolist() == [0, 1, 2] and st.flight_arrival.tolist() == [0, 14, 5]
    assert st.since_spike.tolist() == [[15, 1, C.NO_SPIKE_STEPS], [115, 101, 10]]
    assert st.run.tolist() == [7, 7] and st.sample.tolist() == [10, 20]


def test_start_samples_are_seeded_and_in_range():
    a = C.choose_start_samples(2000, 949, 20, 50, seed=1, run=3)
    assert len(np.unique(a)) == 50 and a.min() >= 949 and a.max() <= 2000 - 1 - 20
    assert np.array_equal(a, C.choose_start_samples(2000, 949, 20, 50, seed=1, run=3))
    assert not np.array_equal(a, C.choose_start_samples(2000, 949, 20, 50, seed=1, run=4))
    with pytest.raises(ValueError, match="no start sample fits"):
        C.choose_start_samples(100, 90, 20, 5, seed=1, run=0)


# ---------------------------------------------------------------- from variances to R^2

def test_summarise_by_hand():
    var_mv2 = np.full((10, 2, 3), 4.0)            # 4 mV^2 everywhere, std 2 mV -> 1 z^2
    out = C.summarise(var_mv2, std_mv=np.full(3, 2.0), target_var_z=[4.0, 2.0], meas_noise_mv=0.2, seed=0)
    np.testing.assert_allclose(out["ceiling_r2"], [0.75, 0.5])
    np.testing.assert_allclose(out["ceiling_r2_ci"], [[0.75, 0.75], [0.5, 0.5]])   # no spread, no interval
    # 0.2 mV of measurement noise on a 2 mV std is 0.01 z^2 more error
    np.testing.assert_allclose(out["ceiling_r2_with_meas_noise"], [1 - 1.01 / 4, 1 - 1.01 / 2])
    np.testing.assert_allclose(out["e_var_mv2"], [4.0, 4.0])


# ---------------------------------------------------------------- Brian2: exact restarts

@pytest.fixture(scope="module")
def original():
    """A 300 ms run of the production network in runtime numpy mode, with the RNG saved at checkpoints."""
    import brian2 as b2

    sim = dataclasses.replace(SMOKE, duration_s=0.3, n_runs=1)
    C.use_numpy_runtime(b2, sim)
    caller_rng = np.random.get_state()
    b2.seed(11)
    net, syn, state, spikes = build_network(sim, b2)
    rng_at, calls = {}, [0]

    def save_rng():
        k = calls[0]                              # called once per sample: at steps 0, 10, 20, ...
        calls[0] += 1
        if 60 <= k < sim.n_samples - 20:
            rng_at[k] = np.random.get_state()

    # at the start of every sampled step, before the noise draw (order -1): the stream step 10 k will use
    net.add(b2.NetworkOperation(save_rng, dt=sim.record_dt_ms * b2.ms, when="start", order=-2))
    net.run(sim.duration_s * 1000 * b2.ms)
    v_mv = np.asarray(state.v_, np.float64).T * 1e3
    out = dict(sim=sim, b2=b2, v_mv=v_mv, spike_i=np.asarray(spikes.i[:]),
               spike_t_ms=np.asarray(spikes.t_[:]) * 1e3, rng_at=rng_at,
               syn={0: (np.asarray(syn.i[:]), np.asarray(syn.j[:]))})
    np.random.set_state(caller_rng)
    return out


def _checkpoints(o) -> list[int]:
    """Samples whose states cover the boundary cases: arrivals 0 and 14, refractory clocks at 19 and 20 steps."""
    wanted = {("arrival", 0), ("arrival", 14), ("since", 19), ("since", 20), ("since", 1)}
    chosen = []
    for k in sorted(o["rng_at"]):
        st = C.states_at(o["v_mv"], o["spike_i"], o["spike_t_ms"], [k], o["sim"])
        have = {("arrival", int(a)) for a in st.flight_arrival} | {("since", int(s)) for s in st.since_spike[0]}
        if have & wanted:
            chosen.append(k)
            wanted -= have
    assert not wanted, f"the 300 ms run has no state with {wanted}; pick another seed"
    return chosen + [150, 200, 250]


def _restart(o, k, mutate=None):
    st = C.states_at(o["v_mv"], o["spike_i"], o["spike_t_ms"], [k], o["sim"])
    if mutate:
        st = mutate(st)
    caller_rng = np.random.get_state()
    np.random.set_state(o["rng_at"][k])           # continue the original random stream
    try:
        return C.run_restarts(st, o["syn"], o["sim"], 1, 20, o["b2"], name=f"t{k}")[0, 0], st
    finally:
        np.random.set_state(caller_rng)


@pytest.mark.slow
def test_restart_from_a_saved_state_reproduces_the_original_exactly(original):
    o = original
    n_flight = n_refractory = 0
    for k in _checkpoints(o):
        v, st = _restart(o, k)
        # the restart sees only the recorded voltages, spike times and connectivity (all of the run's
        # spikes, future ones included); with the same noise it must retrace the original for 20 ms
        np.testing.assert_allclose(v, o["v_mv"][k:k + 21], rtol=0, atol=1e-9, err_msg=f"restart at {k} ms")
        n_flight += len(st.flight_start)
        n_refractory += int((st.since_spike < 20).sum())
    assert n_flight >= 20 and n_refractory >= 20


@pytest.mark.slow
def test_restart_bookkeeping_off_by_one_step_is_caught(original):
    # the exactness check is sensitive: a one-step error in arrivals or refractory clocks shows up
    o, ks = original, _checkpoints(original)
    shifts = {
        "arrival + 1": lambda s: dataclasses.replace(s, flight_arrival=s.flight_arrival + 1),
        "refractory clock + 1": lambda s: dataclasses.replace(
            s, since_spike=np.minimum(s.since_spike + 1, C.NO_SPIKE_STEPS)),
        "no spikes in flight": lambda s: dataclasses.replace(
            s, flight_start=s.flight_start[:0], flight_neuron=s.flight_neuron[:0],
            flight_arrival=s.flight_arrival[:0]),
    }
    for label, mutate in shifts.items():
        worst = max(np.abs(_restart(o, k, mutate)[0] - o["v_mv"][k:k + 21]).max() for k in ks)
        assert worst > 1e-3, f"{label}: not detected"


# ---------------------------------------------------------------- Brian2: replica variance

@pytest.mark.slow
def test_replica_variance_matches_the_euler_ou_closed_form():
    # one isolated neuron, no Poisson input, far below threshold: v_{s+1} - E_L = a (v_s - E_L) + b xi,
    # a = 1 - dt/tau, b = dt/tau_noise * sigma, so after s steps Var = b^2 (1 - a^(2s)) / (1 - a^2)
    net = NetworkConfig(n_exc=1, n_inh=0, c_ext=0)
    sim = dataclasses.replace(SMOKE, network=net)
    S, K = 2500, 4                                # K = 4: a biased (ddof 0) variance would be 25 % low
    empty = np.zeros(0, np.int64)
    st = C.RestartStates(v_mv=np.full((S, 1), net.e_l_mv + 1.0), since_spike=np.full((S, 1), C.NO_SPIKE_STEPS),
                         flight_start=empty, flight_neuron=empty, flight_arrival=empty,
                         run=np.zeros(S, np.int64), sample=np.zeros(S, np.int64))
    mean, var = C.simulate_replicas(st, {0: (empty, empty)}, sim, K, 20, seed=3)
    a, b = 1 - sim.dt_ms / net.tau_ms, sim.dt_ms / net.tau_noise_ms * net.noise_mv
    s = 10 * np.arange(21)
    exact_var = b ** 2 * (1 - a ** (2 * s)) / (1 - a ** 2)
    assert var[:, 0].max() == 0.0
    # the mean of S unbiased Gaussian variances has relative sd sqrt(2 / ((K - 1) S)) = 1.6 %
    rel_sd = np.sqrt(2 / ((K - 1) * S))
    np.testing.assert_array_less(np.abs(var[:, 1:, 0].mean(axis=0) / exact_var[1:] - 1), 4.5 * rel_sd)
    # the replica mean follows the deterministic decay E_L + a^s (v0 - E_L)
    sd_mean = np.sqrt(exact_var[1:] / (S * K))
    np.testing.assert_array_less(np.abs(mean[:, 1:, 0].mean(axis=0) - (net.e_l_mv + a ** s[1:])), 4.5 * sd_mean)


@pytest.mark.slow
def test_compute_ceiling_smoke_is_cached_and_sane():
    first = C.compute_ceiling("smoke", progress=False)
    again = C.compute_ceiling("smoke", progress=False)
    assert again == first                          # the second call reads data/ceiling/<hash>.json
    assert first["horizons_ms"] == [1, 2, 5, 10, 20]
    e = np.array(first["e_var_mv2"])
    # one ms of noise spreads v by at least the subthreshold amount (~0.9 mV^2, see the report);
    # by 20 ms the spread approaches the stationary variance (about 33 mV^2)
    assert 0.5 < e[0] < e[-1] < 45
    r2 = np.array(first["ceiling_r2"])
    lo, hi = np.array(first["ceiling_r2_ci"]).T
    assert np.all(lo <= r2) and np.all(r2 <= hi)
    assert np.all(np.array(first["ceiling_r2_with_meas_noise"]) < r2)
    assert r2[0] > 0.5


@pytest.mark.slow
def test_a_damaged_ceiling_cache_is_said_in_one_line_and_recomputed_to_the_same_values(capsys):
    first = C.compute_ceiling("smoke", progress=False)
    path = C.cache_path("smoke")
    path.write_text(path.read_text().replace('"ceiling_r2": [', '"ceiling_r2": [0.99, ', 1))   # valid JSON, altered
    capsys.readouterr()
    again = C.compute_ceiling("smoke", progress=False)
    assert capsys.readouterr().out == f"cache: {store.shown(path)} {store.MISMATCH}; recomputing the ceiling\n"
    timing = {"wall_s", "restarts_wall_s"}                  # the only values that depend on the machine's load
    assert {k: v for k, v in again.items() if k not in timing} == {k: v for k, v in first.items() if k not in timing}
    assert store.verify(path) is None and C.compute_ceiling("smoke", progress=False) == again
