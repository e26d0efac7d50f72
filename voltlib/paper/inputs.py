"""What a notebook needs before it runs: the results its earlier notebooks write at the same profile.

The build runs the notebooks in order, so there they always find their inputs. In JupyterLab a
reader can open any notebook first; `require_inputs`, called from each notebook's setup cell, then
stops it with one sentence that names the command to run, instead of a traceback deep in a later
cell (e.g. "results/smoke/baselines.json does not exist").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from voltlib import paths

PROTOCOL_KEYS = ("original", "clean")


def _phases(*phases: str) -> list[tuple[str, ...]]:
    """The ladder's entries of phases on both protocols, in ladder.json and histories.json."""
    return [(file, p, phase) for file in ("ladder.json", "histories.json") for p in PROTOCOL_KEYS for phase in phases]


# The declaration of what each notebook writes into results/<profile>/ (a file, or a file and the
# keys inside it that are the notebook's own), in run order, and of the results files it reads (a
# file it only adds its own keys to, with store.update_json, it does not read). A
# notebook needs what every notebook before it writes (require_inputs); the build reruns a notebook
# when what the notebooks before it wrote into a file it reads has changed (input_fingerprints),
# and a smoke build checks both lists against what each notebook really read and wrote
# (tests/test_scheduler_report.py). The abstract (00) runs last and reads all.
WRITES: dict[str, list[tuple[str, ...]]] = {
    "01_simulate": [("simulation.json",)],
    "02_dataset": [("baselines.json",), ("dataset.json",)],
    "03_baseline_lstm": _phases("phase1_lstm"),
    "04_lstm_ladder": _phases("phase2_large_lstm", "phase3_lstm_res"),
    "05_cnn_lstm": [*_phases("phase4_cnn_lstm"), ("comparisons.json", "ladder"), ("comparisons.json", "budget")],
    "06_error_analysis": [("ceiling.json",), ("analysis.json", "error_analysis")],
    "07_interpretability": [
        ("analysis.json", "interpretability"),
        ("analysis.json", "findings"),
        ("comparisons.json", "interpretability"),
    ],
    "08_reaching_the_ceiling": [("beyond.json",), ("analysis.json", "reaching_the_ceiling")],
    "09_network_states": [("states.json",)],
    "10_observer": [("observer.json",)],
}
LAST = "00_abstract"
READS = {
    "01_simulate": [],
    "02_dataset": [],
    "03_baseline_lstm": ["baselines.json"],
    "04_lstm_ladder": ["ladder.json"],
    "05_cnn_lstm": ["baselines.json", "ladder.json", "histories.json"],
    "06_error_analysis": ["baselines.json", "ladder.json"],
    "07_interpretability": [],
    "08_reaching_the_ceiling": ["baselines.json", "ceiling.json"],
    "09_network_states": ["baselines.json", "ceiling.json", "beyond.json", "analysis.json"],
    "10_observer": ["ceiling.json", "beyond.json", "analysis.json"],
    # summary.load_results (summary.RESULT_FILES), the build's timings too
    LAST: [
        f"{name}.json"
        for name in (
            "simulation",
            "baselines",
            "ladder",
            "comparisons",
            "ceiling",
            "analysis",
            "beyond",
            "states",
            "observer",
            "timings",
        )
    ],
}


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


_ABSENT = object()


def _has(file: Path, keys: list) -> bool:
    try:
        obj = json.loads(file.read_text())
    except (OSError, ValueError):
        return False  # absent or half written: the notebook that writes it must run again
    return _dig(obj, keys, _ABSENT) is not _ABSENT


def written_before(notebook: str, file: str) -> list[tuple[str, ...]]:
    """The key paths (() for the whole file) that the notebooks before `notebook` declare in `file`."""
    return [tuple(keys) for name in earlier(notebook) for f, *keys in WRITES[name] if f == file]


def own_parts(notebook: str, file: str) -> list[tuple[str, ...]]:
    """The key paths `notebook` declares in `file`; [()] for a file that is all its own."""
    return [tuple(keys) for f, *keys in WRITES.get(notebook, []) if f == file]


def shared_files(notebook: str) -> list[str]:
    """The results files `notebook` writes a part of (its keys), beside other notebooks' parts."""
    return sorted({f for f, *keys in WRITES.get(notebook, []) if keys})


# What a rerun changes without changing a result: its wall times and whether a model came from the
# cache. A fingerprint leaves them out, so a notebook rerun for its own reasons reruns a later one only
# when a number it wrote has moved (a key not named here counts, so a new one errs towards a rerun).
VOLATILE_KEYS = frozenset({"seconds", "train_s", "fit_s", "wall_s", "baseline_wall_s", "from_cache"})


def fingerprint(path: Path, parts: list[tuple[str, ...]]) -> str:
    """sha256 of the parts (key paths, () for the whole) of a results JSON, VOLATILE_KEYS left out at every
    depth; 'absent' for a missing or unreadable one."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return "absent"
    if () not in parts:
        obj = {".".join(keys): _dig(obj, keys) for keys in parts}
    return hashlib.sha256(json.dumps(_steady(obj), sort_keys=True).encode()).hexdigest()


def _steady(obj):
    """obj without VOLATILE_KEYS, at every depth."""
    if isinstance(obj, dict):
        return {k: _steady(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_steady(v) for v in obj]
    return obj


def input_fingerprints(notebook: str, folder: Path) -> dict[str, str]:
    """{file: fingerprint of what the notebooks before `notebook` wrote into it} for each file it reads.

    Only those parts count: the notebook's own keys in a file it shares (ladder.json for 03-05) and
    what later notebooks add to it change after it ran, and are no input of it. A file that no
    earlier notebook writes (the build's timings.json) is not an input.
    """
    return {
        file: fingerprint(Path(folder) / file, parts)
        for file in READS[notebook]
        if (parts := written_before(notebook, file))
    }


def part_fingerprints(notebook: str, folder: Path) -> dict[str, str]:
    """{file: fingerprint of the notebook's own keys} for each file it shares with other notebooks."""
    return {file: fingerprint(Path(folder) / file, own_parts(notebook, file)) for file in shared_files(notebook)}


def _dig(obj, keys, default=None):
    """obj[k1][k2]..., or default where a level is absent."""
    for k in keys:
        if not isinstance(obj, dict) or k not in obj:
            return default
        obj = obj[k]
    return obj


def declared(notebook: str) -> bool:
    """True for a notebook of the paper (declared above), False for one the build does not know."""
    return notebook in WRITES or notebook == LAST


def undeclared_reads(notebook: str, read: list[str]) -> list[str]:
    """The results files (names) a notebook read that its READS do not name."""
    return sorted(set(read) - set(READS[notebook]))


def undeclared_writes(notebook: str, written: list[str]) -> list[str]:
    """The results files (names) a notebook wrote that its WRITES do not name."""
    return sorted(set(written) - {f for f, *_ in WRITES.get(notebook, [])})


def uncovered_keys(folder: Path) -> list[str]:
    """'file:key.key' for every entry of a results file in folder that no notebook declares it writes.

    A file some notebook writes whole is covered; in a file notebooks fill by keys, every leaf must
    lie under a declared key path. The build's own timings.json is no notebook's.
    """
    declared: dict[str, list[tuple[str, ...]]] = {}
    for entries in WRITES.values():
        for file, *keys in entries:
            declared.setdefault(file, []).append(tuple(keys))
    wrong = []
    for path in sorted(Path(folder).glob("*.json")):
        if path.name == "timings.json":
            continue
        parts = declared.get(path.name)
        if parts is None:
            wrong.append(path.name)
            continue
        if () in parts:
            continue
        for leaf in _leaves(json.loads(path.read_text())):
            if not any(leaf[: len(p)] == p for p in parts):
                wrong.append(f"{path.name}:{'.'.join(leaf)}")
    return wrong


def _leaves(obj, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(obj, dict) and obj:
        return [leaf for k, v in obj.items() for leaf in _leaves(v, (*prefix, k))]
    return [prefix]
