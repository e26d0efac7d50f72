"""Atomic files and the JSON results the report reads: nothing half-written ever looks complete."""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path: Path):
    """Yields a temporary path beside `path`; renames it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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


def write_json(path: Path, obj) -> Path:
    """Writes obj as indented JSON atomically (numpy scalars and arrays converted; NaN -> null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")
    return Path(path)


def read_json(path: Path) -> dict:
    """Reads a results JSON, with a message that says which notebook to run if it is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: it is written by an earlier notebook. "
                                f"Run `make report PROFILE={path.parent.name}` (or that notebook) first.")
    return json.loads(path.read_text())


def update_json(path: Path, *keys: str, value) -> dict:
    """Sets obj[k1][k2]...= value in a JSON file (created if absent), atomically; returns the whole object."""
    path = Path(path)
    obj = json.loads(path.read_text()) if path.exists() else {}
    node = obj
    for k in keys[:-1]:
        node = node.setdefault(str(k), {})
    node[str(keys[-1])] = _jsonable(value)
    write_json(path, obj)
    return obj
