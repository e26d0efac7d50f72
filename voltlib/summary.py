"""The headline numbers of the paper, read from results/<profile>/*.json, tolerant of absent results.

00_abstract builds its text from these; a value that no notebook has written yet is None and
prints as MISSING, so the abstract says what is missing instead of failing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import metrics, paths
from .config import PHASE_LABELS
from .store import horizon_key

MISSING = "not computed in this build"
RESULT_FILES = ("simulation", "baselines", "ladder", "ceiling", "analysis", "timings")


def load_results(profile: str, results_dir: Path | None = None) -> dict:
    """{name: parsed JSON or None} for every known results file of a profile."""
    folder = Path(results_dir) if results_dir else paths.RESULTS / profile
    out = {}
    for name in RESULT_FILES:
        f = folder / f"{name}.json"
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


def baseline_r2(baselines, protocol: str, name: str, horizon_ms=1):
    """Pooled R^2 of one baseline at one horizon, or None."""
    return dig(baselines, protocol, name, horizon_ms, "r2")


def _best(scores: dict):
    """(name, value) of the largest value that is not None, or (None, None)."""
    scores = {k: v for k, v in scores.items() if v is not None}
    if not scores:
        return None, None
    name = max(scores, key=scores.get)
    return name, scores[name]


def best_baseline(baselines, protocol: str, horizon_ms=1):
    """(name, R^2) of the best naive baseline (the mean and persistence included) at a horizon, or (None, None)."""
    return _best({n: baseline_r2(baselines, protocol, n, horizon_ms) for n in (dig(baselines, protocol) or {})})


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
