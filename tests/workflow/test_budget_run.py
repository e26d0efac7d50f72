"""`make budget`'s runner: a task trains, scores and records its provenance; the archive it writes is checked."""

import dataclasses
import math

import pytest
import torch
from support import ar1_simulation

from voltlib import paths, store
from voltlib.config import get_profile
from voltlib.paper import budget
from voltlib.workflow import budget_run

SIM = ar1_simulation()


@pytest.fixture
def archive_root(monkeypatch, tmp_path):
    monkeypatch.setattr(budget, "ARCHIVE", tmp_path / "archive")
    monkeypatch.setattr(paths, "MODELS", tmp_path / "models")
    return tmp_path / "archive"


def _tiny_task():
    """The smallest smoke task, on the tiny AR(1) simulation of the fan-out tests."""
    task = budget.plan(get_profile("smoke"))[0]
    spec = dataclasses.replace(task.spec, sim_cfg=SIM.sim)
    return dataclasses.replace(task, spec=spec)


def test_a_task_trains_scores_and_records_its_provenance(archive_root):
    task = _tiny_task()
    rec = budget_run.run_task(task, SIM, note="a test")
    assert rec["id"] == task.id and rec["config"] == task.configs()
    assert math.isfinite(rec["test"]["r2"]) and len(rec["test"]["r2_ci"]) == 2  # NaN bounds: one test run here
    assert rec["epochs"] == task.spec.train_cfg.max_epochs
    assert rec["window_passes"] > 0
    prov = rec["provenance"]
    assert prov["threads"] == 1 and prov["note"] == "a test" and prov["packages"]["torch"] == torch.__version__
    assert len(prov["commit"]) in (40, 7) or prov["commit"] == "unknown"
    assert isinstance(prov["flush_denormal"], bool)  # whether the CPU flushed subnormal floats (x86: True)
    # the same task again: the same bits (one thread, seeded), so a rerun anywhere archives the same numbers
    again = budget_run.run_task(task, SIM)
    assert again["test"]["run_stats"] == rec["test"]["run_stats"]


def test_the_archive_is_checked_against_its_manifest_and_the_code(archive_root, monkeypatch):
    task = _tiny_task()
    monkeypatch.setattr(budget, "plan", lambda profile: [task])
    rec = budget_run.run_task(task, SIM)
    store.write_json(budget.task_path("smoke", task), rec)
    manifest = budget_run.write_manifest("smoke")
    assert manifest["complete"] and manifest["done"] == 1
    assert budget_run.archived("smoke", task)
    loaded = budget.load_archive("smoke")
    assert list(loaded["tasks"]) == [task.id] and not loaded["missing"] and not loaded["stale"]
    # a configuration the code no longer has: stale, left out, and said
    changed = dataclasses.replace(
        task, spec=dataclasses.replace(task.spec, train_cfg=dataclasses.replace(task.spec.train_cfg, lr=1e-3))
    )
    monkeypatch.setattr(budget, "plan", lambda profile: [changed])
    loaded = budget.load_archive("smoke")
    assert loaded["stale"] == [task.id] and not loaded["tasks"]
    assert "left out" in budget.describe(loaded) and not budget_run.archived("smoke", changed)
    # a damaged task file: refused, naming the file and what to do
    path = budget.task_path("smoke", task)
    path.write_text(path.read_text().replace('"schema": 1', '"schema": 1 '))
    with pytest.raises(budget.ArchiveError, match=f"{task.id}.json .*git checkout -- results/archive"):
        budget.load_archive("smoke")


def test_a_rerun_with_every_task_archived_trains_nothing(archive_root, monkeypatch):
    task = _tiny_task()
    monkeypatch.setattr(budget, "plan", lambda profile: [task])
    store.write_json(budget.task_path("smoke", task), budget_run.run_task(task, SIM))
    said = []

    def no_simulation(*args, **kwargs):
        raise AssertionError("a study with every task archived must not simulate or start a cluster")

    monkeypatch.setattr("voltlib.sim.simulate.simulate", no_simulation)
    manifest = budget_run.run("smoke", say=said.append)
    assert manifest["complete"] and said == [
        f"budget: all 1 tasks of the smoke study are archived in {budget.folder('smoke')}; nothing to do"
    ]
    # and again: the manifest, a committed file, is left byte for byte (not rewritten with a new date)
    store.write_json(budget.manifest_path("smoke"), {**manifest, "written": "2000-01-01T00:00:00+00:00"})
    before = budget.manifest_path("smoke").read_bytes()
    assert budget_run.run("smoke", say=said.append)["written"] == "2000-01-01T00:00:00+00:00"
    assert budget.manifest_path("smoke").read_bytes() == before
