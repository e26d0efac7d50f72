"""`make products`: computes the products too long for `make report` and archives them with their provenance.

The products are notebook 09's, one per network state it forecasts (paper.across_states.compute_product),
and notebook 10's observer (paper.observing.compute_product). Each is a task on the fan-out's cluster
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

from voltlib.cli import BuildFailed
from voltlib.config import PROFILES, get_profile
from voltlib.paper import products
from voltlib.workflow.budget_run import _clock, provenance
from voltlib.workflow.fanout import ObserverJob, StateJob, _kind, _worker, product_on_worker

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
}


class ProductsFailed(BuildFailed):
    """One or more products raised on their workers; the message names each."""


def expected(profile_name: str) -> list[StateJob | ObserverJob]:
    """Every product the profile's current configuration expects: each forecast state's but the source's
    (notebook 09 reads the source's from notebooks 02, 06 and 08), then the observer's."""
    from voltlib.paper.across_states import forecast_keys

    keys = [k for k in forecast_keys(get_profile(profile_name)) if k != "source"]
    return [*(StateJob(profile_name, k) for k in keys), ObserverJob(profile_name)]


def archived(profile_name: str, job: StateJob | ObserverJob) -> bool:
    """True if the job's product is archived intact under its current configuration's name, with the
    provenance record that belongs to it (a stop between the two writes leaves the product without one)."""
    from voltlib.store import sha256_of

    path = products.find(profile_name, job.path(), say=False)
    if path is None:
        return False
    prov = products.provenance(path)
    return prov is not None and prov.get("sha256") == sha256_of(path)


def archive_on_worker(job: StateJob | ObserverJob, library: str | None = None, note: str = "") -> dict:
    """On a worker: computes a product (fanout.product_on_worker: one thread) and returns it with its
    provenance: where and with what it ran, the worker's threads and the task's wall time."""
    load0 = os.getloadavg()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out = product_on_worker(job, library)
    worker_threads, _ = _worker()
    return {
        "product": out["product"],
        "provenance": {
            **provenance(),
            "started": started,
            "wall_s": out["seconds"],
            "worker": out["worker"],
            "worker_threads": worker_threads,
            "load_average_start": load0,
            "load_average_end": os.getloadavg(),
            "note": note,
        },
    }


def write(profile_name: str, job: StateJob | ObserverJob, rec: dict) -> None:
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
    from voltlib.store import CHECKSUM_SUFFIX, sha256_of, verify, write_json

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
    manifest = {
        "schema": SCHEMA,
        "profile": profile_name,
        "expected": {name: {"kind": _kind(j), "label": j.label} for name, j in wanted.items()},
        "planned": len(wanted),
        "done": len(done),
        "complete": len(done) == len(wanted),
        "missing": [n for n in wanted if n not in done],
        "stale": stale,
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": files,
    }
    before = json.loads(manifest_file.read_text()) if verify(manifest_file) is None else None
    if before is not None and {**before, "written": None} == {**manifest, "written": None}:
        return before  # unchanged: a rerun that did nothing leaves the committed file as it is
    write_json(manifest_file, manifest)
    return manifest


def _why(job: StateJob | ObserverJob) -> str:
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
    todo = [j for j in jobs if not archived(profile_name, j)]
    if not todo:
        say(f"products: all {len(jobs)} products of the {profile_name} profile are archived in {where}/; nothing to do")
        return write_manifest(profile_name)
    options = options or Options()
    if options.in_process:
        options = dataclasses.replace(options, workers=1)  # always on a cluster (of one)
    say(
        f"products: {len(todo)} of {len(jobs)} to compute into {where}/ on {options.describe()}: "
        + "; ".join(map(_why, todo))
    )
    profile = get_profile(profile_name)
    if options.scheduler is None:
        # the source's runs, which every state's transfer and the observer read: simulated once here, where
        # the embedded cluster's workers find them cached, rather than by two workers at once
        from voltlib.sim.simulate import simulate

        simulate(profile.sim, progress=True)
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
                priority=-int(isinstance(job, ObserverJob)),  # the states first: each takes longer
                pure=False,
            ): job
            for job in todo
        }
        for i, fut in enumerate(as_completed(futures), 1):
            job = futures[fut]
            elapsed = _clock(time.perf_counter() - t_start)
            try:
                rec = fut.result()
            except Exception as err:  # noqa: BLE001 -- one failed product must not lose the others
                failed.append(f"{job.label}: {type(err).__name__}: {err}")
                say(f"  products {i}/{len(todo)} [{elapsed}] {job.label} FAILED: {type(err).__name__}: {err}")
                continue
            write(profile_name, job, rec)
            write_manifest(profile_name)
            prov = rec["provenance"]
            say(
                f"  products {i}/{len(todo)} [{elapsed}] {job.label}: computed in {prov['wall_s']:.0f} s on "
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
