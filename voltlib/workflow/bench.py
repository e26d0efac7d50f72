"""`make bench`: training throughput, peak memory and inference latency of every phase -> results/bench.json.

Each measurement runs in a fresh child process, so its peak resident memory (ru_maxrss) is its own.
Inputs are random windows of the real shape [batch, 150, 100]: the cost of an LSTM step does not
depend on the values. Timings are medians of repeats; the machine's load average is recorded
because other processes on a shared machine slow every figure down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from voltlib import paths
from voltlib.cli import run_cli
from voltlib.config import get_profile, paper_phases
from voltlib.store import write_json

WINDOW, N = 150, 100


def _rss_mb() -> float:
    # Linux reports ru_maxrss in kB, macOS in bytes
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _cpu_has(flag: str) -> bool:
    """True if /proc/cpuinfo lists the CPU flag (False where there is no /proc/cpuinfo)."""
    return any(line.startswith("flags") and flag in line.split() for line in _cpuinfo().splitlines())


def measure(spec: dict) -> dict:
    """Returns throughput (windows/s) or latency (ms) of one model config; runs in the calling process."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    from voltlib.config import ModelConfig
    from voltlib.forecast.models import build_model, count_params

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    base_mb = _rss_mb()
    model: nn.Module = build_model(ModelConfig(**spec["model"]), WINDOW, N)
    if spec.get("compile"):
        # torch types compile() as returning a plain callable; given a Module it returns one (OptimizedModule)
        model = torch.compile(model)  # type: ignore[assignment]
    b = spec["batch"]
    x, y = torch.randn(b, WINDOW, N), torch.randn(b, N)
    out: dict[str, Any] = {"params": count_params(model)}
    if spec["task"] == "train":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        model.train()
        bf16 = spec.get("autocast") == "bf16"

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.mse_loss(model(x).float(), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        t0 = time.perf_counter()
        step()  # first step: allocation (and compilation) cost
        out["first_step_s"] = time.perf_counter() - t0
        times = []
        for _ in range(spec["repeats"]):
            t0 = time.perf_counter()
            for _ in range(spec["steps"]):
                step()
            times.append((time.perf_counter() - t0) / spec["steps"])
        out["step_s_median"] = float(np.median(times))
        out["windows_per_s"] = b / out["step_s_median"]
        out["windows_per_s_repeats"] = [b / t for t in times]
    else:
        model.eval()
        with torch.inference_mode():
            for _ in range(3):
                model(x)
            times = []
            for _ in range(spec["repeats"]):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
        out["latency_ms_median"] = 1e3 * float(np.median(times))
    out["peak_rss_mb"] = _rss_mb()
    out["peak_rss_over_import_mb"] = out["peak_rss_mb"] - base_mb
    return out


def _child(spec: dict) -> dict:
    """Runs measure(spec) in a fresh interpreter; returns its result."""
    res = subprocess.run(
        [sys.executable, "-m", "voltlib.workflow.bench", "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _model_dict(m) -> dict:
    return {"kind": m.kind, "hidden": m.hidden, "layers": m.layers, "dropout": m.dropout, "cnn_dropout": m.cnn_dropout}


def run(quick_only: bool = False, repeats: int = 5) -> dict:
    """Runs every benchmark; returns the results dict written to results/bench.json."""
    import torch

    from voltlib.device import cpu_threads

    threads = cpu_threads()
    sizes = {"quick": get_profile("quick").phases}
    if not quick_only:
        sizes["paper"] = paper_phases()
    out: dict[str, Any] = {
        "device": "cpu",
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "cpu_bf16": _cpu_has("avx512_bf16") or _cpu_has("amx_bf16"),
        "load_avg_start": os.getloadavg(),
        "note": "medians of repeats on a shared machine: load_avg_* > cpu_count means other processes "
        "competed for the cores and every figure is pessimistic",
        "phases": {},
        "tried": {},
    }
    for size, phases in sizes.items():
        for phase, (m, t) in phases.items():
            steps = 5 if size == "quick" else 2
            spec = {
                "model": _model_dict(m),
                "threads": threads,
                "batch": t.batch_size,
                "task": "train",
                "steps": steps,
                "repeats": repeats,
            }
            tr = _child(spec)
            inf = _child({**spec, "task": "infer", "batch": 1, "repeats": 20})
            out["phases"][f"{size}/{phase}"] = {
                "hidden": m.hidden,
                "layers": m.layers,
                "batch": t.batch_size,
                "params": tr.get("params"),
                "train_windows_per_s": tr.get("windows_per_s"),
                "train_step_s": tr.get("step_s_median"),
                "train_windows_per_s_repeats": tr.get("windows_per_s_repeats"),
                "train_peak_rss_mb": tr.get("peak_rss_mb"),
                "infer_1_window_ms": inf.get("latency_ms_median"),
                "error": tr.get("error") or inf.get("error"),
            }
            print(
                f"{size:5s} {phase:18s} {tr.get('windows_per_s', float('nan')):8.0f} windows/s  "
                f"{tr.get('peak_rss_mb', float('nan')):6.0f} MB  "
                f"{inf.get('latency_ms_median', float('nan')):6.2f} ms/window",
                flush=True,
            )

    # what was tried, on the quick phase-4 model (the costliest quick phase) and the quick phase 3
    q = get_profile("quick").phases
    for phase in ("phase3_lstm_res", "phase4_cnn_lstm"):
        m, t = q[phase]
        base = {"model": _model_dict(m), "task": "train", "steps": 5, "repeats": repeats}
        tried = {}
        for th in sorted({1, threads}):
            tried[f"threads={th}"] = _child({**base, "threads": th, "batch": t.batch_size}).get("windows_per_s")
        for bs in (32, 64, 128, 256):
            tried[f"batch={bs}"] = _child({**base, "threads": threads, "batch": bs}).get("windows_per_s")
        bf16 = _child({**base, "threads": threads, "batch": t.batch_size, "autocast": "bf16"})
        tried["bf16 autocast"] = bf16.get("windows_per_s", bf16.get("error"))
        comp = _child({**base, "threads": threads, "batch": t.batch_size, "compile": True})
        tried["torch.compile"] = comp.get("windows_per_s", comp.get("error"))
        tried["torch.compile_first_step_s"] = comp.get("first_step_s")
        out["tried"][phase] = tried
        print(phase, json.dumps(tried), flush=True)
    out["fanout"] = fanout_timing()
    out["load_avg_end"] = os.getloadavg()
    return out


# the layouts of the 2-core machine the fan-out was measured on: (worker processes, threads each)
LAYOUTS = ((1, 2), (2, 1))


def fanout_timing(profile_name: str = "quick", epochs: int = 1, layouts=LAYOUTS) -> dict:
    """Wall time of the quick ladder's fits (every phase x protocol, first seed; `epochs` epochs each) per layout.

    Each layout trains the same fits from scratch into a temporary cache on an embedded cluster of
    that shape; the time runs from the cluster's start to the last fit written.
    """
    import dataclasses
    import tempfile
    from pathlib import Path

    from voltlib.config import PHASES
    from voltlib.forecast import fits
    from voltlib.sim.simulate import simulate
    from voltlib.workflow.fanout import FanOut, Options

    profile = get_profile(profile_name)
    specs = [
        dataclasses.replace(s, train_cfg=dataclasses.replace(s.train_cfg, max_epochs=epochs))
        for s in fits.specs(profile)
        if s.name in PHASES and s.seed == profile.phases[s.name][1].seed
    ]
    sim = simulate(profile.sim, progress=False)
    out: dict[str, Any] = {
        "profile": profile_name,
        "fits": [s.label for s in specs],
        "epochs_each": epochs,
        "layouts": {},
    }
    saved = paths.MODELS
    for workers, threads in layouts:
        with tempfile.TemporaryDirectory() as tmp:
            paths.MODELS = Path(tmp) / "models"
            try:
                t0 = time.perf_counter()
                with FanOut(
                    profile, Options(workers=workers, threads_per_worker=threads, dashboard=":0"), say=print
                ) as f:
                    f.start(sim, specs)
                    f.wait_for(None)
                wall = time.perf_counter() - t0
            finally:
                paths.MODELS = saved
        out["layouts"][f"{workers} worker(s) x {threads} thread(s)"] = {"wall_s": round(wall, 1)}
        print(f"fan-out: {len(specs)} fits, {workers} worker(s) x {threads} thread(s): {wall:.0f} s", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick-only", action="store_true", help="skip the paper sizes")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats {args.repeats}: expected an integer >= 1 (a median of no repeats is NaN)")
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return
    res = run(quick_only=args.quick_only, repeats=args.repeats)
    path = write_json(paths.RESULTS / "bench.json", res)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
