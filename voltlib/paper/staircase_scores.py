"""The staircase's scores and words: each member against the baselines, the ceiling and the step below it.

voltlib.forecast.staircase trains the members and makes their forecasts; this module scores those
forecasts on the clean test windows (R^2 with intervals over test runs, the gain share between the
floor baseline and the oracle ceiling, the paired comparisons of each step) and writes notebook 08's
tables and its conclusion from them.
"""

from __future__ import annotations

import numpy as np

from voltlib import display
from voltlib.forecast.ladder import score_predictions, seed_summary
from voltlib.forecast.metrics import gain_share_interval
from voltlib.forecast.staircase import MEMBER_LABELS, MEMBERS
from voltlib.paper import prose
from voltlib.paper.summary import best_baseline, ceiling_at, compare, floor_baseline
from voltlib.store import horizon_key


def score(preds: dict, datasets: dict, horizons_ms, baselines_clean: dict, ceiling: dict) -> dict:
    """{horizon key: metrics} of one member's forecasts, each horizon against its references.

    preds: {horizon (samples): z forecasts [seeds, windows, n]}; baselines_clean: baselines.json's
    "clean" entry; ceiling: ceiling.json. Beside the ladder's seed summary (each metric's mean over
    seeds, r2_ci over test runs and seeds, run_stats): the share of the achievable gain above the floor
    (the better of persistence and the mean at that horizon) with its interval, and the paired
    difference from the best baseline at that horizon, with its interval and verdict.
    """
    out = {}
    for (h, pred), h_ms in zip(sorted(preds.items()), horizons_ms):
        ds = datasets[h]
        ev = seed_summary([score_predictions(p, ds) for p in pred], list(pred), ds)
        hk = horizon_key(h_ms)
        floor_name = floor_baseline(baselines_clean, h_ms)
        ceil, ceil_ci = ceiling_at(ceiling, h_ms)
        share = gain_share_interval(ev["run_stats"], baselines_clean[floor_name][hk]["run_stats"], ceil, ceil_ci)
        best, _ = best_baseline({"clean": baselines_clean}, "clean", h_ms)
        out[hk] = {
            **ev,
            "floor": floor_name,
            "gain_share": share["share"],
            "gain_share_ci": list(share["ci"]),
            "best_baseline": best,
            "vs_best_baseline": compare(ev, baselines_clean[best][hk], True, "", best),
        }
    return out


def step(scores: dict, member: str, previous: str, hk: str) -> dict:
    """The paired difference R^2(member) - R^2(previous) at one horizon key, with its interval and verdict."""
    return compare(scores[member][hk], scores[previous][hk], True, MEMBER_LABELS[member], MEMBER_LABELS[previous])


def family_table(info: dict):
    """The staircase's trainings as a table, one row per member: parameters, seeds, the epochs each seed
    trained before its best validation epoch stopped it (seed by seed), the mean training time, cached."""
    import pandas as pd

    return pd.DataFrame(
        {
            MEMBER_LABELS[k]: {
                "parameters": int(v[0]["params"]),
                "seeds": len(v),
                "epochs trained, seed by seed": ", ".join(str(i["epochs"]) for i in v),
                "training per seed (s)": float(np.mean([i["train_s"] for i in v])),
                "loaded from the cache": all(i["cached"] for i in v),
            }
            for k, v in info.items()
        }
    ).T


def r2_table(scores: dict, baselines_clean: dict, ceiling: dict, horizons_ms, baselines: tuple):
    """Test R² with its 95 % interval by horizon: each member, the named baselines and the ceiling, as text."""
    import pandas as pd

    cell = lambda entry: display.with_interval(entry["r2"], entry["r2_ci"])  # noqa: E731
    cols = [f"{h:g} ms" for h in horizons_ms]
    rows = {MEMBER_LABELS[k]: [cell(s[horizon_key(h)]) for h in horizons_ms] for k, s in scores.items()}
    for name in baselines:
        rows[display.name(name)] = [cell(baselines_clean[name][horizon_key(h)]) for h in horizons_ms]
    rows[display.name("ceiling")] = [display.with_interval(*ceiling_at(ceiling, h)) for h in horizons_ms]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    table.columns.name = "test R² [95 % CI]"
    return table


def best_member(scores: dict) -> str:
    """The member with the highest test R² at the first horizon among those that read only the recording:
    every member but "oracle", which is given the true wiring."""
    readers = [k for k in scores if k != "oracle"]
    if not readers:
        raise ValueError(
            f"No member that reads only the recording among {sorted(scores)}: expected one of {MEMBERS[:-1]}."
        )
    first = next(iter(scores[readers[0]]))
    return max(readers, key=lambda k: scores[k][first]["r2"])


# what beyond.json keeps of each member's score at each horizon (summary.best_forecaster reads it back)
BEYOND_FIELDS = (
    "r2",
    "r2_ci",
    "gain_share",
    "gain_share_ci",
    "floor",
    "best_baseline",
    "vs_best_baseline",
    "run_stats",
    "rmse_mv",
    "r2_exc",
    "r2_inh",
    "r2_seeds",
)


def beyond_record(scores: dict, info: dict) -> dict:
    """beyond.json: {member: {horizon key: BEYOND_FIELDS of its score, its parameter count and its mean
    training seconds per seed}}."""
    return {
        k: {
            x: {
                **{f: entry[f] for f in BEYOND_FIELDS},
                "params": info[k][0]["params"],
                "train_s": float(np.mean([i["train_s"] for i in info[k]])),
            }
            for x, entry in s.items()
        }
        for k, s in scores.items()
    }


def share_table(scores: dict, horizons_ms):
    """Each member's share of the achievable gain by horizon, as "67 % [60, 73]" text."""
    import pandas as pd

    return pd.DataFrame(
        {
            MEMBER_LABELS[k]: {
                f"{h:g} ms": display.with_interval(e["gain_share"], e["gain_share_ci"], ".0f", 100, "%")
                for h, e in ((h, s[horizon_key(h)]) for h in horizons_ms)
            }
            for k, s in scores.items()
        }
    ).T.rename_axis(columns="share of the achievable gain, % [95 % CI]")


def recovery_summary(auc: dict, auc_null: dict, past_s, early_s: float = 1.0) -> dict:
    """The wiring's recovery in numbers (templates/wiring_recovery.md): mean ROC AUC over test runs of the
    excitatory ("E") and inhibitory ("I") synapses with the whole past (`past_s`'s last checkpoint) and with
    about `early_s` of it (the first checkpoint at or after it), and the null's with the whole past (None
    where no other test run's graph could be drawn). auc, auc_null: {"E"|"I": [runs, checkpoints]}."""
    past_s = np.asarray(past_s, float)
    early = min(int(np.searchsorted(past_s, early_s)), len(past_s) - 1)
    null_ok = all(np.isfinite(np.asarray(auc_null[k])[:, -1]).all() for k in ("E", "I"))
    return {
        "past_s": float(past_s[-1]),
        "early_s": float(past_s[early]),
        "auc": {k: float(np.mean(np.asarray(auc[k])[:, -1])) for k in ("E", "I")},
        "auc_early": {k: float(np.mean(np.asarray(auc[k])[:, early])) for k in ("E", "I")},
        "auc_null": {k: float(np.mean(np.asarray(auc_null[k])[:, -1])) for k in ("E", "I")} if null_ok else None,
    }


def analysis_record(
    inputs, best: str, past_s, auc: dict, auc_null: dict, by_past: dict, info: dict, wall_s: float
) -> dict:
    """Notebook 08's entry of analysis.json ("reaching_the_ceiling"): the members' labels, the best member
    that reads only the recording (summary.best_forecaster reads it), the spike detection's scores, the
    coupling's penalty and its validation scores, the wiring's recovery by checkpoint, the R² by past and
    the epochs each seed trained. inputs: staircase.build_inputs()."""
    return {
        "labels": MEMBER_LABELS,
        "best_without_oracle": best,
        "spike_detection": inputs.detection,
        "coupling_alpha": inputs.alpha,
        "coupling_alpha_scores": inputs.alpha_scores,
        "checkpoint_s": np.asarray(past_s, float).tolist(),
        "auc": {k: np.asarray(v).tolist() for k, v in auc.items()},
        "auc_null": {k: np.asarray(v).tolist() for k, v in auc_null.items()},
        "r2_by_past": {k: np.asarray(v).tolist() for k, v in by_past.items()},
        "epochs": {k: [i["epochs"] for i in v] for k, v in info.items()},
        "wall_s": wall_s,
    }


def conclusion_fields(
    scores: dict, info: dict, best: str, baselines_clean: dict, ceiling: dict, horizons_ms, unforeseen
) -> dict:
    """The fields of notebook 08's conclusion (templates/reaching_conclusion.md).

    scores: {member: score()}; info: {member: [training records]}; best: the best member that reads only
    the recording; unforeseen: analysis.reset_share of the oracle-informed member's squared error at 1 ms.
    The mark is a 90 % share of the achievable gain at the first horizon: the floor's R² plus 90 % of
    the way from it to the ceiling.
    """
    hk = [horizon_key(h) for h in horizons_ms]
    b, h0 = scores[best], hk[0]
    runs = info[best]
    by_verdict: dict = {}
    for h, x in zip(horizons_ms, hk):
        by_verdict.setdefault(b[x]["vs_best_baseline"]["verdict"], []).append(f"{h:g}")
    floor_1 = baselines_clean[b[h0]["floor"]][h0]["r2"]
    need_90 = floor_1 + 0.9 * (ceiling_at(ceiling, horizons_ms[0])[0] - floor_1)
    oracle = scores["oracle"][h0]
    return {
        "label": MEMBER_LABELS[best],
        "params": runs[0]["params"],
        "train_s": float(np.mean([i["train_s"] for i in runs])),
        "n_seeds": len(runs),
        "r2": b[h0]["r2"],
        "share": display.with_interval(b[h0]["gain_share"], b[h0]["gain_share_ci"], ".0f", 100, "%"),
        "rivals": sorted({display.name(b[x]["best_baseline"]) for x in hk}),
        "by_verdict": list(by_verdict.items()),
        "vs_best_baseline": b[h0]["vs_best_baseline"],
        "steps": [(MEMBER_LABELS[cur], step(scores, cur, prev, h0)) for prev, cur in zip(MEMBERS, MEMBERS[1:])],
        "need_90": need_90,
        "gap": b[h0]["r2"] - need_90,
        "oracle_share": display.number(100 * oracle["gain_share"], ".0f"),
        "oracle_clears": oracle["r2"] >= need_90,
        "oracle_short": need_90 - oracle["r2"],
        "oracle_vs_wiring": step(scores, "oracle", "wiring", h0),
        "error_share": unforeseen["share_of_error"],
        "sample_share": unforeseen["share_of_samples"],
    }


def conclusion(
    scores: dict, info: dict, best: str, baselines_clean: dict, ceiling: dict, horizons_ms, unforeseen
) -> str:
    """Notebook 08's conclusion as short sentences, one paragraph per finding (Markdown text); the arguments
    are conclusion_fields'."""
    return prose.render(
        "reaching_conclusion",
        **conclusion_fields(scores, info, best, baselines_clean, ceiling, horizons_ms, unforeseen),
    )
