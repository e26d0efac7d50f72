"""The training-budget study: its plan, its archive, and the curves, fits and words the paper reads from it.

The quick profile trains its CNN-LSTM for 20,000 window-passes (5 epochs of 4,000 windows), about
0.7 % of the source's 2.77 million. A verdict on the source's architecture at one budget says little
about it at another, so this study trains each model at budgets spaced 4x apart, each with a cosine
schedule that decays the learning rate to min_lr exactly at its budget (budgeted training: a budget
read from the checkpoints of one long run would be judged with its rate still high, which favours
the long run's end), on both protocols, and scores each on its protocol's test windows with the
run-level statistics every interval of the paper is drawn from.

Each (model, budget, protocol, seed) is one task of the fan-out; voltlib.workflow.budget_run trains
them (the embedded cluster by default, SCHEDULER= for a real one). A task trains with one thread (its bits do not depend on where it
ran), checkpoints every epoch where the workers share this disk (a stopped study resumes there), and
returns its scores, training record and provenance; the client writes one archive file per task
under results/archive/<profile>/budget/, atomically with its checksum, and after every task a manifest
with every file's sha256. The archive is committed: `make report` reads it and never retrains it, and
`make budget` with every task archived does nothing.

    make budget                         # or: python -m voltlib.workflow.budget_run --profile quick [--workers N]
    make budget SCHEDULER=tcp://host:8786
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voltlib import paths
from voltlib.config import (
    Profile,
    TrainConfig,
    config_hash,
    get_profile,
    to_dict,
)
from voltlib.forecast.metrics import bootstrap_stats, interval, r2_from_stats

if TYPE_CHECKING:  # for Task.spec's annotation; plan() imports fits where it builds the specs
    from voltlib.forecast.fits import FitSpec

# the committed archive belongs to the checkout, like its code: a build in a scratch root (VOLTLIB_ROOT; the
# stored notebooks, make test-scheduler) reads the same archive as one in the checkout
ARCHIVE = paths.ARCHIVE
SOURCE_WINDOW_PASSES = 129 * 21_459  # the source's CNN-LSTM: 129 epochs of 21,459 training windows
SCHEMA = 1


@dataclass(frozen=True)
class StudyModel:
    """One model of the study: a phase of the profile's ladder, at its width or another one."""

    name: str  # the study's name for it (archive file names, tables)
    label: str  # what the paper calls it
    phase: str  # the ladder phase whose architecture and optimiser settings it takes
    hidden: int | None  # None: the profile's width of that phase
    budgets: tuple  # window-passes
    seeds_up_to: int  # budgets up to this many window-passes train 2 seeds, larger ones 1


# The budgets are 4-5x apart around quick's 20,000 (one epoch of 4,000 windows below it), up to 320,000
# (16x quick, 11.6 % of the source's). The plan fits `make budget`'s 3 hours on 2 cores: a quick-width
# epoch costs about 30 s on one thread (with subnormal floats flushed: budget_run), so 1,280,000
# window-passes (320 epochs, 2 protocols) alone would take about 5 hours. The source's exact model (width
# 384, 2.19 M parameters) costs about 3x the quick width per window, so it gets the two budgets around
# quick's; the LSTM with the residual head (the ladder's step without the CNN) the three up to 80,000, so
# "what the CNN adds" is read at each of them.
STUDY = (
    StudyModel(
        "cnn_lstm",
        "CNN-LSTM (quick width)",
        "phase4_cnn_lstm",
        None,
        (4_000, 20_000, 80_000, 320_000),
        80_000,
    ),
    StudyModel("cnn_lstm_384", "CNN-LSTM (source width 384)", "phase4_cnn_lstm", 384, (20_000, 80_000), 0),
    StudyModel(
        "lstm_res",
        "LSTM + residual head (quick width)",
        "phase3_lstm_res",
        None,
        (4_000, 20_000, 80_000),
        80_000,
    ),
)
PROTOCOL_ORDER = ("clean", "original")
STUDY_PROFILES = ("smoke", "quick")  # smoke: a tiny version of the same study for the tests


@dataclass(frozen=True)
class Task:
    """One training of the study and where its result is archived."""

    model: str
    budget: int  # window-passes
    protocol: str
    seed: int
    spec: FitSpec

    @property
    def id(self) -> str:
        return f"{self.model}-{self.budget}-{self.protocol}-seed{self.seed}"

    @property
    def label(self) -> str:
        return f"{self.model} {self.budget:,} window-passes ({self.protocol}, seed {self.seed})"

    def configs(self) -> dict:
        """What the archive records of this task's configuration (compared with the code's on reading)."""
        s = self.spec
        return {
            "model": to_dict(s.model_cfg),
            "train": to_dict(s.train_cfg),
            "data": to_dict(s.data_cfg),
            "sim": to_dict(s.sim_cfg),
            "horizon": s.horizon,
            "hash": config_hash(s.model_cfg, s.train_cfg, s.data_cfg, s.sim_cfg, {"horizon": s.horizon}),
        }


def windows_per_epoch(profile: Profile) -> int:
    """Windows one epoch of the study draws: the profile's ladder cap (quick: 4,000)."""
    return profile.phases["phase4_cnn_lstm"][1].max_train_windows or 4000


def scaled_budgets(profile: Profile, budgets: tuple) -> tuple:
    """The study's budgets at a profile: quick's as listed; smoke's divided so each is 1, 4, ... epochs."""
    if profile.name == "quick":
        return budgets
    per_epoch = windows_per_epoch(profile)
    return tuple(per_epoch * 4**k for k in range(min(len(budgets), 2)))  # smoke: 1 and 4 epochs


def train_config(base: TrainConfig, budget: int, per_epoch: int, seed: int) -> TrainConfig:
    """The phase's optimiser settings, trained for exactly `budget` window-passes to a decayed rate."""
    epochs = budget // per_epoch
    if epochs * per_epoch != budget or epochs < 1:
        raise ValueError(
            f"a budget of {budget:,} window-passes is not a whole number of epochs of {per_epoch:,} windows; "
            "choose budgets that are multiples of the epoch."
        )
    return dataclasses.replace(
        base,
        max_epochs=epochs,
        max_train_windows=per_epoch,
        early_stop=epochs,  # every budget is trained to its end; the best-validation weights are kept
        warmup_epochs=0,
        lr_schedule="cosine",
        seed=seed,
    )


def plan(profile: Profile) -> list[Task]:
    """Every task of the study at a profile, cheapest first (so the curves fill from the left)."""
    from voltlib.forecast.fits import FitSpec

    if profile.name not in STUDY_PROFILES:
        raise ValueError(
            f"the training-budget study is defined at {STUDY_PROFILES}, not at {profile.name!r}; a paper-scale "
            "study belongs to the GPU archive."
        )
    per_epoch = windows_per_epoch(profile)
    out = []
    for m in STUDY:
        model_cfg, base = profile.phases[m.phase]
        if m.hidden is not None:
            model_cfg = dataclasses.replace(
                model_cfg, hidden=m.hidden if profile.name == "quick" else model_cfg.hidden * 2
            )
        for i, budget in enumerate(scaled_budgets(profile, m.budgets)):
            n_seeds = 2 if m.budgets[i] <= m.seeds_up_to else 1
            for protocol in PROTOCOL_ORDER:
                for k in range(n_seeds):
                    seed = base.seed + k
                    spec = FitSpec(
                        f"budget_{m.name}_{budget}",
                        model_cfg,
                        train_config(base, budget, per_epoch, seed),
                        profile.sim,
                        profile.data,
                        protocol,
                        profile.data.horizon,
                        "05_cnn_lstm",
                    )
                    out.append(Task(m.name, budget, protocol, seed, spec))
    return sorted(out, key=lambda t: (cost(t), t.id))


# relative cost of one window-pass (a single-threaded worker, quick widths; measured, see run())
_COST = {"lstm_res": 0.8, "cnn_lstm": 1.0, "cnn_lstm_384": 3.2}


def relative_cost(model: str, budget: int) -> float:
    """Relative compute of a training (window-passes times the model's cost per pass)."""
    return budget * _COST.get(model, 1.0)


def cost(task: Task) -> float:
    """Relative compute of a task: its priority and ETA."""
    return relative_cost(task.model, task.budget)


# ---------------------------------------------------------------- the archive


def folder(profile_name: str) -> Path:
    return ARCHIVE / profile_name / "budget"


def task_path(profile_name: str, task: Task) -> Path:
    return folder(profile_name) / "tasks" / f"{task.id}.json"


def manifest_path(profile_name: str) -> Path:
    return folder(profile_name) / "manifest.json"


class ArchiveError(RuntimeError):
    """The archive is damaged, of another schema, or was made with other configurations than the code's."""


def same_config(current: dict, recorded: dict) -> bool:
    """Whether an archived task's configuration is the code's current one: the same hash, and every value it
    recorded the same now. A field added to a config since (at a default that config_hash leaves out, so
    the hash holds) is absent from the record and does not make it stale; at any other value it moves the hash."""

    def within(rec, cur) -> bool:
        if isinstance(rec, dict) and isinstance(cur, dict):
            return all(k in cur and within(v, cur[k]) for k, v in rec.items())
        return rec == cur

    return current.get("hash") == recorded.get("hash") and within(recorded, current)


def load_archive(profile_name: str = "quick") -> dict:
    """Reads the study's archive: {"tasks": {id: record}, "missing": [ids], "stale": [ids], "manifest": ...}.

    Every task file is checked against its checksum and the manifest; a damaged one raises ArchiveError.
    A task whose recorded configuration differs from the code's current plan is listed as stale (the
    report says so) and left out of the curves; a task of the plan with no file is listed as missing.
    """
    from voltlib.store import read_json, record_read, sha256_of, verify

    manifest_file = manifest_path(profile_name)
    if not manifest_file.exists():
        return {"tasks": {}, "missing": [t.id for t in plan(get_profile(profile_name))], "stale": [], "manifest": None}
    record_read(manifest_file)
    manifest = read_json(manifest_file)
    if manifest.get("schema") != SCHEMA:
        raise ArchiveError(
            f"{manifest_file} has schema {manifest.get('schema')}, expected {SCHEMA}: rerun `make budget`."
        )
    current = {t.id: t for t in plan(get_profile(profile_name))}
    tasks, stale = {}, []
    for task_id, digest in manifest["tasks"].items():
        path = folder(profile_name) / "tasks" / f"{task_id}.json"
        problem = verify(path) or (None if sha256_of(path) == digest else "differs from the manifest's sha256")
        if problem:
            raise ArchiveError(
                f"{path} {problem} (the manifest records sha256 {digest[:12]}...): the archive cannot be trusted. "
                "Restore it from git (git checkout -- results/archive) or rerun `make budget`."
            )
        record_read(path)
        record = json.loads(path.read_text())
        if task_id not in current or not same_config(current[task_id].configs(), record["config"]):
            stale.append(task_id)
            continue
        tasks[task_id] = record
    missing = [i for i in current if i not in tasks and i not in stale]
    return {"tasks": tasks, "missing": missing, "stale": stale, "manifest": manifest}


# ---------------------------------------------------------------- the analysis the report draws


def point_stats(records: list[dict]) -> dict:
    """One budget point from its seeds' records: the seeds' run_stats stacked, R^2 (seed mean) and interval."""
    first = records[0]["test"]["run_stats"]
    stats = {
        **{k: first[k] for k in ("runs", "n", "sum", "sumsq")},
        "sse": [r["test"]["run_stats"]["sse"][0] for r in records],
    }
    r2 = r2_from_stats(stats)
    boot = bootstrap_stats({"m": stats})["m"]
    return {
        "r2": r2,
        "r2_ci": interval(boot, r2, len(stats["runs"])),
        "seeds": [r["seed"] for r in records],
        "r2_seeds": [r["test"]["r2"] for r in records],
        "run_stats": stats,
        "train_s": float(np.mean([r["train_s"] for r in records])),
        "params": records[0]["params"],
    }


def curves(archive: dict) -> dict:
    """{model: {protocol: {budget: point_stats}}} of every archived (non-stale) task."""
    groups: dict = {}
    for rec in archive["tasks"].values():
        groups.setdefault((rec["model"], rec["protocol"], rec["budget"]), []).append(rec)
    out: dict = {}
    for (model, protocol, budget), recs in sorted(groups.items()):
        recs = sorted(recs, key=lambda r: r["seed"])
        out.setdefault(model, {}).setdefault(protocol, {})[budget] = point_stats(recs)
    return out


def saturating(n, r2_inf, a, b):
    """R^2(n) = R^2_inf - a n^-b, n in window-passes (fitted on n / 10^4 for conditioning)."""
    return r2_inf - a * np.power(np.asarray(n, dtype=np.float64) / 1e4, -b)


def fit_saturating(budgets, r2s) -> tuple | None:
    """Least-squares (R^2_inf, a, b) of the saturating curve with a, b >= 0; None with fewer than 3 points."""
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    x, y = np.asarray(budgets, np.float64), np.asarray(r2s, np.float64)
    if len(x) < 3:
        return None
    try:
        with warnings.catch_warnings():  # three points fit three parameters exactly: no covariance, and
            warnings.simplefilter("ignore", OptimizeWarning)  # none is used (the interval is the bootstrap's)
            p, _ = curve_fit(
                saturating,
                x,
                y,
                p0=(y.max() + 0.02, max(y.max() - y.min(), 1e-3), 0.5),
                bounds=([-1.0, 0.0, 0.0], [1.0, 10.0, 3.0]),
                maxfev=20_000,
            )
    except (RuntimeError, ValueError):
        return None
    return tuple(float(v) for v in p)


def extrapolate(points: dict, at: float = SOURCE_WINDOW_PASSES, n_boot: int = 500, seed: int = 0) -> dict | None:
    """The saturating curve through one model's budget points and its value at `at`, with bootstrap intervals.

    Each bootstrap draw redraws every point's R^2 from the normal its 95 % interval describes and refits.
    EXTRAPOLATION: with 3-4 points and 3 parameters the curve is barely determined; the intervals say how
    little the measured points constrain it beyond the largest budget.
    """
    budgets = sorted(points)
    r2 = [points[b]["r2"] for b in budgets]
    params = fit_saturating(budgets, r2)
    if params is None:
        return None
    sds = [max((points[b]["r2_ci"][1] - points[b]["r2_ci"][0]) / (2 * 1.959964), 1e-6) for b in budgets]
    rng = np.random.default_rng(seed)
    inf_s, at_s = [], []
    for _ in range(n_boot):
        p = fit_saturating(budgets, np.asarray(r2) + rng.standard_normal(len(r2)) * sds)
        if p is not None:
            inf_s.append(p[0])
            at_s.append(float(saturating(at, *p)))
    q = lambda s: tuple(float(v) for v in np.quantile(s, [0.025, 0.975])) if len(s) > 10 else (math.nan, math.nan)  # noqa: E731
    return {
        "r2_inf": params[0],
        "a": params[1],
        "b": params[2],
        "r2_inf_ci": q(inf_s),
        "at": at,
        "r2_at": float(saturating(at, *params)),
        "r2_at_ci": q(at_s),
        "n_points": len(budgets),
        "fits_kept": len(inf_s),
    }


MODEL = "cnn_lstm"  # the model whose verdicts the paper states
REFERENCES = ("persistence", "ar_ridge", "own_lags_boosting")  # clean-protocol baselines drawn as lines


def _baseline(baselines: dict, name: str) -> dict:
    from voltlib.store import horizon_key

    return baselines["clean"][name][horizon_key(1)]


def comparisons(archive: dict, baselines: dict) -> dict:
    """{budget: {name: summary.compare}} of the CNN-LSTM at each measured budget.

    On the clean test runs (paired, same windows): against each reference baseline, against the LSTM
    with the residual head at the same budget (what the CNN adds), and the source's width against the
    quick width; the leak (original minus clean) is resampled apart.
    """
    from voltlib.paper.summary import compare

    cur = curves(archive)
    mine = cur.get(MODEL, {})
    out: dict = {}
    for budget, point in sorted(mine.get("clean", {}).items()):
        row = {f"vs_{name}": compare(point, _baseline(baselines, name), True, "CNN-LSTM", name) for name in REFERENCES}
        other = cur.get("lstm_res", {}).get("clean", {}).get(budget)
        if other is not None:
            row["vs_lstm_res"] = compare(point, other, True, "CNN-LSTM", "LSTM + residual head")
        wide = cur.get("cnn_lstm_384", {}).get("clean", {}).get(budget)
        if wide is not None:
            row["width_384_vs_quick"] = compare(wide, point, True, "CNN-LSTM width 384", "CNN-LSTM quick width")
        orig = mine.get("original", {}).get(budget)
        if orig is not None:
            row["leak"] = compare(orig, point, False, "CNN-LSTM, original", "CNN-LSTM, clean")
        out[budget] = row
    return out


def verdict_over_budgets(by_budget: dict, name: str) -> dict | None:
    """How one comparison's verdict runs over the budgets: the largest budget's and whether it ever changed."""
    seen = [(b, row[name]) for b, row in sorted(by_budget.items()) if name in row]
    if not seen:
        return None
    words = [c["verdict"] for _, c in seen]
    largest, last = seen[-1]
    return {
        "largest_budget": largest,
        "verdict": last["verdict"],
        "difference": last["difference"],
        "ci": last["ci"],
        "by_budget": {b: c["verdict"] for b, c in seen},
        "stable": len(set(words)) == 1,
    }


def against_extrapolation(ext: dict | None, reference_r2: float, reference_ci) -> str:
    """What the extrapolated R^2 at the source's budget says against a reference: its interval decides or not."""
    if ext is None or not all(map(math.isfinite, ext["r2_at_ci"])):
        return "not decided (no extrapolation)"
    lo, hi = ext["r2_at_ci"]
    ref_lo, ref_hi = reference_ci if reference_ci is not None else (reference_r2, reference_r2)
    if lo > ref_hi:
        return "higher"
    if hi < ref_lo:
        return "lower"
    return "not decided"


def _the(key: str) -> str:
    """A baseline or model as the prose names it: 'persistence', 'the boosted trees', 'the AR per neuron'."""
    from voltlib.display import name

    return "persistence" if key == "persistence" else f"the {name(key)}"


NAMES = {k: _the(k) for k in REFERENCES} | {"lstm_res": "the LSTM with the residual head"}


def headline(archive: dict, baselines: dict) -> dict | None:
    """The study's findings on the CNN-LSTM (clean protocol unless said): None while nothing is archived.

    smallest / largest: the measured budgets; r2 and r2_ci at each; verdicts: for every comparison of
    `comparisons`, its verdict at the largest budget and whether it held at every budget; extrapolated:
    the saturating curve's R^2 at the source's budget with its interval, per protocol, and what that
    interval says against each reference baseline.
    """
    cur = curves(archive).get(MODEL, {})
    clean = cur.get("clean", {})
    if not clean:
        return None
    by_budget = comparisons(archive, baselines)
    names = sorted({k for row in by_budget.values() for k in row})
    ext = {p: extrapolate(cur[p]) for p in cur if len(cur[p]) >= 3}
    refs = {n: _baseline(baselines, n) for n in REFERENCES}
    return {
        "smallest": min(clean),
        "largest": max(clean),
        "points": {b: {"r2": p["r2"], "r2_ci": p["r2_ci"], "seeds": len(p["seeds"])} for b, p in clean.items()},
        "verdicts": {n: verdict_over_budgets(by_budget, n) for n in names},
        "extrapolated": ext,
        "extrapolated_vs": {
            n: against_extrapolation(ext.get("clean"), refs[n]["r2"], refs[n].get("r2_ci")) for n in REFERENCES
        },
    }


def _ci(ci) -> str:
    from voltlib.display import MISSING, ci_words

    return ci_words(ci) or f"no interval {MISSING} one test run"


def sentences(h: dict | None) -> list[str]:
    """The study's findings in words, each naming its budget; the interval rule decides every word."""
    if h is None:
        return ["The training-budget study has no archived result yet (`make budget`)."]
    big, small = h["largest"], h["smallest"]
    p = h["points"][big]
    out = [
        f"Trained for {big:,} window-passes ({100 * big / SOURCE_WINDOW_PASSES:.1f} % of the source's "
        f"{SOURCE_WINDOW_PASSES:,}) with its learning rate decayed to that budget, the CNN-LSTM at the ladder's width reaches "
        f"R² = {p['r2']:.3f} ({_ci(p['r2_ci'])}) on the clean test runs, against "
        f"{h['points'][small]['r2']:.3f} at {small:,}."
    ]
    for name, what in (
        ("vs_ar_ridge", NAMES["ar_ridge"]),
        ("vs_own_lags_boosting", NAMES["own_lags_boosting"]),
        ("vs_persistence", NAMES["persistence"]),
        ("vs_lstm_res", NAMES["lstm_res"] + " at the same budget"),
    ):
        v = h["verdicts"].get(name)
        if v is None:
            continue
        word = v["verdict"]
        diff = f"{v['difference']:+.3f}, {_ci(v['ci'])}"
        head = f"Against {what}, at {v['largest_budget']:,} window-passes the CNN-LSTM is "
        if word == "not distinguishable at this budget":
            text = head + f"not distinguishable ({diff})"
        else:
            text = head + f"{word} ({diff})"
        if v["stable"]:
            text += ", as at every budget measured."
        else:
            runs = "; ".join(f"{b:,}: {_plain(w)}" for b, w in v["by_budget"].items())
            text += f"; the verdict changes with the budget ({runs})."
        out.append(text)
    leak = h["verdicts"].get("leak")
    if leak is not None:
        runs = "; ".join(f"{b:,}: {_plain(w)}" for b, w in leak["by_budget"].items())
        word = {"higher": "the leaky split scores higher", "lower": "the leaky split scores lower"}
        out.append(
            f"The leak (original minus clean) at {leak['largest_budget']:,} window-passes is {leak['difference']:+.3f} "
            f"({_ci(leak['ci'])}): {word.get(leak['verdict'], leak['verdict'])} (by budget: {runs})."
        )
    ext = h["extrapolated"].get("clean")
    if ext is not None:
        place = {"higher": "above {}", "lower": "below {}"}
        against = [
            place.get(w, "not distinguishable from {}").format(NAMES[n]) for n, w in h["extrapolated_vs"].items()
        ]
        out.append(
            f"Extrapolated by a saturating curve through {ext['n_points']} budgets (an extrapolation beyond "
            f"{big:,}, not a measurement), its R² at the source's budget is {ext['r2_at']:.3f} "
            f"({_ci(ext['r2_at_ci'])}): " + ", ".join(against) + "."
        )
    return out


def _verdict_phrase(v: dict | None, what: str) -> str:
    if v is None:
        return ""
    word = v["verdict"]
    if word == "not distinguishable at this budget":
        return f"not distinguishable from {what}"
    return f"{word} than {what} ({v['difference']:+.3f}, {_ci(v['ci'])})"


def ladder_budget(profile: Profile) -> int:
    """Window-passes the profile's ladder trains its CNN-LSTM for (at most: early stopping may end it sooner)."""
    t = profile.phases["phase4_cnn_lstm"][1]
    return t.max_epochs * (t.max_train_windows or 0)


def _plain(verdict: str) -> str:
    """A verdict inside a sentence that names its budget: 'not distinguishable', not '... at this budget'."""
    return verdict.replace(" at this budget", "")


def budget_words(n: int) -> str:
    """A training budget as the prose names it: '20,000 window-passes (0.7 % of the source's)'."""
    return f"{n:,} window-passes ({100 * n / SOURCE_WINDOW_PASSES:.1f} % of the source's)"


def discussion_point(h: dict | None, budget: int) -> str:
    """The Discussion's point on the budget: which of the ladder's verdicts the largest measured budget keeps.

    budget: the window-passes the ladder trained the CNN-LSTM for (ladder_budget)."""
    head = (
        f"**Every verdict on the source's models is a budget's.** The ladder's are measured at {budget_words(budget)}"
    )
    if h is None:
        return (
            head + "; the training-budget study that would say whether they hold at larger budgets is not archived yet."
        )
    big = h["largest"]
    named = {n: v for n in ("vs_ar_ridge", "vs_own_lags_boosting", "leak") if (v := h["verdicts"].get(n))}
    said = []
    for name, v in named.items():
        diff = f"({v['difference']:+.3f}, {_ci(v['ci'])})"
        if name == "leak":
            moves = {"higher": "raises the R²", "lower": "lowers the R²"}.get(
                v["verdict"], "does not move the R² measurably"
            )
            said.append(f"the leak {moves} {diff}")
            continue
        at_ladder = v["by_budget"].get(budget)
        was = f" (at {budget:,}: {_plain(at_ladder)})" if at_ladder and at_ladder != v["verdict"] else ""
        what = NAMES[name.removeprefix("vs_")]
        said.append(f"against {what} the CNN-LSTM is {_plain(v['verdict'])} {diff}{was}")
    text = head + f". At the largest budget measured, {budget_words(big)}, " + "; ".join(said) + ". "
    text += (
        "These verdicts change with the budget, so the paper states each with the budget it was measured at; "
        if any(not v["stable"] for v in named.values())
        else "These verdicts are the same at every budget measured; "
    )
    text += (
        "what holds at the source's budget is said only where the extrapolation's interval decides it "
        "(notebook 05), never read off the ladder's budget."
    )
    return text


def abstract_sentence(h: dict | None, quick_r2: float | None, budget: int) -> str:
    """The abstract's sentence on the budget: the CNN-LSTM at the largest measured budget beside the ladder's.

    budget: the window-passes the ladder trained it for (ladder_budget) at the R^2 quick_r2."""
    quick = f"R² = {quick_r2:.3f}" if quick_r2 is not None else "its R²"
    if h is None:
        return (
            f"All the ladder's numbers above come from one training budget ({budget:,} window-passes; {quick} for "
            "the CNN-LSTM); the training-budget study that measures them at larger budgets is not archived yet."
        )
    big = h["largest"]
    p = h["points"][big]
    against = [
        x
        for x in (
            _verdict_phrase(h["verdicts"].get("vs_ar_ridge"), NAMES["ar_ridge"]),
            _verdict_phrase(h["verdicts"].get("vs_own_lags_boosting"), NAMES["own_lags_boosting"]),
        )
        if x
    ]
    text = (
        f"Those verdicts hold at the ladder's training budget ({budget:,} window-passes, "
        f"{100 * budget / SOURCE_WINDOW_PASSES:.1f} % of the source's; {quick}). "
        f"Trained for {big:,} window-passes ({100 * big / SOURCE_WINDOW_PASSES:.1f} % of the source's) with its "
        f"learning rate decayed to that budget, the CNN-LSTM reaches **R² = {p['r2']:.3f}** ({_ci(p['r2_ci'])}) on "
        "the clean test runs"
    )
    text += ", " + " and ".join(against) + "." if against else "."
    ext = h["extrapolated"].get("clean")
    if ext is not None:
        text += (
            f" A saturating curve through the measured budgets, extrapolated to the source's budget, gives "
            f"{ext['r2_at']:.3f} ({_ci(ext['r2_at_ci'])}): an extrapolation, not a measurement."
        )
    return text


def limitation_sentence(h: dict | None) -> str:
    """The Limitations' line on the training budget: the measured curve, or that it is not measured yet."""
    if h is None:
        return (
            "they are trained for a fraction of the source's budget, and the training-budget study that "
            "measures the CNN-LSTM at larger budgets is not archived yet, so the ladder's R² values are those of "
            "that budget only."
        )
    big = h["largest"]
    return (
        f"they are trained for a fraction of the source's budget: the training-budget study (notebook 05) "
        f"measured the CNN-LSTM from {h['smallest']:,} to {big:,} window-passes ({100 * big / SOURCE_WINDOW_PASSES:.1f} "
        f"% of the source's), R² {h['points'][h['smallest']]['r2']:.3f} to {h['points'][big]['r2']:.3f}, and beyond "
        "that only an extrapolation speaks."
    )


def task_seconds(rec: dict) -> float:
    """A task's measured seconds: its wall time, or its training time where a resumed task's wall is one segment."""
    return max(rec["wall_s"], rec["train_s"])


def wall_on(records: list[dict], workers: int) -> float:
    """Seconds the tasks take on `workers` single-threaded workers in make budget's order (cheapest first),
    each starting on the first worker free: the archived tasks' measured times packed as the study runs them."""
    order = sorted(records, key=lambda r: (relative_cost(r["model"], r["budget"]), r["id"]))  # plan()'s order
    free = [0.0] * workers
    for rec in order:
        k = free.index(min(free))
        free[k] += task_seconds(rec)
    return max(free)


# a pause longer than this between one task's end and the next one's start (with no task running) is a stop
RUN_GAP_S = 120.0


def one_run(records: list[dict]) -> tuple | None:
    """(start, end) of the tasks as one uninterrupted `make budget`, or None where they are not one.

    One run: every task at one commit with one note, and at every moment from the first task's start to the
    last one's end some task was training (no pause over RUN_GAP_S: a stop and a later resume leave one). A
    task's end is its provenance date and its start that minus its wall time; the simulation before the first
    task (under a minute at quick) is not in the span."""
    import datetime as dt

    prov = [r["provenance"] for r in records]
    if not records or len({p["commit"] for p in prov}) != 1 or len({p.get("note") or "" for p in prov}) != 1:
        return None
    if any(r["train_s"] > r["wall_s"] for r in records):  # a task resumed from its checkpoint
        return None
    spans = sorted(
        (dt.datetime.fromisoformat(p["date"]) - dt.timedelta(seconds=r["wall_s"]), dt.datetime.fromisoformat(p["date"]))
        for r, p in zip(records, prov, strict=True)
    )
    reach = spans[0][1]
    for start, end in spans[1:]:
        if (start - reach).total_seconds() > RUN_GAP_S:
            return None
        reach = max(reach, end)
    return spans[0][0], reach


def describe(archive: dict) -> str:
    """Where the archive came from, in one paragraph: tasks done and missing, commits, machines, dates, load."""
    recs = list(archive["tasks"].values())
    n_plan = len(recs) + len(archive["missing"]) + len(archive["stale"])
    if not recs:
        text = f"No task of the training-budget study is usable yet ({n_plan} planned). "
    else:
        prov = [r["provenance"] for r in recs]
        commits = sorted(
            {p["commit"][:10] + (" (with uncommitted changes)" if p.get("commit_dirty") else "") for p in prov}
        )
        machines = sorted({f"{p['machine']} ({p['cpu']}, {p['cores']} cores, {p['device']})" for p in prov})
        threads = sorted({p["threads"] for p in prov})
        dates = sorted(p["date"][:10] for p in prov)
        pk = prov[0]["packages"]
        notes = sorted({p.get("note") for p in prov if p.get("note")})
        load = max(max(p["load_average_start"][0], p["load_average_end"][0]) for p in prov)
        hours = sum(map(task_seconds, recs)) / 3600
        run = one_run(recs)
        if run:
            start, end = run
            wall = (
                f"which one uninterrupted `make budget` trained from {start:%Y-%m-%d %H:%M} to "
                f"{end:{'%H:%M' if end.date() == start.date() else '%Y-%m-%d %H:%M'}} UTC: "
                f"{(end - start).total_seconds() / 3600:.2f} hours of wall time from the first task's start to the "
                "last one's end, measured (the simulation before them not counted)"
            )
        else:
            packed = wall_on(recs, prov[0]["cores"]) / 3600
            wall = (
                f"which on {prov[0]['cores']} single-threaded workers in the order `make budget` runs them come to "
                f"{packed:.1f} hours of wall time (the measured tasks packed, not one uninterrupted run; add the "
                "simulation's minutes)"
            )
        text = (
            f"{len(recs)} of {n_plan} tasks of the study are archived, trained at commit {', '.join(commits)} on "
            f"{'; '.join(machines)}, {' or '.join(map(str, threads))} thread{'s' * (threads != [1])} per task, "
            f"Python {pk['python']}, torch {pk['torch']}, "
            + (f"on {dates[0]}; " if dates[0] == dates[-1] else f"between {dates[0]} and {dates[-1]}; ")
            + f"{hours:.1f} task-hours in all, {wall}. The 1-minute load average reached {load:.1f}: "
            + (
                "the seconds come from a shared machine and overstate the cost of a task. "
                if load > prov[0]["cores"]
                else "the machine was not oversubscribed. "
            )
        )
        if notes:
            text += "Recorded with the runs: " + "; ".join(notes) + ". "
    if archive["missing"]:
        text += f"Not yet trained: {', '.join(archive['missing'])} (`make budget` trains them). "
    if archive["stale"]:
        text += (
            f"Made with configurations other than the code's and left out: {', '.join(archive['stale'])} "
            "(`make budget` retrains them). "
        )
    return text.strip()


def summary_table(archive: dict):
    """The study as a table: model, protocol, budget, seeds, R^2 with interval, seconds a training took."""
    import pandas as pd

    from voltlib.display import with_interval

    labels = {m.name: m.label for m in STUDY}
    rows = []
    for model, by_protocol in curves(archive).items():
        for protocol, points in by_protocol.items():
            for budget, p in points.items():
                rows.append(
                    {
                        "model": labels.get(model, model),
                        "protocol": protocol,
                        "window-passes": f"{budget:,}",
                        "% of source": f"{100 * budget / SOURCE_WINDOW_PASSES:.1f}",
                        "seeds": len(p["seeds"]),
                        "R²": with_interval(p["r2"], p["r2_ci"]),
                        "train s": round(p["train_s"]),
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- running it
