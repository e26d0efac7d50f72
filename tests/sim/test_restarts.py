"""Brian2 restarts: a saved state with the original noise retraces the run exactly; replica variance is unbiased."""

import dataclasses

import numpy as np
import pytest

from voltlib.config import NetworkConfig, get_profile
from voltlib.sim import restart_states as RS
from voltlib.sim import restarts as R
from voltlib.sim.simulate import build_network

SMOKE = get_profile("smoke").sim


# ---------------------------------------------------------------- Brian2: exact restarts


@pytest.fixture(scope="module")
def original():
    """A 300 ms run of the production network in runtime numpy mode, with the RNG saved at checkpoints."""
    import brian2 as b2

    sim = dataclasses.replace(SMOKE, duration_s=0.3, n_runs=1)
    R.use_numpy_runtime(b2, sim)
    caller_rng = np.random.get_state()
    b2.seed(11)
    net, syn, state, spikes = build_network(sim, b2)
    rng_at, calls = {}, [0]

    def save_rng():
        k = calls[0]  # called once per sample: at steps 0, 10, 20, ...
        calls[0] += 1
        if 60 <= k < sim.n_samples - 20:
            rng_at[k] = np.random.get_state()

    # at the start of every sampled step, before the noise draw (order -1): the stream step 10 k will use
    net.add(b2.NetworkOperation(save_rng, dt=sim.record_dt_ms * b2.ms, when="start", order=-2))
    net.run(sim.duration_s * 1000 * b2.ms)
    v_mv = np.asarray(state.v_, np.float64).T * 1e3
    out = dict(
        sim=sim,
        b2=b2,
        v_mv=v_mv,
        spike_i=np.asarray(spikes.i[:]),
        spike_t_ms=np.asarray(spikes.t_[:]) * 1e3,
        rng_at=rng_at,
        syn={0: (np.asarray(syn.i[:]), np.asarray(syn.j[:]))},
    )
    np.random.set_state(caller_rng)
    return out


def _checkpoints(o) -> list[int]:
    """Samples whose states cover the boundary cases: arrivals 0 and 14, refractory clocks at 19 and 20 steps."""
    wanted = {("arrival", 0), ("arrival", 14), ("since", 19), ("since", 20), ("since", 1)}
    chosen = []
    for k in sorted(o["rng_at"]):
        st = RS.states_at(o["v_mv"], o["spike_i"], o["spike_t_ms"], [k], o["sim"])
        have = {("arrival", int(a)) for a in st.flight_arrival} | {("since", int(s)) for s in st.since_spike[0]}
        if have & wanted:
            chosen.append(k)
            wanted -= have
    assert not wanted, f"the 300 ms run has no state with {wanted}; pick another seed"
    return chosen + [150, 200, 250]


def _restart(o, k, mutate=None):
    st = RS.states_at(o["v_mv"], o["spike_i"], o["spike_t_ms"], [k], o["sim"])
    if mutate:
        st = mutate(st)
    caller_rng = np.random.get_state()
    np.random.set_state(o["rng_at"][k])  # continue the original random stream
    try:
        return R.run_restarts(st, o["syn"], o["sim"], 1, 20, o["b2"], name=f"t{k}")[0, 0], st
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
        np.testing.assert_allclose(v, o["v_mv"][k : k + 21], rtol=0, atol=1e-9, err_msg=f"restart at {k} ms")
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
            s, since_spike=np.minimum(s.since_spike + 1, RS.NO_SPIKE_STEPS)
        ),
        "no spikes in flight": lambda s: dataclasses.replace(
            s, flight_start=s.flight_start[:0], flight_neuron=s.flight_neuron[:0], flight_arrival=s.flight_arrival[:0]
        ),
    }
    for label, mutate in shifts.items():
        worst = max(np.abs(_restart(o, k, mutate)[0] - o["v_mv"][k : k + 21]).max() for k in ks)
        assert worst > 1e-3, f"{label}: not detected"


# ---------------------------------------------------------------- Brian2: replica variance


@pytest.mark.slow
def test_replica_variance_matches_the_euler_ou_closed_form():
    # one isolated neuron, no Poisson input, far below threshold: v_{s+1} - E_L = a (v_s - E_L) + b xi,
    # a = 1 - dt/tau, b = dt/tau_noise * sigma, so after s steps Var = b^2 (1 - a^(2s)) / (1 - a^2)
    net = NetworkConfig(n_exc=1, n_inh=0, c_ext=0)
    sim = dataclasses.replace(SMOKE, network=net)
    S, K = 2500, 4  # K = 4: a biased (ddof 0) variance would be 25 % low
    empty = np.zeros(0, np.int64)
    st = RS.RestartStates(
        v_mv=np.full((S, 1), net.e_l_mv + 1.0),
        since_spike=np.full((S, 1), RS.NO_SPIKE_STEPS),
        flight_start=empty,
        flight_neuron=empty,
        flight_arrival=empty,
        run=np.zeros(S, np.int64),
        sample=np.zeros(S, np.int64),
    )
    mean, var = R.simulate_replicas(st, {0: (empty, empty)}, sim, K, 20, seed=3)
    a, b = 1 - sim.dt_ms / net.tau_ms, sim.dt_ms / net.tau_noise_ms * net.noise_mv
    s = 10 * np.arange(21)
    exact_var = b**2 * (1 - a ** (2 * s)) / (1 - a**2)
    assert var[:, 0].max() == 0.0
    # the mean of S unbiased Gaussian variances has relative sd sqrt(2 / ((K - 1) S)) = 1.6 %
    rel_sd = np.sqrt(2 / ((K - 1) * S))
    np.testing.assert_array_less(np.abs(var[:, 1:, 0].mean(axis=0) / exact_var[1:] - 1), 4.5 * rel_sd)
    # the replica mean follows the deterministic decay E_L + a^s (v0 - E_L)
    sd_mean = np.sqrt(exact_var[1:] / (S * K))
    np.testing.assert_array_less(np.abs(mean[:, 1:, 0].mean(axis=0) - (net.e_l_mv + a ** s[1:])), 4.5 * sd_mean)
