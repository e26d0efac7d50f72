"""The NWB export: every smoke run reads back as the cache holds it, bit for bit, and passes nwbinspector."""

import numpy as np
import pytest

from voltlib.config import get_profile
from voltlib.sim import nwb
from voltlib.sim.recording import noisy_runs_mv
from voltlib.sim.simulate import cache_key, simulate

SMOKE = get_profile("smoke")


@pytest.fixture(scope="module")
def sim():
    return simulate(SMOKE.sim, progress=False)


@pytest.fixture(scope="module")
def exported(sim, tmp_path_factory):
    return nwb.export_profile("smoke", tmp_path_factory.mktemp("nwb"), progress=False)


def _by_neuron_then_time(i, t):
    order = np.lexsort((t, i))
    return np.asarray(i)[order], np.asarray(t)[order]


def test_every_run_is_written_and_passes_nwbinspector(sim, exported):
    names = sorted(p.name for p in exported["files"])
    assert names == [f"run_{s:05d}.nwb" for s in sim.seeds]
    assert exported["problems"] == {}
    assert exported["bytes"] > sim.v_mv[0].nbytes  # the clean and the noisy voltages at least
    folder = exported["files"][0].parent
    assert not list(folder.glob(".*.part"))
    assert all((folder / f"{n}.sha256").exists() for n in names)


def test_read_back_is_the_cache_bit_for_bit(sim, exported):
    noisy = noisy_runs_mv(sim.v_mv, SMOKE.data, SMOKE.sim.record_dt_ms)
    net = SMOKE.sim.network
    for r, path in enumerate(exported["files"]):
        back = nwb.read_run(path)
        assert back["seed"] == sim.seeds[r] and back["config_hash"] == cache_key(SMOKE.sim)
        assert back["v_mv"].dtype == np.float32 and np.array_equal(back["v_mv"], sim.v_mv[r])
        assert np.array_equal(back["v_noisy_mv"], noisy[r])  # what the models see
        assert back["rate_hz"] == pytest.approx(1000 / SMOKE.sim.record_dt_ms)
        got_i, got_t = _by_neuron_then_time(back["spike_i"], back["spike_t_s"])
        want_i, want_t = _by_neuron_then_time(sim.spike_i[r], sim.spike_t_ms[r] / 1000.0)
        assert len(got_i) == len(sim.spike_i[r]) > 0
        assert np.array_equal(got_i, want_i) and np.array_equal(got_t, want_t)
        assert np.array_equal(back["syn_i"], sim.syn_i[r]) and np.array_equal(back["syn_j"], sim.syn_j[r])
        assert back["neuron_type"] == ["excitatory"] * net.n_exc + ["inhibitory"] * net.n_inh


def test_the_stored_synapses_carry_the_runs_weights(sim, exported):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(exported["files"][1]), mode="r") as io:
        f = io.read()
        syn = f.processing[nwb.MODULE][nwb.SYNAPSES]
        w = np.zeros_like(sim.weights_mv(1))
        np.add.at(w, (syn["pre"].data[:], syn["post"].data[:]), syn["jump_mv"].data[:])
        series = f.acquisition[nwb.VOLTAGE]
        assert series.unit == "volts" and series.conversion == pytest.approx(1e-3)
        assert series.starting_time == pytest.approx(SMOKE.data.discard_ms / 1000)
    np.testing.assert_allclose(w, sim.weights_mv(1), rtol=0, atol=1e-6)


def test_inspector_messages_not_explained_are_reported(exported, monkeypatch):
    monkeypatch.setattr(nwb, "EXPLAINED", {})
    found = nwb.inspect(exported["files"][0])
    assert any("check_subject_exists" in line and line.startswith("CRITICAL") for line in found)


def test_an_interrupted_write_leaves_no_file(sim, tmp_path, monkeypatch):
    from pynwb import NWBHDF5IO

    def fail(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(NWBHDF5IO, "write", fail)
    with pytest.raises(KeyboardInterrupt):
        nwb.write_run("smoke", sim, 0, tmp_path / "run.nwb")
    assert list(tmp_path.iterdir()) == []
