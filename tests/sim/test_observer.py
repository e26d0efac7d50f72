"""The observer: the numpy network steps as the equations say, and the particle filter gives known answers.

Known answers: without threshold and Poisson input a neuron is linear-Gaussian, so the Kalman filter
is the exact posterior; with both, importance sampling of many prior trajectories weighted by the
samples' likelihood is a brute-force Monte Carlo of the true posterior the filter must match.
"""

import dataclasses

import numpy as np
import pytest

from voltlib.config import get_profile
from voltlib.sim import observer as ob
from voltlib.sim.restart_states import NO_SPIKE_STEPS

SMOKE = get_profile("smoke").sim
DYN = ob.Dynamics.of(SMOKE)


def quiet(**changes) -> ob.Dynamics:
    """The network's dynamics without noise or external input (deterministic), changed as asked."""
    return dataclasses.replace(DYN, **{"noise_step_mv": 0.0, "c_ext": 0, "p_ext": 0.0, **changes})


def test_dynamics_of_the_source_network_are_the_protocols_constants():
    assert (DYN.ref_steps, DYN.delay_steps, DYN.steps_per_sample, DYN.c_ext) == (20, 15, 10, 8)
    assert DYN.noise_step_mv == pytest.approx(0.05)
    assert DYN.p_ext == pytest.approx(0.05)  # 500 Hz x 0.1 ms


def test_the_external_input_is_binomial():
    x = DYN.external_mv(np.random.default_rng(0), (200_000,)) / DYN.j_mv
    assert np.array_equal(x, np.round(x))
    assert x.mean() == pytest.approx(8 * 0.05, rel=0.01)
    assert x.var() == pytest.approx(8 * 0.05 * 0.95, rel=0.02)
    assert (x > 8).sum() == 0


def test_forward_decays_resets_holds_and_delivers_as_the_equations_say():
    dyn = quiet()
    a = 1 - dyn.dt_ms / dyn.tau_ms
    w = np.zeros((1, 3, 3))
    w[0, 0, 1] = 0.5  # 0 -> 1 excitatory
    v0 = np.array([[-60.0, -60.0, -49.0]])  # neuron 2 above threshold: fires at step 0
    since0 = np.array([[5, NO_SPIKE_STEPS, NO_SPIKE_STEPS]])  # neuron 0 fired 5 steps ago: arrives at step 10
    out = ob.simulate_forward(v0, since0, w, 3, dyn, np.random.default_rng(0))[0]
    # neuron 0 is refractory until 20 steps after its spike (step 15): held, then decays
    assert out[1, 0] == pytest.approx(-60.0)
    assert out[2, 0] == pytest.approx(-70 + 10 * a**5)
    # neuron 1 decays for 10 steps, gets the jump at step 10 and decays 9 more steps to sample 2
    assert out[1, 1] == pytest.approx(-70 + 10 * a**10)
    assert out[2, 1] == pytest.approx(-70 + 10 * a**20 + 0.5 * a**9)
    # neuron 2 crosses at step 0 (after its Euler step), resets and is clamped for 20 steps
    assert -70 + 21 * a > dyn.theta_mv
    assert out[1, 2] == out[2, 2] == pytest.approx(-70.0)
    assert out[3, 2] == pytest.approx(-70.0)  # steps 21-29 decay from -70 toward -70


def test_forward_checks_its_arguments():
    with pytest.raises(ValueError, match="since0"):
        ob.simulate_forward(
            np.zeros((2, 3)), np.zeros((2, 2), np.int64), np.zeros((1, 3, 3)), 1, DYN, np.random.default_rng(0)
        )
    with pytest.raises(ValueError, match="net_of"):
        ob.simulate_forward(
            np.zeros((2, 3)), np.zeros((2, 3), np.int64), np.zeros((1, 3, 3)), 1, DYN, np.random.default_rng(0), [0, 1]
        )


def test_synapse_weights_take_a_coupling_past_half_the_jump():
    dyn = dataclasses.replace(DYN, n_exc=2)
    est = np.array([[0.0, 0.3, 0.2], [0.26, 0.9, -0.1], [-1.5, -1.0, 0.4]])
    w = ob.synapse_weights(est, dyn)
    expected = np.array([[0, 0.5, 0], [0.5, 0, 0], [-2.75, 0, 0]])
    assert np.array_equal(w, expected)  # the diagonal is never a synapse


def test_systematic_resampling_keeps_each_particle_in_proportion():
    rng = np.random.default_rng(3)
    wts = np.array([[[0.5, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 1.0]]])
    counts = np.zeros((2, 4))
    for _ in range(200):
        idx = ob._systematic(wts, rng)
        for row in range(2):
            counts[row] += np.bincount(idx[0, row], minlength=4)
    assert np.array_equal(counts[0], [400, 200, 200, 0])  # systematic: exact to one particle each draw
    assert np.array_equal(counts[1], [0, 0, 0, 800])


def kalman(y: np.ndarray, dyn: ob.Dynamics, sd: float, h: int) -> tuple[float, float]:
    """Exact predictive mean and variance of v(last + h) for the linear-Gaussian neuron, its prior N(y_0, sd^2)."""
    a = 1 - dyn.dt_ms / dyn.tau_ms
    spb = dyn.steps_per_sample
    q = dyn.noise_step_mv**2 * sum(a ** (2 * i) for i in range(spb))  # noise over one sample
    big_a = a**spb
    mean, var = y[0], sd**2
    for k in range(1, len(y)):
        mean = dyn.e_l_mv + big_a * (mean - dyn.e_l_mv)
        var = big_a**2 * var + q
        gain = var / (var + sd**2)
        mean, var = mean + gain * (y[k] - mean), (1 - gain) * var
    for _ in range(h):
        mean = dyn.e_l_mv + big_a * (mean - dyn.e_l_mv)
        var = big_a**2 * var + q
    return mean, var


def test_the_filter_is_the_kalman_filter_for_a_linear_gaussian_neuron():
    dyn = dataclasses.replace(quiet(theta_mv=1e9, n_exc=1), noise_step_mv=0.3)
    sd, h = 0.4, 3
    rng = np.random.default_rng(5)
    y = np.stack([-62 + np.cumsum(rng.normal(0, 0.8, 12)) for _ in range(3)])[..., None]  # [S, T, 1]
    ens, filt = ob.observer_ensemble(y, np.zeros((3, 1, 1)), dyn, sd, 4000, 4000, h, seed=1)
    for s in range(3):
        mean, var = kalman(y[s, :, 0], dyn, sd, h)
        f_mean, f_var = kalman(y[s, :, 0], dyn, sd, 0)
        assert filt.v_mv[s, 0].mean() == pytest.approx(f_mean, abs=4 * np.sqrt(f_var / 1000))
        assert filt.v_mv[s, 0].var() == pytest.approx(f_var, rel=0.12)
        assert ens[s, :, h, 0].mean() == pytest.approx(mean, abs=4 * np.sqrt(var / 1000))
        assert ens[s, :, h, 0].var() == pytest.approx(var, rel=0.12)
    assert not filt.collapsed.any()
    assert (filt.spike_prob == 0).all()


def brute_force(y: np.ndarray, dyn: ob.Dynamics, sd: float, h: int, n: int, seed: int) -> tuple[float, float]:
    """Posterior predictive mean and P(spike between the last sample and h on) by importance sampling the prior."""
    rng = np.random.default_rng(seed)
    v0 = np.minimum(y[0] + sd * rng.standard_normal((n, 1)), dyn.theta_mv)
    paths = ob.simulate_forward(v0, np.full((n, 1), NO_SPIKE_STEPS), np.zeros((1, 1, 1)), len(y) - 1 + h, dyn, rng)
    logw = -0.5 * (((y[1:, None] - paths[:, 1 : len(y), 0].T) / sd) ** 2).sum(axis=0)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    return float(w @ paths[:, -1, 0]), float(1 / np.sum(w**2))


def test_the_filter_matches_brute_force_importance_sampling_across_a_spike():
    """A single neuron with the real Poisson drive and threshold, observed while it climbs and fires."""
    dyn = dataclasses.replace(DYN, n_exc=1)
    sd, h = 0.2, 2
    rng = np.random.default_rng(2)
    truth = ob.simulate_forward(np.array([[-53.0]]), np.array([[NO_SPIKE_STEPS]]), np.zeros((1, 1, 1)), 30, dyn, rng)
    spiked = np.nonzero(np.diff(truth[0, :, 0]) < -8)[0]
    assert len(spiked), "the test's trajectory should fire"
    k = int(spiked[0]) + 1  # the first sample after the reset
    y = truth[0, max(0, k - 3) : k + 1, 0] + sd * rng.standard_normal(min(k, 3) + 1)
    exact, ess = brute_force(y, dyn, sd, h, 400_000, seed=3)
    assert ess > 300, "brute force must itself be converged"
    ens, filt = ob.observer_ensemble(y[None, :, None], np.zeros((1, 1, 1)), dyn, sd, 3000, 3000, h, seed=4)
    assert filt.spike_prob[0, -1, 0] > 0.99  # the reset in the last sample is seen for what it is
    assert ens[0, :, h, 0].mean() == pytest.approx(exact, abs=0.15)


def test_a_presynaptic_spikes_posterior_time_reaches_its_targets():
    """Neuron 0 fires; the filter of its target 1 expects the 5 mV jump 1.5 ms later, and one without the synapse does not."""
    dyn = dataclasses.replace(DYN, n_exc=2)
    w = np.zeros((1, 2, 2))
    w[0, 0, 1] = 5.0  # a large excitatory synapse (ten external inputs at once), plain in the samples
    rng = np.random.default_rng(1)
    truth = ob.simulate_forward(np.array([[-51.0, -68.0]]), np.full((1, 2), NO_SPIKE_STEPS), w, 12, dyn, rng)
    y = truth + 0.2 * rng.standard_normal(truth.shape)
    k = int(np.nonzero(np.diff(truth[0, :, 0]) < -8)[0][0]) + 1  # the sample after neuron 0's first spike
    assert k <= 8
    _, known = ob.observer_ensemble(y[:, : k + 4], w, dyn, 0.2, 2000, 8, 1, seed=0)
    _, blind = ob.observer_ensemble(y[:, : k + 4], np.zeros_like(w), dyn, 0.2, 2000, 8, 1, seed=0)
    assert known.spike_prob[0, k - 1, 0] > 0.99  # spike_prob[:, j] is the millisecond before sample j + 1
    # the jump lands in sample k + 1 or k + 2: the informed filter predicted it, the blind one collapses there
    landing = slice(k, k + 2)
    assert known.ess[0, landing, 1].min() > 10 * blind.ess[0, landing, 1].min()
    assert blind.collapsed[0, landing, 1].any() and not known.collapsed[0, landing, 1].any()
    assert known.v_mv[0, 1].mean() == pytest.approx(truth[0, k + 3, 1], abs=0.3)


def test_the_filter_checks_its_arguments():
    y = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match="weights"):
        ob.particle_filter(y, np.zeros((1, 3, 3)), DYN, 0.2, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="y_mv"):
        ob.particle_filter(np.zeros((5, 3)), np.zeros((1, 3, 3)), DYN, 0.2, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="particles"):
        ob.particle_filter(y, np.zeros((2, 3, 3)), DYN, 0.2, 1, np.random.default_rng(0))


@pytest.mark.slow
def test_the_numpy_oracle_spreads_and_moves_as_brian2s_restarts():
    """A stored run's refractory neurons are clamped; from the same saved states of the run, the numpy network and
    Brian2's restarts (section 9's ceiling) give ensembles of the same mean and spread at every lag, within their
    Monte Carlo error."""
    from voltlib.sim import restarts
    from voltlib.sim.restart_states import states_at
    from voltlib.sim.simulate import simulate

    sim = dataclasses.replace(SMOKE, n_runs=1, duration_s=1.0)
    run = simulate(sim, progress=False)
    # the clamp: the sample after each spike (within the 2 ms) reads exactly the reset value, inputs lost
    first_after = (np.floor(run.spike_t_ms[0] + 1e-9).astype(int) + 1)[:, None] + [0, 1]
    keep = first_after[:, 1] < run.v_mv.shape[1]
    held = run.v_mv[0][first_after[keep], run.spike_i[0][keep, None]]
    assert len(held) > 50 and (held == np.float32(SMOKE.network.v_reset_mv)).all()
    samples = np.arange(300, 960, 60)  # 11 states, spikes in flight and refractory clocks among them
    st = states_at(run.v_mv[0], run.spike_i[0], run.spike_t_ms[0], samples, sim)
    assert len(st.flight_start) >= 5 and (st.since_spike < 20).sum() >= 5
    k = 64
    b2_mean, b2_var = restarts.simulate_replicas(st, {0: (run.syn_i[0], run.syn_j[0])}, sim, k, 20, seed=5)
    w = np.repeat(run.weights_mv(0)[None].astype(np.float64), len(samples), axis=0)
    ens = ob.oracle_ensemble(st.v_mv, st.since_spike, w, DYN, k, 20, seed=6)
    np_mean, np_var = ens.mean(axis=1), ens.var(axis=1, ddof=1)
    for lag in (1, 2, 5, 10, 20):
        a, b = b2_var[:, lag].mean(), np_var[:, lag].mean()
        assert abs(a / b - 1) < 0.2, f"lag {lag} ms: Brian2's spread {a:.2f} mV², numpy's {b:.2f}"
        # two ensemble means of one distribution differ by (var_1 + var_2) / K in mean square
        msd = np.mean((b2_mean[:, lag] - np_mean[:, lag]) ** 2)
        expected = np.mean(b2_var[:, lag] + np_var[:, lag]) / k
        assert 0.5 < msd / expected < 1.8, f"lag {lag} ms: means differ by {msd:.3f} against {expected:.3f} expected"
