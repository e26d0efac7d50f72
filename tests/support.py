"""Stand-ins and helpers that several test modules share, so that no test module imports another.

pyproject's pytest `pythonpath` puts tests/ on the path: any test module can `from support import ...`.
Heavy libraries (torch, the simulation's data module) are imported where they are used, so that a test
module that needs only the light helpers (tests/test_layouts.py) does not load them at collection.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from voltlib import paths
from voltlib.config import ModelConfig
from voltlib.paper.inputs import LAST, READS

# ---------------------------------------------------------------- a dataset without a simulation
# (tests/forecast/test_train.py, tests/paper/test_budget.py)

WINDOW, N = 20, 10


class StandInSplit:
    """The Split interface of voltlib.forecast.data over an AR(1) series: windows are start indices, not copies."""

    def __init__(self, series, stride: int = 3, horizon: int = 1):
        self.series, self.window, self.horizon = series, WINDOW, horizon
        self.starts = np.arange(0, len(series) - WINDOW - horizon + 1, stride, dtype=np.int64)

    def __len__(self):
        return len(self.starts)

    def get_batch(self, idx):
        import torch

        s = torch.as_tensor(self.starts[np.asarray(idx)])
        return self.series[s[:, None] + torch.arange(WINDOW)], self.series[s + WINDOW - 1 + self.horizon]

    def targets(self):
        return self.series.numpy()[self.starts + WINDOW - 1 + self.horizon]

    def last_values(self):
        return self.series.numpy()[self.starts + WINDOW - 1]


class StandInDataset:
    def __init__(self, n_samples: int = 900, seed: int = 0):
        import torch

        rng = np.random.default_rng(seed)
        v = np.zeros((n_samples, N), np.float32)
        for t in range(1, n_samples):  # AR(1): predictable from the last value
            v[t] = 0.9 * v[t - 1] + rng.normal(size=N)
        v = torch.from_numpy((v - v.mean(0)) / v.std(0))
        a, b = int(0.7 * n_samples), int(0.85 * n_samples)
        self.train, self.val, self.test = StandInSplit(v[:a]), StandInSplit(v[a:b]), StandInSplit(v[b:])
        self.key = f"ar1-{n_samples}-{seed}"


MODEL = ModelConfig("cnn_lstm", hidden=8, layers=2)


# ---------------------------------------------------------------- a simulation without a simulator
# (tests/workflow/test_fanout.py, tests/workflow/test_budget_run.py)


@functools.cache
def ar1_simulation(n_runs=5, n_t=1300, n=12, seed=0):
    """Tiny AR(1) voltages [run, time, neuron] (mV) wrapped as a Simulation: enough for every protocol and horizon.

    Made once per arguments: every module that asks gets the same Simulation.
    """
    from voltlib.forecast.data import array_simulation

    rng = np.random.default_rng(seed)
    v = np.zeros((n_runs, n_t, n), np.float32)
    for t in range(1, n_t):
        v[:, t] = 0.9 * v[:, t - 1] + rng.normal(size=(n_runs, n))
    return array_simulation(v - 60.0, n_exc=9)


# ---------------------------------------------------------------- the build as a user starts it
# (tests/workflow/test_pipeline.py, tests/test_cli.py)


def start_pipeline(*args, env=None, **kw) -> subprocess.Popen:
    """`python -m voltlib.workflow.pipeline ARGS`, started as a user would, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "voltlib.workflow.pipeline", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


# ---------------------------------------------------------------- whole smoke builds compared by their numbers
# (tests/test_scheduler_report.py, tests/test_layouts.py)

# every results file the abstract reads, the build's own timings left out
BUILD_RESULTS = tuple(f.removesuffix(".json") for f in READS[LAST] if f != "timings.json")


def scratch_root(folder: Path) -> Path:
    """A scratch project root: the real notebooks and methods, the smoke simulations of this checkout if cached."""
    folder.mkdir(parents=True)
    (folder / "notebooks").symlink_to(paths.NOTEBOOKS.resolve())
    (folder / "METHODS.md").symlink_to(paths.METHODS.resolve())  # the report's Methods chapter
    if (paths.DATA / "sim").is_dir():  # the simulation is deterministic: a copy saves both builds its minute
        shutil.copytree(paths.DATA / "sim", folder / "data" / "sim")
    return folder


def build_numbers(obj, path=""):
    """{path: number} of every number in a results JSON, times and the training histories left out."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("_s") or k in ("history", "seconds"):
                continue
            out.update(build_numbers(v, f"{path}/{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(build_numbers(v, f"{path}[{i}]"))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[path] = float(obj)
    return out


# ---------------------------------------------------------------- what a drawn figure shows
# (tests/paper/plots/test_*.py: the figures' data, read back from the artists matplotlib drew)


def lines_by_label(ax) -> dict:
    """{label: (x, y)} of the labelled lines of one axes (float arrays, as drawn)."""
    return {
        ln.get_label(): (np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
        for ln in ax.get_lines()
        if not ln.get_label().startswith("_")
    }


def legend_labels(ax_or_fig) -> list[str]:
    """The legend's entries of an axes (or of a figure's own legend), in order; [] without a legend."""
    legend = ax_or_fig.get_legend() if hasattr(ax_or_fig, "get_legend") else ax_or_fig.legends[0]
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def bar_heights(ax, label=None) -> np.ndarray:
    """Heights of the bars of one bar container (the one labelled `label`, else the first), as drawn."""
    containers = [c for c in ax.containers if type(c).__name__ == "BarContainer"]
    box = next(c for c in containers if label is None or c.get_label() == label)
    return np.array([p.get_height() for p in box.patches])


def spill_inches(fig) -> float:
    """How far (inches) what a figure draws reaches past its edges: what savefig's tight bounding box
    (the house style's savefig.bbox) would add to the saved image, 0.0 when everything lies inside."""
    fig.canvas.draw()
    drawn, edge = fig.get_tightbbox(fig.canvas.get_renderer()), fig.bbox_inches
    return max(0.0, edge.x0 - drawn.x0, drawn.x1 - edge.x1, edge.y0 - drawn.y0, drawn.y1 - edge.y1)
