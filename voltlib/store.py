"""Atomic, checksummed files and the JSON results the report reads: nothing half-written or damaged ever looks complete.

Every file written through `atomic_path` (checksum on, the default) gets a sidecar <name>.sha256
in `sha256sum` format. The old sidecar is removed before the new data file is renamed into place
and the new one is written after it, so a write interrupted at any point leaves a file without a
matching checksum. `verify` compares a file with its sidecar; `load_checked` is what every cache
reads through: a missing, unrecorded, damaged or unusable file is announced in one line, removed,
and reported as absent, so the caller rebuilds it.

Disk full: a write that fails because its disk is full raises `DiskFullError` naming the file,
and leaves no partial file behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from voltlib import paths

CHECKSUM_SUFFIX = ".sha256"
# The build points these at files per notebook: the one-line cache messages printed inside a
# headless kernel reach the terminal that runs `make report`, and the cache files a notebook read or
# wrote become part of whether it is up to date (a damaged one reruns it, which repairs the file).
MESSAGE_LOG_ENV = "VOLTLIB_CACHE_LOG"
FILE_LOG_ENV = "VOLTLIB_CACHE_FILES"
READ_LOG_ENV = "VOLTLIB_READ_FILES"  # the files it read (not wrote), which a notebook's declaration must name
# the build's own process id while a notebook runs: its threads (the fan-out's collector, saving the
# models it trained) write files the notebook never read, so only the kernel (another process) logs them
BUILD_PID_ENV = "VOLTLIB_BUILD_PID"
NO_CHECKSUM = "has no recorded checksum (written before checksums were kept, or its write was interrupted)"
MISMATCH = "failed its checksum (sha256 mismatch)"

# How a full disk surfaces: errno, or the text of libraries that drop it (safetensors keeps the
# OS text; torch's zip writer only reports the short write, so that one also needs a nearly full disk).
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_TEXT = ("No space left on device", "os error 28", "Disk quota exceeded", "StorageFull")
_SHORT_WRITE_TEXT = ("unexpected pos", "file write failed")
_NEARLY_FULL_BYTES = 64 * 2**20


class DiskFullError(OSError):
    """A write failed because the disk (or the quota) holding the file is full."""


class DamagedFileError(RuntimeError):
    """A results file is missing its checksum or does not match it."""


class UnusableFile(ValueError):
    """Raised by a `load_checked` loader: the file matches its checksum but its content cannot be used."""


def checksum_path(path: Path) -> Path:
    """The sidecar <path>.sha256 that holds path's recorded sha256."""
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, as 64 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def _new_temp(path: Path) -> Path:
    """Creates an empty hidden .part file beside path, its mode set by the umask as open() would."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            # mkstemp would make it 0600: results and caches are meant to be readable by others
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(
        f"could not create a temporary file beside {path}: 100 random names were taken. "
        f"Remove the stale .{path.name}.*.part files there and run again."
    )


def _is_disk_full(exc: BaseException | None, folder: Path) -> bool:
    """Whether a failed write was caused by a full disk (errno, library text, or a short write on a full disk)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        text = str(exc)
        if any(t in text for t in _DISK_FULL_TEXT):
            return True
        if any(t in text for t in _SHORT_WRITE_TEXT):
            try:
                return shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES
            except OSError:
                return False
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def atomic_path(path: Path, checksum: bool = True):
    """Yields a temporary path beside `path`; renames it onto `path` only if the block succeeds.

    checksum: record the sha256 of the new file in its sidecar (removed before the rename, written
    after it). A full disk raises DiskFullError naming `path`; the temporary file never stays.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp(path)
    mode = stat.S_IMODE(tmp.stat().st_mode)
    try:
        yield tmp
        if stat.S_IMODE(tmp.stat().st_mode) != mode:
            os.chmod(tmp, mode)  # safetensors replaces the file with a private (0600) one of its own
        digest = sha256_of(tmp) if checksum else None
        checksum_path(path).unlink(missing_ok=True)  # until the new sidecar exists, path has none
        os.replace(tmp, path)
        if digest:
            _write_checksum(path, digest)
            _log(FILE_LOG_ENV, str(path.resolve()))
    except DiskFullError:
        raise
    except Exception as exc:
        if _is_disk_full(exc, path.parent):
            raise DiskFullError(
                f"the disk holding {path} is full (no space left on device): it was not written (an earlier "
                f"version, if any, is kept) and no partial file was left. Free space on that disk (`df -h "
                f"{path.parent}` shows it; `make clean-cache` removes the cached simulations and models) "
                "and run again."
            ) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _write_checksum(path: Path, digest: str) -> None:
    with atomic_path(checksum_path(path), checksum=False) as tmp:
        tmp.write_text(f"{digest}  {path.name}\n")


def record_checksum(path: Path) -> Path:
    """Records the sha256 of a file written outside atomic_path in its sidecar; returns the sidecar's path."""
    _write_checksum(Path(path), sha256_of(path))
    return checksum_path(path)


def verify(path: Path, digest: str | None = None) -> str | None:
    """What is wrong with a file against its recorded sha256 (a phrase such as 'failed its checksum ...'), or None.

    digest: the file's sha256 if the caller has already computed it.
    """
    path = Path(path)
    if not path.exists():
        return "is missing"
    side = checksum_path(path)
    if not side.exists():
        return NO_CHECKSUM
    try:
        expected = side.read_text().split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return f"has an unreadable checksum file {side.name}"
    return None if (digest or sha256_of(path)) == expected else MISMATCH


def remove(path: Path) -> None:
    """Deletes a file and its checksum sidecar (either may be absent)."""
    Path(path).unlink(missing_ok=True)
    checksum_path(path).unlink(missing_ok=True)


def shown(path: Path) -> str:
    """path relative to the project root when it lies inside it (as messages show it), else as given."""
    try:
        return str(Path(path).resolve().relative_to(paths.ROOT.resolve()))
    except ValueError:
        return str(path)


def _log(env: str, line: str) -> None:
    """Appends a line to the file the environment variable `env` names, if the build set it (not in the build itself)."""
    log = os.environ.get(env)
    if log and os.environ.get(BUILD_PID_ENV) != str(os.getpid()):
        with open(log, "a") as fh:
            fh.write(line + "\n")


def record_read(path: Path) -> None:
    """Logs a file a notebook read (load_checked, read_json, the committed archive): the build then
    records it with its sha256, so a changed file reruns that notebook, and checks a results file it
    read against the notebook's declaration."""
    _log(FILE_LOG_ENV, str(Path(path).resolve()))
    _log(READ_LOG_ENV, str(Path(path).resolve()))


def announce(path: Path, problem: str, action: str) -> str:
    """Prints (and returns) the one line 'cache: <path> <problem>; <action>', logged for the build too."""
    line = f"cache: {shown(path)} {problem}; {action}"
    print(line, flush=True)
    _log(MESSAGE_LOG_ENV, line)
    return line


def load_checked(path: Path, load, action: str, read: bool = True):
    """load(path) for a cache file that exists, matches its checksum and loads; else None.

    A file that exists but is unrecorded, damaged, or that `load` rejects (any exception; raise
    UnusableFile('holds ...') for a content check) is announced in one line ending in `action`
    ('retraining', ...) and removed, so the caller rebuilds it. read=False: the caller rewrites the
    file it loads and uses none of it but as the start (update_json), so the build does not count it
    as what the notebook read.
    """
    path = Path(path)
    if not path.exists():
        return None
    if read:
        record_read(path)
    problem = verify(path)
    if problem is None:
        try:
            return load(path)
        except UnusableFile as exc:
            problem = str(exc)
        except Exception as exc:  # a file that passed its checksum but was written by other code
            problem = f"cannot be used ({type(exc).__name__}: {exc})"
    announce(path, problem, action)
    remove(path)
    return None


def parse_json(path: Path):
    """The parsed content of a JSON file, unchecked (a loader for load_checked)."""
    return json.loads(Path(path).read_text())


def save_npz(path: Path, **arrays) -> None:
    """Writes arrays to an .npz atomically (uncompressed: fast to load, memory-mappable members)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def horizon_key(horizon_ms) -> str:
    """The key of a forecast horizon in every results file: '1', '2', '0.5' (ms, shortest form)."""
    value = float(horizon_ms)
    if not value > 0:
        raise ValueError(f"horizon_ms={horizon_ms!r} is invalid: expected a positive number of milliseconds.")
    return f"{value:g}"


def write_json(path: Path, obj) -> Path:
    """Writes obj as indented JSON atomically with its checksum (numpy scalars and arrays converted; NaN -> null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")
    return Path(path)


def write_record(path: Path, obj: dict, stamp: str = "written") -> dict:
    """Writes obj as write_json does, unless the intact file there already holds the same but for its `stamp`
    field (a date): then it is left byte for byte, so a rerun that changed nothing leaves a committed manifest
    as it is. Returns what the file holds."""
    path = Path(path)
    if verify(path) is None:
        before = json.loads(path.read_text())
        if {**before, stamp: None} == {**obj, stamp: None}:
            return before
    write_json(path, obj)
    return obj


def read_json(path: Path) -> dict:
    """Reads a results JSON that matches its checksum; a missing or damaged one raises, saying what to run."""
    path = Path(path)
    command = f"Run `make report PROFILE={path.parent.name}`, which reruns the notebook that writes it."
    if "archive" in path.parts:  # a committed study: restored from git, or retrained by its own target
        command = f"Restore it with `git checkout -- {path}`, or retrain what it records with `make budget`."
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: it is written by an earlier notebook. {command}")
    problem = verify(path)
    if problem:
        raise DamagedFileError(f"{path} {problem}: it cannot be trusted. {command}")
    record_read(path)
    return json.loads(path.read_text())


def update_json(path: Path, *keys: str, value) -> dict:
    """Sets obj[k1][k2]...= value in a JSON file, atomically; returns the whole object.

    An absent file starts empty; so does one that is unrecorded or damaged (said in one line), as
    the notebooks that fill it are then all rerun by the build (their record of it no longer matches).
    """
    path = Path(path)
    obj = load_checked(path, parse_json, "starting it afresh", read=False) or {}
    node = obj
    for k in keys[:-1]:
        node = node.setdefault(str(k), {})
    node[str(keys[-1])] = _jsonable(value)
    write_json(path, obj)
    return obj
