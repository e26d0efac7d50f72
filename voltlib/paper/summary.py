"""The headline numbers of the paper, read from results/<profile>/*.json, tolerant of absent results.

00_abstract builds its text from these; a value that no notebook has written yet is None and
prints as MISSING, so the abstract says what is missing instead of failing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from voltlib import display, paths, store
from voltlib.config import PHASE_LABELS, PHASES, SOURCE_R2
from voltlib.forecast import metrics
from voltlib.paper import inputs
from voltlib.store import horizon_key

MISSING = "not computed in this build"
# what the abstract reads, as voltlib.paper.inputs declares it
RESULT_FILES = tuple(f.removesuffix(".json") for f in inputs.READS[inputs.LAST])


def load_results(profile: str, results_dir: Path | None = None) -> dict:
    """{name: parsed JSON or None} for every known results file of a profile."""
    folder = Path(results_dir) if results_dir else paths.RESULTS / profile
    out = {}
    for name in RESULT_FILES:
        f = folder / f"{name}.json"
        store.record_read(f)  # the build's record of what the abstract read (an absent file too)
        try:
            out[name] = json.loads(f.read_text()) if f.exists() else None
        except ValueError:
            out[name] = None  # a corrupt file counts as absent; the notebook that writes it reruns
    return out


def dig(obj, *keys):
    """obj[k1][k2]... or None when any level is absent; a number is a horizon and looked up by its horizon_key."""
    for k in keys:
        key = horizon_key(k) if isinstance(k, (int, float)) and not isinstance(k, bool) else k
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def num(x, spec: str = ".3f") -> str:
    """x formatted with spec, or MISSING when x is None."""
    return MISSING if x is None else format(x, spec)


def pct(x, spec: str = ".0f") -> str:
    """A fraction as a percentage, or MISSING."""
    return MISSING if x is None else format(100 * x, spec) + " %"


def pct_interval(ci, spec: str = ".0f") -> str:
    """An interval of fractions in prose, '95 % CI 81 to 86 %', or 'no interval: fewer than 2 test runs'."""
    return display.ci_words(ci, spec, scale=100, unit="%") or "no interval: fewer than 2 test runs"


def baseline_r2(baselines, protocol: str, name: str, horizon_ms=1):
    """Pooled R^2 of one baseline at one horizon, or None."""
    return dig(baselines, protocol, name, horizon_ms, "r2")


def _best(scores: dict):
    """(name, value) of the largest value that is not None, or (None, None)."""
    scores = {k: v for k, v in scores.items() if v is not None}
    if not scores:
        return None, None
    name = max(scores, key=scores.__getitem__)
    return name, scores[name]


def best_baseline(baselines, protocol: str, horizon_ms=1):
    """(name, R^2) of the best naive baseline (the mean and persistence included) at a horizon, or (None, None)."""
    return _best({n: baseline_r2(baselines, protocol, n, horizon_ms) for n in (dig(baselines, protocol) or {})})


def floor_baseline(baselines_protocol: dict, horizon_ms) -> str:
    """The trivial forecast that is the floor of the achievable gain at a horizon: 'persistence', or 'mean' where
    it scores higher (metrics.gain_floor); baselines_protocol: one protocol's entry of baselines.json."""
    hk = horizon_key(horizon_ms)
    pers, mean = (baselines_protocol[k][hk]["r2"] for k in ("persistence", "mean"))
    return "persistence" if pers >= mean else "mean"


def best_phase(ladder, protocol: str):
    """(phase, R^2) of the ladder's best phase under a protocol, or (None, None)."""
    return _best({p: dig(ladder, protocol, p, "r2") for p in (dig(ladder, protocol) or {}) if p in PHASE_LABELS})


def ceiling_at(ceiling, horizon_ms=1):
    """(ceiling R^2 with the measurement noise, (lo, hi) or None) at one horizon, or (None, None)."""
    horizons = dig(ceiling, "horizons_ms") or []
    values = dig(ceiling, "ceiling_r2") or []
    match = [i for i, h in enumerate(horizons) if float(h) == float(horizon_ms)]
    if not match or match[0] >= len(values):
        return None, None
    i = match[0]
    cis = dig(ceiling, "ceiling_r2_ci") or []
    ci = tuple(cis[i]) if i < len(cis) and cis[i] is not None else None
    return values[i], ci


def gain_share(model_r2, floor_r2, ceiling_r2):
    """metrics.gain_share of three recorded values, or None when one is absent or there is no gain to share."""
    if None in (model_r2, floor_r2, ceiling_r2):
        return None
    share = metrics.gain_share(model_r2, floor_r2, ceiling_r2)
    return None if math.isnan(share) else share


def best_forecaster(beyond, analysis, horizon_ms=1) -> dict | None:
    """Notebook 08's best member that reads only the recording, at one horizon: {name, label, and its
    beyond.json entry (r2, r2_ci, gain_share, gain_share_ci, vs_best_baseline, params, ...)}, or None."""
    name = dig(analysis, "reaching_the_ceiling", "best_without_oracle")
    entry = dig(beyond, name, horizon_ms) if name else None
    if entry is None:
        return None
    return {"name": name, "label": dig(analysis, "reaching_the_ceiling", "labels", name) or name, **entry}


def headline(results: dict, horizon_ms=1) -> dict:
    """The abstract's numbers at one horizon (the source's task: 1 ms), from load_results(): each a value or
    None where no notebook has written it. Keys: the simulation's n_runs, duration_s, rate_hz, cv_isi; the
    source's R^2 (source_r2); the CNN-LSTM's under each protocol (original_r2, clean_r2) and its training
    seeds (n_seeds); the clean ladder's best phase (best_phase, best_phase_label, best_r2); persistence
    under each protocol (persistence_r2, persistence_original_r2); the best simple baseline of each protocol
    (best_baseline, best_baseline_r2, best_baseline_original); the ceiling (ceiling_r2, ceiling_ci); the
    best phase's and the best baseline's gain shares (share, baseline_share); the ladder's comparisons
    (leak, vs_best_baseline, vs_persistence); notebook 08's best member (best_forecaster, or None); and
    notebook 09's verdicts across the network states (across_states, or None)."""
    sim, base, ladder, ceil = (results.get(k) for k in ("simulation", "baselines", "ladder", "ceiling"))
    best_phase_name, best_r2 = best_phase(ladder, "clean")
    pers_r2 = baseline_r2(base, "clean", "persistence", horizon_ms)
    bb_name, bb_r2 = best_baseline(base, "clean", horizon_ms)
    ceil_r2, ceil_ci = ceiling_at(ceil, horizon_ms)
    cmp = dig(results.get("comparisons"), "ladder") or {}
    return {
        **{k: dig(sim, k) for k in ("n_runs", "duration_s", "rate_hz", "cv_isi")},
        "source_r2": SOURCE_R2["phase4_cnn_lstm"],
        "original_r2": dig(ladder, "original", "phase4_cnn_lstm", "r2"),
        "clean_r2": dig(ladder, "clean", "phase4_cnn_lstm", "r2"),
        "n_seeds": len(dig(ladder, "clean", "phase4_cnn_lstm", "seeds") or []),
        "best_phase": best_phase_name,
        "best_phase_label": PHASE_LABELS.get(best_phase_name, best_phase_name) if best_phase_name else None,
        "best_r2": best_r2,
        "persistence_r2": pers_r2,
        "persistence_original_r2": baseline_r2(base, "original", "persistence", horizon_ms),
        "best_baseline": bb_name,
        "best_baseline_r2": bb_r2,
        "best_baseline_original": best_baseline(base, "original", horizon_ms)[0],
        "ceiling_r2": ceil_r2,
        "ceiling_ci": ceil_ci,
        "share": gain_share(best_r2, pers_r2, ceil_r2),
        "baseline_share": gain_share(bb_r2, pers_r2, ceil_r2),
        "leak": cmp.get("leak_effect"),
        "vs_best_baseline": cmp.get("cnn_lstm_vs_best_baseline"),
        "vs_persistence": cmp.get("cnn_lstm_vs_persistence"),
        "best_forecaster": best_forecaster(results.get("beyond"), results.get("analysis"), horizon_ms),
        "across_states": across_states(results.get("states")),
        "observer": observer(results.get("observer"), horizon_ms),
    }


def observer(observer_json, horizon_ms=1) -> dict | None:
    """Notebook 10 in short at one horizon: the observer's R^2 with its interval, the oracle's at the same start
    times, what the recording hides (oracle minus observer) and the shares of the gap each side holds; None
    before notebook 10 has run."""
    hk = horizon_key(horizon_ms)
    obs = dig(observer_json, "scores", "observer", hk)
    if obs is None:
        return None
    d = dig(observer_json, "decomposition", hk) or {}
    return {
        "r2": obs["r2"],
        "r2_ci": obs["r2_ci"],
        "oracle_r2": dig(observer_json, "scores", "oracle", hk, "r2"),
        "hidden": dig(observer_json, "differences", "oracle_minus_observer", hk),
        "observer_share": d.get("observer_share_of_oracle_gain"),
        "learned_share": d.get("learned_share_of_observer_gain"),
        "coverage_90": dig(observer_json, "scores", "quantile_seeds", hk, "coverage_90"),
        "quantiles": dig(observer_json, "distributional", "quantiles"),
    }


def across_states(states_json) -> dict | None:
    """Notebook 09's verdicts in short: how many hold in every state, change in some, or are undecided
    somewhere, the claims that change, and the states' count; None before notebook 09 has run."""
    verdicts = dig(states_json, "verdicts")
    if not verdicts:
        return None
    decided = ("holds in every state", "changes")
    return {
        "n_states": len(dig(states_json, "forecasts") or {}),
        "n_verdicts": len(verdicts),
        "holds": [v["claim"] for v in verdicts if v["across"] == decided[0]],
        "changes": [v["claim"] for v in verdicts if v["across"] == decided[1]],
        # in the verdicts' order (a set of their words would order them by the interpreter's string hashes)
        "undecided": [v["claim"] for v in verdicts if v["across"] not in decided],
    }


def headline_table(results: dict, horizon_ms=1):
    """Table 1: the source's, our original-protocol and our clean-protocol R^2 (with intervals) of each phase of
    the ladder, persistence, the best simple baseline and the ceiling, at one horizon; "–" where absent."""
    import pandas as pd

    base, ladder = results.get("baselines"), results.get("ladder")
    h = headline(results, horizon_ms)

    def cell(*keys):
        entry = dig(*keys) or {}
        return display.with_interval(entry.get("r2"), entry.get("r2_ci"))

    rows = {
        f"phase {PHASE_LABELS[p]}": [
            display.number(SOURCE_R2[p]),
            cell(ladder, "original", p),
            cell(ladder, "clean", p),
        ]
        for p in PHASES
    }
    rows["persistence"] = [display.MISSING] + [
        cell(base, pr, "persistence", horizon_ms) for pr in ("original", "clean")
    ]
    bb = h["best_baseline"] or h["best_baseline_original"] or "none"
    rows[f"best simple baseline ({display.name(bb)})"] = [display.MISSING] + [
        cell(base, pr, n, horizon_ms)
        for pr, n in (("original", h["best_baseline_original"]), ("clean", h["best_baseline"]))
    ]
    rows["ceiling (oracle, recorded voltages)"] = [
        display.MISSING,
        display.MISSING,
        display.with_interval(h["ceiling_r2"], h["ceiling_ci"]),
    ]
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["source", "ours, original protocol", "ours, clean protocol"]
    )


def findings(results: dict) -> list[str]:
    """Notebook 07's findings (analysis.json's "findings", sentences), or [] where it has written none."""
    found = dig(results.get("analysis"), "findings")
    return [str(f) for f in found] if isinstance(found, list) else []


def devices(results: dict) -> list[str]:
    """The compute devices the results record: every 'device' field anywhere in load_results()' files, sorted."""
    found = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "device" and isinstance(v, str):
                    found.add(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(results)
    return sorted(found)


# ---------------------------------------------------------------- differences and the words they allow


def compare(a: dict, b: dict, paired: bool = True, a_label: str = "", b_label: str = "") -> dict:
    """R^2(a) - R^2(b) with its 95 % interval and verdict, from two recorded entries that hold run_stats.

    paired: both were scored on the same test windows (metrics.paired_difference); else they were
    scored apart, e.g. under the two protocols (metrics.independent_difference).
    """
    fn = metrics.paired_difference if paired else metrics.independent_difference
    out = fn(a["run_stats"], b["run_stats"])
    return {
        "a": a_label,
        "b": b_label,
        "difference": out["difference"],
        "ci": list(out["ci"]),
        "paired": paired,
        "verdict": metrics.verdict(out["ci"]),
    }


def ladder_comparisons(ladder: dict, baselines: dict) -> dict:
    """The differences the paper states about the ladder, each with its interval (see `compare`).

    leak_effect: the CNN-LSTM on the original protocol minus on the clean one (different test sets);
    the rest on the clean protocol's test runs: the CNN-LSTM minus persistence, minus the best
    baseline, minus the per-neuron AR; each phase minus the one before it.
    """
    p4 = "phase4_cnn_lstm"
    clean = ladder["clean"]
    best, _ = best_baseline(baselines, "clean")
    base = lambda name: baselines["clean"][name][horizon_key(1)]  # noqa: E731
    out = {
        "leak_effect": compare(ladder["original"][p4], clean[p4], False, "CNN-LSTM, original", "CNN-LSTM, clean"),
        "cnn_lstm_vs_persistence": compare(clean[p4], base("persistence"), True, "CNN-LSTM", "persistence"),
        "cnn_lstm_vs_best_baseline": compare(clean[p4], base(best), True, "CNN-LSTM", display.name(best)),
        "cnn_lstm_vs_ar_ridge": compare(clean[p4], base("ar_ridge"), True, "CNN-LSTM", display.name("ar_ridge")),
    }
    phases = [p for p in PHASE_LABELS if p in clean]
    for prev, cur in zip(phases, phases[1:]):
        out[f"{cur}_vs_{prev}"] = compare(clean[cur], clean[prev], True, display.name(cur), display.name(prev))
    return out


def _finite(ci) -> bool:
    return ci is not None and all(v is not None and math.isfinite(v) for v in ci)


def say(cmp: dict | None, higher: str = "higher", lower: str = "lower", spec: str = ".3f") -> str:
    """A difference in words its interval allows: '0.041 higher (95 % CI 0.030 to 0.052)'; a lower one
    with its interval as magnitudes, '0.122 lower (95 % CI 0.119 to 0.126)', never a double negative;
    else 'not distinguishable at this budget (difference -0.001, 95 % CI -0.012 to 0.010)'; MISSING if absent."""
    if cmp is None:
        return MISSING
    d, ci = cmp["difference"], cmp["ci"]
    if not _finite(ci):
        return f"not distinguishable at this budget (difference {display.signed(d, spec)}; no interval: fewer than 2 test runs)"
    word = metrics.verdict(ci, higher, lower)
    if word == higher:
        return f"{display.number(d, spec)} {word} ({display.ci_words(ci, spec)})"
    if word == lower:
        return f"{display.number(-d, spec)} {word} ({display.ci_words((-ci[1], -ci[0]), spec)})"
    return f"{word} (difference {display.signed(d, spec)}, {display.ci_words(ci, spec)})"


def comparison_table(comparisons: dict, by_key: bool = False):
    """The comparisons of `ladder_comparisons` (or any such dict) as a table for the report: one row per
    difference, named "a minus b" from its labels (by_key: by display.name of its key, which is how
    the leak's row is always named), with the difference, its 95 % interval and the verdict."""
    import pandas as pd

    def label(key, c):
        if by_key or key in display.COMPARISON_NAMES or not (c["a"] and c["b"]):
            return display.name(key)
        return f"{c['a']} minus {c['b']}"

    rows = {
        label(key, c): {
            "R² difference": display.signed(c["difference"]),
            "95 % CI": display.interval(c["ci"]),
            "verdict": c["verdict"],
        }
        for key, c in comparisons.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
