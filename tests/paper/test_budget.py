"""The training-budget study: schedules that end at their budget, the plan, the archive, the extrapolation."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from support import MODEL, WINDOW, N, StandInDataset

from voltlib.config import ConfigError, TrainConfig, config_hash, get_profile
from voltlib.forecast import train as tr
from voltlib.forecast.models import build_model
from voltlib.paper import budget


def test_the_cosine_rate_starts_at_lr_halves_midway_and_ends_at_the_floor():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-5, lr_schedule="cosine")
    assert tr.cosine_lr(cfg, 0, 100) == pytest.approx(1e-3)
    assert tr.cosine_lr(cfg, 50, 100) == pytest.approx((1e-3 + 1e-5) / 2)
    assert tr.cosine_lr(cfg, 100, 100) == pytest.approx(1e-5)
    rates = [tr.cosine_lr(cfg, s, 100) for s in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_a_cosine_training_decays_its_rate_to_the_end_and_ignores_the_plateau_rule():
    ds = StandInDataset()
    cfg = TrainConfig(
        lr=3e-3,
        min_lr=1e-5,
        batch_size=32,
        warmup_epochs=0,
        max_epochs=4,
        early_stop=4,
        max_train_windows=120,
        seed=3,
        lr_schedule="cosine",
        plateau_patience=0,
    )
    torch.manual_seed(cfg.seed)
    model = build_model(MODEL, WINDOW, N)
    out = tr.train(model, cfg, ds.train, ds.val, torch.device("cpu"))
    lrs = [h["lr"] for h in out["history"]]
    steps = -(-120 // 32)
    assert lrs[0] == pytest.approx(3e-3)
    assert lrs == pytest.approx([tr.cosine_lr(cfg, e * steps, 4 * steps) for e in range(4)])
    assert len(lrs) == 4  # early_stop = max_epochs: the budget is trained to its end


def test_the_schedule_field_keeps_every_old_cache_key_and_is_validated():
    base = TrainConfig()
    assert config_hash(base) == config_hash(dataclasses.replace(base, lr_schedule="plateau"))
    assert config_hash(base) != config_hash(dataclasses.replace(base, lr_schedule="cosine"))
    with pytest.raises(ConfigError, match="train.lr_schedule='linear' is invalid: expected one of"):
        TrainConfig(lr_schedule="linear")


def test_the_quick_plan_has_the_budgets_seeds_and_schedules_the_study_states():
    quick = get_profile("quick")
    tasks = budget.plan(quick)
    by = {}
    for t in tasks:
        by.setdefault((t.model, t.budget, t.protocol), []).append(t.seed)
    cnn = sorted({b for m, b, _ in by if m == "cnn_lstm"})
    assert cnn == [4_000, 20_000, 80_000, 320_000]
    assert all(b2 / b1 >= 4 for b1, b2 in zip(cnn, cnn[1:])) and cnn[-1] >= 0.11 * budget.SOURCE_WINDOW_PASSES
    assert sorted({b for m, b, _ in by if m == "cnn_lstm_384"}) == [20_000, 80_000]
    assert len({b for m, b, _ in by if m == "lstm_res"}) >= 3
    for (model, b, protocol), seeds in by.items():
        if model in ("cnn_lstm", "lstm_res") and b <= 80_000:
            assert seeds == [0, 1], (model, b, protocol)
    assert {p for _, _, p in by} == {"clean", "original"}
    p4_model, p4_train = quick.phases["phase4_cnn_lstm"]
    for t in tasks:
        cfg = t.spec.train_cfg
        assert cfg.max_epochs * cfg.max_train_windows == t.budget  # exactly the budget, in whole epochs
        assert cfg.lr_schedule == "cosine" and cfg.early_stop == cfg.max_epochs
        if t.model == "cnn_lstm":  # the quick model and its optimiser settings, only the schedule differs
            assert t.spec.model_cfg == p4_model
            assert (cfg.lr, cfg.weight_decay, cfg.batch_size) == (
                p4_train.lr,
                p4_train.weight_decay,
                p4_train.batch_size,
            )
        if t.model == "cnn_lstm_384":
            assert t.spec.model_cfg.hidden == 384
    assert [budget.cost(t) for t in tasks] == sorted(budget.cost(t) for t in tasks)
    assert len({t.id for t in tasks}) == len(tasks)
    with pytest.raises(ValueError, match="not a whole number of epochs"):
        budget.train_config(p4_train, 10_000, 4000, 0)


def _point(r2, half=0.004, n_runs=8, seed=0):
    """A budget point with run_stats whose pooled R^2 is r2 (8 equal test runs, small spread)."""
    rng = np.random.default_rng(seed)
    n = np.full(n_runs, 1000.0)
    s = np.zeros(n_runs)
    q = np.full(n_runs, 1000.0)  # SST 1000 per run
    sse = (1 - r2) * 1000 * (1 + 0.01 * rng.standard_normal(n_runs))
    stats = {
        "runs": list(range(n_runs)),
        "n": n.tolist(),
        "sum": s.tolist(),
        "sumsq": q.tolist(),
        "sse": [sse.tolist()],
    }
    return {"r2": r2, "r2_ci": (r2 - half, r2 + half), "run_stats": stats}


def test_the_extrapolation_recovers_a_known_saturating_curve():
    truth = (0.80, 0.15, 0.5)
    points = {b: _point(float(budget.saturating(b, *truth))) for b in (4_000, 20_000, 80_000, 320_000)}
    ext = budget.extrapolate(points, n_boot=100)
    assert ext["r2_inf"] == pytest.approx(0.80, abs=0.01)
    assert ext["r2_at"] == pytest.approx(float(budget.saturating(budget.SOURCE_WINDOW_PASSES, *truth)), abs=0.01)
    assert ext["r2_at_ci"][0] <= ext["r2_at"] <= ext["r2_at_ci"][1]
    assert budget.extrapolate({b: points[b] for b in (4_000, 20_000)}) is None  # 2 points cannot fix 3 parameters


def test_the_words_follow_the_largest_budget_and_say_when_they_changed():
    by_budget = {
        20_000: {"vs_ar_ridge": {"verdict": "lower", "difference": -0.02, "ci": [-0.03, -0.01]}},
        320_000: {"vs_ar_ridge": {"verdict": "higher", "difference": 0.03, "ci": [0.02, 0.04]}},
    }
    v = budget.verdict_over_budgets(by_budget, "vs_ar_ridge")
    assert v["verdict"] == "higher" and v["largest_budget"] == 320_000 and not v["stable"]
    ext = {"r2_at": 0.72, "r2_at_ci": (0.70, 0.74)}
    assert budget.against_extrapolation(ext, 0.76, (0.75, 0.77)) == "lower"
    assert budget.against_extrapolation(ext, 0.66, (0.65, 0.67)) == "higher"
    assert budget.against_extrapolation(ext, 0.73, (0.72, 0.74)) == "not decided"


def test_the_discussion_names_the_budget_of_each_verdict_and_the_one_it_changed_at():
    def v(by, diff, ci):
        return {
            "largest_budget": max(by),
            "verdict": by[max(by)],
            "difference": diff,
            "ci": ci,
            "by_budget": by,
            "stable": len(set(by.values())) == 1,
        }

    h = {
        "largest": 320_000,
        "verdicts": {
            "vs_ar_ridge": v({20_000: "lower", 320_000: "higher"}, 0.031, (0.02, 0.04)),
            "vs_own_lags_boosting": v({20_000: "lower", 320_000: "lower"}, -0.05, (-0.06, -0.04)),
            "leak": v({20_000: "not distinguishable at this budget", 320_000: "higher"}, 0.012, (0.004, 0.02)),
        },
    }
    text = budget.discussion_point(h, 20_000)
    assert "measured at 20,000 window-passes (0.7 % of the source's)" in text
    assert "320,000 window-passes (11.6 % of the source's)" in text
    assert "the AR per neuron the CNN-LSTM is higher (+0.031" in text and "(at 20,000: lower)" in text
    assert "boosted trees the CNN-LSTM is lower (-0.050" in text and text.count("(at 20,000") == 1
    assert "the leak raises the R² (+0.012" in text and "change with the budget" in text
    for k in h["verdicts"]:
        h["verdicts"][k]["stable"] = True
    assert "the same at every budget measured" in budget.discussion_point(h, 20_000)
    assert "not archived yet" in budget.discussion_point(None, 20_000)


def test_the_study_from_nothing_packs_the_measured_tasks_cheapest_first_onto_the_workers():
    recs = [
        {"id": "a", "model": "cnn_lstm", "budget": 4_000, "wall_s": 100.0, "train_s": 90.0},
        {"id": "b", "model": "cnn_lstm", "budget": 4_000, "wall_s": 100.0, "train_s": 90.0},
        {
            "id": "c",
            "model": "lstm_res",
            "budget": 20_000,
            "wall_s": 300.0,
            "train_s": 500.0,
        },  # resumed: its training counts
        {"id": "d", "model": "cnn_lstm_384", "budget": 20_000, "wall_s": 900.0, "train_s": 880.0},
    ]
    assert budget.task_seconds(recs[2]) == 500.0
    # two workers: 100 | 100, then the LSTM (cost 16,000) on worker 1 -> 600, the 384 (64,000) on worker 2 -> 1,000
    assert budget.wall_on(recs, 2) == 1000.0
    assert budget.wall_on(recs, 1) == 1600.0


def _ran(task_id, end, wall, commit="abc1234567", note="", train=None):
    """A task record as the runner writes it, ending at `end` (ISO) after `wall` seconds."""
    prov = {
        "commit": commit,
        "machine": "vm",
        "cpu": "CPU",
        "cores": 2,
        "device": "cpu",
        "threads": 1,
        "packages": {"python": "3.11.7", "torch": "2.13.0+cpu"},
        "date": end,
        "load_average_start": [1.0, 1.0, 1.0],
        "load_average_end": [1.5, 1.0, 1.0],
        "note": note,
    }
    return {
        "id": task_id,
        "model": "cnn_lstm",
        "budget": 4_000,
        "wall_s": wall,
        "train_s": train or wall - 5,
        "provenance": prov,
    }


def test_one_uninterrupted_run_is_measured_from_the_first_start_to_the_last_end_and_a_stop_is_not():
    # two workers: a 14:00-14:10 and c 14:10-15:30 on one, b 14:00-15:00 on the other
    recs = [
        _ran("a", "2026-12-07T14:10:00+00:00", 600.0),
        _ran("b", "2026-12-07T15:00:00+00:00", 3600.0),
        _ran("c", "2026-12-07T15:30:00+00:00", 4800.0),
    ]
    start, end = budget.one_run(recs)
    assert (start.hour, start.minute, (end - start).total_seconds()) == (14, 0, 5400.0)
    text = budget.describe({"tasks": {r["id"]: r for r in recs}, "missing": [], "stale": []})
    assert "one uninterrupted `make budget` trained from 2026-12-07 14:00 to 15:30 UTC: 1.50 hours" in text
    assert "on 2026-12-07;" in text and "packed" not in text and "not oversubscribed" in text
    # a pause of 10 minutes with nothing training: a stop and a resume, so the span is not one run's time
    gap = [*recs, _ran("d", "2026-12-07T15:50:00+00:00", 600.0)]
    assert budget.one_run(gap) is None
    assert "packed" in budget.describe({"tasks": {r["id"]: r for r in gap}, "missing": [], "stale": []})
    assert budget.one_run([*recs[:2], _ran("c", "2026-12-07T15:30:00+00:00", 4800.0, commit="def")]) is None
    assert budget.one_run([*recs[:2], _ran("c", "2026-12-07T15:30:00+00:00", 4800.0, note="x")]) is None
    resumed = _ran("c", "2026-12-07T15:30:00+00:00", 300.0, train=4800.0)  # wall is its last segment
    assert budget.one_run([*recs[:2], resumed]) is None


def test_the_committed_quick_archive_matches_its_checksums_and_the_code():
    """The archive the report reads: intact, of this schema, made with the code's current configurations."""
    if not budget.manifest_path("quick").exists():
        pytest.fail(f"{budget.manifest_path('quick')} is missing: the study's archive must be committed (make budget)")
    archive = budget.load_archive("quick")
    assert not archive["stale"], f"stale archive entries (configs changed since they were trained): {archive['stale']}"
    assert archive["tasks"], "the archive holds no task"
    for rec in archive["tasks"].values():
        assert rec["window_passes"] == rec["budget"]  # quick's training runs hold more than an epoch's windows
        assert rec["provenance"]["threads"] == 1
        assert -1 < rec["test"]["r2"] < 1
    manifest = json.loads(budget.manifest_path("quick").read_text())
    assert set(manifest["tasks"]) >= set(archive["tasks"])
    # what the report reads as current, make budget must not train again (it did: it compared configs exactly,
    # and every task archived before a config gained a field would have been retrained)
    from voltlib.workflow import budget_run

    plan = {t.id: t for t in budget.plan(get_profile("quick"))}
    assert all(budget_run.archived("quick", plan[i]) for i in archive["tasks"])


def test_an_archived_config_stays_current_when_a_field_is_added_at_a_hash_omitted_default():
    from voltlib.paper.budget import same_config

    now = {"sim": {"network": {"g": 5.5, "nu_ratio": 1.0}, "n_runs": 50}, "hash": "abc"}
    assert same_config(now, {"sim": {"network": {"g": 5.5}, "n_runs": 50}, "hash": "abc"})  # nu_ratio added since
    assert not same_config(now, {"sim": {"network": {"g": 5.0}, "n_runs": 50}, "hash": "abc"})  # a value moved
    assert not same_config(now, {"sim": {"network": {"g": 5.5}, "n_runs": 50}, "hash": "abd"})  # the hash moved
    assert not same_config(now, {"sim": {"network": {"g": 5.5, "j_mv": 0.5}}, "hash": "abc"})  # a field now gone
