"""The model ladder: train a phase on one protocol's data, score it on the test windows, record it.

Notebooks 03-05 each run some phases through `run_phases`; together they fill
results/<profile>/ladder.json {protocol: {phase: entry}} and histories.json (training curves).
"""

from __future__ import annotations

import pandas as pd

from . import paths
from .config import PHASE_LABELS, PROTOCOLS, SOURCE_R2, Profile
from .data import make_dataset
from .device import pick_device
from .metrics import evaluate, format_interval
from .store import horizon_key, read_json, update_json
from .train import fit_or_load, predict

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
    test = dataset.test
    return evaluate(
        test.targets(),
        predict(model, test, device),
        dataset.std_mv,
        dataset.n_exc,
        y_persist_z=test.last_values(),
        run_of_sample=test.run_of_window,
    )


def run_phase(profile: Profile, phase: str, dataset, device=None, progress: bool = False) -> tuple:
    """Trains (or loads) one phase on one dataset; returns (model, ladder entry, training history)."""
    device = pick_device(device, verbose=False) if not hasattr(device, "type") else device
    model_cfg, train_cfg = profile.phases[phase]
    model, info = fit_or_load(phase, model_cfg, train_cfg, dataset, device=device, progress=progress)
    metrics = score(model, dataset, device)
    entry = {k: metrics[k] for k in ENTRY_KEYS}
    entry.update(
        params=info["params"],
        epochs=info["epochs"],
        best_epoch=info["best_epoch"],
        train_s=info["train_s"],
        device=info["device"],
        hidden=model_cfg.hidden,
        layers=model_cfg.layers,
        from_cache=info["cached"],
    )
    return model, entry, info["history"]


def run_phases(profile: Profile, phases, datasets: dict, device=None, progress: bool = False) -> dict:
    """Runs phases on every protocol's dataset, records them in ladder.json / histories.json; returns entries."""
    out = {}
    results = paths.results_dir(profile.name)
    for protocol, dataset in datasets.items():
        for phase in phases:
            _, entry, history = run_phase(profile, phase, dataset, device, progress)
            update_json(results / "ladder.json", protocol, phase, value=entry)
            update_json(results / "histories.json", protocol, phase, value=history)
            out.setdefault(protocol, {})[phase] = entry
            print(
                f"{protocol:8s} {PHASE_LABELS[phase]:16s} R^2 {entry['r2']:.3f}  "
                f"({entry['epochs']} epochs, {entry['params']:,} parameters)"
            )
    return out


def persistence_r2(profile_name: str, protocol: str, horizon_ms: int = 1) -> float:
    """Returns persistence's pooled test R^2 from baselines.json (written by notebook 02)."""
    base = read_json(paths.results_dir(profile_name) / "baselines.json")
    return base[protocol]["persistence"][horizon_key(horizon_ms)]["r2"]


def ladder_table(profile_name: str, protocol: str) -> pd.DataFrame:
    """Returns the ladder of one protocol as a table (source R^2 beside ours), from ladder.json.

    Narrow enough for the report's column; every metric of every phase stays in ladder.json.
    """
    ladder = read_json(paths.results_dir(profile_name) / "ladder.json")[protocol]
    rows = []
    for phase, e in ladder.items():
        rows.append(
            {
                "phase": PHASE_LABELS[phase],
                "source R^2": SOURCE_R2[phase],
                "R^2": e["r2"],
                "95 % CI (runs)": format_interval(e.get("r2_ci")),
                "skill vs persistence": e["skill_vs_persistence"],
                "RMSE (mV)": e["rmse_mv"],
                "MAE (mV)": e["mae_mv"],
                "size": f"{e['hidden']} x {e['layers']}",
                "parameters": f"{e['params']:,}",
                "epochs": e["epochs"],
                "train s": round(e["train_s"], 1),
            }
        )
    order = list(PHASE_LABELS.values())
    table = pd.DataFrame(rows).set_index("phase").reindex([p for p in order if p in {r["phase"] for r in rows}])
    table.index.name = f"{protocol} protocol"
    return table
