"""Restarting the Brian2 network from saved states with fresh noise (METHODS.md section 9).

The states come from restart_states.py; here they are replayed. The replicas of all start times are
simulated at once as one large NeuronGroup with block-diagonal synapses (Brian2 runtime mode, numpy
target, in a child process: `python -m voltlib.sim.restarts spec.json`).

One integration step runs: start (I_noise = sigma * randn(), then the voltage is recorded) ->
groups (Euler update unless refractory; not_refractory is recomputed from lastspike as
timestep(t - lastspike) >= timestep(refractory)) -> thresholds -> synapses (spikes emitted at step
n arrive at step n + delay_steps, then the PoissonInput jumps) -> resets. A restart sets v and
lastspike from the state and replays the spikes in flight through a SpikeGeneratorGroup firing at
their arrival step with zero-delay synapses of the same weights: a generator spike at step d is
delivered in the synapses slot of step d, before the PoissonInput, as in the original.

numpy target only: its randn() and binomial() draw from numpy's global RandomState in a fixed
order (noise over all neurons, then the Poisson counts over all neurons, each step), so restoring
that state reproduces the original trajectory exactly (tests/test_restarts.py). Cython would buffer
random numbers and break that check.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from voltlib.config import SimConfig, to_dict
from voltlib.sim.child import run_module
from voltlib.sim.restart_states import RestartStates, subset_states

BATCH_NEURONS = 100_000  # neurons per Brian2 restart network: bounds memory (about 1M synapses)


def use_numpy_runtime(b2, sim: SimConfig) -> None:
    """Puts Brian2 in runtime mode with the numpy target and the simulation's dt (see the module docstring)."""
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = sim.dt_ms * b2.ms


def _weights_volt(pre: np.ndarray, net, b2) -> np.ndarray:
    # the same floats as build_network's "J" and "-g * J"
    j = float(net.j_mv * b2.mV)
    return np.where(pre < net.n_exc, j, -net.g * j)


def run_restarts(
    states: RestartStates, syn: dict, sim: SimConfig, n_replicas: int, n_record: int, b2, name: str = "restart"
) -> np.ndarray:
    """Runs K replicas of each state n_record samples on: v_mv [S, K, n_record + 1, n] float64 (sample 0 = state)."""
    from voltlib.sim.simulate import NOISE_CODE, ON_PRE, neuron_model

    net, ms = sim.network, b2.ms
    n, S, K = net.n_neurons, len(states), n_replicas
    n_copies = S * K
    start_of_copy = np.repeat(np.arange(S), K)  # copy c = s * K + r
    model = neuron_model(net, b2)
    ns = model["namespace"]
    group = b2.NeuronGroup(n_copies * n, name=f"{name}_neurons", **model)
    group.run_regularly(NOISE_CODE, when="start", order=-1, name=f"{name}_noise")
    group.v_ = (states.v_mv[start_of_copy] * 1e-3).ravel()
    group.lastspike_ = (-states.since_spike[start_of_copy].astype(np.float64) * sim.dt_ms * 1e-3).ravel()
    objects = [group]

    # recurrent synapses, block-diagonal: copy c has its run's graph on neurons c*n .. c*n + n - 1
    pre, post = [], []
    for c in range(n_copies):
        si, sj = syn[int(states.run[start_of_copy[c]])]
        pre.append(si + c * n)
        post.append(sj + c * n)
    pre, post = np.concatenate(pre).astype(np.int64), np.concatenate(post).astype(np.int64)
    if len(pre):
        recurrent = b2.Synapses(
            group, group, "w : volt", on_pre=ON_PRE, delay=net.delay_ms * ms, namespace=ns, name=f"{name}_syn"
        )
        recurrent.connect(i=pre, j=post)
        recurrent.w_ = _weights_volt(pre % n, net, b2)
        objects.append(recurrent)

    # spikes in flight: one generator per (copy, presynaptic neuron), firing at the arrival step
    if len(states.flight_start):
        copies = (states.flight_start[:, None] * K + np.arange(K)[None, :]).ravel()
        neuron = np.repeat(states.flight_neuron, K)
        arrival = np.repeat(states.flight_arrival, K)
        key = copies * n + neuron
        keys, gen_index = np.unique(key, return_inverse=True)
        order = np.lexsort((gen_index, arrival))  # by arrival step, then generator (Brian2 wants them sorted)
        generator = b2.SpikeGeneratorGroup(
            len(keys), gen_index[order], arrival[order] * sim.dt_ms * ms, name=f"{name}_inflight"
        )
        g_pre, g_post, g_w = [], [], []
        for g, k in enumerate(keys):
            c, i = divmod(int(k), n)
            si, sj = syn[int(states.run[start_of_copy[c]])]
            targets = sj[si == i]  # in the original synapse order
            g_pre.append(np.full(len(targets), g))
            g_post.append(targets + c * n)
            g_w.append(np.full(len(targets), i))
        g_pre = np.concatenate(g_pre).astype(np.int64)
        g_post = np.concatenate(g_post).astype(np.int64)
        objects.append(generator)
        if len(g_pre):
            replay = b2.Synapses(
                generator, group, "w : volt", on_pre=ON_PRE, namespace=ns, name=f"{name}_inflight_syn"
            )  # no delay: lands in the arrival step
            replay.connect(i=g_pre, j=g_post)
            replay.w_ = _weights_volt(np.concatenate(g_w), net, b2)
            objects.append(replay)

    if net.c_ext > 0:
        objects.append(b2.PoissonInput(group, "v", N=net.c_ext, rate=net.nu_ext_hz * b2.Hz, weight=net.j_mv * b2.mV))
    monitor = b2.StateMonitor(group, "v", record=True, dt=sim.record_dt_ms * ms, name=f"{name}_vmon")
    objects.append(monitor)
    network = b2.Network(*objects)
    # one extra step so that the sample n_record * record_dt (taken at the start of its step) is recorded
    network.run((n_record * sim.record_dt_ms + sim.dt_ms) * ms)
    v = np.asarray(monitor.v_, np.float64)[:, : n_record + 1] * 1e3  # [copy * n, n_record + 1]
    return v.reshape(S, K, n, n_record + 1).transpose(0, 1, 3, 2)


def replica_moments(v_mv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased variance (ddof 1) across replicas of v_mv [S, K, H, n]: ([S, H, n] mV, [S, H, n] mV^2)."""
    return v_mv.mean(axis=1), v_mv.var(axis=1, ddof=1)


def simulate_replicas(
    states: RestartStates, syn: dict, sim: SimConfig, n_replicas: int, n_record: int, seed: int, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Runs every restart in batches (Brian2 in this process); mean [S, H, n] mV and variance [S, H, n] mV^2."""
    import brian2 as b2

    use_numpy_runtime(b2, sim)
    b2.prefs.logging.console_log_level = "WARNING"
    caller_rng = np.random.get_state()  # Brian2's numpy target draws from the global RandomState
    b2.seed(seed)
    per_batch = max(1, BATCH_NEURONS // (n_replicas * sim.network.n_neurons))
    means, variances = [], []
    try:
        for b0 in range(0, len(states), per_batch):
            t0 = time.perf_counter()
            part = subset_states(states, np.arange(b0, min(b0 + per_batch, len(states))))
            mean, var = replica_moments(run_restarts(part, syn, sim, n_replicas, n_record, b2, name=f"restart{b0}"))
            means.append(mean)
            variances.append(var)
            if progress:
                print(
                    f"[voltlib.sim.restarts] start times {b0 + len(part)}/{len(states)} "
                    f"({len(part) * n_replicas} replicas in {time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
    finally:
        np.random.set_state(caller_rng)
    return np.concatenate(means), np.concatenate(variances)


def replicas_in_child(
    states: RestartStates, syn: dict, sim: SimConfig, n_replicas: int, n_record: int, seed: int, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """simulate_replicas in a child process, keeping Brian2's global state out of the caller."""
    with tempfile.TemporaryDirectory(prefix="voltlib_restarts_") as tmp_name:
        tmp = Path(tmp_name)
        arrays = {k: getattr(states, k) for k in RestartStates.__dataclass_fields__}
        for r in np.unique(states.run):
            arrays[f"syn_i_{r}"], arrays[f"syn_j_{r}"] = syn[int(r)]
        np.savez(tmp / "states.npz", **arrays)
        spec = {
            "sim": to_dict(sim),
            "states": str(tmp / "states.npz"),
            "out": str(tmp / "out.npz"),
            "n_replicas": n_replicas,
            "n_record": n_record,
            "seed": seed,
        }
        (tmp / "spec.json").write_text(json.dumps(spec))
        run_module(
            "voltlib.sim.restarts", str(tmp / "spec.json"), progress=progress, what="the Brian2 restart simulation"
        )
        with np.load(tmp / "out.npz") as f:
            return f["mean_mv"], f["var_mv2"]


def _child_main(spec_path: str) -> None:
    """Child-process entry: reads the spec and states, simulates the replicas, writes their moments."""
    from voltlib.sim.simulate import sim_from_dict

    spec = json.loads(Path(spec_path).read_text())
    with np.load(spec["states"]) as f:
        d = {k: f[k] for k in f.files}
    states = RestartStates(**{k: d[k] for k in RestartStates.__dataclass_fields__})
    syn = {int(r): (d[f"syn_i_{r}"], d[f"syn_j_{r}"]) for r in np.unique(states.run)}
    mean, var = simulate_replicas(
        states, syn, sim_from_dict(spec["sim"]), spec["n_replicas"], spec["n_record"], spec["seed"], progress=True
    )
    np.savez(spec["out"], mean_mv=mean, var_mv2=var)


if __name__ == "__main__":
    _child_main(sys.argv[1])
