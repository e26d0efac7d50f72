"""Every path of the project, derived once from the project root (never from the working directory)."""

from __future__ import annotations

import ast
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
# the committed archive of the long steps (make budget, make products) belongs to the checkout, like its code: a
# build in a scratch root (VOLTLIB_ROOT; the stored notebooks, make test-scheduler) reads the same archive
ARCHIVE = PACKAGE_DIR.parent / "results" / "archive"


# the files a module reads as part of its code, by module (module_name's names): folders under voltlib
MODULE_DATA = {"paper.prose": "paper/templates"}


def module_data(name: str, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The files a module reads as code (MODULE_DATA: prose's Markdown templates), sorted; [] for most."""
    folder = MODULE_DATA.get(name)
    return sorted(f for f in (Path(package_dir) / folder).rglob("*") if f.is_file()) if folder else []


def library_sources(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """voltlib's source files a notebook's results can depend on: every *.py but those of BUILD_ONLY, and
    the files of MODULE_DATA."""
    package_dir = Path(package_dir)
    code = [f for f in sorted(package_dir.rglob("*.py")) if f.relative_to(package_dir).parts[0] != BUILD_ONLY]
    return code + [f for name in sorted(MODULE_DATA) for f in module_data(name, package_dir)]


# the pins of the checkout the code comes from, not of VOLTLIB_ROOT's project: a build in a scratch
# root and a Dask worker without VOLTLIB_ROOT run the same code and must agree on its hash
def library_hash(package_dir: Path = PACKAGE_DIR, extra: tuple = (PACKAGE_DIR.parent / "requirements.txt",)) -> str:
    """sha256 over library_sources (paths and contents) and the checkout's pinned requirements."""
    return _files_hash(Path(package_dir), library_sources(package_dir), extra)


def _files_hash(package_dir: Path, files: list[Path], extra: tuple) -> str:
    """sha256 over each file's path under package_dir and its contents, in the order given, then the
    extra files' names and contents (those that exist)."""
    h = hashlib.sha256()
    named = [(f.relative_to(package_dir).as_posix(), f) for f in files]
    for name, f in named + [(Path(e).name, Path(e)) for e in extra if Path(e).exists()]:
        h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


# What a notebook's results depend on among voltlib's modules: the ones it imports, transitively.
# Every import counts, also one inside a function; a module is named by its dotted path under voltlib
# ("sim.simulate", "config"; "" is voltlib/__init__.py, "sim" is voltlib/sim/__init__.py).


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """voltlib/sim/simulate.py -> 'sim.simulate'; voltlib/sim/__init__.py -> 'sim'."""
    parts = list(Path(path).relative_to(package_dir).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, package_dir: Path = PACKAGE_DIR) -> Path:
    """The source file of a module named as module_name names it."""
    base = Path(package_dir).joinpath(*name.split(".")) if name else Path(package_dir)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imports_of(path: Path, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """The names a source file imports from voltlib, anywhere in it (relative or absolute), dotted.

    `from voltlib.sim import wiring` gives 'sim' and 'sim.wiring'; `from voltlib.config import X`
    gives 'config' and 'config.X' (a name that is no module, dropped by import_graph). A file
    outside the package (a notebook) has only absolute imports.
    """
    path = Path(path)
    inside = path.resolve().is_relative_to(Path(package_dir).resolve())
    here = module_name(path.resolve(), Path(package_dir).resolve()).split(".") if inside else []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if not inside:
                    continue
                base = here if path.name == "__init__.py" else here[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*[b for b in base if b], *([node.module] if node.module else [])])
            elif node.module and (node.module == "voltlib" or node.module.startswith("voltlib.")):
                mod = node.module.removeprefix("voltlib").lstrip(".")
            else:
                continue
            found.add(mod)
            found.update(f"{mod}.{a.name}" if mod else a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("voltlib.") for a in node.names if a.name.startswith("voltlib."))
    return found


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """{module: the voltlib modules it imports}, over every source file of the package."""
    package_dir = Path(package_dir)
    files = sorted(package_dir.rglob("*.py"))
    modules = {module_name(p, package_dir) for p in files}
    graph = {}
    for p in files:
        name = module_name(p, package_dir)
        graph[name] = (imports_of(p, package_dir) & modules) - {name, ""}
    return graph


def _with_parents(name: str) -> set[str]:
    """A module and the packages above it, whose __init__ files an import of it runs ('' included)."""
    parts = name.split(".") if name else []
    return {".".join(parts[:k]) for k in range(len(parts) + 1)}


def modules_used(source: Path, package_dir: Path = PACKAGE_DIR, graph: dict | None = None) -> set[str]:
    """Every voltlib module a file (a notebook) runs when it runs: what it imports, transitively, with
    the packages above each one."""
    graph = import_graph(package_dir) if graph is None else graph
    todo = [m for m in imports_of(source, package_dir) if m in graph]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(m for m in graph.get(name, set()) | _with_parents(name) if m in graph and m not in seen)
    return seen


def modules_hash(
    modules: set[str], package_dir: Path = PACKAGE_DIR, extra: tuple = (PACKAGE_DIR.parent / "requirements.txt",)
) -> str:
    """sha256 over the named modules' paths and contents, the files they read as code (module_data) and the
    checkout's pinned requirements."""
    package_dir = Path(package_dir)
    files = [f for m in sorted(modules) for f in (module_file(m, package_dir), *module_data(m, package_dir))]
    return _files_hash(package_dir, files, extra)
