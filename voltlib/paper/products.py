"""The committed archive of the build's long products: each network state's of notebook 09, the observer's of 10.

A product too long for `make report` (a network state's takes about 10 minutes of one worker at quick) is
computed by `make products` (voltlib.workflow.products_run) and archived under
results/archive/<profile>/products/ with the file name of its data/ cache, which holds the hash of everything
that makes it: the product as the cache would hold it (the same bytes, so the same values to the last digit)
with its sha256 sidecar, and beside it <name>.provenance.json (commit, machine, CPU or GPU, threads, package
versions, date, wall time of its task). The notebooks read a product from the archive first (checksum
verified), then from the data/ cache, else compute it; the fan-out never computes an archived product. A
product of another configuration has another name, so a stale archive is never read.

Like the training-budget study's, the archive belongs to the checkout, like its code: a build in a scratch
root (VOLTLIB_ROOT) reads the same archive as one in the checkout. Only the standard library and the top
modules are imported here: paper.across_states and paper.observing import this module, never the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from voltlib import paths
from voltlib.store import announce, load_checked, parse_json, record_read, shown, verify, write_json

ARCHIVE = paths.ARCHIVE
PROVENANCE_SUFFIX = ".provenance.json"
COMMAND = "make products"


def folder(profile_name: str) -> Path:
    """results/archive/<profile>/products/ of the checkout."""
    return ARCHIVE / profile_name / "products"


def archive_path(profile_name: str, cache_path: Path) -> Path:
    """Where the product cached at cache_path (data/states/<key>-<hash>.json, ...) is archived: the same name."""
    return folder(profile_name) / Path(cache_path).name


def provenance_path(path: Path) -> Path:
    """The provenance record beside an archived product: <name>.json -> <name>.provenance.json."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".json") + PROVENANCE_SUFFIX)


def manifest_path(profile_name: str) -> Path:
    return folder(profile_name) / "manifest.json"


def where(path: Path) -> str:
    """An archive path as the messages show it: relative to the checkout (results/archive/...)."""
    try:
        return str(Path(path).relative_to(ARCHIVE.parent.parent))
    except ValueError:
        return shown(path)


def find(profile_name: str, cache_path: Path, say: bool = True) -> Path | None:
    """The archived file of the product whose data/ cache is cache_path if it is there and matches its
    checksum, else None. A damaged one is said in one line (say=True) and left where it is: it is committed."""
    path = archive_path(profile_name, cache_path)
    if not path.exists():
        return None
    problem = verify(path)
    if problem is None:
        return path
    if say:
        announce(
            path,
            problem,
            f"not read (the data/ cache or a computation is used instead). Restore it with "
            f"`git checkout -- {where(path)}`, or recompute it with `{COMMAND} PROFILE={profile_name}`",
        )
    return None


def read(profile_name: str, cache_path: Path) -> dict | None:
    """The archived product whose data/ cache is cache_path (find), parsed; None if it is not archived intact.
    The build records the file as one the notebook read, so a changed archive reruns the notebook."""
    path = find(profile_name, cache_path)
    if path is None:
        return None
    record_read(path)
    return parse_json(path)


def read_or_compute(profile_name: str, cache_path: Path, compute: Callable[[], dict], again: str) -> dict:
    """A product from the committed archive (read), else its data/ cache, else compute() here and cached; again:
    what a damaged cache entry's message says is done ('computing the observer again'). The same values to the
    last digit either way: what is computed is returned as the cache then holds it."""
    archived = read(profile_name, cache_path)
    if archived is not None:
        return archived
    cached = load_checked(cache_path, parse_json, again)
    if cached is not None:
        return cached
    write_json(cache_path, compute())
    return parse_json(cache_path)


def provenance(path: Path) -> dict | None:
    """The provenance record of an archived product, if it is there and matches its checksum."""
    prov = provenance_path(path)
    if verify(prov) is not None:
        return None
    record_read(prov)
    return json.loads(prov.read_text())


def _threads(n) -> str:
    return f"{n} thread{'s' * (n != 1)}"


def origin(profile_name: str, cache_path: Path) -> tuple[str, float | None]:
    """(where a product came from, without its wall time; its task's wall seconds where its provenance records
    them, else None)."""
    path = find(profile_name, cache_path, say=False)
    if path is None:
        cached = Path(cache_path).parent
        return (
            f"computed in this build (cached in {shown(cached)}/; not in the archive {where(folder(profile_name))}/, "
            f"which `{COMMAND} PROFILE={profile_name}` fills)",
            None,
        )
    prov = provenance(path)
    head = f"read from {where(path.parent)}/"
    if prov is None:
        return head + f" (its provenance record {provenance_path(path).name} is missing or damaged)", None
    return _made(head, prov), prov.get("wall_s")


def _made(head: str, prov: dict, verb: str = "computed") -> str:
    """'<head>, <verb> by `make products` at commit ... on <date>, on <cpu> (<cores>, CPU or GPU, threads)'."""
    commit = str(prov.get("commit", "unknown"))[:7] + (" (with uncommitted changes)" * bool(prov.get("commit_dirty")))
    device = "GPU" if prov.get("device") == "cuda" else "CPU"
    machine = f"{prov.get('cores', '?')} cores, {device}, {_threads(prov.get('threads', '?'))} per task"
    if prov.get("note"):
        machine += f"; note: {prov['note']}"
    return (
        f"{head}, {verb} by `{COMMAND}` at commit {commit} on {str(prov.get('date', '?'))[:10]}, "
        f"on {prov.get('cpu', 'an unrecorded CPU')} ({machine})"
    )


FIT_PROVENANCE = "provenance.json"  # beside an archived training's info.json and model.safetensors


def fits_origin_sentence(profile_name: str, infos: list[dict], what: str) -> str:
    """One sentence saying where trainings came from: read from the archive (train.load_archived's info names
    its folder), with the provenance of the first, or trained in this build. infos: each training's info."""
    archived = [i["archived"] for i in infos if i.get("archived")]
    took = _and([_seconds(i.get("train_s")) for i in infos])
    if not archived:
        return (
            f"{what} were trained by the build ({took} of training) and cached under data/models/, not read from "
            f"the archive, which `{COMMAND} PROFILE={profile_name}` fills."
        )
    if len(archived) < len(infos):
        return f"{what} were read from the archive in part ({len(archived)} of {len(infos)}), trained by the build otherwise."
    first = ARCHIVE.parent.parent / archived[0]
    head = f"read from {where(first.parent)}/"
    prov_file = first / FIT_PROVENANCE
    if verify(prov_file) is not None:
        return f"{what} were {head} (the provenance record {FIT_PROVENANCE} is missing or damaged)."
    record_read(prov_file)
    return f"{what} were {_made(head, json.loads(prov_file.read_text()), 'trained')}, with {took} of training."


def _seconds(s: float | None) -> str:
    return f"{s:,.0f} s" if s is not None else "an unrecorded time"


def origin_sentence(profile_name: str, cache_path: Path, what: str = "This product") -> str:
    """One sentence saying where a product came from: read from the archive, with its provenance, or computed
    in this build. cache_path: the product's data/ cache path (across_states.product_path, observing.product_path)."""
    text, wall = origin(profile_name, cache_path)
    took = f", in {_seconds(wall)}" if wall is not None else ""
    return f"{what} was {text}{took}."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def origins(profile_name: str, named: dict[str, Path]) -> str:
    """One or more sentences saying where each of several products came from ({whose: its data/ cache path},
    whose as in "the asynchronous irregular state"), those of one origin (the same archive,
    commit, machine and date) in one sentence with each one's wall time."""
    groups: dict[str, list[tuple[str, float | None]]] = {}
    for whose, cache_path in named.items():
        text, wall = origin(profile_name, cache_path)
        groups.setdefault(text, []).append((whose, wall))
    out = []
    for text, members in groups.items():
        many = len(members) > 1
        subject = f"The product{'s' * many} of {_and([w for w, _ in members])} {'were' if many else 'was'}"
        took = ""
        if any(s is not None for _, s in members):
            took = f", in {_and([_seconds(s) for _, s in members])}" + (" respectively" * many)
        out.append(f"{subject} {text}{took}.")
    return " ".join(out)
