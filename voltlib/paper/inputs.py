"""What a notebook needs before it runs: the results its earlier notebooks write at the same profile.

The build runs the notebooks in order, so there they always find their inputs. In JupyterLab a
reader can open any notebook first; `require_inputs`, called from each notebook's setup cell, then
stops it with one sentence that names the command to run, instead of a traceback deep in a later
cell (e.g. "results/smoke/baselines.json does not exist").
"""

from __future__ import annotations

import json
from pathlib import Path

from voltlib import paths

# What each notebook writes into results/<profile>/ (file, then keys inside it), in run order; a
# notebook needs what every notebook before it writes. The abstract (00) runs last and reads all.
WRITES: dict[str, list[tuple[str, ...]]] = {
    "01_simulate": [("simulation.json",)],
    "02_dataset": [("baselines.json",), ("dataset.json",)],
    "03_baseline_lstm": [("ladder.json", p, "phase1_lstm") for p in ("original", "clean")],
    "04_lstm_ladder": [("ladder.json", p, "phase3_lstm_res") for p in ("original", "clean")],
    "05_cnn_lstm": [("ladder.json", p, "phase4_cnn_lstm") for p in ("original", "clean")],
    "06_error_analysis": [("ceiling.json",), ("analysis.json", "error_analysis")],
    "07_interpretability": [("analysis.json", "interpretability")],
    "08_reaching_the_ceiling": [("beyond.json",), ("analysis.json", "reaching_the_ceiling")],
}
LAST = "00_abstract"


class InputsMissing(RuntimeError):
    """A notebook was started before the notebooks it reads from had run at its profile."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the sentence is the whole story
        return [f"{type(self).__name__}: {self}"]


def earlier(notebook: str) -> list[str]:
    """The notebooks that run before `notebook` (all of them for the abstract)."""
    order = list(WRITES)
    if notebook == LAST:
        return order
    if notebook not in WRITES:
        raise ValueError(
            f"unknown notebook {notebook!r}: expected one of {order + [LAST]}. "
            "Add a new notebook to voltlib.paper.inputs.WRITES in its place in the run order."
        )
    return order[: order.index(notebook)]


def missing_inputs(profile: str, notebook: str, results_dir: Path | None = None) -> list[str]:
    """The results (file or file:key.key) that the notebooks before `notebook` should have written and did not."""
    folder = Path(results_dir) if results_dir else paths.RESULTS / profile
    missing = []
    for name in earlier(notebook):
        for file, *keys in WRITES[name]:
            if not _has(folder / file, keys):
                missing.append(file + (":" + ".".join(keys) if keys else ""))
    return missing


def require_inputs(profile: str, notebook: str, results_dir: Path | None = None) -> None:
    """Raises InputsMissing, naming the command that makes them, when `notebook`'s inputs are absent."""
    missing = missing_inputs(profile, notebook, results_dir)
    if missing:
        before = earlier(notebook)
        span = before[0][:2] if len(before) == 1 else f"{before[0][:2]}-{before[-1][:2]}"
        folder = Path(results_dir) if results_dir else paths.RESULTS / profile
        raise InputsMissing(
            f"{notebook} reads what notebooks {span} write at profile {profile!r}, and {missing[0]} is missing in "
            f"{folder}: run `make report PROFILE={profile}` in the project folder first (or notebooks {span} "
            f"here, in order), then run this notebook again."
        )


def _has(file: Path, keys: list) -> bool:
    try:
        obj = json.loads(file.read_text())
    except (OSError, ValueError):
        return False  # absent or half written: the notebook that writes it must run again
    for k in keys:
        if not isinstance(obj, dict) or k not in obj:
            return False
        obj = obj[k]
    return True
