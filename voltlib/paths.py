"""Every path of the project, derived once from the project root (never from the working directory)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("VOLTLIB_ROOT", Path(__file__).resolve().parent.parent))
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"                 # cached simulations (by config hash)
MODELS = DATA / "models"             # cached trained models (by config hash)
BUILD = ROOT / "build"               # executed notebooks, per profile
RESULTS = ROOT / "results"           # JSON results, per profile
REPORT = ROOT / "report"             # HTML report and figures, per profile
GOLDEN = ROOT / "tests" / "golden"   # stored smoke notebooks that nbval replays
METHODS = ROOT / "METHODS.md"        # the methods, rendered into the report as its Methods chapter


def results_dir(profile: str) -> Path:
    """results/<profile>/, created."""
    return _made(RESULTS / profile)


def figures_dir(profile: str) -> Path:
    """report/<profile>/figures/, created."""
    return _made(REPORT / profile / "figures")


def build_dir(profile: str) -> Path:
    """build/<profile>/, created."""
    return _made(BUILD / profile)


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
