"""The Brunel network of METHODS.md sections 1-2 in Brian2, and its on-disk cache.

Speed: the network is compiled once as a C++ standalone program; the per-run seed is read at run
time from the environment (variable VOLTLIB_SEED), so every run reuses one build (~0.5 s / 10 s run).
The build and the runs happen in a child process, keeping Brian2's global device state out of the
caller (a notebook kernel, a test).

On disk, one file per run (with its sha256 sidecar, checked before use): data/sim/<hash>/run_<seed>.npz with
    v_mv        float32 [n_samples, n_neurons]   membrane voltage every record_dt_ms (mV)
    spike_i     int32   [n_spikes]               neuron index of each spike
    spike_t_ms  float64 [n_spikes]               spike time (ms, exact to dt)
    syn_i, syn_j int32  [n_synapses]             presynaptic, postsynaptic index
    seed, config_hash                            what produced it
    run_s                                        seconds the C++ program took for this run
<hash> covers the network, duration and resolution, not n_runs: a profile with more runs reuses
the runs it shares with one of fewer.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voltlib import paths
from voltlib.config import SimConfig, config_hash, to_dict
from voltlib.sim.child import run_module
from voltlib.store import UnusableFile, load_checked, save_npz

SEED_ENV = "VOLTLIB_SEED"
RUN_KEYS = ("v_mv", "spike_i", "spike_t_ms", "syn_i", "syn_j", "seed", "config_hash")


def cache_key(sim: SimConfig) -> str:
    """Hash of everything that determines one run's content (not n_runs or seed_base)."""
    return config_hash(sim.network, sim.duration_s, sim.dt_ms, sim.record_dt_ms)


def cache_dir(sim: SimConfig) -> Path:
    """data/sim/<cache_key>/."""
    return paths.DATA / "sim" / cache_key(sim)


def run_path(sim: SimConfig, seed: int) -> Path:
    """The cache file of the run with this seed."""
    return cache_dir(sim) / f"run_{seed:05d}.npz"


def run_seeds(sim: SimConfig) -> list[int]:
    """Seeds of runs 0..n_runs-1 (run r uses seed_base + r)."""
    return [sim.seed_base + r for r in range(sim.n_runs)]


@dataclass
class Simulation:
    """All runs of a SimConfig, loaded: v_mv[run, time, neuron] (float32, mV) and per-run spikes/synapses."""

    sim: SimConfig
    v_mv: np.ndarray
    spike_i: list
    spike_t_ms: list
    syn_i: list
    syn_j: list
    seeds: list
    wall_s: float  # seconds spent simulating in this call (0 when all runs came from the cache)
    run_s: np.ndarray  # [run] seconds each run took when it was simulated (cached or now)

    @property
    def n_runs(self) -> int:
        return self.v_mv.shape[0]

    @property
    def t_ms(self) -> np.ndarray:
        """Sample times of v_mv (ms)."""
        return np.arange(self.v_mv.shape[1]) * self.sim.record_dt_ms

    def weights_mv(self, run: int) -> np.ndarray:
        """Connectivity of one run as a [pre, post] matrix of synaptic jumps (mV; 0 = no synapse)."""
        net = self.sim.network
        w = np.zeros((net.n_neurons, net.n_neurons), np.float32)
        i, j = self.syn_i[run], self.syn_j[run]
        np.add.at(w, (i, j), np.where(i < net.n_exc, net.j_mv, -net.g * net.j_mv))
        return w


def validate_run(data, sim: SimConfig, seed: int) -> str | None:
    """Returns what is wrong with a loaded run file, or None if it is complete and matches sim."""
    missing = [k for k in RUN_KEYS if k not in data]
    if missing:
        return f"missing arrays {missing}"
    if str(data["config_hash"]) != cache_key(sim):
        return f"config hash {data['config_hash']} != expected {cache_key(sim)}"
    if int(data["seed"]) != seed:
        return f"seed {int(data['seed'])} != expected {seed}"
    shape = (sim.n_samples, sim.network.n_neurons)
    if data["v_mv"].shape != shape or data["v_mv"].dtype != np.float32:
        return f"v_mv has shape {data['v_mv'].shape} {data['v_mv'].dtype}, expected {shape} float32"
    if not np.isfinite(data["v_mv"]).all():
        return "v_mv contains NaN or inf"
    n = sim.network.n_neurons
    for k in ("spike_i", "syn_i", "syn_j"):
        a = data[k]
        if a.size and (a.min() < 0 or a.max() >= n):
            return f"{k} has indices outside 0..{n - 1}"
    if len(data["spike_i"]) != len(data["spike_t_ms"]):
        return "spike_i and spike_t_ms differ in length"
    return None


def _load_run(sim: SimConfig, seed: int) -> dict | None:
    """The cached run as a dict of arrays, or None (said in one line) if absent, damaged or mismatched."""

    def load(path):
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        problem = validate_run(data, sim, seed)
        if problem:
            raise UnusableFile(f"is unusable ({problem})")
        return data

    return load_checked(run_path(sim, seed), load, "simulating it again")


def simulate(sim: SimConfig, progress: bool = True) -> Simulation:
    """Loads every run of `sim` from the cache, simulating (in a child process) those missing or corrupt."""
    seeds = run_seeds(sim)
    cached = {s: _load_run(sim, s) for s in seeds}
    todo = [s for s, d in cached.items() if d is None]
    runs = {s: d for s, d in cached.items() if d is not None}
    wall_s = 0.0
    if todo:
        t0 = time.perf_counter()
        _simulate_in_child(sim, todo, progress)
        wall_s = time.perf_counter() - t0
        for s in todo:
            d = _load_run(sim, s)
            if d is None:
                raise RuntimeError(
                    f"simulating seed {s} did not produce a valid {run_path(sim, s)}; "
                    "see the messages above from the Brian2 child process."
                )
            runs[s] = d
    ordered = [runs[s] for s in seeds]
    return Simulation(
        sim=sim,
        v_mv=np.stack([d["v_mv"] for d in ordered]),
        spike_i=[d["spike_i"] for d in ordered],
        spike_t_ms=[d["spike_t_ms"] for d in ordered],
        syn_i=[d["syn_i"] for d in ordered],
        syn_j=[d["syn_j"] for d in ordered],
        seeds=seeds,
        wall_s=wall_s,
        run_s=np.array([float(d.get("run_s", np.nan)) for d in ordered]),
    )


def _simulate_in_child(sim: SimConfig, seeds: list[int], progress: bool) -> None:
    """Simulates and caches the runs of these seeds in `python -m voltlib.sim.simulate` (see _child_main)."""
    spec = json.dumps({"sim": to_dict(sim), "seeds": seeds})
    run_module("voltlib.sim.simulate", spec, progress=progress, what="the Brian2 simulation")


def sim_from_dict(d: dict) -> SimConfig:
    """Rebuilds a SimConfig from to_dict() output."""
    from voltlib.config import NetworkConfig

    return SimConfig(**{**d, "network": NetworkConfig(**d["network"])})


# ---------------------------------------------------------------- the Brian2 side (child process)

# The white noise is redrawn at the start of every step, before the Euler update uses it; a
# synaptic spike adds its jump to the target's voltage. While a neuron is refractory its voltage stays at the
# reset value: the stored runs read exactly V_r for the whole 2 ms, so what arrives then is lost
# (tests/sim/test_observer.py checks it on a run).
NOISE_CODE = "I_noise = sigma_noise * randn()"
ON_PRE = "v_post += w"


def neuron_model(net, b2) -> dict:
    """Returns the keyword arguments of the LIF NeuronGroup (equations, threshold, reset, refractory, namespace)."""
    ms, mV = b2.ms, b2.mV
    ns = dict(
        tau=net.tau_ms * ms,
        E_L=net.e_l_mv * mV,
        theta=net.theta_mv * mV,
        V_r=net.v_reset_mv * mV,
        tau_noise=net.tau_noise_ms * ms,
        sigma_noise=net.noise_mv * mV,
        v0_sd=net.v0_sd_mv * mV,
        J=net.j_mv * mV,
        g=net.g,
        n_exc=net.n_exc,
    )
    eqs = """
    dv/dt = (E_L - v) / tau + I_noise / tau_noise : volt (unless refractory)
    I_noise : volt
    """
    return dict(
        model=eqs,
        threshold="v > theta",
        reset="v = V_r",
        refractory=net.refractory_ms * ms,
        method="euler",
        namespace=ns,
    )


def build_network(sim: SimConfig, b2):
    """Creates the Brunel network in the current Brian2 device; returns (network, synapses, state, spikes)."""
    net = sim.network
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    b2.defaultclock.dt = sim.dt_ms * ms
    model = neuron_model(net, b2)
    ns = model["namespace"]
    group = b2.NeuronGroup(net.n_neurons, name="neurons", **model)
    group.run_regularly(NOISE_CODE, when="start", order=-1, name="noise")
    group.v = "E_L + v0_sd * randn()"
    syn = b2.Synapses(group, group, "w : volt", on_pre=ON_PRE, delay=net.delay_ms * ms, namespace=ns, name="syn")
    syn.connect(condition="i != j", p=net.p_connect)  # each ordered pair of distinct neurons
    syn.w["i < n_exc"] = "J"
    syn.w["i >= n_exc"] = "-g * J"
    drive = b2.PoissonInput(group, "v", N=net.c_ext, rate=net.nu_ext_hz * Hz, weight=net.j_mv * mV)
    state = b2.StateMonitor(group, "v", record=True, dt=sim.record_dt_ms * ms, name="vmon")
    spikes = b2.SpikeMonitor(group, name="spikemon")
    # an explicit Network: Brian2's magic collection would miss objects not named in the caller
    return b2.Network(group, syn, drive, state, spikes), syn, state, spikes


def _child_main(spec: str) -> None:
    d = json.loads(spec)
    sim, seeds = sim_from_dict(d["sim"]), d["seeds"]
    import brian2 as b2

    build = paths.DATA / "brian_build" / cache_key(sim)
    t0 = time.perf_counter()
    b2.set_device("cpp_standalone", directory=str(build), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.prefs.logging.console_log_level = "WARNING"
    # The seed is compiled in by b2.seed(); reading it from the environment at run time lets one
    # build serve every run. It runs before any random draw (connectivity, initial v, noise).
    b2.device.insert_code(
        "main",
        f"""
    {{ const char* s = std::getenv("{SEED_ENV}");
      if (s == nullptr) {{ std::cerr << "{SEED_ENV} is not set" << std::endl; return 2; }}
      for (int _i = 0; _i < 1; _i++) brian::_random_generators[_i].seed(std::strtoul(s, nullptr, 10)); }}
    """,
    )
    b2.device.headers.append("<cstdlib>")
    network, syn, state, spikes = build_network(sim, b2)
    network.run(sim.duration_s * 1000 * b2.ms)
    b2.device.build(run=False, directory=str(build))
    print(
        f"[voltlib.sim.simulate] built the C++ program in {time.perf_counter() - t0:.1f} s "
        f"({len(seeds)} runs of {sim.duration_s:g} s to simulate)",
        flush=True,
    )
    key = cache_key(sim)
    for n, seed in enumerate(seeds, 1):
        t1 = time.perf_counter()
        os.environ[SEED_ENV] = str(seed)
        b2.device.run(results_directory=f"results_{seed}")
        run_s = time.perf_counter() - t1
        v = np.asarray(state.v_, dtype=np.float64).T * 1000.0
        save_npz(
            run_path(sim, seed),
            v_mv=v.astype(np.float32),
            spike_i=np.asarray(spikes.i[:], np.int32),
            spike_t_ms=np.asarray(spikes.t_, np.float64) * 1e3,
            syn_i=np.asarray(syn.i[:], np.int32),
            syn_j=np.asarray(syn.j[:], np.int32),
            seed=np.int64(seed),
            config_hash=np.str_(key),
            run_s=np.float64(run_s),
        )
        import shutil

        shutil.rmtree(build / f"results_{seed}", ignore_errors=True)
        print(
            f"[voltlib.sim.simulate] run {n}/{len(seeds)} (seed {seed}) in {time.perf_counter() - t1:.2f} s", flush=True
        )


if __name__ == "__main__":
    _child_main(sys.argv[1])
