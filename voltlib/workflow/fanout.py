"""The fan-out: every missing training of a profile as a task on a Dask cluster, beside the notebooks.

A task is one fit of the ladder (forecast.fits), notebook 08's whole staircase family (FamilyJob), or a
long product (a network state's, the observer's) when the committed archive lacks it.

    make report                            an embedded LocalCluster: one single-threaded worker per core
    make report WORKERS=3                  ... with 3 workers
    make report SCHEDULER=tcp://host:8786  an existing scheduler (dask-jobqueue, dask-cuda, `dask worker`)
    make report WORKERS=1                  no cluster: each notebook trains its own models in-process

The build (voltlib.workflow.pipeline) starts the fan-out once the simulation exists and, before each notebook,
waits for the fits that notebook reads (`FitSpec.notebook`), so the trainings run while notebook 02
fits its baselines and while the earlier notebooks score what is done.

A task receives its spec and the simulation's voltages (scattered once), cuts its dataset, trains
with the seeds of its spec (so where and in which order it runs does not change its weights), and
returns the weights as safetensors bytes with the training record. Only this process writes the
cache, atomically and with checksums (train.save_trained): workers need no shared disk, and a stop
(Ctrl-C, SIGTERM) leaves no half-written entry. Workers of the embedded cluster share this disk, so
they checkpoint every epoch into the cache folder as an in-process training does, and a stopped
build resumes them; a remote worker checkpoints into its own temporary folder.

A fit that fails is reported with its spec and the worker's traceback; the others finish and are
cached, then the build stops, and a rerun trains only what is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from voltlib import paths
from voltlib.cli import BuildFailed
from voltlib.config import ConfigError
from voltlib.paths import library_hash

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from voltlib.forecast.fits import FitSpec

SCHEDULER_ENV = "VOLTLIB_SCHEDULER"
# what Dask's Client accepts as a scheduler: protocol://host[:port] or host:port (IPv6 hosts in brackets)
SCHEDULER_ADDRESS = re.compile(
    r"^(?:(?:tcp|tls|ucx|ws|wss|inproc)://(?:\[[0-9A-Fa-f:]+\]|[\w.-]+)(?::\d{1,5})?"
    r"|(?:\[[0-9A-Fa-f:]+\]|[\w.-]+):\d{1,5})/?$"
)
WORKERS_ENV = "VOLTLIB_WORKERS"


class FitsFailed(BuildFailed):
    """One or more fits raised on their workers; the message names each with its traceback."""


class SchedulerUnreachable(BuildFailed):
    """No Dask scheduler answered at the address given."""


class WrongLibrary(RuntimeError):
    """A worker runs other voltlib code than the client (a stale install on a cluster node)."""


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


@dataclass
class Options:
    """Where the fits run: an existing scheduler's address, or an embedded cluster of `workers` processes."""

    scheduler: str | None = None
    workers: int | None = None  # None: one per core
    threads_per_worker: int = 1
    dashboard: str = ":8787"  # the embedded cluster's dashboard; a busy port falls back to a free one

    @classmethod
    def from_env(cls, scheduler: str | None = None, workers: str | int | None = None) -> Options:
        """Options from command-line values, else VOLTLIB_SCHEDULER / VOLTLIB_WORKERS, else the defaults."""
        scheduler = (scheduler or os.environ.get(SCHEDULER_ENV) or "").strip() or None
        if scheduler and not SCHEDULER_ADDRESS.match(scheduler):
            raise ConfigError(
                f"SCHEDULER={scheduler!r} is not the address of a Dask scheduler: expected protocol://host:port "
                "such as tcp://10.0.0.5:8786 (what `dask scheduler` prints). Pass that, or leave SCHEDULER out "
                "for a local cluster."
            )
        raw = workers if workers not in (None, "") else os.environ.get(WORKERS_ENV, "")
        n = None
        if str(raw).strip():
            try:
                n = int(str(raw))
            except ValueError:
                n = 0
            if n < 1:
                raise ConfigError(
                    f"WORKERS={raw!r} is not a number of workers: expected a whole number >= 1 (1 trains "
                    "in-process, without Dask). Pass e.g. WORKERS=2, or leave it out for one per core."
                )
        if scheduler and n is not None:
            raise ConfigError(
                f"SCHEDULER={scheduler} and WORKERS={n} were both given: an existing scheduler brings its own "
                "workers. Pass one of them."
            )
        return cls(scheduler=scheduler, workers=n)

    @property
    def in_process(self) -> bool:
        """True when no cluster is wanted: WORKERS=1 without a scheduler."""
        return self.scheduler is None and self.workers == 1

    def describe(self) -> str:
        if self.scheduler:
            return f"the scheduler at {self.scheduler}"
        n = self.workers or available_cores()
        return f"a local cluster of {n} worker process{'es' * (n > 1)} x {self.threads_per_worker} thread"


# ---------------------------------------------------------------- on the worker


def light_simulation(sim):
    """The simulation with only what datasets are cut from (config and voltages): what is sent to workers."""
    return dataclasses.replace(sim, spike_i=[], spike_t_ms=[], syn_i=[], syn_j=[])


def check_library(library: str | None) -> None:
    """On a worker: WrongLibrary if its voltlib is not the client's (library: the client's hash; None: no check)."""
    if library is not None:
        mine = library_hash()
        if mine != library:
            raise WrongLibrary(
                f"worker {socket.gethostname()} runs voltlib {mine[:12]} but the client runs {library[:12]}: "
                "install the same checkout on every worker (pip install -e . of the same commit) and restart them."
            )


def _worker() -> tuple[int, str]:
    """(threads, address) of the Dask worker running this task; this process's torch threads and "in-process"
    when called outside a worker (tests)."""
    try:
        from distributed import get_worker

        worker = get_worker()
        return worker.state.nthreads, worker.address
    except (ImportError, ValueError):
        import torch

        return torch.get_num_threads(), "in-process"


def train_on_worker(spec: FitSpec, sim, library: str | None = None, checkpoint_root: str | None = None) -> dict:
    """Runs on a worker: cuts the spec's dataset, trains it, returns {weights (bytes), info, worker, seconds}.

    library: the client's voltlib hash; a worker with other code refuses (WrongLibrary). checkpoint_root:
    a folder on the worker's disk to checkpoint into (and resume from), None for its temporary folder.
    """
    import torch

    from voltlib.device import pick_device
    from voltlib.forecast.train import fit, weights_bytes
    from voltlib.store import remove

    check_library(library)
    threads, name = _worker()
    t0 = time.perf_counter()
    device = pick_device(None, verbose=False)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    dataset = spec.dataset(sim)
    folder = spec.folder()
    root = Path(checkpoint_root) if checkpoint_root else Path(tempfile.gettempdir()) / "voltlib-checkpoints"
    checkpoint = root / folder.name / "checkpoint.pt"
    _, state, info = fit(
        spec.name, spec.model_cfg, spec.train_cfg, dataset, device, folder, dict(spec.variant) or None, checkpoint
    )
    if not checkpoint_root:  # the client keeps the result; a shared cache's checkpoint goes when it is written
        remove(checkpoint)
    return {"weights": weights_bytes(state), "info": info, "worker": name, "seconds": time.perf_counter() - t0}


@dataclass(frozen=True)
class StateJob:
    """A network state's product for notebook 09 (paper.across_states.compute_product: its baselines, its oracle
    ceiling and its staircase member), computed on a worker and cached by the client as a fit is."""

    profile: str
    state: str
    notebook: str = "09_network_states"

    @property
    def label(self) -> str:
        return f"state {self.state} (baselines, ceiling, staircase member)"

    def path(self) -> Path:
        from voltlib.config import get_profile
        from voltlib.paper.across_states import product_path

        return product_path(get_profile(self.profile), self.state)

    def compute(self) -> dict:
        from voltlib.config import get_profile
        from voltlib.paper.across_states import compute_product

        return compute_product(get_profile(self.profile), self.state)


@dataclass(frozen=True)
class ObserverJob:
    """Notebook 10's product (paper.observing.compute_product: the particle filters' and the oracle's ensembles,
    scored), computed on a worker and cached by the client as a state's product is."""

    profile: str
    notebook: str = "10_observer"

    @property
    def label(self) -> str:
        return "the observer (particle filters, oracle and persistence ensembles)"

    def path(self) -> Path:
        from voltlib.config import get_profile
        from voltlib.paper.observing import product_path

        return product_path(get_profile(self.profile))

    def compute(self) -> dict:
        from voltlib.config import get_profile
        from voltlib.paper.observing import compute_product
        from voltlib.sim.simulate import simulate

        cfg = get_profile(self.profile)
        return compute_product(cfg, simulate(cfg.sim, progress=False))


@dataclass(frozen=True)
class MeasuredJob:
    """Notebook 09's statistics of every network state (paper.across_states.compute_measured: each state
    simulated and measured), computed on a worker and archived by `make products`."""

    profile: str
    notebook: str = "09_network_states"

    @property
    def label(self) -> str:
        return "the network states' measured statistics"

    def path(self) -> Path:
        from voltlib.config import get_profile
        from voltlib.paper.across_states import measured_path

        return measured_path(get_profile(self.profile))

    def compute(self) -> dict:
        from voltlib.config import get_profile
        from voltlib.paper.across_states import compute_measured

        return compute_measured(get_profile(self.profile))


@dataclass(frozen=True)
class FamilyJob:
    """Notebook 08's staircase family (forecast.staircase.train_family: every member, every training seed),
    trained on a worker; the client caches each member's weights as it caches a fit's, then the family's record."""

    profile: str
    notebook: str = "08_reaching_the_ceiling"

    @property
    def label(self) -> str:
        return "notebook 08's staircase family"

    def path(self) -> Path:
        from voltlib.config import get_profile
        from voltlib.forecast.staircase import family_record_path

        return family_record_path(get_profile(self.profile))

    def compute(self) -> dict:
        import torch
        from threadpoolctl import threadpool_limits

        from voltlib.config import get_profile
        from voltlib.forecast.staircase import train_family
        from voltlib.forecast.train import fit_threads
        from voltlib.sim.simulate import simulate

        profile = get_profile(self.profile)
        with fit_threads(torch.device("cpu")), threadpool_limits(limits=1):
            return train_family(profile, simulate(profile.sim, progress=False))

    @staticmethod
    def save(product: dict) -> dict:
        """On the client: caches each member the worker trained (unless this disk already holds it intact: an
        embedded worker wrote it there) and returns the family's record, written last."""
        from voltlib.forecast.train import intact, save_trained

        for m in product["members"]:
            folder = paths.MODELS / "beyond" / m["folder"]
            if not intact(folder):
                save_trained(folder, m["weights"], m["info"])
        return product["record"]


PRODUCT_JOBS = (StateJob, ObserverJob, MeasuredJob, FamilyJob)
KINDS = {StateJob: "state", ObserverJob: "observer", MeasuredJob: "measured", FamilyJob: "family"}


def _kind(job) -> str:
    """What a task computes, as the build's timings name it: 'fit', 'state', 'observer', 'measured' or 'family'."""
    return KINDS.get(type(job), "fit")


def product_on_worker(job: StateJob | ObserverJob | MeasuredJob | FamilyJob, library: str | None = None) -> dict:
    """Runs on a worker: computes a product (a state's, the observer's), returns {product, worker, seconds}. Its
    own caches (runs, ceiling, weights) are written on the worker's disk along the way."""
    check_library(library)
    _, name = _worker()  # each product runs on one thread wherever it runs
    t0 = time.perf_counter()
    product = job.compute()
    return {"product": product, "worker": name, "seconds": time.perf_counter() - t0}


def dask_setup(worker) -> None:
    """Dask's preload hook, run in every worker process of the embedded cluster as it starts.

    The worker leaves the terminal's process group: a Ctrl-C there reaches the build, which stops the
    cluster, instead of every worker printing its own KeyboardInterrupt traceback (about 120 lines).
    A worker still ends with its nanny, also when the build is killed (its parent's pipe closes).
    """
    with contextlib.suppress(OSError):
        os.setpgrp()
    lost = SchedulerLost()
    for name in LOST_SCHEDULER_LOGGERS:
        logging.getLogger(name).addFilter(lost)


# the loggers through which a worker reports a broken connection (distributed 2026.x)
LOST_SCHEDULER_LOGGERS = ("distributed.worker", "distributed.core", "distributed.batched", "distributed.comm.tcp")


class SchedulerLost(logging.Filter):
    """Drops an embedded worker's reports that its scheduler went away.

    The embedded cluster's scheduler lives in the build's own process: a worker loses it only when the
    build stops the cluster (a Ctrl-C, a failed notebook, the end) or dies, and the build says so in one
    line of its own. A worker whose heartbeat was in flight as the scheduler closed printed a 57-line
    'Failed to communicate with scheduler during heartbeat ... StreamClosedError' (1 of 5 random Ctrl-Cs
    in CI's make test-scheduler). A broken connection reaches distributed's loggers as an OSError
    (CommClosedError, StreamClosedError, ConnectionRefusedError); a task's own error reaches the build
    through its future, never through these records, so nothing the build reports is lost.
    """

    MESSAGES = ("Unable to connect to scheduler", "Scheduler was unaware of this worker")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError):
            return False
        return not any(record.getMessage().startswith(m) for m in self.MESSAGES)


# ---------------------------------------------------------------- on the client


@dataclass
class Record:
    """What the fan-out did: per fit, where it ran and how long; failures with their tracebacks."""

    todo: int = 0
    done: list = field(default_factory=list)  # {label, worker, train_s, task_s, finished_s}
    failed: list = field(default_factory=list)  # {label, error, traceback}
    started: float = field(default_factory=time.perf_counter)
    wall_s: float = 0.0
    disk_full: str = ""  # why the client could not save a trained fit; every later save would fail alike


@contextlib.contextmanager
def _environment_kept():
    """Restores this process's environment after the block.

    A Dask nanny sets its workers' environment (distributed.nanny.pre-spawn-environ: OMP_NUM_THREADS=1,
    MKL_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_=65536, ...) in the process that starts them, and leaves it
    there: every notebook kernel the build started afterwards ran on one thread, also once the fits were
    done, and with the allocator setting that made training page-fault.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


@contextlib.contextmanager
def _stops_held():
    """Holds SIGINT and SIGTERM back while the embedded cluster starts; one that came is delivered after.

    The worker processes started meanwhile inherit the blocked mask, so a terminal's Ctrl-C reaches
    the build and not each worker importing torch (their KeyboardInterrupt tracebacks); and the
    cluster is never left half-started, which Dask's exit hook then failed to close ("AssertionError:
    Status.init"). A stop waits at most the seconds the workers take to start.
    """
    stops = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _free_port(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class FanOut:
    """Trains a profile's missing fits on a Dask client while the build goes on; see the module docstring.

    Use as a context manager (closing stops the cluster it started and cancels what is still running):

        with FanOut(profile, options, say=print) as fan:
            fan.start(sim)
            fan.wait_for("03_baseline_lstm")
    """

    def __init__(self, profile, options: Options | None = None, say=print, library: str | None = None):
        self.profile = profile
        self.options = options or Options()
        self.say = say
        self.library = library
        self.record = Record()
        self.client: Client | None = None
        self.cluster: LocalCluster | None = None  # the embedded cluster, when no scheduler is given
        self._pending: dict = {}  # future -> FitSpec, StateJob or ObserverJob
        self._finished = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False

    def __enter__(self) -> FanOut:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- starting
    def _connect(self):
        from distributed import Client, LocalCluster

        o = self.options
        if self.client is not None:
            return
        if o.scheduler:
            try:
                self.client = Client(o.scheduler, timeout="20s")
            except OSError as err:
                raise SchedulerUnreachable(
                    f"no Dask scheduler answered at SCHEDULER={o.scheduler} ({err}). Start one (`dask scheduler`) "
                    "and its workers, check the address, or leave SCHEDULER out for a local cluster."
                ) from None
            return
        port = o.dashboard
        if port.startswith(":") and port[1:].isdigit() and not _free_port(int(port[1:])):
            port = ":0"
        import dask

        # a worker holds one task at a time (Dask's default of 1.1 gives a one-thread worker two): the rest wait
        # in the scheduler's queue, by priority, for whichever worker frees first. With two held, a worker that
        # finished its own tasks sat idle while another's second task waited behind its first (measured: a quick
        # `make products` of 4 tasks on 2 workers took 20.8 min where 13.5 would do)
        with _environment_kept(), _stops_held(), dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            self.cluster = LocalCluster(
                n_workers=o.workers or available_cores(),
                threads_per_worker=o.threads_per_worker,
                processes=True,
                dashboard_address=port,
                local_directory=tempfile.gettempdir(),
                silence_logs=logging.ERROR,
                preload=[__name__],  # dask_setup, in each worker
            )
        self.client = Client(self.cluster)

    def connect(self) -> Client:
        """The Dask client: connects to the scheduler, or starts the embedded cluster, if not done yet."""
        self._connect()
        assert self.client is not None  # _connect made it, or raised
        return self.client

    def start(
        self,
        sim,
        specs: list[FitSpec] | None = None,
        states: list[str] | None = None,
        observer: bool | None = None,
        family: bool | None = None,
    ) -> int:
        """Submits every missing fit, notebook 08's family if not trained, every missing state product of notebook
        09 and notebook 10's product if missing (or the fits of `specs`, the states of `states`, the observer if
        `observer` and the family if `family`, none unless given); returns how many. Nothing to do starts no
        cluster."""
        from voltlib.forecast.fits import missing

        todo = missing(self.profile) if specs is None else list(specs)
        if states is None and specs is None:
            from voltlib.forecast.staircase import family_missing
            from voltlib.paper.across_states import missing_products  # (its baselines set KMP_* variables here)
            from voltlib.paper.observing import missing_product

            states = missing_products(self.profile)
            observer = missing_product(self.profile) if observer is None else observer
            family = family_missing(self.profile) if family is None else family
        states = states or []
        jobs: list[StateJob | ObserverJob | FamilyJob] = [FamilyJob(self.profile.name)] if family else []
        jobs += [StateJob(self.profile.name, k) for k in states]
        jobs += [ObserverJob(self.profile.name)] if observer else []
        self.record.todo = len(todo) + len(jobs)
        if not self.record.todo:
            return 0
        client = self.connect()
        self.record.started = time.perf_counter()
        n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        dash = client.dashboard_link if self.cluster is not None or n_workers else ""
        what = [f"{len(todo)} fit{'s' * (len(todo) != 1)}"] * bool(todo)
        what += [f"{len(states)} network state{'s' * (len(states) != 1)}"] * bool(states)
        what += ["the observer"] * bool(observer)
        what += ["notebook 08's staircase family"] * bool(family)
        self.say(
            f"fan-out: {' and '.join(what)} to {'compute' if jobs else 'train'} on {self.options.describe()} "
            f"({n_workers} worker{'s' * (n_workers != 1)} connected); dashboard {dash}"
            + ("; no worker yet: the tasks wait until one connects" if not n_workers else "")
        )
        local = self.cluster is not None
        order = sorted({s.notebook for s in todo})
        if todo:
            sim_future = client.scatter(light_simulation(sim), broadcast=True, hash=False)
        for spec in todo:
            # the notebooks' order first; in a notebook, the larger models first (they finish last)
            priority = (len(order) - order.index(spec.notebook)) * 10**6 + spec.model_cfg.hidden
            fut = client.submit(
                train_on_worker,
                spec,
                sim_future,
                self.library,
                str(paths.MODELS) if local else None,
                key=f"fit-{spec.folder().name}",
                priority=priority,
                pure=False,
            )
            self._pending[fut] = spec
        # after every fit (a lower priority), in the notebooks' order: 08's family, then 09's states, then 10's
        # observer. The family trains while notebook 07 runs on the fits it waited for.
        priorities = {FamilyJob: 1, StateJob: 0, ObserverJob: -1}
        for job in jobs:
            fut = client.submit(
                product_on_worker,
                job,
                self.library,
                key=f"product-{job.path().stem}",
                priority=priorities[type(job)],
                pure=False,
            )
            self._pending[fut] = job
        self._thread = threading.Thread(target=self._collect, name="voltlib-fanout", daemon=True)
        self._thread.start()
        return self.record.todo

    # -- collecting (a thread)
    def _collect(self) -> None:
        from distributed import as_completed

        from voltlib.forecast.train import save_trained
        from voltlib.store import DiskFullError, write_json

        for fut in as_completed(list(self._pending)):
            if self._closing:
                break
            spec = self._pending[fut]
            try:
                out = fut.result()
                if isinstance(spec, FamilyJob):
                    write_json(spec.path(), spec.save(out["product"]))
                    took = out["seconds"]
                elif isinstance(spec, PRODUCT_JOBS):
                    write_json(spec.path(), out["product"])
                    took = out["seconds"]
                else:
                    save_trained(spec.folder(), out["weights"], out["info"])
                    took = out["info"]["train_s"]
                entry = {
                    "label": spec.label,
                    "kind": _kind(spec),
                    "worker": out["worker"],
                    "train_s": round(took, 2),
                    "task_s": round(out["seconds"], 2),
                    "finished_s": round(time.perf_counter() - self.record.started, 2),
                }
                with self._finished:
                    self.record.done.append(entry)
                verb = "computed" if isinstance(spec, (StateJob, ObserverJob, MeasuredJob)) else "trained"
                self._progress(f"{spec.label} {verb} in {entry['train_s']:.0f} s on {entry['worker']}")
            except DiskFullError as err:  # this disk, not the fit: said once, and the build stops
                with self._finished:
                    self.record.disk_full = str(err)
                break
            except Exception as err:  # noqa: BLE001 -- every failure is recorded and reported
                if self._closing:
                    break
                tb = fut.traceback() if fut.status == "error" else None
                import traceback as tbm

                text = "".join(tbm.format_tb(tb)) if tb is not None else ""
                with self._finished:
                    self.record.failed.append(
                        {"label": spec.label, "error": f"{type(err).__name__}: {err}", "traceback": text}
                    )
                self._progress(f"{spec.label} FAILED: {type(err).__name__}: {err}")
            finally:
                with self._finished:
                    self._pending.pop(fut, None)
                    self._finished.notify_all()
        self.record.wall_s = round(time.perf_counter() - self.record.started, 2)

    def _running(self) -> list[str]:
        """Labels of the fits the workers are running now (the scheduler's view)."""
        if self.client is None:
            return []
        try:
            keys = {k for ks in self.client.processing().values() for k in ks}
        except Exception:  # noqa: BLE001 -- a progress line must not fail the build
            return []
        return [s.label for f, s in list(self._pending.items()) if f.key in keys]

    def _progress(self, what: str) -> None:
        r = self.record
        n_done = len(r.done) + len(r.failed)
        elapsed = time.perf_counter() - r.started
        running = self._running() if n_done < r.todo else []
        self.say(
            f"  tasks {n_done}/{r.todo} [{int(elapsed // 60)}:{int(elapsed % 60):02d}] {what}"
            + (
                f"; assigned to workers: {', '.join(running[:3])}{', ...' if len(running) > 3 else ''}"
                if running
                else ""
            )
        )

    def _check_collector(self) -> None:
        if self.record.disk_full:
            from voltlib.store import DiskFullError

            raise DiskFullError(self.record.disk_full)
        if self._pending and (self._thread is None or not self._thread.is_alive()):
            raise RuntimeError(
                f"the fan-out stopped collecting with {len(self._pending)} fit(s) outstanding (see the messages above); "
                "run the build again: it trains only what is missing."
            )

    def busy(self) -> bool:
        """True while fits are still to be trained or collected."""
        with self._finished:
            return bool(self._pending)

    # -- waiting
    def wait_for(self, notebook: str | None) -> None:
        """Blocks until every fit a notebook up to `notebook` (by name order; None: every fit) reads is done.

        If one of them failed: waits for all the others (so they are cached), then raises FitsFailed.
        """

        def needed():
            return [s for s in self._pending.values() if notebook is None or s.notebook <= notebook]

        with self._finished:
            if needed():
                self.say(f"  waiting for {len(needed())} task(s) of the fan-out that {notebook or 'the build'} reads")
            while needed():
                self._finished.wait(timeout=5)
                self._check_collector()
            failed = list(self.record.failed)
            if failed:
                if self._pending:
                    self.say(f"  a task failed; waiting for the {len(self._pending)} others so that they are cached")
                while self._pending:
                    self._finished.wait(timeout=5)
                    self._check_collector()
        if failed:
            lines = [f"{f['label']}: {f['error']}\n{f['traceback']}" for f in failed]
            raise FitsFailed(
                f"{len(failed)} fit(s) failed on their workers (the other fits were cached; a rerun trains only "
                "what is missing):\n" + "\n".join(lines)
            )

    def close(self) -> None:
        """Cancels what is still running and stops the cluster this fan-out started (idempotent)."""
        self._closing = True
        if self.client is not None:
            # cancelled tasks make workers log warnings at shutdown that say nothing to the user
            for name in ("distributed", "distributed.worker", "distributed.nanny", "distributed.scheduler"):
                logging.getLogger(name).setLevel(logging.ERROR)
            try:
                if self._pending:
                    self.client.cancel(list(self._pending), force=True)
            except Exception:  # noqa: BLE001 -- closing must not hide the error that led here
                pass
            if self._thread is not None:
                self._thread.join(timeout=30)
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def summary(self) -> dict:
        """The record for timings.json."""
        r = self.record
        return {
            "engine": self.options.describe() if r.todo else "nothing to train",
            "fits_trained": sum(e.get("kind") == "fit" for e in r.done),
            "states_computed": sum(e.get("kind") == "state" for e in r.done),
            "observer_computed": any(e.get("kind") == "observer" for e in r.done),
            "family_trained": any(e.get("kind") == "family" for e in r.done),
            "fits_failed": len(r.failed),
            "wall_s": r.wall_s or round(time.perf_counter() - r.started, 2),
            "fits": r.done,
        }
