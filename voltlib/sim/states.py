"""Brunel's network states at this network's size: named networks beside the source's, each identified by
what it measures (rate, CV of ISIs, the population's synchrony and its spectral peak), not by its
parameters (METHODS.md section 14).

Brunel (2000) mapped the states of a large sparse network (C_E = 1,000) over the inhibition ratio g
and the drive nu_ext / nu_thr. At 100 neurons with C_E = 8 the same values do not give the same
states: the recurrent input is weak beside the external drive, so at the source's J = 0.5 mV moving g
and the drive changes rate and regularity far more than synchrony. The states below reach their
labels with a larger J (which scales the external and the recurrent jumps alike)
and the drive; the source's network stays the default and is one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from voltlib.config import NetworkConfig, SimConfig, to_dict
from voltlib.sim.simulate import Simulation
from voltlib.sim.stats import SPECTRUM_BINS, run_state

# What the labels mean here, in measured statistics (METHODS.md section 14):
IRREGULAR_CV = 0.8  # a mean CV of ISIs at or above it is irregular (cortex in vivo: 0.8-1.2)
REGULAR_CV = 0.3  # below it regular (a near-periodic neuron); between the two near-regular
SYNC_FANO = 1.5  # a Fano factor of the 1 ms population counts at or above it: neurons fire together ...
CLEAR_PEAK = 10.0  # ... and a spectral peak of the population rate this many times its median: an oscillation
STATISTICS = ("rate_hz", "cv_isi", "fano", "chi", "peak_hz", "peak_over_median")


@dataclass(frozen=True)
class State:
    """A named network and the label it must measure as (synchrony, regularity), with a rate band if any."""

    key: str
    name: str  # a noun phrase the sentences put "the" before: "asynchronous irregular state"
    network: NetworkConfig
    synchrony: str  # "synchronous" or "asynchronous"
    regularity: str  # "irregular", "near-regular" or "regular"
    rate_band_hz: tuple[float, float] | None = None
    why: str = ""
    short: str = ""  # a table's column: "AI"


SOURCE = NetworkConfig()
STATES: dict[str, State] = {
    s.key: s
    for s in (
        State(
            "source",
            "source's state",
            SOURCE,
            "asynchronous",
            "near-regular",
            why="the source's parameters: g 5.5, nu_ext / nu_thr 1, J 0.5 mV",
            short="source's",
        ),
        State(
            "ai",
            "asynchronous irregular state",
            replace(SOURCE, j_mv=3.0, nu_ratio=0.5),
            "asynchronous",
            "irregular",
            rate_band_hz=(5.0, 20.0),
            why="the state that resembles cortex: driven below threshold on average (nu_ext / nu_thr 0.5), "
            "firing on large fluctuations (J 3 mV), the source's g",
            short="AI",
        ),
        State(
            "si",
            "synchronous irregular state",
            replace(SOURCE, j_mv=6.0, g=8.0, nu_ratio=0.3),
            "synchronous",
            "irregular",
            why="Brunel's slow synchronous irregular state: strong inhibition (g 8), weak drive, J 6 mV; "
            "irregular neurons on a slow population rhythm",
            short="SI",
        ),
        State(
            "sr",
            "synchronous regular state",
            replace(SOURCE, j_mv=10.0, g=1.0),
            "synchronous",
            "regular",
            why="excitation dominates (g 1 < n_exc / n_inh = 4) and J 10 mV: neurons fire near saturation in step",
            short="SR",
        ),
        State(
            "source_1000",
            "source's network at 1,000 neurons",
            replace(SOURCE, n_exc=800, n_inh=200, c_ext=80),
            "synchronous",
            "near-regular",
            why="the same connection probability (C_E = 80) and C_ext = C_E, Brunel's convention that keeps "
            "nu_ext / nu_thr = 1 meaning what it means at 100 neurons (with the source's C_ext = 8 the larger "
            "network is silent)",
            short="1,000 neurons",
        ),
    )
}


def regularity(cv_isi: float) -> str:
    """'irregular', 'near-regular' or 'regular' by the mean CV of ISIs."""
    if not np.isfinite(cv_isi):
        return "silent"
    return "irregular" if cv_isi >= IRREGULAR_CV else "regular" if cv_isi < REGULAR_CV else "near-regular"


def synchrony(fano: float, peak_over_median: float) -> str:
    """'synchronous' when the neurons fire together (Fano factor) on a clear population rhythm, else 'asynchronous'."""
    if not (np.isfinite(fano) and np.isfinite(peak_over_median)):
        return "silent"
    return "synchronous" if fano >= SYNC_FANO and peak_over_median >= CLEAR_PEAK else "asynchronous"


def label(stats: dict) -> str:
    """The measured label of a state's statistics, e.g. 'asynchronous irregular'."""
    sync, reg = synchrony(stats["fano"], stats["peak_over_median"]), regularity(stats["cv_isi"])
    return "silent" if "silent" in (sync, reg) else f"{sync} {reg}"


def misses(state: State, stats: dict) -> list[str]:
    """What in these statistics contradicts the state's label (empty when the state is what it says)."""
    out = []
    if (got := synchrony(stats["fano"], stats["peak_over_median"])) != state.synchrony:
        out.append(
            f"{got}: Fano factor {stats['fano']:.2f} and a spectral peak {stats['peak_over_median']:.1f} times the "
            f"median, where synchronous needs at least {SYNC_FANO:g} and {CLEAR_PEAK:g}"
        )
    if (got := regularity(stats["cv_isi"])) != state.regularity:
        out.append(
            f"{got}: CV of ISIs {stats['cv_isi']:.2f}, where irregular needs at least {IRREGULAR_CV:g} and regular less than {REGULAR_CV:g}"
        )
    if state.rate_band_hz and not state.rate_band_hz[0] <= stats["rate_hz"] <= state.rate_band_hz[1]:
        lo, hi = state.rate_band_hz
        out.append(f"a rate of {stats['rate_hz']:.1f} Hz, outside {lo:g}-{hi:g} Hz")
    return out


def state_sim(base: SimConfig, state: State, n_runs: int | None = None) -> SimConfig:
    """The simulation of a state at a profile's resolution, duration and seeds (its first n_runs runs)."""
    return replace(base, network=state.network, n_runs=base.n_runs if n_runs is None else n_runs)


def run_statistics(sim: Simulation, discard_ms: float) -> dict[str, np.ndarray]:
    """Every statistic of every run of a simulation after its first discard_ms: {statistic: [run]}."""
    span_ms = SPECTRUM_BINS * sim.sim.record_dt_ms  # one Welch segment of the population rate
    if discard_ms + span_ms > sim.sim.duration_s * 1000:
        raise ValueError(
            f"runs of {sim.sim.duration_s:g} s leave less than {span_ms:g} ms after the first {discard_ms:g} ms for "
            "the population spectrum: simulate longer or discard less"
        )
    rows = [
        run_state(sim.v_mv[r], sim.spike_i[r], sim.spike_t_ms[r], discard_ms, sim.sim.record_dt_ms)
        for r in range(sim.n_runs)
    ]
    return {k: np.array([row[k] for row in rows]) for k in STATISTICS}


def summarise(per_run: dict[str, np.ndarray]) -> dict:
    """Mean, SD, min and max over runs of each statistic, and the label of the means."""
    out: dict = {
        k: {
            "mean": float(np.nanmean(v)),
            "sd": float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else float("nan"),
            "min": float(np.nanmin(v)),
            "max": float(np.nanmax(v)),
        }
        for k, v in per_run.items()
    }
    means = {k: out[k]["mean"] for k in per_run}
    out["label"] = label(means)
    out["run_labels"] = [label({k: float(v[r]) for k, v in per_run.items()}) for r in range(len(per_run["fano"]))]
    return out


def measure(state: State, sim: Simulation, discard_ms: float) -> dict:
    """A state's record from its simulated runs (state_sim's): its parameters, its statistics over runs, its
    measured label and what contradicts it."""
    per_run = run_statistics(sim, discard_ms)
    summary = summarise(per_run)
    means = {k: summary[k]["mean"] for k in STATISTICS}
    return {
        "key": state.key,
        "name": state.name,
        "network": to_dict(state.network),
        "nu_ext_hz": state.network.nu_ext_hz,
        "n_runs": sim.n_runs,
        "duration_s": sim.sim.duration_s,
        "discard_ms": discard_ms,
        "expected": f"{state.synchrony} {state.regularity}",
        "misses": misses(state, means),
        "per_run": {k: v.tolist() for k, v in per_run.items()},
        "simulate_s": sim.wall_s,
        **summary,
    }
