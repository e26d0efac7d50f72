"""Every path of the project, derived once from the project root (never from the working directory)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

ROOT = Path(os.environ.get("VOLTLIB_ROOT", Path(__file__).resolve().parent.parent))
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"  # cached simulations (by config hash)
MODELS = DATA / "models"  # cached trained models (by config hash)
BUILD = ROOT / "build"  # executed notebooks, per profile
RESULTS = ROOT / "results"  # JSON results, per profile
REPORT = ROOT / "report"  # HTML report and figures, per profile
GOLDEN = ROOT / "tests" / "golden"  # stored smoke notebooks that nbval replays
METHODS = ROOT / "METHODS.md"  # the methods, rendered into the report as its Methods chapter

NOTEBOOK_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.py$")
ABSTRACT_PREFIX = "00"  # the abstract reads every result: it runs last and is shown first


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


def discover(notebooks_dir: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks NN_*.py in run order: 01, 02, ... and the abstract (00_*) last."""
    found = sorted(p for p in Path(notebooks_dir).glob("*.py") if NOTEBOOK_NAME.match(p.name))
    if not found:
        raise FileNotFoundError(
            f"no notebooks named NN_name.py in {notebooks_dir}: expected e.g. "
            "01_simulate.py. Run from a checkout of the project."
        )
    return [p for p in found if not p.name.startswith(ABSTRACT_PREFIX)] + [
        p for p in found if p.name.startswith(ABSTRACT_PREFIX)
    ]


def report_order(executed: list[Path]) -> list[Path]:
    """The executed notebooks in the order the report shows them: the abstract (00_*) first."""
    return sorted(executed, key=lambda p: p.name)


# voltlib.workflow only runs, assembles, checks or times the build: no notebook imports it, so editing it
# must not re-execute the notebooks (tests/workflow/test_pipeline.py checks that no notebook imports it)
BUILD_ONLY = "workflow"


PACKAGE_DIR = Path(__file__).resolve().parent


def library_sources(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """voltlib's source files a notebook's results can depend on: every *.py but those of BUILD_ONLY."""
    package_dir = Path(package_dir)
    return [f for f in sorted(package_dir.rglob("*.py")) if f.relative_to(package_dir).parts[0] != BUILD_ONLY]


# the pins of the checkout the code comes from, not of VOLTLIB_ROOT's project: a build in a scratch
# root and a Dask worker without VOLTLIB_ROOT run the same code and must agree on its hash
def library_hash(package_dir: Path = PACKAGE_DIR, extra: tuple = (PACKAGE_DIR.parent / "requirements.txt",)) -> str:
    """sha256 over library_sources (paths and contents) and the checkout's pinned requirements."""
    h = hashlib.sha256()
    package_dir = Path(package_dir)
    named = [(f.relative_to(package_dir).as_posix(), f) for f in library_sources(package_dir)]
    for name, f in named + [(Path(e).name, Path(e)) for e in extra if Path(e).exists()]:
        h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()
