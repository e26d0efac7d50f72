"""The Brian2 network: statistics in the source's regime, determinism, and the run cache."""

import dataclasses

import numpy as np
import pytest

from voltlib import store
from voltlib.config import get_profile
from voltlib.sim.simulate import cache_key, run_path, simulate
from voltlib.sim.stats import network_stats

SMOKE = get_profile("smoke").sim
# Same network, duration and resolution as smoke (so the same C++ build), seeds of its own.
PRIVATE = dataclasses.replace(SMOKE, n_runs=2, seed_base=9000)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke():
    return simulate(SMOKE, progress=False)


def test_shapes_and_units(smoke):
    assert smoke.v_mv.shape == (4, 2000, 100) and smoke.v_mv.dtype == np.float32
    v = smoke.v_mv[:, 800:]
    # Input arrives after thresholding in Brian2's schedule, so a sample (taken at the start of a
    # step) can sit above theta for that one step before the reset: rare, and by a few mV at most.
    theta = SMOKE.network.theta_mv
    assert (v > theta).mean() < 0.01
    assert v.max() < theta + 5.0
    assert -85 < v.min() < -70
    assert smoke.v_mv[:, 0].std() == pytest.approx(2.0, abs=0.5)  # v0 = E_L + 2 mV N(0,1)


def test_statistics_in_the_source_regime(smoke):
    st = network_stats(smoke)
    assert 25 <= st["rate_hz"] <= 38
    assert 0.33 <= st["cv_isi"] <= 0.50
    var = smoke.v_mv[:, 800:].var(axis=1).mean()
    assert 25 <= var <= 42  # source: about 33 mV^2


def test_connectivity_matches_the_protocol(smoke):
    n = SMOKE.network.n_neurons
    for i, j in zip(smoke.syn_i, smoke.syn_j):
        assert not np.any(i == j)  # no autapses
        assert len(i) == pytest.approx(0.1 * n * (n - 1), rel=0.15)
    w = smoke.weights_mv(0)
    assert set(np.unique(w[:80])) <= {0.0, 0.5} and set(np.unique(w[80:])) <= {0.0, -2.75}


def test_spikes_are_threshold_crossings(smoke):
    # every recorded spike is followed (within 1 ms) by a voltage at reset
    i, t = smoke.spike_i[0], smoke.spike_t_ms[0]
    k = (np.floor(t) + 1).astype(int)
    ok = k < smoke.v_mv.shape[1]
    after = smoke.v_mv[0, k[ok], i[ok]]
    assert np.mean(np.abs(after - SMOKE.network.v_reset_mv) < 1.0) > 0.95


def test_same_seed_same_voltages_different_seed_different(smoke):
    again = simulate(dataclasses.replace(SMOKE, n_runs=1), progress=False)  # cached seed 72
    first = smoke.v_mv[0]
    for seed in (SMOKE.seed_base,):
        run_path(SMOKE, seed).unlink()  # force a fresh run
    fresh = simulate(dataclasses.replace(SMOKE, n_runs=1), progress=False)
    assert fresh.wall_s > 0
    np.testing.assert_array_equal(fresh.v_mv[0], first)
    np.testing.assert_array_equal(again.v_mv[0], first)
    assert not np.allclose(smoke.v_mv[0], smoke.v_mv[1])
    assert not np.array_equal(smoke.syn_i[0], smoke.syn_i[1]) or not np.array_equal(smoke.syn_j[0], smoke.syn_j[1])


def test_cache_reused_and_corruption_rebuilt(capsys):
    first = simulate(PRIVATE, progress=False)
    reused = simulate(PRIVATE, progress=False)
    assert reused.wall_s == 0.0
    np.testing.assert_array_equal(first.v_mv, reused.v_mv)

    old, path = run_path(PRIVATE, PRIVATE.seed_base), run_path(PRIVATE, PRIVATE.seed_base + 1)
    store.checksum_path(old).unlink()  # written before checksums
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a truncated file
    capsys.readouterr()
    rebuilt = simulate(PRIVATE, progress=False)
    assert capsys.readouterr().out == (
        f"cache: {store.shown(old)} {store.NO_CHECKSUM}; simulating it again\n"
        f"cache: {store.shown(path)} {store.MISMATCH}; simulating it again\n"
    )
    assert rebuilt.wall_s > 0
    np.testing.assert_array_equal(first.v_mv, rebuilt.v_mv)


def test_mismatched_cache_file_is_not_used(capsys):
    simulate(PRIVATE, progress=False)
    # a file from another config under this name (e.g. copied by hand with its checksum) must be detected
    good = run_path(PRIVATE, PRIVATE.seed_base)
    with np.load(good) as f:
        data = {k: f[k] for k in f.files}
    data["config_hash"] = np.str_("deadbeef0000")
    store.save_npz(good, **data)
    capsys.readouterr()
    simulate(PRIVATE, progress=False)
    out = capsys.readouterr().out
    assert out.startswith(f"cache: {store.shown(good)} is unusable (config hash deadbeef0000 != expected ")
    assert out.endswith("); simulating it again\n") and out.count("\n") == 1
    simulate(PRIVATE, progress=False)
    assert capsys.readouterr().out == ""  # repaired, silent now


def test_cache_key_ignores_run_count_but_not_duration():
    assert cache_key(PRIVATE) == cache_key(SMOKE)
    assert cache_key(dataclasses.replace(SMOKE, duration_s=3.0)) != cache_key(SMOKE)
