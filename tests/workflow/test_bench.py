"""`make bench`'s pieces, without a benchmark: the arithmetic of its figures on a scripted clock, what each
child returns, the structure of results/bench.json and that it is written whole or not at all."""

import dataclasses
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from voltlib import device, paths, store
from voltlib.config import PHASES, PROTOCOLS, ModelConfig, get_profile, paper_phases
from voltlib.workflow import bench


def _clock(*values):
    """A perf_counter that returns the given readings in turn (and fails loudly if read once too often)."""
    readings = iter(values)
    return SimpleNamespace(perf_counter=lambda: next(readings))


@pytest.fixture
def small(monkeypatch):
    """Windows of 6 samples of 3 neurons instead of [150, 100]: the same code on a model that runs in milliseconds."""
    monkeypatch.setattr(bench, "WINDOW", 6)
    monkeypatch.setattr(bench, "N", 3)
    rss = iter([300.0, 420.5])  # resident MB before the model is built, and at the end
    monkeypatch.setattr(bench, "_rss_mb", lambda: next(rss))


TRAIN = {"model": bench._model_dict(ModelConfig("lstm", hidden=4, layers=1)), "threads": 1, "batch": 8}


def test_training_throughput_is_the_batch_over_the_median_step_time(small, monkeypatch):
    # first step 0.5 s; 3 repeats of 2 steps each taking 0.1, 0.4 and 0.2 s per step
    monkeypatch.setattr(bench, "time", _clock(0.0, 0.5, 1.0, 1.2, 2.0, 2.8, 3.0, 3.4))
    out = bench.measure({**TRAIN, "task": "train", "steps": 2, "repeats": 3})
    assert out["first_step_s"] == pytest.approx(0.5)
    assert out["step_s_median"] == pytest.approx(0.2)  # the median of 0.1, 0.4, 0.2 (their mean is 0.233)
    assert out["windows_per_s"] == pytest.approx(8 / 0.2)  # 40 windows/s
    assert out["windows_per_s_repeats"] == pytest.approx([80.0, 20.0, 40.0])
    # LSTM(3 -> 4): 4 gates x 4 x (3 + 4) weights + 2 x 16 biases = 144; Linear(4 -> 3): 15
    assert out["params"] == 159
    assert out["peak_rss_mb"] == 420.5 and out["peak_rss_over_import_mb"] == pytest.approx(120.5)
    assert "latency_ms_median" not in out


def test_inference_latency_is_the_median_single_pass_in_milliseconds(small, monkeypatch):
    # 4 timed passes of 2, 5, 3 and 30 ms (three untimed warm-up passes read no clock)
    monkeypatch.setattr(bench, "time", _clock(0.0, 0.002, 1.0, 1.005, 2.0, 2.003, 3.0, 3.030))
    out = bench.measure({**TRAIN, "batch": 1, "task": "infer", "repeats": 4})
    assert out["latency_ms_median"] == pytest.approx(4.0)  # median of 2, 5, 3, 30 ms (the mean is 10)
    assert "windows_per_s" not in out and "first_step_s" not in out


def test_the_model_is_built_at_the_benchmarks_window_and_width(small, monkeypatch):
    """A CNN-LSTM's parameters depend on both: Conv1d over 6 window steps as channels, 3 neurons as inputs."""
    monkeypatch.setattr(bench, "time", _clock(0.0, 0.001, 1.0, 1.001))
    spec = {"model": bench._model_dict(ModelConfig("cnn_lstm", hidden=4, layers=1)), "threads": 1, "batch": 2}
    # conv 6*6*3+6 and 6*6*5+6, two BatchNorm 2*6 each: 324; LSTM 144; LayerNorm 8; skip 3*4+4; out 15
    assert bench.measure({**spec, "task": "infer", "repeats": 1})["params"] == 324 + 144 + 8 + 16 + 15


def test_a_child_is_sent_every_field_of_the_model_config():
    for model_cfg, _ in paper_phases().values():
        sent = bench._model_dict(model_cfg)
        assert set(sent) == {f.name for f in dataclasses.fields(ModelConfig)}
        assert ModelConfig(**json.loads(json.dumps(sent))) == model_cfg


def test_peak_memory_is_reported_in_mebibytes(monkeypatch):
    usage = SimpleNamespace(getrusage=lambda who: SimpleNamespace(ru_maxrss=524288), RUSAGE_SELF=0)
    monkeypatch.setattr(bench, "resource", usage)
    monkeypatch.setattr(bench, "sys", SimpleNamespace(platform="linux"))
    assert bench._rss_mb() == 512.0  # Linux: kB
    monkeypatch.setattr(bench, "sys", SimpleNamespace(platform="darwin"))
    assert bench._rss_mb() == 0.5  # macOS: bytes


def test_the_cpu_is_named_and_its_flags_matched_whole(monkeypatch):
    info = "processor\t: 0\nmodel name\t: Fake CPU 9000: 2.0 GHz \nflags\t\t: fpu avx512f avx512_bf16\n"
    monkeypatch.setattr(bench, "_cpuinfo", lambda: info)
    assert bench._cpu_model() == "Fake CPU 9000: 2.0 GHz"
    assert bench._cpu_has("avx512_bf16") and bench._cpu_has("avx512f")
    assert not bench._cpu_has("avx512") and not bench._cpu_has("amx_bf16")  # a flag, not a substring of one
    monkeypatch.setattr(bench, "_cpuinfo", lambda: "")  # no /proc/cpuinfo (macOS)
    monkeypatch.setattr(bench.platform, "processor", lambda: "arm")
    assert bench._cpu_model() == "arm" and not bench._cpu_has("avx512_bf16")


def test_a_child_returns_its_last_printed_line_or_its_last_error_line(monkeypatch):
    done = lambda rc, out="", err="": lambda *a, **k: subprocess.CompletedProcess(a[0], rc, out, err)  # noqa: E731
    monkeypatch.setattr(bench.subprocess, "run", done(0, 'loading\n{"windows_per_s": 12.5}\n'))
    assert bench._child({"task": "train"}) == {"windows_per_s": 12.5}
    monkeypatch.setattr(
        bench.subprocess, "run", done(1, err="Traceback (most recent call last):\n  ...\nValueError: boom\n")
    )
    assert bench._child({"task": "train"}) == {"error": "ValueError: boom"}
    monkeypatch.setattr(bench.subprocess, "run", done(-9))  # killed (out of memory) without a word
    assert bench._child({"task": "train"}) == {"error": "failed"}


def test_a_real_child_measures_in_a_fresh_interpreter():
    spec = {**TRAIN, "model": bench._model_dict(ModelConfig("lstm", hidden=2, layers=1)), "batch": 1}
    out = bench._child({**spec, "task": "infer", "repeats": 2})
    assert "error" not in out, out
    assert out["params"] == 4 * 2 * (100 + 2) + 8 * 2 + 2 * 100 + 100  # at the real width: 1132
    assert out["latency_ms_median"] > 0 and out["peak_rss_mb"] > 50  # torch alone takes more


class _Children:
    """Stands in for bench._child: records every spec and answers with figures that name it."""

    def __init__(self, fail=()):
        self.specs, self.fail = [], fail

    def __call__(self, spec):
        self.specs.append(spec)
        if any(spec.get(k) for k in self.fail):
            return {"error": f"RuntimeError: no {' '.join(k for k in self.fail if spec.get(k))}"}
        if spec["task"] == "infer":
            return {"params": spec["model"]["hidden"], "latency_ms_median": 1.5, "peak_rss_mb": 200.0}
        return {
            "params": spec["model"]["hidden"],
            "windows_per_s": 1000.0 * spec["threads"] + spec["batch"],
            "step_s_median": 0.25,
            "windows_per_s_repeats": [1.0, 2.0],
            "peak_rss_mb": 300.0,
            "first_step_s": 9.0,
        }


@pytest.fixture
def children(monkeypatch):
    kids = _Children(fail=("compile",))
    monkeypatch.setattr(bench, "_child", kids)
    monkeypatch.setattr(device, "cpu_threads", lambda: 3)
    monkeypatch.setattr(bench, "fanout_timing", lambda: {"layouts": "stand-in"})
    return kids


def test_the_results_hold_every_phase_and_what_was_tried(children, capsys):
    out = bench.run(quick_only=True, repeats=2)
    quick = get_profile("quick").phases
    assert list(out["phases"]) == [f"quick/{p}" for p in PHASES]
    m1, t1 = quick["phase1_lstm"]
    assert out["phases"]["quick/phase1_lstm"] == {
        "hidden": m1.hidden,
        "layers": m1.layers,
        "batch": t1.batch_size,
        "params": m1.hidden,
        "train_windows_per_s": 1000.0 * 3 + 32,
        "train_step_s": 0.25,
        "train_windows_per_s_repeats": [1.0, 2.0],
        "train_peak_rss_mb": 300.0,
        "infer_1_window_ms": 1.5,
        "error": None,
    }
    assert (out["device"], out["threads"], out["fanout"]) == ("cpu", 3, {"layouts": "stand-in"})
    assert len(out["load_avg_start"]) == len(out["load_avg_end"]) == 3
    # per phase a training and a one-window inference child; then per tried phase: threads 1 and 3,
    # 4 batch sizes, bf16 and torch.compile
    assert len(children.specs) == 4 * 2 + 2 * (2 + 4 + 1 + 1)
    trained = [s for s in children.specs[:8] if s["task"] == "train"]
    assert [(s["steps"], s["repeats"], s["threads"]) for s in trained] == [(5, 2, 3)] * 4
    inferred = [s for s in children.specs[:8] if s["task"] == "infer"]
    assert [(s["batch"], s["repeats"]) for s in inferred] == [(1, 20)] * 4
    tried = out["tried"]["phase4_cnn_lstm"]
    assert tried == {
        "threads=1": 1032.0,
        "threads=3": 3032.0,
        "batch=32": 3032.0,
        "batch=64": 3064.0,
        "batch=128": 3128.0,
        "batch=256": 3256.0,
        "bf16 autocast": 3032.0,
        "torch.compile": "RuntimeError: no compile",  # a failed try says why instead of a number
        "torch.compile_first_step_s": None,
    }
    assert list(out["tried"]) == ["phase3_lstm_res", "phase4_cnn_lstm"]
    assert children.specs[-2]["autocast"] == "bf16" and children.specs[-1]["compile"] is True
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"quick phase1_lstm        {3032:8.0f} windows/s     300 MB    1.50 ms/window"


def test_the_paper_sizes_follow_the_quick_ones_with_fewer_steps(children):
    out = bench.run(quick_only=False, repeats=1)
    assert list(out["phases"]) == [f"{size}/{p}" for size in ("quick", "paper") for p in PHASES]
    assert out["phases"]["paper/phase2_large_lstm"]["hidden"] == 512
    assert out["phases"]["paper/phase2_large_lstm"]["layers"] == 3
    paper_trained = [s for s in children.specs[8:16] if s["task"] == "train"]
    assert [(s["steps"], s["batch"]) for s in paper_trained] == [(2, 32)] * 4


def test_a_failed_child_leaves_its_figures_empty_and_says_why(monkeypatch, capsys):
    monkeypatch.setattr(bench, "_child", _Children(fail=("model",)))  # every child fails
    monkeypatch.setattr(device, "cpu_threads", lambda: 1)
    monkeypatch.setattr(bench, "fanout_timing", lambda: {})
    out = bench.run(quick_only=True, repeats=1)
    entry = out["phases"]["quick/phase3_lstm_res"]
    assert entry["error"] == "RuntimeError: no model"
    assert entry["train_windows_per_s"] is None and entry["infer_1_window_ms"] is None and entry["params"] is None
    assert out["tried"]["phase3_lstm_res"]["threads=1"] is None and "threads=3" not in out["tried"]["phase3_lstm_res"]
    assert "quick phase3_lstm_res         nan windows/s     nan MB     nan ms/window" in capsys.readouterr().out


def test_the_fan_out_timing_trains_the_first_seed_of_every_phase_and_protocol(monkeypatch):
    from voltlib.sim import simulate as sim_module
    from voltlib.workflow import fanout

    started = []

    class StandInFanOut:
        def __init__(self, profile, options, say):
            self.options = options

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def start(self, sim, specs):
            started.append((self.options, specs, paths.MODELS, sim))

        def wait_for(self, notebook):
            assert notebook is None  # every fit

    real_models = paths.MODELS
    monkeypatch.setattr(fanout, "FanOut", StandInFanOut)
    monkeypatch.setattr(sim_module, "simulate", lambda cfg, progress: "the quick simulation")
    monkeypatch.setattr(bench, "time", _clock(10.0, 73.46, 100.0, 131.04))
    out = bench.fanout_timing("quick", epochs=2)
    labels = [f"{p} ({protocol}, seed 0)" for p in PHASES for protocol in PROTOCOLS]
    assert out["fits"] == labels  # 8 fits: phase 4's seeds 1 and 2 are not timed
    assert out["layouts"] == {
        "1 worker(s) x 2 thread(s)": {"wall_s": 63.5},
        "2 worker(s) x 1 thread(s)": {"wall_s": 31.0},
    }
    assert (out["profile"], out["epochs_each"]) == ("quick", 2)
    assert [(o.workers, o.threads_per_worker, o.dashboard) for o, *_ in started] == [(1, 2, ":0"), (2, 1, ":0")]
    quick = get_profile("quick")
    for _, specs, models, sim in started:
        assert [s.label for s in specs] == labels and sim == "the quick simulation"
        for s in specs:  # the profile's training, cut to `epochs` epochs
            assert s.train_cfg == dataclasses.replace(quick.phases[s.name][1], max_epochs=2)
        assert models != real_models and models.name == "models"  # a temporary cache, not the user's
    assert started[0][2] != started[1][2]  # each layout from scratch
    assert paths.MODELS == real_models


def test_the_fan_out_timing_gives_the_cache_back_when_a_layout_fails(monkeypatch):
    from voltlib.sim import simulate as sim_module
    from voltlib.workflow import fanout

    class Failing:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            raise RuntimeError("no cluster")

        def __exit__(self, *exc):
            pass

    real_models = paths.MODELS
    monkeypatch.setattr(fanout, "FanOut", Failing)
    monkeypatch.setattr(sim_module, "simulate", lambda cfg, progress: None)
    with pytest.raises(RuntimeError, match="no cluster"):
        bench.fanout_timing("quick")
    assert paths.MODELS == real_models


RESULT = {"device": "cpu", "load_avg_start": (1.5, 1.0, 0.5), "phases": {"quick/phase1_lstm": {"error": None}}}


@pytest.fixture
def results_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "results")
    return tmp_path / "results"


def test_bench_writes_the_whole_result_with_its_checksum(results_dir, monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(bench, "run", lambda **kw: asked.append(kw) or {**RESULT, "nan": float("nan")})
    bench.main(["--quick-only", "--repeats", "3"])
    assert asked == [{"quick_only": True, "repeats": 3}]
    path = results_dir / "bench.json"
    assert json.loads(path.read_text()) == {**json.loads(json.dumps(RESULT)), "nan": None}  # tuples as lists
    assert store.verify(path) is None
    assert capsys.readouterr().out == f"wrote {path}\n"
    assert sorted(p.name for p in results_dir.iterdir()) == ["bench.json", "bench.json.sha256"]


def test_a_write_cut_short_leaves_the_last_result_whole(results_dir, monkeypatch):
    monkeypatch.setattr(bench, "run", lambda **kw: RESULT)
    bench.main([])
    before = (results_dir / "bench.json").read_bytes()
    monkeypatch.setattr(bench, "run", lambda **kw: {**RESULT, "device": "cuda"})
    write_text = Path.write_text

    def cut_short(self, text, *a, **k):  # what a killed process leaves: the first half of the file
        write_text(self, text[: len(text) // 2], *a, **k)
        raise OSError("interrupted")

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(OSError, match="interrupted"):
        bench.main([])
    monkeypatch.setattr(Path, "write_text", write_text)
    assert (results_dir / "bench.json").read_bytes() == before
    assert store.verify(results_dir / "bench.json") is None
    assert sorted(p.name for p in results_dir.iterdir()) == ["bench.json", "bench.json.sha256"]  # no .part left
    monkeypatch.setattr(bench, "run", lambda **kw: {**RESULT, "phases": object()})  # cannot be written at all
    with pytest.raises(TypeError, match="not JSON serializable"):
        bench.main([])
    assert (results_dir / "bench.json").read_bytes() == before


def test_no_repeats_is_refused_before_anything_runs(monkeypatch, capsys):
    monkeypatch.setattr(bench, "run", lambda **kw: pytest.fail("ran"))
    with pytest.raises(SystemExit) as stop:
        bench.main(["--repeats", "0"])
    assert stop.value.code == 2
    assert "--repeats 0: expected an integer >= 1 (a median of no repeats is NaN)" in capsys.readouterr().err


def test_the_child_command_prints_its_measurement_as_the_last_line(small, monkeypatch, capsys):
    monkeypatch.setattr(bench, "time", _clock(0.0, 0.004))
    bench.main(["--child", json.dumps({**TRAIN, "batch": 1, "task": "infer", "repeats": 1})])
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["latency_ms_median"] == pytest.approx(4.0) and last["params"] == 159
