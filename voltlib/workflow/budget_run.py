"""Runs the training-budget study: every task voltlib.paper.budget plans and its archive lacks, on Dask.

Each task trains on a worker of the fan-out's cluster (embedded by default, SCHEDULER= for a real one)
with one thread, checkpoints every epoch where the workers share this disk, and returns its scores,
training record and provenance; this client writes each task's archive file as it arrives, then the
manifest. A rerun trains only what is missing; with every task archived it does nothing.

    make budget                         # or: python -m voltlib.workflow.budget_run --profile quick [--workers N]
    make budget SCHEDULER=tcp://host:8786
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from voltlib import paths
from voltlib.cli import BuildFailed
from voltlib.config import get_profile, to_dict
from voltlib.paper import budget


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=paths.PACKAGE_DIR.parent, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance() -> dict:
    """Where and with what a task ran: commit, machine, CPU, packages, date (recorded by the worker)."""
    from importlib.metadata import version

    import torch

    dirty = _git("status", "--porcelain", "--", "voltlib", "requirements.txt")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "commit_dirty": bool(dirty) if dirty != "unknown" else None,
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        "packages": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "brian2": version("brian2"),  # not imported: Brian2 sets a signal handler, which a worker thread may not
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def run_task(
    task: budget.Task, sim, library: str | None = None, checkpoint_root: str | None = None, note: str = ""
) -> dict:
    """On a worker: trains one task with one thread, scores it on its test windows; returns the archive record."""
    import torch

    from voltlib.forecast.ladder import score_predictions
    from voltlib.forecast.train import epoch_windows, fit, flushed_denormals, predict
    from voltlib.store import remove
    from voltlib.workflow.fanout import check_library

    check_library(library)
    torch.set_num_threads(1)  # the same bits wherever the task runs
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    spec = task.spec
    dataset = spec.dataset(sim)
    root = Path(checkpoint_root) if checkpoint_root else Path(tempfile.gettempdir()) / "voltlib-checkpoints"
    checkpoint = root / f"budget-{task.id}-{task.configs()['hash']}" / "checkpoint.pt"
    device = torch.device("cpu")
    with flushed_denormals() as flushed:  # a long training's subnormal floats would slow it several times over
        model, _, info = fit(
            spec.name, spec.model_cfg, spec.train_cfg, dataset, device, spec.folder(), None, checkpoint
        )
        metrics = score_predictions(predict(model, dataset.test, device), dataset)
    remove(checkpoint)
    wall = time.perf_counter() - t0
    history = info["history"]
    return {
        "schema": budget.SCHEMA,
        "id": task.id,
        "model": task.model,
        "budget": task.budget,
        "protocol": task.protocol,
        "seed": task.seed,
        "config": task.configs(),
        "params": info["params"],
        "epochs": info["epochs"],
        "best_epoch": info["best_epoch"],
        "window_passes": len(epoch_windows(spec.train_cfg, len(dataset.train), 0)) * len(history),
        "train_s": info["train_s"],
        "wall_s": wall,
        "history": history,
        "test": {
            "r2": metrics["r2"],
            "r2_ci": metrics["r2_ci"],
            "skill_vs_persistence": metrics["skill_vs_persistence"],
            "rmse_mv": metrics["rmse_mv"],
            "run_stats": metrics["run_stats"],
        },
        "provenance": {
            **provenance(),
            "load_average_start": load0,
            "load_average_end": os.getloadavg(),
            "flush_denormal": flushed,
            "note": note,
        },
    }


class BudgetTasksFailed(BuildFailed):
    """One or more tasks of the study raised on their workers; the message names each."""


def write_manifest(profile_name: str) -> dict:
    """Rewrites the manifest from the task files on disk: each file's sha256, the plan's size, what is done."""
    from voltlib.store import sha256_of, verify, write_record

    files = sorted((budget.folder(profile_name) / "tasks").glob("*.json"))
    tasks = {}
    for f in files:
        if verify(f) is None:
            tasks[f.stem] = sha256_of(f)
    todo = [t.id for t in budget.plan(get_profile(profile_name))]
    manifest = {
        "schema": budget.SCHEMA,
        "profile": profile_name,
        "study": [to_dict(m) for m in budget.STUDY],
        "planned": len(todo),
        "done": sum(i in tasks for i in todo),
        "complete": all(i in tasks for i in todo),
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tasks": tasks,
    }
    return write_record(budget.manifest_path(profile_name), manifest)  # unchanged but its date: left as committed


def archived(profile_name: str, task: budget.Task) -> bool:
    """True if the task's archive file is intact and holds this task's current configuration, by the rule the
    report reads it with (budget.same_config: a field added since at a hash-omitted default keeps it current)."""
    from voltlib.store import verify

    path = budget.task_path(profile_name, task)
    if not path.exists() or verify(path) is not None:
        return False
    return budget.same_config(task.configs(), json.loads(path.read_text()).get("config") or {})


def run(
    profile_name: str = "quick",
    options=None,
    say=print,
    only: str | None = None,
    up_to: int | None = None,
    note: str = "",
) -> dict:
    """Trains every task of the study not yet archived on the fan-out's cluster; returns the manifest."""
    from distributed import as_completed

    from voltlib.paths import library_hash
    from voltlib.sim.simulate import simulate
    from voltlib.store import write_json
    from voltlib.workflow.fanout import FanOut, Options, light_simulation

    profile = get_profile(profile_name)
    tasks = [t for t in budget.plan(profile) if (only is None or only in t.id) and (up_to is None or t.budget <= up_to)]
    todo = [t for t in tasks if not archived(profile_name, t)]
    if not todo:
        say(
            f"budget: all {len(tasks)} tasks of the {profile_name} study are archived in {budget.folder(profile_name)}; nothing to do"
        )
        return write_manifest(profile_name)
    options = options or Options()
    if options.in_process:
        options = dataclasses.replace(options, workers=1)  # the study always runs on a cluster (of one)
    say(
        f"budget: {len(todo)} of {len(tasks)} tasks to train ({sum(budget.cost(t) for t in todo) / 1e6:.2f} M cost-weighted window-passes)"
    )
    sim = simulate(profile.sim, progress=True)
    t_start = time.perf_counter()
    with FanOut(profile, options, say=say, library=library_hash()) as fan:
        client = fan.connect()
        local = fan.cluster is not None
        sim_future = client.scatter(light_simulation(sim), broadcast=True, hash=False)
        ck_root = str(paths.DATA / "budget-checkpoints") if local else None
        futures = {
            client.submit(
                run_task,
                t,
                sim_future,
                library_hash(),
                ck_root,
                note,
                key=f"budget-{t.id}",
                priority=-int(budget.cost(t)),
                pure=False,
            ): t
            for t in todo
        }
        done_cost, left_cost, failed = 0.0, sum(budget.cost(t) for t in todo), []
        for i, fut in enumerate(as_completed(futures), 1):
            task = futures[fut]
            done_cost += budget.cost(task)
            left_cost -= budget.cost(task)
            elapsed = time.perf_counter() - t_start
            eta = left_cost * elapsed / done_cost  # wall seconds per cost unit so far, at this many workers
            left = f"; about {_clock(eta)} left" if left_cost > 0 else ""
            try:
                rec = fut.result()
            except Exception as err:  # noqa: BLE001 -- one failed task must not lose the others
                failed.append(f"{task.label}: {type(err).__name__}: {err}")
                say(
                    f"  budget {i}/{len(todo)} [{_clock(elapsed)}] {task.label} FAILED: {type(err).__name__}: {err}{left}"
                )
                continue
            write_json(budget.task_path(profile_name, task), rec)
            write_manifest(profile_name)
            say(
                f"  budget {i}/{len(todo)} [{_clock(elapsed)}] {task.label}: test R^2 {rec['test']['r2']:.3f} "
                f"in {rec['wall_s']:.0f} s{left}"
            )
    if failed:
        raise BudgetTasksFailed(
            f"{len(failed)} task(s) of the study failed (the others are archived; a rerun trains only what is "
            "missing):\n" + "\n".join(failed)
        )
    return write_manifest(profile_name)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def main(argv=None) -> int:
    from voltlib.workflow.fanout import Options

    ap = argparse.ArgumentParser(prog="python -m voltlib.workflow.budget_run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="quick", choices=budget.STUDY_PROFILES)
    ap.add_argument("--scheduler", default=None, help="an existing Dask scheduler's address (else a local cluster)")
    ap.add_argument("--workers", default=None, help="workers of the local cluster (default: one per core)")
    ap.add_argument("--only", default=None, help="train only the tasks whose id contains this text")
    ap.add_argument("--up-to", type=int, default=None, help="train only the budgets up to this many window-passes")
    ap.add_argument("--note", default="", help="a statement kept in every task's provenance (e.g. a shared machine)")
    args = ap.parse_args(argv)
    options = Options.from_env(args.scheduler, args.workers)
    manifest = run(args.profile, options, only=args.only, up_to=args.up_to, note=args.note)  # a stop: run_cli's line
    print(f"budget: {manifest['done']}/{manifest['planned']} tasks archived in {budget.folder(args.profile)}")
    return 0


if __name__ == "__main__":
    from voltlib.cli import run_cli  # a stop is one line, and the work under way is shut down

    sys.exit(run_cli(main))
