"""The build: runs notebooks/NN_*.py with papermill into build/<profile>/, incrementally, then the report.

Incremental rule (a stamp per notebook, stored beside its executed copy as NN_name.stamp.json):

    stamp(n) = sha256(source of n, the profile's parameters, hash of voltlib/*.py and
                      requirements.txt, stamp of the notebook that ran just before n)

A notebook is up to date when its executed copy exists and its stored stamp equals the stamp
computed now. Chaining the previous notebook's stamp makes every input a notebook can read (the
results, caches and figures of the notebooks before it) part of its stamp, so a change reruns the
notebook where it happened and every notebook after it, and nothing before it. The abstract
(00_abstract) reads every result, so it runs last and is placed first in the report.

Atomicity: a notebook executes into a temporary file that is renamed onto build/<profile>/NN_name.ipynb
only on success, and its stamp is written after that rename; a failure leaves the partial
notebook as NN_name.failed.ipynb (never taken as done) and stops the build naming the cell.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .config import config_hash, get_profile

KERNEL = "voltlib"
NOTEBOOK_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.py$")
ABSTRACT_PREFIX = "00"

# Kernels inherit these: notebooks and voltlib stay quiet (no progress bars) when headless, and
# figures display inline even if the caller (the Makefile) chose Agg for plain Python.
HEADLESS_ENV = {"VOLTLIB_HEADLESS": "1", "TQDM_DISABLE": "1",
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


class NotebookFailed(RuntimeError):
    """A notebook raised during execution; the message names the notebook and the cell."""


@dataclass
class Step:
    """One notebook of the build: its source, where its executed copy goes, and its stamp."""
    source: Path
    executed: Path
    stamp_file: Path
    stamp: str

    @property
    def name(self) -> str:
        return self.source.stem

    @property
    def failed(self) -> Path:
        return self.executed.with_name(self.name + ".failed.ipynb")


def discover(notebooks_dir: Path = paths.NOTEBOOKS) -> list[Path]:
    """The notebooks NN_*.py in run order: 01, 02, ... and the abstract (00_*) last."""
    found = sorted(p for p in Path(notebooks_dir).glob("*.py") if NOTEBOOK_NAME.match(p.name))
    if not found:
        raise FileNotFoundError(f"no notebooks named NN_name.py in {notebooks_dir}: expected e.g. "
                                "01_simulate.py. Run from a checkout of the project.")
    return [p for p in found if not p.name.startswith(ABSTRACT_PREFIX)] + \
           [p for p in found if p.name.startswith(ABSTRACT_PREFIX)]


def report_order(executed: list[Path]) -> list[Path]:
    """The executed notebooks in the order the report shows them: the abstract (00_*) first."""
    return sorted(executed, key=lambda p: p.name)


# modules that only assemble, check or time the build: no notebook imports them, so editing them must
# not re-execute the notebooks (tests/test_pipeline.py checks that no notebook imports them)
BUILD_ONLY = frozenset({"pipeline.py", "report.py", "golden.py", "bench.py"})


def library_hash(package_dir: Path = Path(__file__).resolve().parent,
                 extra: tuple = (paths.ROOT / "requirements.txt",)) -> str:
    """sha256 over voltlib/*.py (names and contents, BUILD_ONLY left out) and the pinned requirements."""
    h = hashlib.sha256()
    sources = [f for f in sorted(Path(package_dir).glob("*.py")) if f.name not in BUILD_ONLY]
    for f in sources + [Path(e) for e in extra if Path(e).exists()]:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def profile_parameters(profile: str) -> dict:
    """The papermill parameters of a profile (what replaces the notebook's parameters cell)."""
    return {"profile": profile}


def notebook_stamp(source: Path, params: dict, lib_hash: str, previous: str, config: str = "") -> str:
    """The stamp of one notebook (see the module docstring)."""
    h = hashlib.sha256()
    for part in (Path(source).read_bytes(), json.dumps(params, sort_keys=True).encode(),
                 config.encode(), lib_hash.encode(), previous.encode()):
        h.update(part + b"\0")
    return h.hexdigest()


def plan(profile: str, notebooks_dir: Path = paths.NOTEBOOKS, build_dir: Path | None = None,
         lib_hash: str | None = None) -> list[Step]:
    """Every notebook's step with its stamp, in run order."""
    build_dir = Path(build_dir) if build_dir else paths.build_dir(profile)
    lib_hash = lib_hash if lib_hash is not None else library_hash()
    params = profile_parameters(profile)
    try:
        config = config_hash(get_profile(profile))
    except ValueError:
        config = ""   # tests use throwaway profile names; the parameters still enter the stamp
    steps, previous = [], ""
    for src in discover(notebooks_dir):
        stamp = notebook_stamp(src, params, lib_hash, previous, config)
        steps.append(Step(src, build_dir / f"{src.stem}.ipynb", build_dir / f"{src.stem}.stamp.json", stamp))
        previous = stamp
    return steps


def is_up_to_date(step: Step) -> bool:
    """True when the executed copy exists and was made with this very stamp."""
    if not (step.executed.exists() and step.stamp_file.exists()):
        return False
    try:
        return json.loads(step.stamp_file.read_text()).get("stamp") == step.stamp
    except (ValueError, OSError):
        return False


def execute(step: Step, params: dict, kernel: str = KERNEL, cwd: Path | None = None) -> float:
    """Runs one notebook with papermill into its executed copy, atomically; returns seconds."""
    import jupytext
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    build_dir = step.executed.parent
    build_dir.mkdir(parents=True, exist_ok=True)
    # A stale copy must not survive a failed rerun and pass for the current one.
    for old in (step.stamp_file, step.executed, step.failed):
        old.unlink(missing_ok=True)
    converted = build_dir / f".{step.name}.input.ipynb"
    partial = build_dir / f".{step.name}.running.ipynb"
    jupytext.write(jupytext.read(step.source), converted, fmt="ipynb")
    os.environ.update(HEADLESS_ENV)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(converted), str(partial), parameters=params, kernel_name=kernel,
                            cwd=str(cwd or step.source.parent), progress_bar=False, log_output=False,
                            report_mode=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as err:
        os.replace(partial, step.failed)
        raise NotebookFailed(
            f"{step.source.name} failed in code cell {cell_number(step.failed, err.cell_index)} "
            f"(execution count {err.exec_count}): {err.ename}: {err.evalue}\n"
            f"The partial notebook with the traceback is {step.failed}. Fix the notebook or voltlib "
            f"and run the build again; notebooks before it are kept.") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        converted.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    os.replace(partial, step.executed)
    step.stamp_file.write_text(json.dumps({"stamp": step.stamp, "seconds": round(seconds, 2),
                                           "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    return seconds


def cell_number(notebook: Path, cell_index: int) -> str:
    """'N (`first line`)' of the failing cell: code cells counted from 1 as in the source notebook."""
    import nbformat
    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:
        return f"#{cell_index}"
    # papermill inserts an error banner and a parameters cell into its copy, so the index it reports
    # is not the source's: find the cell that holds the error output instead
    code = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    for k, cell in enumerate(code, 1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            return f"{k} (`{first[:70]}`)"
    return f"#{cell_index}"


def build(profile: str, notebooks_dir: Path = paths.NOTEBOOKS, build_dir: Path | None = None,
          results_dir: Path | None = None, kernel: str = KERNEL, lib_hash: str | None = None,
          progress=None, before: str | None = None) -> dict:
    """Runs every notebook that is not up to date, in order (only those ahead of `before` if given); writes and returns the timings."""
    progress = progress or _print
    steps = plan(profile, notebooks_dir, build_dir, lib_hash)
    if before is not None:
        names = [s.name for s in steps]
        if before not in names:
            raise ValueError(f"before={before!r} is not a notebook of {notebooks_dir}: expected one of {names}.")
        steps = steps[:names.index(before)]
    params = profile_parameters(profile)
    timings = {"profile": profile, "notebooks": {}, "total_s": 0.0, "executed_s": 0.0}
    t_start = time.perf_counter()
    for k, step in enumerate(steps, 1):
        head = f"[{k}/{len(steps)}] {step.name} ..."
        if is_up_to_date(step):
            stored = json.loads(step.stamp_file.read_text())
            timings["notebooks"][step.name] = {"seconds": stored.get("seconds"), "cached": True}
            progress(f"{head} up to date")
            continue
        progress(head, end=" ")
        seconds = execute(step, params, kernel)
        timings["notebooks"][step.name] = {"seconds": round(seconds, 2), "cached": False}
        timings["executed_s"] += seconds
        progress(f"{seconds:.1f} s")
    timings["total_s"] = round(time.perf_counter() - t_start, 2)
    timings["executed_s"] = round(timings["executed_s"], 2)
    from .store import write_json
    write_json(Path(results_dir or paths.results_dir(profile)) / "timings.json", timings)
    return timings


def _print(text: str, end: str = "\n") -> None:
    print(text, end=end, flush=True)


def main(argv=None) -> int:
    """Command line: build the notebooks of a profile and assemble the HTML report."""
    ap = argparse.ArgumentParser(description="Run the notebooks (incrementally) and assemble the report.")
    ap.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    ap.add_argument("--no-report", action="store_true", help="run the notebooks only")
    args = ap.parse_args(argv)
    get_profile(args.profile)  # an unknown profile fails here, before any work
    t0 = time.perf_counter()
    try:
        timings = build(args.profile)
    except NotebookFailed as err:
        print(f"\nBUILD FAILED: {err}", file=sys.stderr)
        return 1
    if not args.no_report:
        from . import report
        t1 = time.perf_counter()
        out = report.assemble(args.profile)
        print(f"report: {out.relative_to(paths.ROOT)} ({time.perf_counter() - t1:.1f} s)")
    print(f"done in {time.perf_counter() - t0:.1f} s "
          f"({timings['executed_s']:.1f} s executing notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
