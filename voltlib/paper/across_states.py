"""Notebook 09: the paper's verdicts measured in each of Brunel's network states (METHODS.md section 14).

Each state is simulated at the profile's length and seeds, measured (sim.states), and forecast on the
clean protocol by the baselines of METHODS.md section 7 at every horizon. The source's state is the
paper's own data set: its forecasts are notebook 02's, read back rather than fitted twice.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voltlib import paths
from voltlib.config import Profile, config_hash, ms_to_samples
from voltlib.display import name, number, with_interval
from voltlib.forecast import staircase
from voltlib.forecast.baselines import baseline_table
from voltlib.forecast.ceiling import compute_ceiling
from voltlib.forecast.data import make_datasets
from voltlib.forecast.metrics import paired_difference, verdict
from voltlib.paper import products, staircase_scores
from voltlib.sim import states, wiring
from voltlib.sim.simulate import simulate
from voltlib.sim.stats import population_counts, rate_spectrum
from voltlib.store import horizon_key, verify

FORECAST_KEYS = ("r2", "r2_ci", "skill_vs_persistence", "run_stats")  # of each baseline's metrics, kept in states.json
RASTER_MS = 500.0  # the example's span, after the transient
FORECAST_NEURONS = 100  # states of at most this many neurons are forecast; the example shows this many


@dataclass
class Measured:
    """One state's record (sim.states.measure) and an example of its first run for the figure."""

    record: dict
    example: dict


def n_runs(cfg: Profile, state: states.State) -> int:
    """Runs that measure a state: the profile's states.n_runs at 100 neurons, n_runs_large above."""
    return cfg.states.n_runs if state.network.n_neurons <= FORECAST_NEURONS else cfg.states.n_runs_large


def forecast_keys(cfg: Profile) -> list[str]:
    """The states whose voltages are forecast here: those of 100 neurons (the 1,000-neuron state is measured only)."""
    return [k for k, s in states.STATES.items() if s.network.n_neurons <= FORECAST_NEURONS]


def example(sim, discard_ms: float, span_ms: float = RASTER_MS) -> dict:
    """The first run's spikes in [discard_ms, discard_ms + span_ms) of its first 100 neurons, its population
    rate there (Hz per neuron, 1 ms bins) and the spectrum of its whole post-transient population counts."""
    i, t = np.asarray(sim.spike_i[0]), np.asarray(sim.spike_t_ms[0])
    n = sim.sim.network.n_neurons
    end_ms = sim.sim.duration_s * 1000.0
    window = (t >= discard_ms) & (t < discard_ms + span_ms) & (i < FORECAST_NEURONS)
    freqs, power = rate_spectrum(population_counts(t, discard_ms, end_ms))
    return {
        "spike_t_ms": t[window],
        "spike_i": i[window],
        "t_ms": discard_ms + np.arange(int(span_ms)),
        "rate_hz": population_counts(t, discard_ms, discard_ms + span_ms) / n * 1000.0,
        "freqs_hz": freqs,
        "power": power,
        "n_neurons": n,
        "n_exc": sim.sim.network.n_exc,
    }


def measure_states(cfg: Profile, keys=None, progress: bool = False) -> dict[str, Measured]:
    """Every state (or those of keys) simulated at the profile's length and measured."""
    out = {}
    for key in keys or states.STATES:
        sim = simulate(state_sim_of(cfg, key), progress=progress)
        out[key] = Measured(
            states.measure(states.STATES[key], sim, cfg.data.discard_ms), example(sim, cfg.data.discard_ms)
        )
    return out


MEASURED_VERSION = 1  # bump when what the measured product holds changes
EXAMPLE_ARRAYS = ("spike_t_ms", "spike_i", "t_ms", "rate_hz", "freqs_hz", "power")  # an example's numpy arrays


def measured_path(cfg: Profile) -> Path:
    """data/states/measured-<hash>.json: every state's record and example (measure_states), keyed on the runs
    that make them and the transient discarded."""
    sims = [state_sim_of(cfg, k) for k in states.STATES]
    key_hash = config_hash(MEASURED_VERSION, list(states.STATES), *sims, {"discard_ms": cfg.data.discard_ms})
    return paths.DATA / "states" / f"measured-{key_hash}.json"


def compute_measured(cfg: Profile, progress: bool = False) -> dict:
    """measure_states as a product (what `make products` archives): {"states": {key: {record, example}}, wall_s}."""
    t0 = time.perf_counter()
    measured = measure_states(cfg, progress=progress)
    return {
        "states": {k: {"record": m.record, "example": m.example} for k, m in measured.items()},
        "wall_s": time.perf_counter() - t0,
    }


def _measured_of(product: dict) -> dict[str, Measured]:
    """The Measured records of a measured product, its example arrays as numpy arrays again."""
    out = {}
    for key, m in product["states"].items():
        ex = {k: (np.asarray(v) if k in EXAMPLE_ARRAYS else v) for k, v in m["example"].items()}
        out[key] = Measured(m["record"], ex)
    return out


def measured(cfg: Profile) -> dict[str, Measured]:
    """Every state measured (measure_states): from the committed archive (`make products`), else its cache,
    else simulated and measured here and cached. The same values to the last digit either way."""
    return _measured_of(
        products.read_or_compute(
            cfg.name, measured_path(cfg), lambda: compute_measured(cfg), "measuring the states again"
        )
    )


def _compact(table: dict) -> dict:
    """{baseline: {horizon: metrics}} with only FORECAST_KEYS of each."""
    return {b: {h: {k: m[k] for k in FORECAST_KEYS if k in m} for h, m in by_h.items()} for b, by_h in table.items()}


CEILING_KEYS = ("horizons_ms", "ceiling_r2", "ceiling_r2_ci", "ceiling_r2_oracle", "ceiling_r2_oracle_ci", "test_runs")


def state_sim_of(cfg: Profile, key: str):
    """The SimConfig of a state at this profile (its runs are cached by it)."""
    state = states.STATES[key]
    return states.state_sim(cfg.sim, state, n_runs(cfg, state))


@dataclass
class MemberRun:
    """One staircase member trained on a state's runs: its datasets and inputs at every horizon, and its seeds'
    (model, info, scale) (staircase.fit_member)."""

    spec: staircase.MemberConfig
    h_samples: tuple
    datasets: dict
    inp: staircase.Inputs
    fitted: list

    def forecasts(self, fitted: list | None = None) -> dict:
        """{horizon (samples): z forecasts [seeds, test windows, n]} on this state's clean test windows, by this
        member's seeds (computed once: own) or by those of `fitted` (a member trained in another state: its own
        output scale)."""
        if fitted is None:
            return self.own
        per_seed = [
            staircase.forecasts_z(model, self.spec, self.inp, scale, self.datasets) for model, _, scale in fitted
        ]
        return {h: np.stack([p[h] for p in per_seed]) for h in self.h_samples}

    @functools.cached_property
    def own(self) -> dict:
        """This member's own forecasts of this state's test windows (forecasts), made once for its scores and its
        transfer."""
        return self.forecasts(self.fitted)


def member_run(cfg: Profile, sim, member: str) -> MemberRun:
    """The member `member` of the staircase trained (or loaded) on a state's clean training runs, each seed on
    one thread; on the source's runs it is notebook 08's (the same cache key)."""
    h_samples = tuple(ms_to_samples(h, cfg.sim.record_dt_ms) for h in cfg.data.horizons_ms)
    datasets = make_datasets(sim, cfg.data, "clean", h_samples)
    runs = datasets[h_samples[0]].runs
    inp = staircase.build_inputs(sim, cfg.data, runs, h_samples, keep_couplings=[int(r) for r in runs["test"]])
    spec = {m.name: m for m in staircase.members(cfg.beyond)}[member]
    fitted = [
        staircase.fit_member(spec, staircase.member_train_config(cfg.beyond, seed=k), inp, runs,
                             cfg.data.window - 1, sim.sim, cfg.data)
        for k in range(cfg.beyond.seeds)
    ]  # fmt: skip
    return MemberRun(spec, h_samples, datasets, inp, fitted)


def member_scores(cfg: Profile, sim, baselines_clean: dict, ceiling: dict, run: MemberRun) -> dict:
    """A state's member (member_run) scored on its runs at every horizon, and the recovery of that state's wiring
    from its runs: {"member", "scores": staircase_scores.score, the recovery (_recovery), "train_s": per seed}."""
    scores = staircase_scores.score(run.forecasts(), run.datasets, cfg.data.horizons_ms, baselines_clean, ceiling)
    test_runs = [int(r) for r in run.datasets[run.h_samples[0]].runs["test"]]
    weights = {r: sim.weights_mv(r) for r in test_runs}
    auc, auc_null = wiring.recovery_table(run.inp.couplings, weights, sim.sim.network.n_exc)
    past_s = np.arange(auc["E"].shape[1]) * wiring.STEP * cfg.sim.record_dt_ms / 1000
    return {
        "member": run.spec.name,
        "scores": _beyond_fields(scores),
        **_recovery(auc, auc_null, past_s),
        "train_s": [info["train_s"] for _, info, _ in run.fitted],
    }


def _moved(cfg: Profile, run: MemberRun, moved: dict, own: dict) -> dict:
    """{horizon key: {r2, r2_ci, run_stats, own_r2, own_r2_ci, difference, ci}} of a member trained elsewhere
    (moved: its forecasts of run's test windows) against run's own member (own), paired over run's test runs."""
    from voltlib.forecast.ladder import score_predictions, seed_summary

    out = {}
    for h, h_ms in zip(run.h_samples, cfg.data.horizons_ms):
        ds = run.datasets[h]
        m, o = (seed_summary([score_predictions(p, ds) for p in x[h]], list(x[h]), ds) for x in (moved, own))
        diff = paired_difference(m["run_stats"], o["run_stats"])
        out[horizon_key(h_ms)] = {"r2": m["r2"], "r2_ci": list(m["r2_ci"]), "run_stats": m["run_stats"],
                                  "own_r2": o["r2"], "own_r2_ci": list(o["r2_ci"]),
                                  "difference": diff["difference"], "ci": list(diff["ci"])}  # fmt: skip
    return out


def member_transfer(cfg: Profile, key: str, here: MemberRun) -> dict:
    """The source's member (notebook 08's) tested on this state's test windows against this state's own, at
    every horizon (and, for TRANSFER_BACK, this state's member on the source's against the source's own), in
    transfer's layout: {"member_from_source": {horizon key: ...}[, "member_to_source": ...]}. The member reads
    millivolts, spikes and the wiring it infers from the run it forecasts, so it needs nothing of the state it
    was trained in but its weights and its output scale."""
    there = member_run(cfg, simulate(cfg.sim, progress=False), here.spec.name)
    out = {"member_from_source": _moved(cfg, here, here.forecasts(there.fitted), here.forecasts())}
    if key in TRANSFER_BACK:
        out["member_to_source"] = _moved(cfg, there, there.forecasts(here.fitted), there.forecasts())
    return out


def _recovery(auc: dict, auc_null: dict, past_s) -> dict:
    """The wiring's recovery (staircase_scores.recovery_summary) and each test run's AUC with the whole past.
    Values read back from JSON hold None where a NaN was written (a null without another test run)."""
    auc, auc_null = ({k: np.array(v, dtype=float) for k, v in d.items()} for d in (auc, auc_null))
    return {
        "recovery": staircase_scores.recovery_summary(auc, auc_null, past_s),
        "auc_runs": {k: v[:, -1].tolist() for k, v in auc.items()},
    }


def _beyond_fields(scores: dict) -> dict:
    """{horizon: what beyond.json keeps of a member's score there (staircase_scores.BEYOND_FIELDS)}."""
    return {h: {f: e[f] for f in staircase_scores.BEYOND_FIELDS} for h, e in scores.items()}


STATE_MEMBER = "wiring"  # the staircase member that infers the wiring from the run (notebook 08's best at quick)
# bump when what a state's product holds changes (2: the transfer of the boosted trees; 3: of the member)
PRODUCT_VERSION = 3
TRANSFER_BACK = ("ai",)  # the states whose own trees and member are also tested on the source's state


def product_path(cfg: Profile, key: str) -> Path:
    """data/states/<hash>.json: a state's forecasts, ceiling and member, keyed on everything that makes them."""
    key_hash = config_hash(PRODUCT_VERSION, state_sim_of(cfg, key), cfg.data, cfg.ceiling, cfg.beyond, STATE_MEMBER)
    return paths.DATA / "states" / f"{key}-{key_hash}.json"


def compute_product(cfg: Profile, key: str, progress: bool = False) -> dict:
    """One state's forecasts on the clean protocol at every horizon: its baselines, its oracle ceiling and
    STATE_MEMBER trained on its training runs, with its wiring's recovery (what notebook 09 reads of it)."""
    import torch
    from threadpoolctl import threadpool_limits

    from voltlib.forecast.train import fit_threads

    t0 = time.perf_counter()
    # on one thread wherever it runs (a fan-out worker has one, a notebook's kernel more): another count
    # sums the member's forecasts and the coupling's ridge in another order, and the last digits move
    with fit_threads(torch.device("cpu")), threadpool_limits(limits=1):
        sim = simulate(state_sim_of(cfg, key), progress=progress)
        baselines = _compact(baseline_table(sim, cfg.data, ("clean",), cfg.data.horizons_ms)["clean"])
        c = compute_ceiling(cfg.name, progress=progress, sim_cfg=state_sim_of(cfg, key))
        ceiling = {k: c[k] for k in CEILING_KEYS}
        run = member_run(cfg, sim, STATE_MEMBER)
        member = member_scores(cfg, sim, baselines, ceiling, run)
        moved = transfer(cfg, key, sim) | member_transfer(cfg, key, run)
    return {"state": key, "baselines": baselines, "ceiling": ceiling, "member": member, "transfer": moved,
            "wall_s": time.perf_counter() - t0}  # fmt: skip


def _scored(ds, pred: np.ndarray) -> dict:
    """R^2, its interval over test runs and the run statistics of forecasts of ds's test windows."""
    from voltlib.forecast.metrics import evaluate

    m = evaluate(ds.test.targets(), pred, ds.std_mv, ds.n_exc, run_of_sample=ds.test.run_of_window)
    return {k: m[k] for k in ("r2", "r2_ci", "run_stats")}


def transfer(cfg: Profile, key: str, sim=None) -> dict:
    """The boosted trees trained on the source's state and tested on this state's test windows, against the
    trees trained in this state, at every horizon (and, for TRANSFER_BACK, this state's trees on the source's
    test windows against the source's own): {direction: {horizon key: {r2, r2_ci, run_stats, own_r2,
    difference, ci}}}, difference = transferred minus own (paired over the test runs)."""
    from voltlib.forecast.baselines import fit_own_lags_boosting

    sim = sim if sim is not None else simulate(state_sim_of(cfg, key), progress=False)
    source = simulate(cfg.sim, progress=False)
    h_samples = tuple(ms_to_samples(h, cfg.sim.record_dt_ms) for h in cfg.data.horizons_ms)
    here, there = make_datasets(sim, cfg.data, "clean", h_samples), make_datasets(source, cfg.data, "clean", h_samples)
    # direction: (where the trees were trained, where they are tested)
    directions = {"from_source": ("there", "here")} | ({"to_source": ("here", "there")} if key in TRANSFER_BACK else {})
    sets = {"here": here, "there": there}
    out: dict = {d: {} for d in directions}
    for h_ms, h in zip(cfg.data.horizons_ms, h_samples):
        fitted = {"here": fit_own_lags_boosting(here[h]), "there": fit_own_lags_boosting(there[h])}
        for d, (trained, tested) in directions.items():
            test = sets[tested][h]
            moved = _scored(test, fitted[trained].predict_other(test.test, test))
            own = _scored(test, fitted[tested].predict(test.test))
            diff = paired_difference(moved["run_stats"], own["run_stats"])
            out[d][horizon_key(h_ms)] = {**moved, "own_r2": own["r2"], "own_r2_ci": own["r2_ci"],
                                         "difference": diff["difference"], "ci": list(diff["ci"])}  # fmt: skip
    return out


def product(cfg: Profile, key: str) -> dict:
    """A state's product from the committed archive (`make products`), else its cache (the fan-out's, or an
    earlier run's), else computed here and cached."""
    return products.read_or_compute(
        cfg.name, product_path(cfg, key), lambda: compute_product(cfg, key), "computing the state's forecasts again"
    )


def missing_products(cfg: Profile) -> list[str]:
    """The states whose product is neither archived nor cached (what the fan-out computes)."""
    return [
        k
        for k in forecast_keys(cfg)
        if k != "source" and products.find(cfg.name, path := product_path(cfg, k)) is None and verify(path) is not None
    ]


def origins(cfg: Profile) -> str:
    """Where each state's product came from (the archive, with its provenance, or this build), in words: the
    forecasts of each state but the source's, and the states' measured statistics."""
    named = {f"the {states.STATES[k].name}": product_path(cfg, k) for k in forecast_keys(cfg) if k != "source"}
    named["the states' measured statistics"] = measured_path(cfg)
    return products.origins(cfg.name, named)


def source_product(baselines: dict, ceiling: dict, beyond: dict, analysis: dict) -> dict:
    """The source's state in a product's layout, from notebooks 02, 06 and 08's results (the same runs)."""
    reaching = analysis["reaching_the_ceiling"]
    entry = beyond[STATE_MEMBER]
    member = {
        "member": STATE_MEMBER,
        "scores": _beyond_fields(entry),
        **_recovery(reaching["auc"], reaching["auc_null"], reaching["checkpoint_s"]),
        "train_s": [entry[next(iter(entry))]["train_s"]],
    }
    return {"state": "source", "baselines": _compact(baselines["clean"]), "ceiling": {k: ceiling[k] for k in CEILING_KEYS},
            "member": member}  # fmt: skip


def gather(cfg: Profile, results_dir: Path) -> dict[str, dict]:
    """{state: product} of every forecast state: the source's from this profile's results, the others cached."""
    from voltlib.store import read_json

    source = source_product(
        *(read_json(results_dir / f"{n}.json") for n in ("baselines", "ceiling", "beyond", "analysis"))
    )
    return {k: source if k == "source" else product(cfg, k) for k in forecast_keys(cfg)}


@dataclass(frozen=True)
class Verdict:
    """A verdict of the paper that the baselines alone decide: forecaster a against b at one horizon."""

    claim: str  # what 'higher' means, in words
    a: str
    b: str
    horizon_ms: float


VERDICTS = (
    Verdict("boosted trees on own lags forecast better than the per-neuron AR", "own_lags_boosting", "ar_ridge", 1),
    Verdict("the per-neuron AR forecasts better than persistence", "ar_ridge", "persistence", 1),
    Verdict("the population's past adds to a linear forecaster", "population_ridge", "ar_ridge", 1),
    Verdict("persistence forecasts better than the mean at 20 ms", "persistence", "mean", 20),
    Verdict("the inferred-wiring member forecasts better than the boosted trees", "member", "own_lags_boosting", 1),
)
MEMBER = "member"  # the key of STATE_MEMBER among a state's forecasters (with_member)


def with_member(forecasts: dict, members: dict) -> dict:
    """Each state's forecasters with its staircase member among them, under MEMBER."""
    return {k: {**t, MEMBER: members[k]["scores"]} if k in members else t for k, t in forecasts.items()}


def above_ceiling(forecasts: dict, ceilings_: dict) -> list[dict]:
    """Every (state, forecaster, horizon) whose test R^2 lies above the upper end of the state's ceiling
    interval: none, unless a forecaster or the ceiling is wrong."""
    out = []
    for key, table in forecasts.items():
        c = ceilings_[key]
        for h_ms, (_, hi) in zip(c["horizons_ms"], c["ceiling_r2_ci"]):
            for f, by_h in table.items():
                r2 = by_h.get(horizon_key(h_ms), {}).get("r2")
                if r2 is not None and r2 > hi:
                    out.append({"state": key, "forecaster": f, "horizon_ms": h_ms, "r2": r2, "ceiling_hi": hi})
    return out


HOLDS, REVERSED = "holds", "is reversed"
UNDECIDED = "is " + verdict(None)  # 'is not distinguishable at this budget'


def judge(forecasts: dict[str, dict], verdicts=VERDICTS, reference: str = "source") -> list[dict]:
    """Each verdict in each state: the paired difference R^2(a) - R^2(b) over test runs with its interval and
    its word (HOLDS where the interval lies above zero, REVERSED below, else UNDECIDED), and how the
    words elsewhere compare with the reference state's ('across', and the states grouped by word)."""
    out = []
    for v in verdicts:
        h = horizon_key(v.horizon_ms)
        by_state = {}
        for key, table in forecasts.items():
            d = paired_difference(table[v.a][h]["run_stats"], table[v.b][h]["run_stats"])
            word = verdict(d["ci"], higher=HOLDS, lower=REVERSED)
            word = UNDECIDED if word == verdict(None) else word
            by_state[key] = {"difference": d["difference"], "ci": list(d["ci"]), "word": word}
        out.append({"claim": v.claim, "a": v.a, "b": v.b, "horizon_ms": v.horizon_ms, "by_state": by_state,
                    **across(by_state, reference)})  # fmt: skip
    return out


def across(by_state: dict, reference: str = "source") -> dict:
    """How one verdict's words in the other states compare with the reference state's: 'holds in every state'
    (the same word, decided, everywhere), 'changes' (a decided word elsewhere differs from the reference's),
    'not distinguishable in some states', or 'undecided in the reference state'; and the other states by word."""
    ref = by_state[reference]["word"]
    others = {k: s["word"] for k, s in by_state.items() if k != reference}
    elsewhere = {w: sorted(k for k, x in others.items() if x == w) for w in (HOLDS, REVERSED, UNDECIDED)}
    elsewhere = {w: ks for w, ks in elsewhere.items() if ks}
    if ref == UNDECIDED:
        verdict_across = "undecided in the reference state"
    elif any(w not in (ref, UNDECIDED) for w in others.values()):
        verdict_across = "changes"
    elif UNDECIDED in elsewhere:
        verdict_across = "not distinguishable in some states"
    else:
        verdict_across = "holds in every state"
    return {"in_reference": ref, "across": verdict_across, "elsewhere": elsewhere}


def split(products: dict[str, dict]) -> tuple[dict, dict, dict]:
    """(forecasts, ceilings, members), each {state: ...}, of gather()'s products."""
    return tuple({k: p[part] for k, p in products.items()} for part in ("baselines", "ceiling", "member"))  # type: ignore[return-value]


def record(measured: dict[str, Measured], products: dict[str, dict], judged: list[dict], cfg: Profile) -> dict:
    """The layout of results/<profile>/states.json."""
    forecasts, ceilings_, members = split(products)
    return {
        "profile": cfg.name,
        "thresholds": {
            "irregular_cv": states.IRREGULAR_CV,
            "regular_cv": states.REGULAR_CV,
            "sync_fano": states.SYNC_FANO,
            "clear_peak": states.CLEAR_PEAK,
        },
        "states": {k: m.record for k, m in measured.items()},
        "forecasts": forecasts,
        "ceilings": ceilings_,
        "members": members,
        "verdicts": judged,
    }


def states_frame(measured: dict[str, Measured]):
    """Table of the states, one column each: parameters, each statistic's mean and SD over runs, the measured
    label, and how many runs carry it."""
    import pandas as pd

    cols = {}
    for key, m in measured.items():
        r, net = m.record, states.STATES[key].network
        agree = sum(label == r["expected"] for label in r["run_labels"])
        cols[states.STATES[key].short] = {
            "g": number(net.g, "g"),
            "ν_ext/ν_thr": number(net.nu_ratio, "g"),
            "J (mV)": number(net.j_mv, "g"),
            "neurons": number(net.n_neurons),
            "rate (Hz)": _mean_sd(r["rate_hz"], ".1f"),
            "CV of ISIs": _mean_sd(r["cv_isi"], ".2f"),
            "Fano factor (1 ms counts)": _mean_sd(r["fano"], ".2f"),
            "Golomb's χ": _mean_sd(r["chi"], ".2f"),
            "spectral peak (Hz)": _mean_sd(r["peak_hz"], ".0f"),
            "peak / median power": _mean_sd(r["peak_over_median"], ".1f"),
            # the label in two words on two rows: the table's cells do not wrap
            "measured as": r["label"].split(" ", 1)[0],
            "": r["label"].split(" ", 1)[-1],
            "runs with the label": f"{agree} of {len(r['run_labels'])}",
        }
    return pd.DataFrame(cols)


def _mean_sd(stat: dict, spec: str) -> str:
    return f"{number(stat['mean'], spec)} ± {number(stat['sd'], spec)}"


def forecasts_frame(forecasts: dict[str, dict], horizon_ms: float = 1):
    """Test R^2 [95 % interval over test runs] of each baseline (columns) in each state (rows) at one horizon."""
    import pandas as pd

    h = horizon_key(horizon_ms)
    rows = {
        states.STATES[key].name: {name(b): with_interval(t[b][h]["r2"], t[b][h]["r2_ci"]) for b in t if b != "mean"}
        for key, t in forecasts.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def verdicts_frame(judged: list[dict]):
    """One row per verdict and state: the paired difference R^2(a) - R^2(b) with its 95 % interval, its word,
    and, on the verdict's first row, how it fares across the states."""
    import pandas as pd

    rows = {}
    for v in judged:
        claim = f"{v['claim']} ({number(v['horizon_ms'], 'g')} ms)"
        for k, (key, s) in enumerate(v["by_state"].items()):
            rows[(claim, states.STATES[key].short)] = {
                "R² difference": with_interval(s["difference"], s["ci"]),
                "verdict": s["word"],
                "across the states": v["across"] if k == 0 else "",
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def measured_fields(measured: dict[str, Measured]) -> dict:
    """The fields of the states_measured template: which states measure as their labels (and why not),
    the irregular states' rates and CVs, and how far each state's spectral peak stands above its median."""

    def stat(r, k):
        return {"mean": r[k]["mean"], "sd": r[k]["sd"]}

    rows = [(states.STATES[k], m.record) for k, m in measured.items()]
    return {
        "n_states": len(rows),
        "n_runs": sorted({r["n_runs"] for _, r in rows}),
        "duration_s": rows[0][1]["duration_s"],
        "missed": [
            {"name": s.name, "expected": r["expected"], "measured": r["label"], "why": "; ".join(r["misses"])}
            for s, r in rows
            if r["misses"]
        ],  # fmt: skip
        "split_runs": [
            {"name": s.name, "agree": sum(x == r["expected"] for x in r["run_labels"]), "of": r["n_runs"]}
            for s, r in rows
            if any(x != r["expected"] for x in r["run_labels"])
        ],  # fmt: skip
        "irregular": [
            {"name": s.name, "rate": stat(r, "rate_hz"), "cv": stat(r, "cv_isi")}
            for s, r in rows
            if s.regularity == "irregular"
        ],  # fmt: skip
        "peaks": [
            {
                "name": s.name,
                "synchronous": s.synchrony == "synchronous",
                "hz": r["peak_hz"]["mean"],
                "ratio": r["peak_over_median"]["mean"],
            }
            for s, r in rows
        ],  # fmt: skip
    }


def reach_frame(forecasts: dict, ceilings_: dict, members: dict, horizon_ms: float = 1):
    """At one horizon, per state: the ceiling, the boosted trees and notebook 08's member (R^2 [95 % interval]),
    the member's share of the achievable gain, and its run's wiring recovered (ROC AUC, mean and range over
    the test runs)."""
    import pandas as pd

    h = horizon_key(horizon_ms)
    rows = {}
    for key, table in forecasts.items():
        c, m = ceilings_[key], members[key]
        i = [float(x) for x in c["horizons_ms"]].index(float(horizon_ms))
        e = m["scores"][h]
        label = staircase.MEMBER_LABELS[m["member"]]
        rows[states.STATES[key].name] = {
            "ceiling": with_interval(c["ceiling_r2"][i], c["ceiling_r2_ci"][i]),
            name("own_lags_boosting"): with_interval(table["own_lags_boosting"][h]["r2"], table["own_lags_boosting"][h]["r2_ci"]),
            label: with_interval(e["r2"], e["r2_ci"]),
            "its share of the achievable gain": with_interval(e["gain_share"], e["gain_share_ci"], ".0f", 100, "%"),
            **{f"AUC, {pop} synapses (range over test runs)": _range(m["auc_runs"][k])
               for k, pop in (("E", "excitatory"), ("I", "inhibitory"))},
        }  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index")


def _range(values) -> str:
    v = np.asarray(values, float)
    return f"{number(v.mean())} [{number(v.min())}–{number(v.max())}]"


TRANSFERRED = {"trees": "", "member": "member_"}  # what is moved between states -> its directions' key prefix


def transfer_panels(products: dict[str, dict], what: str = "trees") -> dict[str, dict]:
    """{panel title: one direction's transfer by horizon} of the boosted trees (what="trees") or the staircase
    member (what="member"): the source's in each state, then each state's on the source's (TRANSFER_BACK)."""
    prefix, out = TRANSFERRED[what], {}
    for key, p in products.items():
        if prefix + "from_source" in p.get("transfer", {}):
            out[f"source's {what} on {states.STATES[key].short}"] = p["transfer"][prefix + "from_source"]
    for key, p in products.items():
        if prefix + "to_source" in p.get("transfer", {}):
            out[f"{states.STATES[key].short}'s {what} on the source's"] = p["transfer"][prefix + "to_source"]
    return out


def transfer_frame(panels: dict[str, dict], horizon_ms: float = 1):
    """At one horizon, per transfer: the trees trained where they are tested, those trained in the other
    state, and their paired difference (transferred minus own), each with its 95 % interval over test runs."""
    import pandas as pd

    h = horizon_key(horizon_ms)
    rows = {
        title: {
            "trained in this state": with_interval(e["own_r2"], e["own_r2_ci"]),
            "trained in the other state": with_interval(e["r2"], e["r2_ci"]),
            "difference": with_interval(e["difference"], e["ci"]),
            "verdict": _transfer_word(e["ci"]),
        }
        for title, e in ((t, by_h[h]) for t, by_h in panels.items())
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def _transfer_word(ci) -> str:
    return verdict(ci, higher="better transferred", lower="worse transferred")


OWN = {"trees": "trees trained there", "member": "the member trained there"}  # what a transfer is compared with


def transfer_fields(panels: dict[str, dict], horizons_ms, what: str = "trees") -> dict:
    """The fields of the states_transfer template: per transfer of `what` (TRANSFERRED), its difference at the
    first horizon and the horizons at which the transferred forecaster is worse, not distinguishable, or better."""
    rows = []
    for title, by_h in panels.items():
        words = {horizon_key(h): _transfer_word(by_h[horizon_key(h)]["ci"]) for h in horizons_ms}
        first = by_h[horizon_key(horizons_ms[0])]
        by_word = {w: [h for h, x in words.items() if x == w] for w in set(words.values())}
        said = [(f"{say} at {', '.join(by_word[w])} ms") for w, say in (("worse transferred", "worse"),
                (verdict(None), "not distinguishable"), ("better transferred", "better")) if w in by_word]  # fmt: skip
        rows.append({"title": title, "first": first, "by_horizon": ", ".join(said)})
    return {"rows": rows, "first_ms": horizons_ms[0], "own": OWN[what]}
