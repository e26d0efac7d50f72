"""Forecasting a recording: on the exported smoke simulation it agrees with the notebooks' own calls, on a file
written with pynwb (another rate, other units, no spikes) it reads the file's rate and units, and every file it
cannot use gets a message of a few lines naming the problem."""

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from voltlib import paths
from voltlib.config import get_profile, ms_to_samples
from voltlib.forecast import staircase
from voltlib.forecast.baselines import run_baselines
from voltlib.forecast.data import make_datasets
from voltlib.forecast.ladder import score_predictions, seed_summary
from voltlib.sim import nwb
from voltlib.sim.simulate import simulate
from voltlib.store import write_json
from voltlib.workflow import forecast_recording as fr

SMOKE = get_profile("smoke")
H = [ms_to_samples(h, SMOKE.sim.record_dt_ms) for h in SMOKE.data.horizons_ms]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """Trained members go to a scratch folder, never into the project's cache."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("models")
    mp.setattr(paths, "MODELS", folder)
    yield folder
    mp.undo()


@pytest.fixture(scope="module")
def smoke(models_dir):
    sim = simulate(SMOKE.sim, progress=False)
    return sim, make_datasets(sim, SMOKE.data, "clean", tuple(H))


@pytest.fixture(scope="module")
def notebook_numbers(smoke):
    """Test R^2 at 1 ms of the baselines (notebook 02's run_baselines) and of the wiring member (notebook 08's calls)."""
    sim, datasets = smoke
    ds = datasets[H[0]]
    out = {k: m["r2"] for k, m in run_baselines(ds).items()}
    inp = staircase.build_inputs(sim, SMOKE.data, ds.runs, tuple(H))
    member = next(m for m in staircase.members(SMOKE.beyond) if m.name == "wiring")
    fitted = [
        staircase.fit_member(
            member,
            staircase.member_train_config(SMOKE.beyond, k),
            inp,
            ds.runs,
            SMOKE.data.window - 1,
            SMOKE.sim,
            SMOKE.data,
        )
        for k in range(SMOKE.beyond.seeds)
    ]
    preds = [staircase.forecasts_z(m, member, inp, s, datasets)[H[0]] for m, _, s in fitted]
    out["member"] = seed_summary([score_predictions(p, ds) for p in preds], preds, ds)["r2"]
    return out


@pytest.fixture(scope="module")
def exported_test_run(smoke, tmp_path_factory):
    """The NWB export of the notebooks' clean test run."""
    sim, datasets = smoke
    run = int(datasets[H[0]].runs["test"][0])
    return nwb.write_run("smoke", sim, run, tmp_path_factory.mktemp("export") / "test_run.nwb")


@pytest.fixture(scope="module")
def forecast_of_export(exported_test_run, models_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast")
    return fr.forecast(exported_test_run, out, profile="smoke", segments=20, member="wiring", progress=False), out


def test_on_the_exported_simulation_the_numbers_agree_with_the_notebooks(forecast_of_export, notebook_numbers):
    result, _ = forecast_of_export
    at_1ms = {k: v["1"] for k, v in result["r2"].items()}
    label = staircase.MEMBER_LABELS["wiring"]
    for name, ours in (
        ("persistence", "persistence"),
        ("ar_ridge", "ar_ridge"),
        ("own_lags_boosting", "own_lags_boosting"),
        ("member", label),
    ):
        lo, hi = at_1ms[ours]["r2_ci"]
        assert lo <= notebook_numbers[name] <= hi, (name, notebook_numbers[name], at_1ms[ours])
    # what the recording is: 1,200 noisy samples at 1 kHz, read in volts and converted back to the cache's mV
    assert result["rate_hz"] == pytest.approx(1000.0) and result["n_samples"] == 1200 and result["n_channels"] == 100
    assert result["spikes"]["n_excitatory_channels"] == SMOKE.sim.network.n_exc  # from the Units' neuron_type
    assert result["spikes"]["reset_mv"] == pytest.approx(SMOKE.sim.network.v_reset_mv, abs=0.5)
    assert result["protocol"]["splits"] == {"train": list(range(14)), "val": [14, 15, 16], "test": [17, 18, 19]}
    # the R^2 falls with the horizon for every model
    for by_h in result["r2"].values():
        assert by_h["1"]["r2"] > by_h["20"]["r2"]


def test_the_report_and_the_json_hold_the_numbers(forecast_of_export):
    result, out = forecast_of_export
    saved = json.loads((out / "forecast.json").read_text())
    assert saved["r2"]["persistence"]["5"]["r2"] == pytest.approx(result["r2"]["persistence"]["5"]["r2"])
    page = (out / "forecast.html").read_text()
    assert f"{result['r2']['ar_ridge']['1']['r2']:.3f}" in page and "segments" in page and "<img" in page
    assert not list(out.glob(".*.part"))


def _electrical_series_file(path, v_uv, rate_hz):
    """An NWB file written directly with pynwb: an ElectricalSeries of integer microvolts (conversion 1e-6 to volts)."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries

    f = NWBFile(
        session_description="test", identifier="test-recording", session_start_time=datetime(2026, 1, 1, tzinfo=UTC)
    )
    device = f.create_device(name="probe")
    group = f.create_electrode_group(name="shank", description="test", location="nowhere", device=device)
    for _ in range(v_uv.shape[1]):
        f.add_electrode(group=group, location="nowhere")
    region = f.create_electrode_table_region(region=list(range(v_uv.shape[1])), description="all")
    f.add_acquisition(ElectricalSeries(name="lfp", data=v_uv, electrodes=region, rate=rate_hz, conversion=1e-6))
    with NWBHDF5IO(str(path), mode="w") as io:
        io.write(f)
    return path


def _coupled_ou(n_samples, n, seed=0):
    """Channels of a smooth random process (mV) that each forecast can learn something about, without spikes."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_samples, n))
    for t in range(1, n_samples):
        x[t] = 0.98 * x[t - 1] + 0.01 * x[t - 1].mean() + rng.standard_normal(n)
    return x - 60.0


def test_a_pynwb_file_at_another_rate_in_other_units_without_spikes(tmp_path, models_dir):
    v_mv = _coupled_ou(8000, 6)
    v_uv = np.round(v_mv * 1000).astype(np.int32)
    path = _electrical_series_file(tmp_path / "probe.nwb", v_uv, 2000.0)
    rec = fr.read_recording(path)
    assert rec.rate_hz == 2000.0 and rec.neuron_type is None
    np.testing.assert_allclose(rec.v_mv, v_uv * 1e-3, rtol=0, atol=1e-4)  # integer uV * 1e-6 V -> mV
    result = fr.forecast(path, tmp_path / "out", profile="smoke", segments=8, member="own", progress=False)
    assert result["spikes"]["n_detected"] == 0 and result["spikes"]["reset_mv"] is None
    assert result["protocol"]["test_windows"]["1"] > 0
    assert [ms_to_samples(h, 0.5) for h in result["horizons_ms"]] == [2, 4, 10, 20, 40]
    r2 = {k: v["1"]["r2"] for k, v in result["r2"].items()}
    assert 0.5 < r2["persistence"] < 1.0
    assert r2["ar_ridge"] >= r2["persistence"] - 0.02  # an AR process: the AR forecast is the right model
    assert (tmp_path / "out" / "forecast.html").exists()


def _npz(tmp_path, name="rec.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _message(excinfo) -> str:
    text = str(excinfo.value)
    assert len(text.splitlines()) <= 4 and "expected:" in text and "to do:" in text
    return text


def test_a_file_with_no_voltage_series(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile

    f = NWBFile(session_description="empty", identifier="x", session_start_time=datetime(2026, 1, 1, tzinfo=UTC))
    with NWBHDF5IO(str(tmp_path / "empty.nwb"), mode="w") as io:
        io.write(f)
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(tmp_path / "empty.nwb", profile="smoke")
    assert "no voltage series" in _message(e)
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(_npz(tmp_path, x=np.zeros((10, 2))), profile="smoke")
    assert "no voltage array 'v'" in _message(e)


def test_too_few_samples(tmp_path):
    path = _npz(tmp_path, v=_coupled_ou(300, 3), rate_hz=1000.0, unit="mV")
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(path, profile="smoke")
    assert "300 samples" in _message(e) and "at least 520 samples" in str(e.value)


def test_nan_gaps(tmp_path):
    v = _coupled_ou(3000, 3)
    v[1500:1510, 2] = np.nan
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(_npz(tmp_path, v=v, rate_hz=1000.0, unit="mV"), profile="smoke")
    assert "10 NaN or infinite samples (the first at 1.500 s, channel 2)" in _message(e)


def test_units_it_cannot_read(tmp_path):
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(_npz(tmp_path, v=_coupled_ou(3000, 3), rate_hz=1000.0, unit="amperes"), profile="smoke")
    assert "'amperes'" in _message(e)
    np.save(tmp_path / "bare.npy", _coupled_ou(3000, 3))
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(tmp_path / "bare.npy", profile="smoke")
    assert "does not state its sampling rate" in _message(e)


@pytest.mark.parametrize("rate", [300.0, 1500.0, 20_000.0])
def test_a_rate_the_models_cannot_use(tmp_path, rate):
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(_npz(tmp_path, v=_coupled_ou(3000, 3), rate_hz=rate, unit="mV"), profile="smoke")
    assert f"sampled at {rate:g} Hz" in _message(e)


def test_the_command_prints_the_problem_and_fails(tmp_path, capsys):
    path = _npz(tmp_path, v=_coupled_ou(300, 3), rate_hz=1000.0, unit="mV")
    assert fr.main([str(path), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "300 samples" in err and len(err.splitlines()) <= 4


def test_a_recording_too_large_for_the_wiring_inference(tmp_path):
    v = np.full((10_000, 300), -60.0, np.float32)  # 20 blocks x 300 x 302^2 float64: 4.4 GB of moments
    with pytest.raises(fr.RecordingError) as e:
        fr.forecast(_npz(tmp_path, v=v, rate_hz=1000.0, unit="mV"), profile="smoke")
    assert "4.4 GB" in _message(e)


def test_the_member_is_notebook_08s_best_when_it_has_run(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RESULTS", tmp_path)
    assert fr.best_member("smoke")[0] == fr.DEFAULT_MEMBER
    write_json(tmp_path / "smoke" / "analysis.json", {"reaching_the_ceiling": {"best_without_oracle": "clock"}})
    member, why = fr.best_member("smoke")
    assert member == "clock" and "notebook 08's best member at the smoke profile" in why
