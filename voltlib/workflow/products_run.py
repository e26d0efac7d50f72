"""`make products`: computes the products too long for `make report` and archives them with their provenance.

The products are notebook 09's, one per network state it forecasts (paper.across_states.compute_product) and
one of every state's measured statistics (paper.across_states.compute_measured), and notebook 10's observer
(paper.observing.compute_product). Each is a task on the fan-out's cluster
(embedded by default, SCHEDULER= for a real one), run on one thread wherever it runs; this client writes
each into results/archive/<profile>/products/ as it arrives (voltlib.paper.products: the file name of its
data/ cache, its sha256 sidecar, and its provenance record), then the manifest. The archive is committed:
`make report` reads it and never recomputes an archived product. A rerun computes only what is missing;
with every product archived it does nothing.

    make products                       # or: python -m voltlib.workflow.products_run --profile quick [--workers N]
    make products SCHEDULER=tcp://host:8786
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from voltlib.cli import BuildFailed
from voltlib.config import PROFILES, get_profile
from voltlib.paper import products
from voltlib.workflow.budget_run import _clock, provenance
from voltlib.workflow.fanout import (
    MeasuredJob,
    ObserverJob,
    StateJob,
    _kind,
    _worker,
    product_on_worker,
    train_on_worker,
)

if TYPE_CHECKING:
    from voltlib.forecast.fits import FitSpec

Job = StateJob | ObserverJob | MeasuredJob

SCHEMA = 1
# the top-level keys every product of a kind holds (what notebooks 09 and 10 read of it)
KEYS = {
    "state": ("state", "baselines", "ceiling", "member", "transfer", "wall_s"),
    "observer": (
        "horizons_ms",
        "test_runs",
        "n_start_times",
        "scores",
        "per_start",
        "differences",
        "filter",
        "example",
        "convergence",
        "wall_s",
    ),
    "measured": ("states", "wall_s"),
}


class ProductsFailed(BuildFailed):
    """One or more products raised on their workers; the message names each."""


def expected(profile_name: str) -> list[Job]:
    """Every product the profile's current configuration expects: each forecast state's but the source's
    (notebook 09 reads the source's from notebooks 02, 06 and 08), the observer's, then the states' measured
    statistics."""
    from voltlib.paper.across_states import forecast_keys

    keys = [k for k in forecast_keys(get_profile(profile_name)) if k != "source"]
    return [*(StateJob(profile_name, k) for k in keys), ObserverJob(profile_name), MeasuredJob(profile_name)]


def archived(profile_name: str, job: Job) -> bool:
    """True if the job's product is archived intact under its current configuration's name, with the
    provenance record that belongs to it (a stop between the two writes leaves the product without one)."""
    from voltlib.store import sha256_of

    path = products.find(profile_name, job.path(), say=False)
    if path is None:
        return False
    prov = products.provenance(path)
    return prov is not None and prov.get("sha256") == sha256_of(path)


def _on_worker(task, note: str) -> tuple[dict, dict]:
    """On a worker: (task()'s {..., worker, seconds}, its provenance: where and with what it ran, the worker's
    threads, the task's wall time and the load around it)."""
    load0 = os.getloadavg()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out = task()
    worker_threads, _ = _worker()
    return out, {
        **provenance(),
        "started": started,
        "wall_s": out["seconds"],
        "worker": out["worker"],
        "worker_threads": worker_threads,
        "load_average_start": load0,
        "load_average_end": os.getloadavg(),
        "note": note,
    }


def archive_on_worker(job: Job, library: str | None = None, note: str = "") -> dict:
    """On a worker: computes a product (fanout.product_on_worker: one thread) and returns it with its provenance."""
    out, prov = _on_worker(lambda: product_on_worker(job, library), note)
    return {"product": out["product"], "provenance": prov}


def archive_fit_on_worker(spec: FitSpec, sim, library: str | None = None, note: str = "") -> dict:
    """On a worker: trains one archived fit (fanout.train_on_worker: one thread) and returns its weights and
    training record with its provenance."""
    out, prov = _on_worker(lambda: train_on_worker(spec, sim, library), note)
    return {"weights": out["weights"], "info": out["info"], "provenance": prov}


# ---------------------------------------------------------------- the archived trainings (fits.ARCHIVED)


def expected_fits(profile_name: str) -> list[FitSpec]:
    """The trainings the profile's current configuration archives (fits.ARCHIVED: the shuffled-order control)."""
    from voltlib.forecast.fits import archived_specs

    return archived_specs(get_profile(profile_name))


def fits_folder(profile_name: str) -> Path:
    """results/archive/<profile>/fits/: the profile's archived trainings, one folder each."""
    from voltlib.forecast.train import ARCHIVED_FITS

    return products.ARCHIVE / profile_name / ARCHIVED_FITS


def fit_folder(profile_name: str, spec: FitSpec) -> Path:
    """results/archive/<profile>/fits/<the training's cache folder name>/ (train.archived_entry finds it)."""
    return fits_folder(profile_name) / spec.folder().name


def fit_archived(profile_name: str, spec: FitSpec) -> bool:
    """True if the training is archived intact, with the provenance record that names its weights' sha256."""
    from voltlib.forecast.train import intact
    from voltlib.store import sha256_of, verify

    folder = fit_folder(profile_name, spec)
    if not intact(folder) or verify(folder / products.FIT_PROVENANCE) is not None:
        return False
    prov = json.loads((folder / products.FIT_PROVENANCE).read_text())
    return prov.get("sha256") == sha256_of(folder / "model.safetensors")


def write_fit(profile_name: str, spec: FitSpec, rec: dict) -> None:
    """Archives one training (train.save_trained: weights, then info, each with its checksum), then its
    provenance record, which names the weights' sha256: a stop between them leaves one fit_archived refuses."""
    from voltlib.forecast.train import save_trained
    from voltlib.store import sha256_of, write_json

    folder = fit_folder(profile_name, spec)
    save_trained(folder, rec["weights"], rec["info"])
    prov = {
        "schema": SCHEMA,
        "fit": folder.name,
        "sha256": sha256_of(folder / "model.safetensors"),
        "kind": "fit",
        "label": spec.label,
        "profile": profile_name,
        **rec["provenance"],
    }
    write_json(folder / products.FIT_PROVENANCE, prov)


def write(profile_name: str, job: Job, rec: dict) -> None:
    """Archives one product, then its provenance record (which names the product's sha256): a stop between
    the two leaves a product that `archived` does not count, and the next run computes it again."""
    from voltlib.store import sha256_of, write_json

    path = products.archive_path(profile_name, job.path())
    write_json(path, rec["product"])
    prov = {
        "schema": SCHEMA,
        "product": path.name,
        "sha256": sha256_of(path),
        "kind": _kind(job),
        "label": job.label,
        "profile": profile_name,
        **rec["provenance"],
    }
    write_json(products.provenance_path(path), prov)


def write_manifest(profile_name: str) -> dict:
    """Rewrites the manifest from the files on disk: each file's sha256, the products the profile's current
    configuration expects, which are archived, and those of other configurations (stale: never read). One
    that would change only its date is left as it is."""
    from voltlib.store import CHECKSUM_SUFFIX, sha256_of, verify, write_record

    folder = products.folder(profile_name)
    manifest_file = products.manifest_path(profile_name)
    files = {
        f.name: sha256_of(f)
        for f in sorted(folder.glob("*.json"))
        if f != manifest_file and not f.name.endswith(CHECKSUM_SUFFIX) and verify(f) is None
    }
    jobs = expected(profile_name)
    wanted = {products.archive_path(profile_name, j.path()).name: j for j in jobs}
    done = [name for name, j in wanted.items() if archived(profile_name, j)]
    stale = sorted(
        n for n in files if not n.endswith(products.PROVENANCE_SUFFIX) and n not in wanted
    )  # a product of another configuration, or of a retired one
    # the archived trainings: results/archive/<profile>/fits/<name>/, named here fits/<name>
    fits_dir = fits_folder(profile_name)
    fit_wanted = {f"fits/{sp.folder().name}": sp for sp in expected_fits(profile_name)}
    if fits_dir.is_dir():  # absent until the first training is archived
        files |= {
            f"fits/{f.parent.name}/{f.name}": sha256_of(f)
            for f in sorted(fits_dir.glob("*/*"))
            if not f.name.endswith(CHECKSUM_SUFFIX) and verify(f) is None
        }
        stale += sorted(
            f"fits/{d.name}" for d in fits_dir.iterdir() if d.is_dir() and f"fits/{d.name}" not in fit_wanted
        )
    done += [name for name, sp in fit_wanted.items() if fit_archived(profile_name, sp)]
    expected_ = {name: {"kind": _kind(j), "label": j.label} for name, j in wanted.items()}
    expected_ |= {name: {"kind": "fit", "label": sp.label} for name, sp in fit_wanted.items()}
    manifest = {
        "schema": SCHEMA,
        "profile": profile_name,
        "expected": expected_,
        "planned": len(expected_),
        "done": len(done),
        "complete": len(done) == len(expected_),
        "missing": [n for n in expected_ if n not in done],
        "stale": stale,
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": files,
    }
    return write_record(manifest_file, manifest)  # unchanged: a rerun that did nothing leaves the committed file


def _why(job: Job) -> str:
    """A product to compute, and why when its file is there: damaged, or without its provenance record."""
    from voltlib.store import verify

    path = products.archive_path(job.profile, job.path())
    if not path.exists():
        return job.label
    problem = verify(path)
    return f"{job.label} ({path.name} {problem or 'has no intact provenance record'}: computed again)"


def run(profile_name: str = "quick", options=None, say=print, note: str = "") -> dict:
    """Computes every product the profile expects that the archive lacks, on the fan-out's cluster; returns
    the manifest."""
    from distributed import as_completed

    from voltlib.paths import library_hash
    from voltlib.workflow.fanout import FanOut, Options

    jobs = expected(profile_name)
    where = products.where(products.folder(profile_name))
    todo: list = [j for j in jobs if not archived(profile_name, j)]
    fit_specs = expected_fits(profile_name)
    fit_todo = [sp for sp in fit_specs if not fit_archived(profile_name, sp)]
    n_all = len(jobs) + len(fit_specs)
    if not todo and not fit_todo:
        say(f"products: all {n_all} products of the {profile_name} profile are archived in {where}/; nothing to do")
        return write_manifest(profile_name)
    options = options or Options()
    if options.in_process:
        options = dataclasses.replace(options, workers=1)  # always on a cluster (of one)
    say(
        f"products: {len(todo) + len(fit_todo)} of {n_all} to compute into {where}/ on {options.describe()}: "
        + "; ".join([*map(_why, todo), *(f"{sp.label} (trained, into ../fits/)" for sp in fit_todo)])
    )
    profile = get_profile(profile_name)
    from voltlib.sim.simulate import simulate

    # the source's runs, which every state's transfer, the observer and the archived fits read: simulated once
    # here, where the embedded cluster's workers find them cached, rather than by two workers at once
    sim = simulate(profile.sim, progress=True) if options.scheduler is None or fit_todo else None
    t_start = time.perf_counter()
    failed: list[str] = []
    with FanOut(profile, options, say=say, library=library_hash()) as fan:
        client = fan.connect()
        futures = {
            client.submit(
                archive_on_worker,
                job,
                library_hash(),
                note,
                key=f"product-{job.path().stem}",
                priority=-int(not isinstance(job, StateJob)),  # the states first: each takes longer
                pure=False,
            ): job
            for job in todo
        }
        if fit_todo:
            from voltlib.workflow.fanout import light_simulation

            sim_future = client.scatter(light_simulation(sim), broadcast=True, hash=False)
            for sp in fit_todo:  # before the products: each is shorter, and they fill a worker while a state runs
                fut = client.submit(
                    archive_fit_on_worker, sp, sim_future, library_hash(), note, key=f"fit-{sp.folder().name}",
                    priority=1, pure=False,
                )  # fmt: skip
                futures[fut] = sp
        n_todo = len(futures)
        for i, fut in enumerate(as_completed(futures), 1):
            job = futures[fut]
            elapsed = _clock(time.perf_counter() - t_start)
            try:
                rec = fut.result()
            except Exception as err:  # noqa: BLE001 -- one failed product must not lose the others
                failed.append(f"{job.label}: {type(err).__name__}: {err}")
                say(f"  products {i}/{n_todo} [{elapsed}] {job.label} FAILED: {type(err).__name__}: {err}")
                continue
            if isinstance(job, (StateJob, ObserverJob, MeasuredJob)):
                write(profile_name, job, rec)
            else:
                write_fit(profile_name, job, rec)
            write_manifest(profile_name)
            prov = rec["provenance"]
            say(
                f"  products {i}/{n_todo} [{elapsed}] {job.label}: computed in {prov['wall_s']:.0f} s on "
                f"{prov['worker']} ({prov['worker_threads']} thread{'s' * (prov['worker_threads'] != 1)}), archived"
            )
    if failed:
        raise ProductsFailed(
            f"{len(failed)} product(s) failed (the others are archived; `make products PROFILE={profile_name}` "
            "again computes only what is missing):\n" + "\n".join(failed)
        )
    return write_manifest(profile_name)


def check(profile_name: str) -> list[str]:
    """What is wrong with a profile's archive against the code's current configuration: for every product it
    expects, a missing or damaged file, a missing provenance record, a product without the schema's top-level
    keys, or one the manifest does not record with its sha256; [] when the archive is complete."""
    from voltlib.store import sha256_of, verify

    manifest_file = products.manifest_path(profile_name)
    problem = verify(manifest_file)
    files = json.loads(manifest_file.read_text()).get("files", {}) if problem is None else None
    problems = [f"{products.where(manifest_file)} {problem}"] if problem else []
    for job in expected(profile_name):
        path = products.archive_path(profile_name, job.path())
        shown = products.where(path)
        problem = verify(path)
        if problem is not None:
            problems.append(f"{shown} ({job.label}) {problem}")
            continue
        if not archived(profile_name, job):
            problems.append(f"{shown} has no intact provenance record naming its sha256")
        lacking = [k for k in KEYS[_kind(job)] if k not in json.loads(path.read_text())]
        if lacking:
            problems.append(f"{shown} lacks the top-level keys {lacking} of a {_kind(job)} product")
        if files is not None and files.get(path.name) != sha256_of(path):
            problems.append(f"{shown} is not recorded with its sha256 in {products.where(manifest_file)}")
    for sp in expected_fits(profile_name):
        folder = fit_folder(profile_name, sp)
        shown = products.where(folder)
        if not fit_archived(profile_name, sp):
            problems.append(f"{shown} ({sp.label}) is missing, damaged or without its provenance record")
            continue
        name = f"fits/{folder.name}/model.safetensors"
        if files is not None and files.get(name) != sha256_of(folder / "model.safetensors"):
            problems.append(f"{shown} is not recorded with its weights' sha256 in {products.where(manifest_file)}")
    return problems


def main(argv=None) -> int:
    from voltlib.workflow.fanout import Options

    ap = argparse.ArgumentParser(prog="python -m voltlib.workflow.products_run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="quick", choices=list(PROFILES))
    ap.add_argument("--scheduler", default=None, help="an existing Dask scheduler's address (else a local cluster)")
    ap.add_argument("--workers", default=None, help="workers of the local cluster (default: one per core)")
    ap.add_argument("--note", default="", help="a statement kept in every product's provenance (e.g. a shared machine)")
    args = ap.parse_args(argv)
    options = Options.from_env(args.scheduler, args.workers)
    manifest = run(args.profile, options, note=args.note)  # a stop: run_cli's line
    print(
        f"products: {manifest['done']}/{manifest['planned']} products archived in "
        f"{products.where(products.folder(args.profile))}/"
        + (
            f"; {len(manifest['stale'])} of other configurations, never read: {', '.join(manifest['stale'])}"
            if manifest["stale"]
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    from voltlib.cli import run_cli  # a stop is one line, and the work under way is shut down

    sys.exit(run_cli(main))
