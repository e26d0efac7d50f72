"""Brunel's states at 100 neurons: each named network measures as its label says, and the labels follow
their thresholds (METHODS.md section 14)."""

import dataclasses

import numpy as np
import pytest

from voltlib.config import NetworkConfig, get_profile
from voltlib.sim import states
from voltlib.sim.simulate import simulate


def _stats(**kw):
    return {"rate_hz": 10.0, "cv_isi": 0.9, "fano": 1.0, "chi": 0.1, "peak_hz": 20.0, "peak_over_median": 3.0, **kw}


def test_labels_follow_the_thresholds_at_their_edges():
    assert states.label(_stats()) == "asynchronous irregular"
    assert states.label(_stats(cv_isi=states.IRREGULAR_CV - 1e-9)) == "asynchronous near-regular"
    assert states.label(_stats(cv_isi=states.REGULAR_CV - 1e-9)) == "asynchronous regular"
    # synchronous needs both: neurons firing together and a clear rhythm
    assert states.label(_stats(fano=states.SYNC_FANO, peak_over_median=states.CLEAR_PEAK)) == "synchronous irregular"
    assert states.label(_stats(fano=5.0, peak_over_median=states.CLEAR_PEAK - 0.1)) == "asynchronous irregular"
    assert states.label(_stats(fano=states.SYNC_FANO - 0.01, peak_over_median=100.0)) == "asynchronous irregular"
    assert states.label(_stats(cv_isi=float("nan"), fano=float("nan"))) == "silent"


def test_misses_name_every_statistic_that_contradicts_the_label():
    ai = states.STATES["ai"]
    assert states.misses(ai, _stats()) == []
    wrong = states.misses(ai, _stats(cv_isi=0.5, fano=3.0, peak_over_median=30.0, rate_hz=30.0))
    assert len(wrong) == 3
    assert wrong[0].startswith("synchronous: Fano factor 3.00 and a spectral peak 30.0 times the median")
    assert wrong[1].startswith("near-regular: CV of ISIs 0.50") and wrong[2] == "a rate of 30.0 Hz, outside 5-20 Hz"


def test_the_states_are_the_source_and_four_others_at_its_connection_probability():
    assert states.STATES["source"].network == NetworkConfig()
    assert {s.key for s in states.STATES.values()} == {"source", "ai", "si", "sr", "source_1000"}
    assert all(s.network.p_connect == NetworkConfig().p_connect for s in states.STATES.values())
    big = states.STATES["source_1000"].network
    assert big.n_neurons == 1000 and big.c_e == big.c_ext == 80 and big.nu_ext_hz == pytest.approx(50.0)
    labels = {(s.synchrony, s.regularity) for s in states.STATES.values()}
    assert {("asynchronous", "irregular"), ("synchronous", "irregular"), ("synchronous", "regular")} <= labels


def test_summaries_give_the_spread_over_runs_and_each_runs_label():
    per_run = {k: np.array([v, v]) for k, v in _stats().items()}
    per_run["rate_hz"] = np.array([8.0, 12.0])
    per_run["fano"] = np.array([1.0, 4.0])
    per_run["peak_over_median"] = np.array([3.0, 40.0])
    out = states.summarise(per_run)
    assert out["rate_hz"] == {"mean": 10.0, "sd": pytest.approx(np.sqrt(8.0)), "min": 8.0, "max": 12.0}
    assert out["run_labels"] == ["asynchronous irregular", "synchronous irregular"]
    assert out["label"] == "synchronous irregular"  # the means: Fano 2.5, peak 21.5 x the median


def test_a_run_too_short_for_the_spectrum_is_refused():
    sim = type("S", (), {"sim": dataclasses.replace(get_profile("smoke").sim, duration_s=1.0), "n_runs": 0})
    with pytest.raises(ValueError, match="simulate longer or discard less"):
        states.run_statistics(sim, discard_ms=800.0)


@pytest.mark.slow
@pytest.mark.parametrize("key", list(states.STATES))
def test_each_state_measures_as_its_label_says(key):
    # two runs of 5 s at the smoke profile's resolution and seeds (the source's state shares the cached
    # runs of a 5-s profile, if any); every run, not only their mean, must carry the label
    base = dataclasses.replace(get_profile("smoke").sim, duration_s=5.0)
    state = states.STATES[key]
    rec = states.measure(state, simulate(states.state_sim(base, state, 2), progress=False), discard_ms=800.0)
    assert rec["misses"] == []
    assert rec["run_labels"] == [rec["expected"]] * 2
