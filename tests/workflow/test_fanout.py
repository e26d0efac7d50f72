"""The list of fits and the Dask fan-out: one list, the notebooks' cache keys, same weights anywhere, failures kept apart."""

import dataclasses
import os
import shutil
import time

import pytest
import torch
from safetensors.torch import load
from support import ar1_simulation

from voltlib import paths
from voltlib.config import (
    PHASES,
    PROTOCOLS,
    ConfigError,
    DataConfig,
    get_profile,
)
from voltlib.forecast import fits, train
from voltlib.workflow import fanout

SIM = ar1_simulation()


def _profile(seeds=2):
    smoke = get_profile("smoke")
    phases = {
        p: (m, dataclasses.replace(t, max_epochs=1, max_train_windows=64, max_eval_windows=32, batch_size=32))
        for p, (m, t) in smoke.phases.items()
    }
    return dataclasses.replace(
        smoke, name="tiny", sim=SIM.sim, data=DataConfig(), phases=phases, seeds={"phase4_cnn_lstm": seeds}
    )


PROFILE = _profile()


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "MODELS", tmp_path / "models")
    return tmp_path / "models"


def test_the_list_holds_every_model_once_in_notebook_order():
    specs = fits.specs(PROFILE)
    names = [(s.name, s.protocol, s.seed) for s in specs]
    assert len(names) == len(set(names))
    assert len({s.folder() for s in specs}) == len(specs)  # every fit its own cache entry
    # 4 phases x 2 protocols, phase 4 with 2 seeds; 4 longer horizons; the no-residual model; 2 shuffled seeds
    assert len(specs) == 4 * 2 + 2 + 4 + 1 + 2
    assert [s.notebook for s in specs] == sorted(s.notebook for s in specs)
    assert [s.seed for s in fits.seeds_of(PROFILE, "phase4_cnn_lstm", "original")] == [0, 1]
    assert [s.seed for s in fits.seeds_of(PROFILE, fits.SHUFFLED)] == [0, 1]
    assert {s.horizon for s in specs} == {1, 2, 5, 10, 20}
    assert all(s.protocol in PROTOCOLS for s in specs) and {s.name for s in specs} >= set(PHASES)


def test_a_model_missing_from_the_list_is_refused_with_what_exists():
    with pytest.raises(KeyError, match="not a model of profile 'tiny'.*voltlib.forecast.fits.specs"):
        fits.find(PROFILE, "phase5_transformer")
    with pytest.raises(KeyError, match="no seed 7.*\\[0, 1\\]"):
        fits.find(PROFILE, "phase4_cnn_lstm", "clean", seed=7)


def test_a_spec_names_the_cache_entry_the_notebooks_use(cache):
    """The key a spec computes without data equals the key of the dataset it cuts, and fit_or_load writes there."""
    for spec in fits.specs(PROFILE):
        assert spec.dataset(SIM).key == spec.dataset_key(), spec.label
    spec = fits.find(PROFILE, fits.NO_RESIDUAL)
    ds = spec.dataset(SIM)
    _, info = train.fit_or_load(spec.name, spec.model_cfg, spec.train_cfg, ds, "cpu", variant={"use_residual": False})
    assert spec.is_cached() and info["key"] == spec.folder().name
    assert fits.missing(PROFILE).count(spec) == 0
    with pytest.raises(ValueError, match="learns from the dataset"):
        fits.find(PROFILE, "phase4_cnn_lstm").fit_or_load(fits.find(PROFILE, "phase1_lstm", "original").dataset(SIM))


def test_a_fit_trains_on_its_fixed_thread_count_whatever_the_caller_runs_on(cache, monkeypatch):
    spec = fits.find(PROFILE, "phase4_cnn_lstm", "clean")  # its convolution sums differently on 2 threads
    before = torch.get_num_threads()
    on_two, on_one = _in_process(spec, threads=2), _in_process(spec, threads=1)
    assert all(torch.equal(on_two[k], on_one[k]) for k in on_one)  # a notebook's 2 threads = a worker's 1
    assert torch.get_num_threads() == before  # the caller's count is given back
    _, info = spec.fit_or_load(spec.dataset(SIM), "cpu")
    assert info["device"] == f"cpu ({train.FIT_THREADS} thread{'s' * (train.FIT_THREADS != 1)})"
    monkeypatch.setattr(train, "FIT_THREADS", train.FIT_THREADS + 1)
    assert spec.folder().name != info["key"]  # another thread count is another cache entry


def test_a_damaged_model_is_retrained_by_the_fan_out_not_by_the_notebook_that_reads_it(cache, capsys):
    spec = fits.find(PROFILE, "phase1_lstm", "clean")
    spec.fit_or_load(spec.dataset(SIM), "cpu")
    assert spec not in fits.missing(PROFILE) and spec.is_cached()
    weights = spec.folder() / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"damaged!")  # info.json is intact: it looked complete
    capsys.readouterr()
    assert spec in fits.missing(PROFILE)
    assert capsys.readouterr().out.splitlines() == [
        f"cache: {weights} failed its checksum (sha256 mismatch); retraining it on the fan-out"
    ]
    assert not weights.exists() and not (spec.folder() / "info.json").exists()
    assert fits.missing(PROFILE).count(spec) == 1 and capsys.readouterr().out == ""  # said once


def _in_process(spec, threads=1):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _, state, _ = train.fit(
            spec.name,
            spec.model_cfg,
            spec.train_cfg,
            spec.dataset(SIM),
            torch.device("cpu"),
            spec.folder(),
            dict(spec.variant) or None,
        )
    finally:
        torch.set_num_threads(before)
    return state


def _same(weights: bytes, state: dict) -> bool:
    got = load(weights)
    return got.keys() == state.keys() and all(torch.equal(got[k], state[k]) for k in state)


def test_a_fit_on_a_worker_has_the_weights_of_the_same_fit_in_process(cache):
    spec = fits.find(PROFILE, "phase4_cnn_lstm", "clean", seed=1)
    with fanout.FanOut(PROFILE, fanout.Options(workers=1, dashboard=":0"), say=lambda t: None) as fan:
        fan._connect()
        sim = fan.client.scatter(fanout.light_simulation(SIM), broadcast=True)
        out = fan.client.submit(fanout.train_on_worker, spec, sim, None, str(cache)).result()
    assert out["worker"].startswith("tcp://127.0.0.1")
    assert _same(out["weights"], _in_process(spec))
    other_seed = fits.find(PROFILE, "phase4_cnn_lstm", "clean", seed=0)
    assert not _same(out["weights"], _in_process(other_seed))  # the comparison can fail


def test_the_fan_out_caches_every_fit_and_the_notebooks_load_them(cache):
    specs = [fits.find(PROFILE, "phase1_lstm", p) for p in PROTOCOLS] + fits.seeds_of(PROFILE, fits.SHUFFLED)
    lines = []
    before = dict(os.environ)
    with fanout.FanOut(PROFILE, fanout.Options(workers=2, dashboard=":0"), say=lines.append) as fan:
        assert fan.start(SIM, specs) == 4
        # the nannies set their workers' OMP_NUM_THREADS=1 (and more) here too; the notebook kernels started
        # afterwards inherit this environment, so it must be left as it was
        assert dict(os.environ) == before
        fan.wait_for(None)
        summary = fan.summary()
    assert summary["fits_trained"] == 4 and summary["fits_failed"] == 0
    assert "fan-out: 4 fits to train on a local cluster of 2 worker processes" in lines[0]
    assert sum("tasks " in ln and "trained in" in ln for ln in lines) == 4
    for spec in specs:
        model, info = spec.fit_or_load(spec.dataset(SIM), "cpu")
        assert info["cached"] and info["name"] == spec.name
        assert not (spec.folder() / "checkpoint.pt").exists()
    # the worker's weights are those an in-process training gives
    assert _same((specs[2].folder() / "model.safetensors").read_bytes(), _in_process(specs[2]))


def test_a_failing_fit_is_reported_with_its_traceback_and_the_others_are_cached(cache):
    good = fits.find(PROFILE, "phase1_lstm", "clean")
    bad = dataclasses.replace(good, name="broken", protocol="no-such-protocol")
    with fanout.FanOut(PROFILE, fanout.Options(workers=2, dashboard=":0"), say=lambda t: None) as fan:
        fan.start(SIM, [bad, good])
        with pytest.raises(
            fanout.FitsFailed,
            match=r"(?s)1 fit\(s\) failed.*broken \(no-such-protocol, seed 0\): "
            r'\w+: .*File ".*voltlib/forecast/data\.py"',
        ):
            fan.wait_for(None)
    assert good.is_cached() and not bad.folder().exists()


def test_stopping_the_fan_out_leaves_no_entry_that_looks_complete(cache):
    slow = dataclasses.replace(
        fits.find(PROFILE, "phase2_large_lstm", "clean"),
        # 2,000 epochs: minutes; 50 took under 3 s on an idle core, and the fit was cached before the stop came
        train_cfg=dataclasses.replace(PROFILE.phases["phase2_large_lstm"][1], max_epochs=2000, early_stop=2000),
    )
    fan = fanout.FanOut(PROFILE, fanout.Options(workers=1, dashboard=":0"), say=lambda t: None)
    fan.start(SIM, [slow])
    time.sleep(3)
    fan.close()  # what Ctrl-C does (the build's `with` block)
    assert not slow.is_cached() and not (slow.folder() / "model.safetensors").exists()
    assert fan.cluster is None and fan.client is None


def test_bad_options_say_what_is_expected(monkeypatch):
    monkeypatch.delenv(fanout.SCHEDULER_ENV, raising=False)
    monkeypatch.delenv(fanout.WORKERS_ENV, raising=False)
    with pytest.raises(ConfigError, match="WORKERS='two'.*whole number >= 1"):
        fanout.Options.from_env(workers="two")
    with pytest.raises(ConfigError, match="both given"):
        fanout.Options.from_env("tcp://127.0.0.1:8786", "2")
    assert fanout.Options.from_env(workers="1").in_process
    monkeypatch.setenv(fanout.SCHEDULER_ENV, "tcp://10.0.0.1:8786")
    assert fanout.Options.from_env().scheduler == "tcp://10.0.0.1:8786"


def test_an_unreachable_scheduler_is_one_clear_error():
    fan = fanout.FanOut(PROFILE, fanout.Options(scheduler="tcp://127.0.0.1:9"), say=lambda t: None)
    with pytest.raises(fanout.SchedulerUnreachable, match="no Dask scheduler answered at SCHEDULER=tcp://127.0.0.1:9"):
        fan.start(SIM, fits.specs(PROFILE)[:1])
    fan.close()


def test_an_external_scheduler_trains_the_same_weights(cache, external_cluster):
    spec = fits.find(PROFILE, "phase3_lstm_res", "original")
    lines = []
    with fanout.FanOut(PROFILE, fanout.Options(scheduler=external_cluster), say=lines.append) as fan:
        for _ in range(200):  # the worker may still be connecting
            if fan.client is None:
                fan._connect()
            if fan.client.scheduler_info(n_workers=-1)["workers"]:
                break
            time.sleep(0.1)
        fan.start(SIM, [spec])
        fan.wait_for(None)
    assert "the scheduler at tcp://127.0.0.1:" in lines[0] and spec.is_cached()
    assert fan.cluster is None  # nothing started here, nothing to stop
    assert _same((spec.folder() / "model.safetensors").read_bytes(), _in_process(spec))
    shutil.rmtree(cache)


def test_the_library_hash_does_not_depend_on_the_project_root(tmp_path):
    # a build in a scratch root (VOLTLIB_ROOT, as make nbval and make test-scheduler use) and a worker started
    # without it run the same code: the worker's check must not refuse the client's tasks
    import subprocess
    import sys

    code = "from voltlib.paths import library_hash; print(library_hash())"
    env = {k: v for k, v in os.environ.items() if k != "VOLTLIB_ROOT"}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    scratch = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "VOLTLIB_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert plain.stdout.strip() == scratch.stdout.strip() == paths.library_hash()


def test_a_full_disk_on_the_client_is_one_error_not_one_failure_per_fit(cache, monkeypatch):
    from voltlib.store import DiskFullError

    full = f"the disk holding {cache} is full (no space left on device): it was not written"

    def save_trained(folder, weights, info):  # what store.atomic_path raises on a full disk
        raise DiskFullError(full)

    monkeypatch.setattr(train, "save_trained", save_trained)
    specs = [fits.find(PROFILE, "phase1_lstm", p) for p in PROTOCOLS]
    with fanout.FanOut(PROFILE, fanout.Options(workers=1, dashboard=":0"), say=lambda t: None) as fan:
        fan.start(SIM, specs)
        with pytest.raises(DiskFullError) as err:
            fan.wait_for(None)
    assert str(err.value) == full  # not FitsFailed, with a traceback per fit and "the other fits were cached"
    assert not any(s.is_cached() for s in specs)


def test_the_embedded_clusters_workers_are_born_with_ctrl_c_held_back_and_the_build_gets_it_after():
    import signal

    with fanout.FanOut(PROFILE, fanout.Options(workers=1, dashboard=":0"), say=lambda t: None) as fan:
        fan._connect()
        held = fan.client.run(lambda: sorted(int(s) for s in __import__("signal").pthread_sigmask(0, [])))
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()  # the build's own mask is given back
    (mask,) = held.values()
    assert {int(signal.SIGINT), int(signal.SIGTERM)} <= set(mask)


def test_an_embedded_worker_keeps_quiet_about_its_scheduler_going_but_not_about_other_errors():
    # as in a worker process: distributed's own logging set up, then the preload hook
    script = """
import logging, sys
import distributed
from tornado.iostream import StreamClosedError
from distributed.comm.core import CommClosedError
from voltlib.workflow.fanout import dask_setup
dask_setup(None)
log = logging.getLogger("distributed.worker")
for exc in (StreamClosedError(), CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>")):
    try:
        raise exc
    except OSError:
        log.exception("Failed to communicate with scheduler during heartbeat.")
log.error("Unable to connect to scheduler: timed out")
try:
    raise ValueError("a real worker error")
except ValueError:
    log.exception("Unexpected exception during heartbeat. Closing worker.")
logging.getLogger("distributed.core").error("odd message %s", "x")
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "heartbeat." not in err.replace("during heartbeat. Closing", "")  # the two lost-scheduler records
    assert "StreamClosedError" not in err and "CommClosedError" not in err and "Unable to connect" not in err
    assert "Unexpected exception during heartbeat" in err and "ValueError: a real worker error" in err
    assert "odd message x" in err


@pytest.mark.slow
def test_a_network_state_computed_on_a_worker_is_cached_with_the_in_process_numbers(monkeypatch, tmp_path):
    # notebook 09's product of one state (its baselines, ceiling, staircase member and transfer), on a
    # one-thread worker, against the same computed here: the client caches it where notebook 09 reads it
    from support import build_numbers

    from voltlib.config import get_profile
    from voltlib.paper import across_states

    smoke = get_profile("smoke")
    with fanout.FanOut(smoke, fanout.Options(workers=1, dashboard=":0"), say=lambda t: None) as fan:
        monkeypatch.setattr(paths, "DATA", tmp_path / "data")  # where the client writes; the worker keeps its own
        assert fan.start(None, specs=[], states=["ai"]) == 1
        fan.wait_for(None)
        assert fan.summary()["states_computed"] == 1
    cached = across_states.product(smoke, "ai")  # a cache hit: nothing is simulated under tmp_path
    assert not (tmp_path / "data" / "sim").exists()
    monkeypatch.setattr(paths, "DATA", paths.ROOT / "data")
    torch.set_num_threads(2)  # as a notebook's kernel on 2 cores: the product pins itself to one thread
    here = across_states.compute_product(smoke, "ai")
    assert torch.get_num_threads() == 2  # and gives the caller its count back
    from voltlib.store import parse_json, write_json

    here = parse_json(write_json(tmp_path / "here.json", here))  # as the cache holds it: NaN as null
    # the member's transfer: the source's member on this state's windows against this state's own member
    assert set(here["transfer"]) == {"from_source", "to_source", "member_from_source", "member_to_source"}
    moved = here["transfer"]["member_from_source"]["1"]
    assert moved["own_r2"] == pytest.approx(here["member"]["scores"]["1"]["r2"], rel=1e-9)
    assert moved["difference"] == pytest.approx(moved["r2"] - moved["own_r2"], rel=1e-9)
    a, b = build_numbers(cached), build_numbers(here)
    assert a.keys() == b.keys() and len(a) > 100
    assert all(a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9, nan_ok=True) for k in a)
