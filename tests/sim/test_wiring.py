"""The causal coupling inference: a planted wiring recovered from a small synthetic network, causality, AUC."""

import numpy as np
import pytest

from voltlib.sim import spikes, wiring

N, N_EXC = 40, 32
J_E, J_I = 0.5, -2.75  # mV, the paper's jumps


def lif_network(seed: int, duration_ms: float = 10_000.0, p: float = 0.15):
    """A small LIF network with 1.5 ms delays, simulated at 0.5 ms and recorded every 1 ms with 0.2 mV noise.

    Returns (recorded v [T, N] mV, true jumps w [pre, post] mV). The external drive is white noise with
    the Poisson input's mean and variance; a spike arrives three steps (1.5 ms) after it, also during
    the target's refractory period, as in the Brian2 network.
    """
    rng = np.random.default_rng(seed)
    w = (rng.random((N, N)) < p) * np.where(np.arange(N)[:, None] < N_EXC, J_E, J_I)
    np.fill_diagonal(w, 0.0)
    dt, steps = 0.5, int(duration_ms / 0.5)
    v = -70 + 2 * rng.standard_normal(N)
    refractory = np.zeros(N)
    in_flight = [np.zeros(N, bool) for _ in range(3)]
    recorded = []
    for k in range(steps):
        if k % 2 == 0:
            recorded.append(v.copy())
        free = refractory <= 0
        drift = (-70 - v) / 10 * dt + 2.2 * dt + np.sqrt(dt) * rng.standard_normal(N)
        v = np.where(free, v + drift, v)
        v += in_flight.pop(0) @ w  # arrivals land even on refractory neurons
        fired = v >= -50
        v[fired] = -70.0
        refractory = np.where(fired, 2.0, refractory - dt)
        in_flight.append(fired)
    v_rec = np.array(recorded, np.float32) + 0.2 * rng.standard_normal((len(recorded), N)).astype(np.float32)
    return v_rec, w


@pytest.fixture(scope="module")
def network():
    v, w = lif_network(seed=7)
    s = spikes.detect(v, -70.0)
    return v, s, w, wiring.block_moments(v, s)


def test_the_synthetic_network_fires_in_the_papers_regime(network):
    v, s, _, _ = network
    rate_hz = s.mean() * 1000
    assert 5 < rate_hz < 60, rate_hz


def test_planted_coupling_is_recovered(network):
    _, _, w, mom = network
    w_hat = wiring.coupling(wiring.checkpoint_coefficients(mom, 30.0))[-1]
    rec = wiring.recovery(w_hat, w, N_EXC)
    assert rec["E"] > 0.95 and rec["I"] > 0.99, rec
    # the estimand: half of each jump (an arrival lands in one of two increments), none where no synapse
    e_syn, i_syn = w_hat[w == J_E], w_hat[w == J_I]
    none = w_hat[(w == 0) & ~np.eye(N, dtype=bool)]
    assert 0.15 < e_syn.mean() < 0.33, e_syn.mean()
    assert -1.6 < i_syn.mean() < -1.0, i_syn.mean()
    assert abs(none.mean()) < 0.05


def test_other_graphs_are_not_recovered(network):
    # the null the notebook draws: the same coupling against another network's wiring
    _, _, _, mom = network
    w_hat = wiring.coupling(wiring.checkpoint_coefficients(mom, 30.0))[-1]
    _, w_other = lif_network(seed=8, duration_ms=10.0)
    rec = wiring.recovery(w_hat, w_other, N_EXC)
    assert abs(rec["E"] - 0.5) < 0.12 and abs(rec["I"] - 0.5) < 0.15, rec


def test_recovery_grows_with_the_past(network):
    _, _, w, mom = network
    by_ck = wiring.recovery_by_checkpoint(wiring.coupling(wiring.checkpoint_coefficients(mom, 30.0)), w, N_EXC)
    assert np.isnan(by_ck["E"][0])  # no past, no coupling
    assert by_ck["E"][1] < by_ck["E"][-1]
    assert by_ck["I"][-1] > 0.99


def test_checkpoints_are_causal(network):
    v, s, _, mom = network
    late = v.copy()
    # another future after sample 2000; the spikes too, as the detector would read them there
    late[2001:] += np.random.default_rng(0).normal(0, 3, late[2001:].shape).astype(np.float32)
    s_late = s.copy()
    s_late[2001:] = spikes.detect(late, -70.0)[2001:]
    changed = wiring.block_moments(late, s_late)
    a = wiring.checkpoint_coefficients(mom, 30.0)
    b = wiring.checkpoint_coefficients(changed, 30.0)
    last_untouched = 2000 // wiring.STEP  # checkpoint c reads samples up to c * STEP, where it is first used
    np.testing.assert_array_equal(a[: last_untouched + 1], b[: last_untouched + 1])
    assert not np.allclose(a[last_untouched + 1], b[last_untouched + 1])
    # the drive at a sample uses its own checkpoint's coupling
    drv = wiring.drive(s, wiring.coupling(a))
    t = 1234
    np.testing.assert_allclose(drv[t], s[t].astype(np.float32) @ wiring.coupling(a)[t // wiring.STEP], rtol=1e-5)


def test_alpha_is_chosen_by_causal_error(network):
    _, _, _, mom = network
    best, scores = wiring.choose_alpha([mom])
    assert best in wiring.ALPHAS and scores[best] == min(scores.values())
    # a predictor of increments beats predicting zero: the causal MSE is below the increments' mean square
    assert scores[best] < mom["yy"][1:].sum() / mom["count"][1:].sum()


def test_auc_by_hand():
    assert wiring.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert wiring.auc([1, 1], [True, False]) == 0.5  # a tie counts half
    assert np.isnan(wiring.auc([1, 2], [True, True]))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[time, neuron\]"):
        wiring.block_moments(np.zeros((10, 3)), np.zeros((10, 4), bool))
