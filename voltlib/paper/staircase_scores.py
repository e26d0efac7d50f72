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
from voltlib.paper.summary import best_baseline, ceiling_at, compare, floor_baseline, say
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


def conclusion(scores: dict, info: dict, best: str, baselines_clean: dict, ceiling: dict, horizons_ms, unforeseen):
    """Notebook 08's conclusion as short sentences, one paragraph per finding (Markdown text).

    scores: {member: score()}; info: {member: [training records]}; best: the best member that reads only
    the recording; unforeseen: analysis.reset_share of the oracle-informed member's squared error at 1 ms.
    """
    hk = [horizon_key(h) for h in horizons_ms]
    b, h0 = scores[best], hk[0]
    label, runs = MEMBER_LABELS[best], info[best]
    share = display.with_interval(b[h0]["gain_share"], b[h0]["gain_share_ci"], ".0f", 100, "%")
    out = [
        f"The best forecaster that reads only the recording is the staircase's member **{label}**. It has {runs[0]['params']:,} parameters "
        f"and trained for {np.mean([i['train_s'] for i in runs]):.0f} s per seed ({display.count(len(runs), 'seed')}). "
        f"At 1 ms its R² is {b[h0]['r2']:.3f}: {share} of the achievable gain."
    ]
    by_verdict: dict = {}
    for h, x in zip(horizons_ms, hk):
        by_verdict.setdefault(b[x]["vs_best_baseline"]["verdict"], []).append(f"{h:g}")
    rivals = sorted({display.name(b[x]["best_baseline"]) for x in hk})
    out.append(
        f"Against the best simple baseline ({', '.join(rivals)}), its R² is "
        + "; ".join(f"{v} at {', '.join(hs)} ms" for v, hs in by_verdict.items())
        + f". At 1 ms it is {say(b[h0]['vs_best_baseline'])}."
    )
    out.append(
        "Each step of the staircase against the one before, at 1 ms: "
        + "; ".join(
            f"{MEMBER_LABELS[cur]}, {say(step(scores, cur, prev, h0))}" for prev, cur in zip(MEMBERS, MEMBERS[1:])
        )
        + "."
    )
    floor_1 = baselines_clean[b[h0]["floor"]][h0]["r2"]
    need_90 = floor_1 + 0.9 * (ceiling_at(ceiling, horizons_ms[0])[0] - floor_1)
    gap = b[h0]["r2"] - need_90
    oracle = scores["oracle"][h0]
    out.append(
        f"A 90 % share at 1 ms needs R² {need_90:.3f}. The best member "
        + (f"clears it by {gap:.3f}." if gap >= 0 else f"falls short by {-gap:.3f}.")
        + f" With the true wiring the share is {display.number(100 * oracle['gain_share'], '.0f')} %"
        + (
            " and clears the mark."
            if oracle["r2"] >= need_90
            else f", still {need_90 - oracle['r2']:.3f} short. The true wiring against the inferred one: "
            f"{say(step(scores, 'oracle', 'wiring', h0))}."
        )
    )
    out.append(
        f"Of the oracle-informed member's squared error at 1 ms, {100 * unforeseen['share_of_error']:.0f} % falls on the "
        f"{100 * unforeseen['share_of_samples']:.1f} % of targets that follow a spike fired after the last input sample. "
        "No reader of the samples can time such a reset."
    )
    return "\n\n".join(out)
