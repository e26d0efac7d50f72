"""One house style for every figure, and saving one: PNG under report/<profile>/figures/, its description in it."""

from __future__ import annotations

import matplotlib.pyplot as plt

from voltlib import paths
from voltlib.store import atomic_path

EXC_COLOR, INH_COLOR = "#c0392b", "#2471a3"
CEILING_COLOR = "#16a085"  # the oracle ceiling, and the lines and bands that refer to it

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 130,
        "savefig.bbox": "tight",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
    }
)


def describe(fig, limit: int = 400) -> str:
    """A figure in words, from its own text: its title(s) and, per panel, what is plotted against what.
    The report's alt text for the figure (voltlib.workflow.report reads it from the saved PNG)."""
    parts = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) is not None else []
    for ax in fig.axes:
        if not ax.get_visible() or not ax.has_data():
            continue
        title = " ".join(t.get_text() for t in (ax.title, ax._left_title, ax._right_title) if t.get_text())
        y, x = ax.get_ylabel(), ax.get_xlabel()
        axes_text = f"{y} against {x}" if x and y else x or y
        text = ": ".join(t for t in (title, axes_text) if t)
        if text and text not in parts:
            parts.append(text)
    text = "; ".join(" ".join(p.split()) for p in parts if p.strip())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def save_figure(fig, profile: str, name: str):
    """Saves fig as report/<profile>/figures/<name> (PNG, its `describe` text as the PNG's Description)
    and returns the path."""
    if not name.endswith(".png"):
        raise ValueError(f"figure name {name!r} must end with .png")
    path = paths.figures_dir(profile) / name
    with atomic_path(path, checksum=False) as tmp:  # the build records its hash among the notebook's outputs
        fig.savefig(tmp, format="png", metadata={"Description": describe(fig)})
    return path


def _ei_axis(ax, n: int, n_exc: int, axis: str = "x"):
    """Marks the E | I boundary of a neuron axis with a line and two labels."""
    line = ax.axvline if axis == "x" else ax.axhline
    line(n_exc - 0.5, color="k", lw=0.8)
    # x: labels above the axes at data x; y: labels right of the axes at data y
    coords, offset, align = (
        (("data", "axes fraction"), (0, 2), {"ha": "center", "va": "bottom"})
        if axis == "x"
        else (("axes fraction", "data"), (2, 0), {"ha": "left", "va": "center"})
    )
    for pos, label, color in ((n_exc / 2, "E", EXC_COLOR), (n_exc + (n - n_exc) / 2, "I", INH_COLOR)):
        xy = (pos, 1.0) if axis == "x" else (1.0, pos)
        ax.annotate(
            label,
            xy,
            xycoords=coords,
            xytext=offset,
            textcoords="offset points",
            color=color,
            fontweight="bold",
            **align,
        )
