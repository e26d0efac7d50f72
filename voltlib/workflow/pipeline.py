"""The build: runs notebooks/NN_*.py with papermill into build/<profile>/, incrementally, then the report.

Incremental rule (a stamp per notebook, stored beside its executed copy as NN_name.stamp.json):

    stamp(n) = sha256(source of n, the profile's parameters and configuration, the voltlib modules n
                      runs (those it imports, transitively: paths.modules_used) and requirements.txt)

A notebook is up to date when its executed copy exists, its stored stamp equals the stamp computed
now, and what its record holds is unchanged:
- its outputs: the files under results/<profile>/ and report/<profile>/figures/ modified while it
  ran, each by its sha256; a results file it shares with other notebooks (ladder.json, which 03-05
  fill) by the fingerprint of its own keys in it (parts);
- its caches: the files under data/ it read or wrote through voltlib.store (which also still match
  their own checksums). A changed cache reruns the notebook, whose read of it then says what was
  wrong in one line and rebuilds it;
- its inputs: for each results file it reads, the fingerprint of what the notebooks before it wrote
  there, as voltlib.paper.inputs declares (WRITES, READS), wall times left out (inputs.VOLATILE_KEYS).
So editing a module reruns only the notebooks that import it, and a rerun notebook reruns a later
one only when what it wrote and the later one reads has changed: a figure function's edit reruns
the notebooks that draw with it. The record also lists the results files the notebook read, which
a smoke build checks against the declaration. A notebook the declaration does not know (a new one,
a test's) is chained instead: the stamp of the notebook before it enters its stamp, and once a
notebook has run every such later notebook reruns. The abstract (00_abstract) reads every result,
so it runs last and is placed first in the report.

Atomicity: a notebook executes into a temporary file that is renamed onto build/<profile>/NN_name.ipynb
only on success, and its stamp is written after that rename; a failure leaves the partial
notebook as NN_name.failed.ipynb (never taken as done) and stops the build naming the cell.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from voltlib import paths
from voltlib.cli import BuildFailed, run_cli
from voltlib.config import config_hash, get_profile
from voltlib.paper import inputs
from voltlib.paths import BUILD_ONLY, discover, library_hash  # noqa: F401 (BUILD_ONLY: the stamp's rule, tested here)
from voltlib.store import (
    BUILD_PID_ENV,
    CHECKSUM_SUFFIX,
    FILE_LOG_ENV,
    MESSAGE_LOG_ENV,
    MISMATCH,
    READ_LOG_ENV,
    atomic_path,
    remove,
    sha256_of,
    shown,
    verify,
    write_json,
)
from voltlib.workflow.fanout import (
    SCHEDULER_ENV,
    WORKERS_ENV,
    Options,
)

KERNEL = "voltlib"
# A kernel logs only what is critical to the build's terminal. A stop shuts it down while it may still
# answer a request, and it logged that at ERROR ("Exception in message handler ... ZMQError: Socket
# operation on non-socket", 22 lines); a cell's own error reaches the build through the notebook.
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]

# Kernels inherit these: notebooks and voltlib stay quiet (no progress bars) when headless, and
# figures display inline even if the caller (the Makefile) chose Agg for plain Python.
HEADLESS_ENV = {
    "VOLTLIB_HEADLESS": "1",
    "TQDM_DISABLE": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


FIX_CODE = "Fix the notebook or voltlib"
# what to do about a notebook's error that is not in its code: the error's name -> the advice
FAILURE_ADVICE = {
    "PermissionError": "A file or folder it writes (named above) is not writable by you: make it writable "
    "(chmod u+w, or chown it back), or remove it,",
}


class NotebookFailed(BuildFailed):
    """A notebook raised during execution; the message names the notebook and the cell."""


@dataclass
class Step:
    """One notebook of the build: its source, where its executed copy goes, and its stamp."""

    source: Path
    executed: Path
    stamp_file: Path
    stamp: str
    declared: bool = False  # a notebook of voltlib.paper.inputs' declaration

    @property
    def name(self) -> str:
        return self.source.stem

    @property
    def failed(self) -> Path:
        return self.executed.with_name(self.name + ".failed.ipynb")


def profile_parameters(profile: str) -> dict:
    """The papermill parameters of a profile (what replaces the notebook's parameters cell)."""
    return {"profile": profile}


def notebook_stamp(source: Path, params: dict, lib_hash: str, previous: str, config: str = "") -> str:
    """The stamp of one notebook (see the module docstring)."""
    h = hashlib.sha256()
    for part in (
        Path(source).read_bytes(),
        json.dumps(params, sort_keys=True).encode(),
        config.encode(),
        lib_hash.encode(),
        previous.encode(),
    ):
        h.update(part + b"\0")
    return h.hexdigest()


def plan(
    profile: str,
    notebooks_dir: Path = paths.NOTEBOOKS,
    build_dir: Path | None = None,
    lib_hash: str | None = None,
    package_dir: Path = paths.PACKAGE_DIR,
) -> list[Step]:
    """Every notebook's step with its stamp, in run order. lib_hash: one library hash for every
    notebook (tests), instead of the hash of the modules each one imports from package_dir."""
    build_dir = Path(build_dir) if build_dir else paths.build_dir(profile)
    params = profile_parameters(profile)
    try:
        config = config_hash(get_profile(profile))
    except ValueError:
        config = ""  # tests use throwaway profile names; the parameters still enter the stamp
    graph = paths.import_graph(package_dir) if lib_hash is None else None
    steps, previous = [], ""
    for src in discover(notebooks_dir):
        lib = lib_hash if lib_hash is not None else notebook_library_hash(src, graph, package_dir)
        declared = inputs.declared(src.stem)
        # a notebook of the paper has its inputs checked one by one; one the build does not know reads,
        # as far as the build can tell, everything the notebook before it read or wrote
        stamp = notebook_stamp(src, params, lib, "" if declared else previous, config)
        steps.append(Step(src, build_dir / f"{src.stem}.ipynb", build_dir / f"{src.stem}.stamp.json", stamp, declared))
        previous = stamp
    return steps


def notebook_library_hash(source: Path, graph: dict | None = None, package_dir: Path = paths.PACKAGE_DIR) -> str:
    """The hash of the voltlib modules a notebook runs (paths.modules_used); all of voltlib for one
    that does not parse as Python."""
    try:
        used = paths.modules_used(source, package_dir, graph)
    except SyntaxError:
        return library_hash(package_dir)
    return paths.modules_hash(used, package_dir)


def output_dirs(profile: str, results_dir: Path | None = None) -> tuple[Path, ...]:
    """The folders whose files a notebook's run records as its outputs: results/<profile>/, its figures."""
    return Path(results_dir) if results_dir else paths.RESULTS / profile, paths.REPORT / profile / "figures"


RECORDED = ("outputs", "caches")  # the files a stamp record holds, {path: sha256} each
# and, for a declared notebook, fingerprints of parts of results files ({path: inputs.fingerprint}):
# its own keys in the files it shares, and what the notebooks before it wrote into the files it reads
PARTS = ("parts", "inputs")
CHANGED_PART = "changed since it ran (its own keys in the file)"
CHANGED_INPUT = "changed since it ran (what the notebooks before it wrote there)"


def read_stamp(step: Step) -> dict | None:
    """The stored stamp record {stamp, seconds, finished, outputs, caches}, or None if absent or unreadable."""
    try:
        record = json.loads(step.stamp_file.read_text())
    except (ValueError, OSError):
        return None
    return record if isinstance(record, dict) else None


def _digest(path: Path, memo: dict | None) -> str:
    """sha256 of a file, computed once per build for the same (path, size, mtime) when memo is a dict."""
    if memo is None:
        return sha256_of(path)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in memo:
        memo[key] = sha256_of(path)
    return memo[key]


def recorded_problems(step: Step, memo: dict | None = None) -> list[tuple[Path, str, str]]:
    """(file, what is wrong, 'outputs' or 'caches') for every file of the stamp record now missing or changed."""
    record, problems = read_stamp(step) or {}, []
    for kind in RECORDED:
        for name, digest in (record.get(kind) or {}).items():
            path = paths.ROOT / name  # a recorded path outside the project is absolute
            if not path.is_file():
                problems.append((path, "is missing", kind))
                continue
            now = _digest(path, memo)
            if now != digest:
                problems.append((path, MISMATCH, kind))
            elif kind == "caches" and (wrong := verify(path, now)):  # its own sidecar was removed or altered
                problems.append((path, wrong, kind))
    if step.declared:
        for kind, now_of in (("parts", inputs.part_fingerprints), ("inputs", inputs.input_fingerprints)):
            recorded = record.get(kind) or {}
            folders = {(paths.ROOT / name).parent for name in recorded}
            current = {shown(f / file): fp for f in folders for file, fp in now_of(step.name, f).items()}
            for name, fp in recorded.items():
                if current.get(name) != fp:
                    problems.append((paths.ROOT / name, CHANGED_PART if kind == "parts" else CHANGED_INPUT, kind))
    return problems


def made_with_stamp(step: Step) -> bool:
    """True when the executed copy exists and was made with this very stamp, its files recorded."""
    record = read_stamp(step)
    # a stamp from before files were recorded has none to check, so it counts as stale
    return (
        step.executed.exists()
        and record is not None
        and record.get("stamp") == step.stamp
        and all(kind in record for kind in RECORDED + (PARTS if step.declared else ()))
    )


def is_up_to_date(step: Step) -> bool:
    """True when the notebook was made with this very stamp and every file it recorded is unchanged."""
    return made_with_stamp(step) and not recorded_problems(step)


def written_since(folders, t0_ns: int) -> list[Path]:
    """The files under folders modified at or after t0_ns (time.time_ns()), hidden temporary files left out."""
    found = []
    for folder in map(Path, folders):
        if folder.is_dir():
            found += [
                f
                for f in folder.rglob("*")
                if f.is_file() and not f.name.startswith(".") and f.stat().st_mtime_ns >= t0_ns
            ]
    return sorted(found)


def _write_stamp(step: Step, record: dict) -> None:
    with atomic_path(step.stamp_file, checksum=False) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")


def execute(
    step: Step,
    params: dict,
    kernel: str = KERNEL,
    cwd: Path | None = None,
    outputs: tuple = (),
    messages: list | None = None,
    env: dict | None = None,
) -> float:
    """Runs one notebook with papermill into its executed copy, atomically; returns seconds.

    outputs: folders whose files written during the run are recorded, with their sha256, in the
    stamp, as are the other files it read or wrote through voltlib.store (its caches). messages:
    receives the one-line cache messages (store.announce) the notebook printed.
    """
    import jupytext
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    env = {**home_fallbacks(), **(env or {})}
    build_dir = step.executed.parent
    build_dir.mkdir(parents=True, exist_ok=True)
    # A stale copy must not survive a failed rerun and pass for the current one.
    for old in (step.stamp_file, step.executed, step.failed):
        old.unlink(missing_ok=True)
    converted = build_dir / f".{step.name}.input.ipynb"
    partial = build_dir / f".{step.name}.running.ipynb"
    jupytext.write(jupytext.read(step.source), converted, fmt="ipynb")
    log, files_log = build_dir / f".{step.name}.messages", build_dir / f".{step.name}.files"
    reads_log = build_dir / f".{step.name}.reads"
    for f in (log, files_log, reads_log):
        f.unlink(missing_ok=True)
    # the kernel inherits these (env: for this kernel only)
    saved = {k: os.environ.get(k) for k in env or {}}
    logs = {
        MESSAGE_LOG_ENV: str(log),
        FILE_LOG_ENV: str(files_log),
        READ_LOG_ENV: str(reads_log),
        BUILD_PID_ENV: str(os.getpid()),
    }
    os.environ.update(HEADLESS_ENV, **(env or {}), **logs)
    results = Path(outputs[0]) if outputs else None  # output_dirs: the results folder first
    before = inputs.input_fingerprints(step.name, results) if step.declared and results else {}
    t0, t0_ns = time.perf_counter(), time.time_ns()
    try:
        pm.execute_notebook(
            str(converted),
            str(partial),
            parameters=params,
            kernel_name=kernel,
            cwd=str(cwd or step.source.parent),
            progress_bar=False,
            log_output=False,
            report_mode=False,
            extra_arguments=KERNEL_ARGS,
            kernel_manager_class=quiet_kernel_manager(),
        )
    except PapermillExecutionError as err:
        os.replace(partial, step.failed)
        raise NotebookFailed(
            f"{step.source.name} failed in code cell {cell_number(step.failed, err.cell_index)} "
            f"(execution count {err.exec_count}): {err.ename}: {err.evalue}\n"
            f"The partial notebook with the traceback is {step.failed}. "
            f"{FAILURE_ADVICE.get(err.ename, FIX_CODE)} and run the build again; notebooks before it are kept."
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        converted.unlink(missing_ok=True)
        for name in logs:
            os.environ.pop(name, None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if messages is not None and log.exists():
            messages += log.read_text().splitlines()
        used = set(files_log.read_text().splitlines()) if files_log.exists() else set()
        read = set(reads_log.read_text().splitlines()) if reads_log.exists() else set()
        for f in (log, files_log, reads_log):
            f.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    folders = [Path(o).resolve() for o in outputs]
    # a file it shares with other notebooks is checked by its own part of it (parts), not whole
    shared = {shown(results / f) for f in inputs.shared_files(step.name)} if step.declared and results else set()
    written = {
        shown(f): sha256_of(f)
        for f in written_since(outputs, t0_ns)
        if shown(f).removesuffix(CHECKSUM_SUFFIX) not in shared  # nor its checksum's sidecar
    }
    caches = {
        shown(f): sha256_of(f)
        for f in map(Path, sorted(used))  # a removed checkpoint is not one
        if f.is_file() and not any(f.is_relative_to(o) for o in folders)
    }
    record = {
        "stamp": step.stamp,
        "seconds": round(seconds, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "outputs": written,
        "caches": caches,
        # the results files it read (through voltlib.store), which its declaration must name
        "read": sorted(shown(f) for f in map(Path, read) if any(f.is_relative_to(o) for o in folders)),
    }
    if step.declared and results:
        record["parts"] = {shown(results / f): fp for f, fp in inputs.part_fingerprints(step.name, results).items()}
        record["inputs"] = {shown(results / f): fp for f, fp in before.items()}
    os.replace(partial, step.executed)
    _write_stamp(step, record)
    return seconds


def home_fallbacks() -> dict:
    """IPYTHONDIR and MPLCONFIGDIR in a folder of this user's under /tmp when HOME is not writable.

    Else each kernel's IPython and matplotlib warn that they use a temporary directory (11 lines in a
    smoke build), on the terminal between the progress lines. Set ones are kept.
    """
    if os.access(Path.home(), os.W_OK):
        return {}
    base = Path(tempfile.gettempdir()) / f"voltlib-home-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    wanted = {"IPYTHONDIR": base / "ipython", "MPLCONFIGDIR": base / "matplotlib"}
    return {k: str(v) for k, v in wanted.items() if not os.environ.get(k)}


@functools.cache
def quiet_kernel_manager() -> type:
    """jupyter_client's kernel manager without the SIGINT it sends a kernel before asking it to shut down."""
    from jupyter_client import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            # papermill shuts a kernel down after its last cell, and the SIGINT that jupyter_client sends
            # first made ipykernel log "KeyboardInterrupt caught in kernel" into builds nobody
            # interrupted. A kernel stopped mid-cell (Ctrl-C, SIGTERM) is still ended: jupyter_client
            # sends its process group SIGTERM, then SIGKILL, when it does not exit within shutdown_wait_time.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


# execute()'s converted input (.NN_name.input.ipynb) and partial output (.NN_name.running.ipynb)
TEMPORARIES = (".*.input.ipynb", ".*.running.ipynb")


def clear_leftovers(build_dir: Path) -> None:
    """Removes the temporaries of a build killed before it could (SIGKILL, a power cut)."""
    for pattern in TEMPORARIES:
        for stale in Path(build_dir).glob(pattern):
            stale.unlink(missing_ok=True)


def refresh_records(earlier: list[Step], record: dict) -> None:
    """Updates, in the stamps of earlier notebooks, the recorded hash of each file a notebook's record holds.

    A file several notebooks write (ladder.json) must match each writer's record after the last one ran.
    """
    now = {k: v for kind in RECORDED for k, v in (record.get(kind) or {}).items()}
    for step in earlier:
        old = read_stamp(step)
        if old is None:
            continue
        new = {kind: {k: now.get(k, v) for k, v in (old.get(kind) or {}).items()} for kind in RECORDED}
        if any(new[kind] != old.get(kind) for kind in RECORDED if kind in old):
            _write_stamp(step, {**old, **new})


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


def build(
    profile: str,
    notebooks_dir: Path = paths.NOTEBOOKS,
    build_dir: Path | None = None,
    results_dir: Path | None = None,
    kernel: str = KERNEL,
    lib_hash: str | None = None,
    progress=None,
    outputs: tuple | None = None,
    before: str | None = None,
    fanout=None,
) -> dict:
    """Runs every notebook that is not up to date, in order (only those ahead of `before` if given); writes and returns the timings.

    outputs: the folders a notebook's outputs are recorded from (default output_dirs(profile, results_dir)).
    fanout: a voltlib.workflow.fanout.Options: once the simulation exists (after FANOUT_AFTER), the missing
    trainings run on Dask while the notebooks go on, and each notebook waits for the fits it reads.
    None, or Options(workers=1): every notebook trains its own models in-process.
    """
    progress = progress or _print
    steps = plan(profile, notebooks_dir, build_dir, lib_hash)
    with build_lock(steps[0].executed.parent, progress):
        if fanout is not None and not fanout.in_process:
            from voltlib.workflow.fanout import FanOut

            fan = FanOut(get_profile(profile), fanout, say=progress, library=library_hash())
            with fan:
                return _build(profile, steps, results_dir, kernel, progress, outputs, before, fan)
        return _build(profile, steps, results_dir, kernel, progress, outputs, before, None)


def lock_file(build_dir: Path) -> Path:
    """build/.<profile>.lock: held by the build of that root and profile (beside its folder, not in it)."""
    return Path(build_dir).parent / f".{Path(build_dir).name}.lock"


@contextlib.contextmanager
def build_lock(build_dir: Path, say):
    """Holds build_dir's lock for the block; a second build of the same root and profile waits, saying so.

    Two builds side by side would each train every missing model and write the same notebooks and
    results; the second one instead starts when the first ends, and finds its work done. The lock is
    the kernel's (flock): a build that dies, even by SIGKILL, releases it.
    """
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_file(build_dir).resolve()
    if lock in _held:  # this process holds it already (main holds it over the build and the report)
        yield
        return
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()
            say(
                f"another build of {shown(build_dir)} is running{f' (process {holder})' if holder else ''}: "
                "waiting for it to finish (Ctrl-C to stop waiting)"
            )
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        _held.add(lock)
        try:
            yield
        finally:
            _held.discard(lock)
            fcntl.flock(fh, fcntl.LOCK_UN)


_held: set = set()  # the lock files this process holds


# the notebook after which the fan-out starts: the one that simulates (the fits' data)
FANOUT_AFTER = "01_simulate"


def _build(profile, steps, results_dir, kernel, progress, outputs, before, fan) -> dict:
    """build()'s loop over the notebooks, with the fan-out `fan` (or None) started after FANOUT_AFTER."""
    clear_leftovers(steps[0].executed.parent)
    if before is not None:
        names = [s.name for s in steps]
        if before not in names:
            raise ValueError(
                f"before={before!r} is not a notebook of {steps[0].source.parent}: expected one of {names}."
            )
        steps = steps[: names.index(before)]
    params = profile_parameters(profile)
    outputs = output_dirs(profile, results_dir) if outputs is None else outputs
    timings = {"profile": profile, "notebooks": {}, "total_s": 0.0, "executed_s": 0.0}
    t_start = time.perf_counter()
    started = fan is None
    rerun_rest = False  # once a notebook runs, every later one reads what it wrote
    memo: dict[tuple[str, int, int], str] = {}  # each unchanged file is hashed once per build
    for k, step in enumerate(steps, 1):
        head = f"[{k}/{len(steps)}] {step.name} ..."
        if not started and k > 1 and steps[k - 2].name == FANOUT_AFTER:
            from voltlib.sim.simulate import simulate

            fan.start(simulate(get_profile(profile).sim, progress=False))
            started = True
        waited = 0.0
        if fan is not None:
            t_wait = time.perf_counter()
            fan.wait_for(step.name)
            waited = round(time.perf_counter() - t_wait, 2)
        # after a rerun, a later notebook the build does not know is rerun whatever its record says (its
        # files differ from it by the build's own doing); a declared one is checked part by part
        chained = rerun_rest and not step.declared
        problems = [] if chained else recorded_problems(step, memo)
        if not chained and not problems and made_with_stamp(step):
            timings["notebooks"][step.name] = {"seconds": (read_stamp(step) or {}).get("seconds"), "cached": True}
            progress(f"{head} up to date")
            continue
        # said once, naming the file; a changed cache is said by the notebook itself when it reads it
        said = [(path, problem) for path, problem, kind in problems if kind != "caches" or problem == "is missing"]
        if said:
            more = f" (and {len(said) - 1} more of its files)" if len(said) > 1 else ""
            after = "" if step.declared else " and the notebooks after it"
            progress(f"{shown(said[0][0])} {said[0][1]}{more}; rerunning {step.name}{after}")
        for path, problem, kind in problems:
            if kind == "outputs" and problem != "is missing":
                remove(path)  # a damaged output must not be read back (update_json) as a start
        progress(head, end=" ")
        messages: list[str] = []  # cache damage the notebook found and repaired, one line each
        try:
            # while fits train beside it, a kernel with its own thread pool would oversubscribe the cores
            env = {"OMP_NUM_THREADS": "1"} if fan is not None and fan.busy() else None
            seconds = execute(step, params, kernel, outputs=outputs, messages=messages, env=env)
        except BaseException:
            if messages:
                progress("\n" + "\n".join(f"  {m}" for m in messages))
            raise
        progress(f"{seconds:.1f} s")
        for m in messages:
            progress(f"  {m}")
        refresh_records(steps[: k - 1], read_stamp(step) or {})
        rerun_rest = True
        timings["notebooks"][step.name] = {"seconds": round(seconds, 2), "cached": False, "waited_for_fits_s": waited}
        timings["executed_s"] += seconds
    if fan is not None:
        fan.wait_for(None)  # every fit, also those of notebooks that were up to date
        timings["fanout"] = fan.summary()
    timings["total_s"] = round(time.perf_counter() - t_start, 2)
    timings["executed_s"] = round(timings["executed_s"], 2)
    write_json(Path(results_dir or paths.results_dir(profile)) / "timings.json", timings)
    return timings


_print_lock = threading.Lock()
_line_open = [False]


def _print(text: str, end: str = "\n") -> None:
    """Prints progress; a line another thread prints (the fan-out's) starts below a line left open."""
    with _print_lock:
        if _line_open[0] and threading.current_thread() is not threading.main_thread():
            text = "\n" + text
            _line_open[0] = False
        print(text, end=end, flush=True)
        if threading.current_thread() is threading.main_thread():
            _line_open[0] = end != "\n"


# A stop that lands while the embedded cluster starts or stops a worker can leave one of multiprocessing's
# semaphores behind; its resource tracker (a process of its own) then removes it and says so in a
# UserWarning, printed after the build's one-line stop message. The tracker still cleans up, so the build
# keeps its stop to that one line (make test-scheduler's stop storm checks it).
QUIET_RESOURCE_TRACKER = "ignore:resource_tracker:UserWarning"


def quiet_resource_tracker() -> None:
    """Adds QUIET_RESOURCE_TRACKER to PYTHONWARNINGS, which the tracker and every process started later read."""
    current = os.environ.get("PYTHONWARNINGS", "")
    if QUIET_RESOURCE_TRACKER not in current.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [current, QUIET_RESOURCE_TRACKER]))


def main(argv=None) -> int:
    """Command line: build the notebooks of a profile and assemble the HTML report."""
    quiet_resource_tracker()
    ap = argparse.ArgumentParser(description="Run the notebooks (incrementally) and assemble the report.")
    ap.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    ap.add_argument("--no-report", action="store_true", help="run the notebooks only")
    ap.add_argument(
        "--scheduler",
        default=None,
        help=f"train on the Dask scheduler at this address (tcp://host:8786; default ${SCHEDULER_ENV})",
    )
    ap.add_argument(
        "--workers",
        default=None,
        help=f"worker processes of the local cluster (default ${WORKERS_ENV}, else one per core); 1: no Dask",
    )
    args = ap.parse_args(argv)
    # what the user chose is checked here, once and before any work: an unknown profile, WORKERS or
    # SCHEDULER, and a VOLTLIB_DEVICE this machine lacks (else each notebook that trains said it again)
    get_profile(args.profile)
    options = Options.from_env(args.scheduler, args.workers)
    if os.environ.get("VOLTLIB_DEVICE", "").strip():
        from voltlib.device import pick_device

        pick_device(None, verbose=False)
    t0 = time.perf_counter()
    with build_lock(paths.build_dir(args.profile), _print):  # the report too: a second build waits for it
        timings = build(args.profile, fanout=options)
        if not args.no_report:
            from voltlib.workflow import report

            t1 = time.perf_counter()
            out = report.assemble(args.profile)
            print(f"report: {out.relative_to(paths.ROOT)} ({time.perf_counter() - t1:.1f} s)")
    fan = timings.get("fanout")
    if fan and (
        fan["fits_trained"] or fan.get("family_trained") or fan.get("states_computed") or fan.get("observer_computed")
    ):
        print(
            f"fan-out: {fan['fits_trained']} fit(s) "
            + ("and notebook 08's staircase family " * bool(fan.get("family_trained")))
            + f"trained and {fan.get('states_computed', 0)} network state(s) "
            + ("and the observer " * bool(fan.get("observer_computed")))
            + f"computed on {fan['engine']} in {fan['wall_s']:.0f} s"
        )
    print(f"done in {time.perf_counter() - t0:.1f} s ({timings['executed_s']:.1f} s executing notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
