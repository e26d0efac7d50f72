"""The best forecast an observer of the recording can make: a particle filter that knows the equations.

The oracle of the ceiling (forecast/ceiling.py) knows the simulator's whole state. An observer of the
recording sees the 1 ms samples with their N(0, 0.2 mV) measurement noise and nothing else; it may
know the network's equations and parameters (METHODS.md section 1) and the run's wiring, inferred
from the run's own past (sim/wiring.py) or, as a labelled variant, the true one. Its best forecast
of v(t+h) is the mean of the predictive distribution p(v(t+h) | y_0..y_t), which this module
approximates in two steps (METHODS.md section 15):

1. **Filtering.** Given the spikes, the neurons are conditionally independent (delta synapses,
   independent Poisson and white-noise drives), so each neuron has its own particle filter over its
   voltage, refractory clock and the synaptic input already on its way to it, stepped at the
   simulator's 0.1 ms and weighted by each noisy sample. A presynaptic spike is seen only as a reset
   in the next sample, so *when* within its millisecond it fired is itself uncertain: its neuron's
   own filter gives a posterior over the step (the particles that fired in that millisecond,
   weighted by the sample), and each postsynaptic particle draws the arrival, 1.5 ms later, from
   it. This factored filter neglects what a postsynaptic voltage says back about a presynaptic
   spike's time (a Boyen-Koller approximation); it is otherwise exact up to Monte Carlo error.
2. **Forecasting.** A network state is drawn from the filters (one particle per neuron, its spike in
   flight given by its own refractory clock) and simulated forward with fresh noise, once per
   member of the ensemble: the members are samples of the predictive distribution, their mean is
   the forecast.

`simulate_forward` is the same network in numpy, stepped as Brian2 steps it (sim/restarts.py):
noise, Euler update unless refractory, threshold, synaptic arrivals and Poisson input, reset. A
refractory neuron's voltage is clamped at the reset value: in the stored runs it reads exactly
-70 mV for the whole 2 ms, so what arrives during the clamp (recurrent spikes, external input) is lost. From
the oracle's exact states it is the oracle itself (its ensemble spread is checked against Brian2's
restarts in tests/sim/test_observer.py), so oracle and observer differ only in what they know.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from voltlib.config import SimConfig
from voltlib.sim.restart_states import NO_SPIKE_STEPS, delay_steps, steps_per_sample

# a presynaptic neuron whose posterior probability of a spike in a millisecond is below this sends none
SPIKE_EPS = 1e-3
# a filter step whose largest normalised weight exceeds this has collapsed onto one particle
COLLAPSE_WEIGHT = 0.5


@dataclass(frozen=True)
class Dynamics:
    """The LIF network's constants per integration step (METHODS.md section 1), from a SimConfig."""

    dt_ms: float
    tau_ms: float
    e_l_mv: float
    theta_mv: float
    v_reset_mv: float
    ref_steps: int  # integration steps of the refractory clamp (20)
    delay_steps: int  # synaptic delay in steps (15)
    steps_per_sample: int  # integration steps per recorded sample (10)
    noise_step_mv: float  # SD of the white-noise increment per step: dt / tau_noise * noise_mv (0.05)
    j_mv: float
    g: float
    n_exc: int
    c_ext: int
    p_ext: float  # probability that one external source fires in one step: nu_ext * dt (0.05)

    @classmethod
    def of(cls, sim: SimConfig) -> Dynamics:
        net = sim.network
        return cls(
            dt_ms=sim.dt_ms,
            tau_ms=net.tau_ms,
            e_l_mv=net.e_l_mv,
            theta_mv=net.theta_mv,
            v_reset_mv=net.v_reset_mv,
            ref_steps=int(round(net.refractory_ms / sim.dt_ms)),
            delay_steps=delay_steps(sim),
            steps_per_sample=steps_per_sample(sim),
            noise_step_mv=sim.dt_ms / net.tau_noise_ms * net.noise_mv,
            j_mv=net.j_mv,
            g=net.g,
            n_exc=net.n_exc,
            c_ext=int(net.c_ext),
            p_ext=net.nu_ext_hz * sim.dt_ms * 1e-3,
        )

    @cached_property
    def external_cdf(self) -> np.ndarray:
        """P(count <= k) for k = 0 .. c_ext - 1 of the external input's Binomial(c_ext, p_ext) count per step."""
        from math import comb

        c, p = self.c_ext, self.p_ext
        return np.cumsum([comb(c, k) * p**k * (1 - p) ** (c - k) for k in range(c + 1)])[:-1]

    def external_mv(self, rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
        """The external Poisson input of one step, J * Binomial(c_ext, p_ext), by inverse CDF (mV)."""
        count = np.searchsorted(self.external_cdf.astype(dtype), rng.random(shape, dtype=dtype), side="right")
        return (self.j_mv * count).astype(dtype)

    def leak_step(self, v: np.ndarray, free: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Brian2's Euler step of dv/dt = (E_L - v)/tau + I_noise/tau_noise, held where not `free` (refractory)."""
        noise = rng.standard_normal(v.shape, dtype=v.dtype)
        noise *= self.noise_step_mv
        noise += v + self.dt_ms * (self.e_l_mv - v) / self.tau_ms
        return np.where(free, noise, v)


def synapse_weights(w_pre_post: np.ndarray, dyn: Dynamics) -> np.ndarray:
    """Coupling estimates (mV per arrival, [..., pre, post]) as the network's jumps: +J or -gJ past half of it, else 0.

    The filter knows J and g; a coupling is taken for a synapse where its estimate passes half the
    jump its presynaptic neuron's type makes. sim/wiring.py's couplings estimate half a jump: pass 2 x them.
    """
    w = np.asarray(w_pre_post, np.float64)
    n = w.shape[-1]
    exc = (np.arange(n) < dyn.n_exc)[:, None]
    je, ji = dyn.j_mv, -dyn.g * dyn.j_mv
    out = np.where(exc, np.where(w > je / 2, je, 0.0), np.where(w < ji / 2, ji, 0.0))
    diag = np.arange(n)
    out[..., diag, diag] = 0.0
    return out


def simulate_forward(
    v0: np.ndarray,
    since0: np.ndarray,
    weights: np.ndarray,
    n_samples: int,
    dyn: Dynamics,
    rng: np.random.Generator,
    net_of: np.ndarray | None = None,
) -> np.ndarray:
    """Simulates R network states n_samples on: v_mv [R, n_samples + 1, n] at the recorded samples (0 = the state).

    v0 [R, n] mV at the start of a step; since0 [R, n] steps since each neuron's last spike
    (NO_SPIKE_STEPS if none): a spike emitted since0 <= delay steps ago is still in flight.
    weights [N, n, n] (pre, post) jumps in mV, one graph per network; net_of [R] which graph each
    state has (default: all the first).
    """
    v = np.array(v0, np.float64)
    since = np.minimum(np.asarray(since0, np.int64), NO_SPIKE_STEPS)
    r_count, n = v.shape
    w = np.asarray(weights, np.float64).reshape(-1, n, n)
    net = np.zeros(r_count, np.int64) if net_of is None else np.asarray(net_of, np.int64)
    if since.shape != v.shape or net.shape != (r_count,) or net.max(initial=0) >= len(w):
        raise ValueError(
            f"simulate_forward got v0 {v.shape}, since0 {since.shape}, {len(w)} graph(s) and net_of {net.shape}: "
            "expected since0 of v0's shape [R, n] and net_of [R] indexing the graphs."
        )
    d, spb = dyn.delay_steps, dyn.steps_per_sample
    pending = np.zeros((d + 1, r_count, n))  # slot m % (d + 1): the recurrent input arriving at step m

    def send(spiking: np.ndarray, slot: int) -> None:
        rows, cols = np.nonzero(spiking)
        if len(rows):
            np.add.at(pending[slot], rows, w[net[rows], cols])

    for lag in range(1, d + 1):  # in flight: emitted at step -lag, arriving at step d - lag
        send(since == lag, (d - lag) % (d + 1))
    out = np.empty((r_count, n_samples + 1, n))
    out[:, 0] = v
    for m in range(n_samples * spb):
        free = since >= dyn.ref_steps
        v = dyn.leak_step(v, free, rng)
        spike = free & (v > dyn.theta_mv)
        since = np.where(spike, 0, since) + 1
        slot = m % (d + 1)
        # a refractory neuron's voltage is clamped: what arrives during the clamp is lost (as in Brian2's runs)
        v += np.where(free, pending[slot] + dyn.external_mv(rng, v.shape), 0.0)
        pending[slot] = 0.0
        send(spike, (m + d) % (d + 1))
        v[spike] = dyn.v_reset_mv
        if (m + 1) % spb == 0:
            out[:, (m + 1) // spb] = v
    return out


@dataclass
class Filtered:
    """Particles of every neuron's filter at the last sample (equal weights) and how the filter fared."""

    v_mv: np.ndarray  # [S, n, P] voltage at the start of the step of the last sample
    since: np.ndarray  # [S, n, P] int64 steps since the particle's last spike
    ess: np.ndarray  # [S, T - 1, n] effective sample size of each weighting (samples 1..T-1)
    collapsed: np.ndarray  # [S, T - 1, n] bool: the largest weight exceeded COLLAPSE_WEIGHT
    spike_prob: np.ndarray  # [S, T - 1, n] posterior probability of a spike in the millisecond before each sample


def particle_filter(
    y_mv: np.ndarray, weights: np.ndarray, dyn: Dynamics, meas_sd_mv: float, n_particles: int, rng: np.random.Generator
) -> Filtered:
    """Filters S stretches of noisy samples y_mv [S, T, n] (mV) of networks with graphs weights [S, n, n] (pre, post).

    The filter starts at sample 0 from v ~ y_0 + noise, out of refractoriness and with no input in
    flight: a burn-in of T samples washes that start out (the notebook shows how many it needs).
    """
    y = np.asarray(y_mv, np.float64)
    if y.ndim != 3 or y.shape[1] < 2:
        raise ValueError(
            f"y_mv has shape {y.shape}; expected [stretches, samples >= 2, neurons] of noisy voltages (mV)"
        )
    s_count, t_count, n = y.shape
    w = np.asarray(weights, np.float64)
    if w.shape != (s_count, n, n):
        raise ValueError(f"weights has shape {w.shape}; expected {(s_count, n, n)}: one graph (pre, post) per stretch")
    if meas_sd_mv <= 0 or n_particles < 2:
        raise ValueError(
            f"meas_sd_mv={meas_sd_mv} and n_particles={n_particles}: expected a positive noise SD and >= 2 particles"
        )
    p, spb, d = n_particles, dyn.steps_per_sample, dyn.delay_steps
    if d < spb or d >= 2 * spb:
        raise ValueError(f"the filter handles delays of 1 to 2 samples; got {d} steps at {spb} steps a sample")
    # float32 particles: half the memory traffic of the hot loop; a voltage to 1e-5 mV is plenty
    v = (y[:, 0, :, None] + meas_sd_mv * rng.standard_normal((s_count, n, p))).astype(np.float32)
    v = np.minimum(v, np.float32(dyn.theta_mv))
    since = np.full((s_count, n, p), NO_SPIKE_STEPS, np.int32)
    # buf[..., o]: recurrent input arriving at step o of the interval being stepped, o < spb + d - spb
    width = d
    buf = np.zeros((s_count, n, p, width), np.float32)
    ess = np.empty((s_count, t_count - 1, n))
    collapsed = np.empty((s_count, t_count - 1, n), bool)
    spike_prob = np.empty((s_count, t_count - 1, n))
    for k in range(1, t_count):
        fired_at = np.full((s_count, n, p), -1, np.int64)
        for s in range(spb):
            free = since >= dyn.ref_steps
            v = dyn.leak_step(v, free, rng)
            spike = free & (v > dyn.theta_mv)
            since = np.where(spike, 0, since) + 1
            fired_at[spike] = s
            v += np.where(free, buf[..., s] + dyn.external_mv(rng, v.shape, np.float32), np.float32(0.0))
            v[spike] = dyn.v_reset_mv
        logw = (-0.5 * ((y[:, k, :, None] - v) / meas_sd_mv) ** 2).astype(np.float64)
        wts = np.exp(logw - logw.max(axis=2, keepdims=True))
        wts /= wts.sum(axis=2, keepdims=True)
        ess[:, k - 1] = 1.0 / np.sum(wts**2, axis=2)
        collapsed[:, k - 1] = wts.max(axis=2) > COLLAPSE_WEIGHT
        # the posterior over the step of each neuron's spike in this millisecond: [S, n, spb]
        post = np.stack([np.sum(wts * (fired_at == s), axis=2) for s in range(spb)], axis=-1)
        spike_prob[:, k - 1] = post.sum(-1)
        idx = _systematic(wts, rng)
        v = np.take_along_axis(v, idx, axis=2)
        since = np.take_along_axis(since, idx, axis=2)
        carried = np.take_along_axis(buf[..., spb:], idx[..., None], axis=2)
        buf = np.zeros_like(buf)
        buf[..., : width - spb] = carried
        _draw_arrivals(buf, post, w, d - spb, rng)
    return Filtered(v_mv=v, since=since, ess=ess, collapsed=collapsed, spike_prob=spike_prob)


def _systematic(wts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling of every row of normalised weights [..., P]: particle indices [..., P]."""
    p = wts.shape[-1]
    cum = np.cumsum(wts, axis=-1)
    cum[..., -1] = 1.0
    u = (rng.random(wts.shape[:-1] + (1,)) + np.arange(p)) / p
    rows = cum.reshape(-1, p)
    flat_u = u.reshape(-1, p)
    # one searchsorted over all rows: row r's cumulative weights live in [r, r + 1]
    offset = np.arange(len(rows))[:, None]
    idx = np.searchsorted((rows + offset).ravel(), (flat_u + offset).ravel(), side="left")
    idx = idx.reshape(rows.shape) - offset * p
    return np.minimum(idx, p - 1).reshape(wts.shape)


def _draw_arrivals(buf: np.ndarray, post: np.ndarray, w: np.ndarray, first_slot: int, rng: np.random.Generator) -> None:
    """Adds to buf [S, n, P, slots] the arrivals of this millisecond's spikes, each particle drawing its own.

    post [S, n_pre, spb]: posterior probability that the presynaptic neuron fired at each step of the
    millisecond; a spike at step s arrives at slot first_slot + s of the next interval.
    """
    s_count, n, p, _ = buf.shape
    spb = post.shape[-1]
    q = post.sum(-1)
    st, pre = np.nonzero(q > SPIKE_EPS)
    if not len(st):
        return
    rows, posts = np.nonzero(w[st, pre] != 0.0)  # every synapse out of a neuron that may have fired
    st_r, pre_r = st[rows], pre[rows]
    cum = np.cumsum(post[st_r, pre_r], axis=-1)  # [m, spb]
    u = rng.random((len(rows), p))
    step = np.sum(u[..., None] >= cum[:, None, :], axis=-1)  # [m, P]: spb where no spike was drawn
    m_i, p_i = np.nonzero(step < spb)
    np.add.at(
        buf,
        (st_r[m_i], posts[m_i], p_i, first_slot + step[m_i, p_i]),
        w[st_r[m_i], pre_r[m_i], posts[m_i]],
    )


def draw_states(filtered: Filtered, n_members: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Network states drawn from the filters, one particle per neuron each: (v [S * M, n], since [S * M, n])."""
    s_count, n, p = filtered.v_mv.shape
    pick = rng.integers(0, p, size=(s_count, n_members, n))
    s_idx = np.arange(s_count)[:, None, None]
    n_idx = np.arange(n)[None, None, :]
    v = filtered.v_mv[s_idx, n_idx, pick].reshape(s_count * n_members, n)
    since = filtered.since[s_idx, n_idx, pick].reshape(s_count * n_members, n)
    return v, since


def observer_ensemble(
    y_mv: np.ndarray,
    weights: np.ndarray,
    dyn: Dynamics,
    meas_sd_mv: float,
    n_particles: int,
    n_members: int,
    n_samples: int,
    seed,
) -> tuple[np.ndarray, Filtered]:
    """The observer's predictive ensemble of the true voltages n_samples on from the last sample of each stretch.

    Returns (v_mv [S, M, n_samples + 1, n], the filters); the members' mean is the forecast.
    """
    rng = np.random.default_rng(seed)
    filtered = particle_filter(y_mv, weights, dyn, meas_sd_mv, n_particles, rng)
    v0, since0 = draw_states(filtered, n_members, rng)
    s_count = len(weights)
    net_of = np.repeat(np.arange(s_count), n_members)
    out = simulate_forward(v0, since0, weights, n_samples, dyn, rng, net_of)
    return out.reshape(s_count, n_members, n_samples + 1, -1), filtered


def oracle_ensemble(
    v_mv: np.ndarray, since: np.ndarray, weights: np.ndarray, dyn: Dynamics, n_members: int, n_samples: int, seed
) -> np.ndarray:
    """The oracle's ensemble from exact states (v [S, n], since [S, n], true graphs [S, n, n]): [S, M, n_samples + 1, n]."""
    rng = np.random.default_rng(seed)
    s_count = len(v_mv)
    v0 = np.repeat(np.asarray(v_mv, np.float64), n_members, axis=0)
    since0 = np.repeat(np.asarray(since, np.int64), n_members, axis=0)
    out = simulate_forward(v0, since0, weights, n_samples, dyn, rng, np.repeat(np.arange(s_count), n_members))
    return out.reshape(s_count, n_members, n_samples + 1, -1)
