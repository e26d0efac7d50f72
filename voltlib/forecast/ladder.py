"""The model ladder: train a phase on one protocol's data, score it on the test windows, record it.

Notebooks 03-05 each run some phases through `run_phases`; together they fill
results/<profile>/ladder.json {protocol: {phase: entry}} and histories.json (training curves).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voltlib import display, paths
from voltlib.config import PHASE_LABELS, PROTOCOLS, SOURCE_R2, Profile
from voltlib.device import pick_device
from voltlib.forecast import fits
from voltlib.forecast.data import make_dataset
from voltlib.forecast.metrics import bootstrap_stats, evaluate, interval, run_stats
from voltlib.forecast.train import predict
from voltlib.store import horizon_key, read_json, update_json

ENTRY_KEYS = (
    "r2",
    "r2_ci",
    "r2_per_neuron_mean",
    "mse_z",
    "mae_z",
    "rmse_mv",
    "mae_mv",
    "r2_exc",
    "r2_inh",
    "skill_vs_persistence",
)


def load_datasets(profile: Profile, sim, protocols=PROTOCOLS) -> dict:
    """Returns {protocol: Dataset} at the profile's default horizon."""
    return {p: make_dataset(sim, profile.data, p) for p in protocols}


def score(model, dataset, device) -> dict:
    """Returns the test-set metrics of a trained model (with skill against persistence)."""
    return score_predictions(predict(model, dataset.test, device), dataset)


def score_predictions(pred, dataset) -> dict:
    """The test-set metrics of forecasts [windows, n] (z) of a dataset's test windows."""
    test = dataset.test
    return evaluate(
        test.targets(),
        pred,
        dataset.std_mv,
        dataset.n_exc,
        y_persist_z=test.last_values(),
        run_of_sample=test.run_of_window,
    )


def seed_summary(per_seed: list, preds: list, dataset) -> dict:
    """One ladder entry from a phase's seeds: each metric's mean over seeds, the seeds' R^2 and spread.

    run_stats: per seed and test run (metrics.run_stats), what comparisons are computed from. r2_ci:
    the 95 % interval of the seed-mean R^2 that redraws test runs, and seeds where there are several.
    """
    entry: dict = {k: float(np.mean([m[k] for m in per_seed])) for k in ENTRY_KEYS if k != "r2_ci"}
    r2s = [m["r2"] for m in per_seed]
    test = dataset.test
    stats = run_stats(test.targets(), np.stack(preds), test.run_of_window)
    boot = bootstrap_stats({"m": stats})["m"]
    entry.update(
        r2_ci=interval(boot, entry["r2"], len(stats["runs"])),
        r2_seeds=r2s,
        r2_seed_sd=float(np.std(r2s, ddof=1)) if len(r2s) > 1 else float("nan"),
        run_stats=stats,
    )
    return entry


def run_phase(profile: Profile, phase: str, dataset, device=None, progress: bool = False) -> tuple:
    """Trains (or loads) every seed of one phase on one dataset; returns (first seed's model, ladder entry, histories).

    The entry's metrics are means over the seeds (seed_summary); epochs and best_epoch are the first
    seed's, train_s the mean. histories: {seed: that seed's training history}.
    """
    device = pick_device(device, verbose=False) if not hasattr(device, "type") else device
    per_seed, preds, infos, first = [], [], [], None
    for spec in fits.seeds_of(profile, phase, dataset.protocol):
        model, info = spec.fit_or_load(dataset, device, progress)
        pred = predict(model, dataset.test, device)
        per_seed.append(score_predictions(pred, dataset))
        preds.append(pred)
        infos.append(info)
        first = model if first is None else first
    entry = seed_summary(per_seed, preds, dataset)
    model_cfg = profile.phases[phase][0]
    entry.update(
        seeds=[i["train"]["seed"] for i in infos],
        params=infos[0]["params"],
        epochs=infos[0]["epochs"],
        best_epoch=infos[0]["best_epoch"],
        train_s=float(np.mean([i["train_s"] for i in infos])),
        device=infos[0]["device"],
        hidden=model_cfg.hidden,
        layers=model_cfg.layers,
        from_cache=all(i["cached"] for i in infos),
    )
    return first, entry, {str(i["train"]["seed"]): i["history"] for i in infos}


def run_phases(profile: Profile, phases, datasets: dict, device=None, progress: bool = False) -> dict:
    """Runs phases on every protocol's dataset, records them in ladder.json / histories.json; returns entries."""
    out: dict[str, dict] = {}
    results = paths.results_dir(profile.name)
    for protocol, dataset in datasets.items():
        for phase in phases:
            _, entry, histories = run_phase(profile, phase, dataset, device, progress)
            update_json(results / "ladder.json", protocol, phase, value=entry)
            update_json(results / "histories.json", protocol, phase, value=histories)
            out.setdefault(protocol, {})[phase] = entry
            seeds = len(entry["seeds"])
            spread = f", seed sd {entry['r2_seed_sd']:.3f} over {seeds} seeds" if seeds > 1 else ""
            print(
                f"{protocol:8s} {PHASE_LABELS[phase]:16s} R^2 {entry['r2']:.3f}{spread}  "
                f"({entry['epochs']} epochs, {entry['params']:,} parameters)"
            )
    return out


def persistence_r2(profile_name: str, protocol: str, horizon_ms: int = 1) -> float:
    """Returns persistence's pooled test R^2 from baselines.json (written by notebook 02)."""
    base = read_json(paths.results_dir(profile_name) / "baselines.json")
    return base[protocol]["persistence"][horizon_key(horizon_ms)]["r2"]


def ladder_table(profile_name: str, protocol: str) -> pd.DataFrame:
    """Returns the ladder of one protocol as the report shows it (source R² beside ours), from ladder.json.

    R² and the other metrics are means over the phase's training seeds; the 95 % interval redraws
    test runs (and seeds, where there are several). Nine columns of numbers formatted by
    voltlib.display, so it fits the report's text column; every metric of every phase stays in
    ladder.json. The values are strings: `ladder_numbers` has them as numbers.
    """
    ladder = ladder_numbers(profile_name, protocol)
    table = pd.DataFrame(
        {
            "source R²": [display.number(v) for v in ladder["source R²"]],
            "R² [95 % CI]": [display.with_interval(v, ci) for v, ci in zip(ladder["R²"], ladder["ci"])],
            "seeds": [display.number(v) for v in ladder["seeds"]],
            "skill vs persistence": [display.number(v) for v in ladder["skill vs persistence"]],
            "RMSE (mV)": [display.number(v) for v in ladder["RMSE (mV)"]],
            "size": ladder["size"],
            "parameters": [display.number(v) for v in ladder["parameters"]],
            "epochs": [display.number(v) for v in ladder["epochs"]],
            "training (s)": [display.number(v, ".0f") for v in ladder["training (s)"]],
        },
        index=ladder.index,
    )
    table.index.name = ladder.index.name
    return table


def ladder_numbers(profile_name: str, protocol: str) -> pd.DataFrame:
    """The ladder of one protocol as numbers, one row per phase (its display label), from ladder.json."""
    ladder = read_json(paths.results_dir(profile_name) / "ladder.json")[protocol]
    rows = []
    for phase, e in ladder.items():
        if phase not in PHASE_LABELS:
            continue
        rows.append(
            {
                "phase": PHASE_LABELS[phase],
                "source R²": SOURCE_R2[phase],
                "R²": e["r2"],
                "ci": e.get("r2_ci"),
                "seeds": len(e.get("seeds", [0])),
                "skill vs persistence": e["skill_vs_persistence"],
                "RMSE (mV)": e["rmse_mv"],
                "size": f"{e['hidden']}{display.NBSP}x{display.NBSP}{e['layers']}",
                "parameters": int(e["params"]),
                "epochs": int(e["epochs"]),
                "training (s)": e["train_s"],
            }
        )
    order = list(PHASE_LABELS.values())
    table = pd.DataFrame(rows).set_index("phase").reindex([p for p in order if p in {r["phase"] for r in rows}])
    table.index.name = f"{protocol} protocol"
    return table
