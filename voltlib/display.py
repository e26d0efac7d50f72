"""How the paper writes a number, an interval, a count and a name: one formatter for every table and sentence.

- A missing value (None, NaN) is "–", never NaN or None; a yes/no value is "yes" or "no", never True/False.
- Integers carry thousands separators (19,845); an interval is "[0.379, 0.384]" and a value with its
  interval "0.381 [0.379, 0.384]", joined by non-breaking spaces so neither wraps inside the brackets.
- A count agrees with its noun ("1 test run", "8 test runs").
- Every model, baseline and comparison has a display name (`name`); code identifiers such as
  own_lags_boosting or leak_effect stay in the JSON files and never reach the visible text.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from voltlib.config import PHASE_LABELS

MISSING = "–"
NBSP = "\u00a0"

# the baselines of METHODS.md section 7 and the ceiling, as a reader reads them
BASELINE_NAMES = {
    "mean": "training mean",
    "persistence": "persistence",
    "ar_ridge": "AR per neuron",
    "population_ridge": "population ridge",
    "own_lags_boosting": "boosted trees",
}
NAMES = {
    **BASELINE_NAMES,
    **{phase: label.split(" ", 1)[1] for phase, label in PHASE_LABELS.items()},
    "ceiling": "ceiling (oracle)",
}


def name(key: str) -> str:
    """The display name of a model, baseline or comparison key; a key without one is returned as it is
    (already a label), so display names can be applied to labels and keys alike."""
    if key in NAMES:
        return NAMES[key]
    for names in (COMPARISON_NAMES, STAT_NAMES, METRIC_NAMES):
        if key in names:
            return names[key]
    if "_vs_" in key:  # "<phase>_vs_<phase>", "cnn_lstm_vs_<baseline>"
        a, b = key.split("_vs_", 1)
        a = NAMES.get(a, "CNN-LSTM" if a == "cnn_lstm" else a)
        return f"{a} minus {NAMES.get(b, b)}"
    return key


# the leak statistics of voltlib.forecast.data.protocol_summary (notebook 02)
STAT_NAMES = {
    "frac_test_targets_inside_a_train_input": "test targets that are an input of a training window",
    "frac_test_windows_overlapping_train": "test windows overlapping a training window",
    "mean_samples_shared_with_nearest_train": "samples shared with the nearest training window (mean)",
    "frac_test_runs_seen_in_training": "test runs also seen in training",
    "n_train_windows_spanning_two_runs": "training windows spanning two runs",
}
# the metrics of voltlib.forecast.metrics.evaluate that the report's tables show
METRIC_NAMES = {
    "r2": "R² (pooled)",
    "r2_per_neuron_mean": "R², mean over neurons",
    "rmse_mv": "RMSE (mV)",
    "r2_exc": "R², excitatory neurons",
    "r2_inh": "R², inhibitory neurons",
    "skill_vs_persistence": "skill vs persistence",
}
# comparisons whose name is not "<a> minus <b>" of its two labels
COMPARISON_NAMES = {
    "leak_effect": "the leak: CNN-LSTM, original minus clean protocol",
    "cnn_lstm_vs_best_baseline": "CNN-LSTM minus the best simple baseline",
}


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isnan(x)
    except TypeError:
        return False


def _fixed(v: float, spec: str) -> str:
    """format(v, spec) without a negative zero ("-0.000" is "0.000")."""
    text = format(v, spec)
    return text[1:] if text.startswith("-") and not any(c not in "-0.,%" for c in text) else text


def signed(x, spec: str = ".3f") -> str:
    """A difference with its sign, "+0.041" or "-0.122"; "0.000" for a zero however it rounds; "–" if missing."""
    if _missing(x):
        return MISSING
    text = _fixed(float(x), spec)
    return text if text.startswith("-") or not any(c not in "0.,%" for c in text) else "+" + text


def number(x, spec: str = ".3f") -> str:
    """One value as a reader sees it: "–" when missing, "yes"/"no" for a truth value, an integer with
    thousands separators, a float with spec; a string is returned unchanged."""
    if _missing(x):
        return MISSING
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    if isinstance(x, numbers.Real):
        return _fixed(float(x), spec)
    return str(x)


def interval(ci, spec: str = ".3f", scale: float = 1.0) -> str:
    """An interval as "[lo, hi]" (non-breaking), or "–" where none could be computed (e.g. one test run)."""
    if ci is None or any(_missing(v) or not math.isfinite(v) for v in ci):
        return MISSING
    lo, hi = (_fixed(scale * v, spec) for v in ci)
    return f"[{lo},{NBSP}{hi}]"


def with_interval(x, ci, spec: str = ".3f", scale: float = 1.0, unit: str = "") -> str:
    """A value and its interval, "0.381 [0.379, 0.384]" or "83 % [81, 86]", never broken across lines."""
    if _missing(x):
        return MISSING
    value = _fixed(scale * x, spec) + (NBSP + unit if unit else "")
    ci_text = interval(ci, spec, scale)
    return value if ci_text == MISSING else f"{value}{NBSP}{ci_text}"


def ci_words(ci, spec: str = ".3f", scale: float = 1.0, unit: str = "") -> str:
    """An interval in prose: "95 % CI 0.030 to 0.052" (non-breaking), or "" where there is none."""
    if ci is None or any(_missing(v) or not math.isfinite(v) for v in ci):
        return ""
    lo, hi = (_fixed(scale * v, spec) for v in ci)
    unit = NBSP + unit if unit else ""
    return f"95{NBSP}%{NBSP}CI {lo}{NBSP}to{NBSP}{hi}{unit}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """n with its noun in agreement: count(1, "test run") is "1 test run", count(8, ...) "8 test runs"."""
    if _missing(n) or isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"count: expected a whole number of {plural or noun + 's'}, got {n!r}")
    return f"{int(n):,} {noun if n == 1 else plural or noun + 's'}"


def frame(df, spec: str = ".3f", specs: dict | None = None, row_specs: dict | None = None):
    """A table as the report shows it: every cell through `number` (with specs[column] or row_specs[row]
    where given, else spec), every row and column label through `name`. Returns a new DataFrame of strings."""
    specs, row_specs = specs or {}, row_specs or {}
    out = df.copy().astype(object)
    for col in out.columns:
        out[col] = [number(v, row_specs.get(row, specs.get(col, spec))) for row, v in zip(df.index, df[col])]
    label = lambda x: name(x) if isinstance(x, str) else x  # noqa: E731
    return out.rename(index=label, columns=label)
