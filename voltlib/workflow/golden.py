"""The stored smoke notebooks that nbval replays: `make golden` writes them, `make nbval` checks them.

Both run in a fresh, throwaway project root (VOLTLIB_ROOT) whose notebooks/ links to the real
ones, so they start with cold caches exactly as CI does and never touch the developer's data/,
results/ or report/. nbval compares every text output (markdown, tables, printed numbers) after the
regexes in tests/golden/sanitize.cfg have replaced what legitimately varies (timings, cache hits,
memory addresses, figure reprs); it does not compare images.

Numbers are compared with a tolerance (`outputs_agree`), because another CPU (vector width, BLAS
kernels) or another thread count takes another floating-point path: a printed 0.105501 can become
"0.106" there. The text around the numbers must match exactly, integers (counts, sizes) must match
exactly, and a decimal number may differ by at most LAST_DIGIT_UNITS units of its last printed digit
or by RTOL of its value, whichever is larger: a last-digit flip passes, a real change does not.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from voltlib import paths
from voltlib.paths import discover
from voltlib.workflow.pipeline import HEADLESS_ENV, KERNEL, build

PROFILE = "smoke"
SANITIZE = paths.GOLDEN / "sanitize.cfg"
VOLATILE_METADATA = ("papermill", "execution")

# a number as the notebooks print it: 21,459 / -0.105 / 1.5e-05 (a thousands comma needs 3 digits after it)
NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
LAST_DIGIT_UNITS = 1.5  # one unit of the last printed digit is a rounding flip; two are a change
RTOL = 5e-3  # relative slack for numbers printed with many significant digits


def _decimals(token: str) -> int | None:
    """Digits after the decimal point of a printed number (exponent counted); None for an integer."""
    mantissa, _, exponent = token.lower().partition("e")
    if "." not in mantissa and not exponent:
        return None
    places = len(mantissa.partition(".")[2])
    return places - int(exponent or 0)


def numbers_agree(ref: str, test: str) -> bool:
    """True when two printed numbers agree: integers exactly, decimals within the printed precision."""
    if ref == test:
        return True
    d_ref, d_test = _decimals(ref), _decimals(test)
    if d_ref is None or d_test is None:
        return False
    a, b = float(ref.replace(",", "")), float(test.replace(",", ""))
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    unit = 10.0 ** -min(d_ref, d_test)
    return abs(a - b) <= max(LAST_DIGIT_UNITS * unit, RTOL * max(abs(a), abs(b)))


def outputs_agree(ref: str, test: str) -> bool:
    """True when two output texts are equal but for numbers that agree (see `numbers_agree`)."""
    if ref == test:
        return True
    ref_numbers, test_numbers = NUMBER.findall(ref), NUMBER.findall(test)
    return (
        NUMBER.sub("#", ref) == NUMBER.sub("#", test)
        and len(ref_numbers) == len(test_numbers)
        and all(map(numbers_agree, ref_numbers, test_numbers))
    )


class ToleratedText(str):
    """An output text that compares equal to another when `outputs_agree` says so (nbval uses ==/!=)."""

    def __eq__(self, other):
        return isinstance(other, str) and outputs_agree(str(self), str(other))

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


def golden_files(golden_dir: Path = paths.GOLDEN, notebooks_dir: Path = paths.NOTEBOOKS) -> list[Path]:
    """The stored notebooks in run order (the abstract last: it reads the others' results)."""
    files = [Path(golden_dir) / f"{p.stem}.ipynb" for p in discover(notebooks_dir)]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(
            f"stored notebooks missing in {golden_dir}: {', '.join(missing)}. "
            "Run `make golden` to regenerate them after adding a notebook."
        )
    return files


def scratch_root(notebooks_dir: Path = paths.NOTEBOOKS) -> Path:
    """A fresh project root with notebooks/ linked to the real ones and everything else empty."""
    root = Path(tempfile.mkdtemp(prefix="voltlib-golden-"))
    (root / "notebooks").symlink_to(Path(notebooks_dir).resolve())
    return root


def strip_volatile(nb):
    """The notebook without papermill's timestamps and durations (they only make diffs noisy)."""
    for key in VOLATILE_METADATA:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_METADATA:
            cell.metadata.pop(key, None)
    return nb


def make(golden_dir: Path = paths.GOLDEN, notebooks_dir: Path = paths.NOTEBOOKS) -> list[Path]:
    """Executes every notebook at the smoke profile from cold caches and stores the results."""
    root = scratch_root(notebooks_dir)
    os.environ["VOLTLIB_ROOT"] = str(root)  # the kernels papermill starts inherit it
    try:
        build_dir = root / "build" / PROFILE
        build(PROFILE, notebooks_dir=notebooks_dir, build_dir=build_dir, results_dir=root / "results" / PROFILE)
        golden_dir = Path(golden_dir)
        golden_dir.mkdir(parents=True, exist_ok=True)
        for old in golden_dir.glob("*.ipynb"):
            old.unlink()
        stored = []
        for src in discover(notebooks_dir):
            nb = strip_volatile(nbformat.read(str(build_dir / f"{src.stem}.ipynb"), as_version=4))
            out = golden_dir / f"{src.stem}.ipynb"
            nbformat.write(nb, str(out))
            stored.append(out)
        return stored
    finally:
        shutil.rmtree(root, ignore_errors=True)


def nbval_command(files: list[Path], sanitize: Path = SANITIZE, kernel: str = KERNEL) -> list[str]:
    """The pytest command that replays the stored notebooks in the given order."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval",
        "--nbval-kernel-name",
        kernel,
        "--nbval-sanitize-with",
        str(sanitize),
        "--nbval-cell-timeout",
        "600",
        "-o",
        "addopts=",
        *map(str, files),
    ]


def run_nbval(
    files: list[Path], sanitize: Path = SANITIZE, root: Path | None = None, capture: bool = False
) -> subprocess.CompletedProcess:
    """Runs nbval on files against the project's kernel in a scratch root; returns the process."""
    own_root = root is None
    root = scratch_root() if root is None else Path(root)
    env = {**os.environ, **HEADLESS_ENV, "VOLTLIB_ROOT": str(root)}
    try:
        return subprocess.run(
            nbval_command(files, sanitize), env=env, cwd=paths.ROOT, capture_output=capture, text=True
        )
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    """Command line: `make` regenerates tests/golden/, `check` replays it with nbval."""
    ap = argparse.ArgumentParser(description="Stored smoke notebooks for nbval.")
    ap.add_argument("action", choices=("make", "check"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.action == "make":
        stored = make()
        print(
            f"stored {len(stored)} notebooks in {paths.GOLDEN.relative_to(paths.ROOT)} "
            f"({time.perf_counter() - t0:.0f} s); commit them with the change that made them differ"
        )
        return 0
    rc = run_nbval(golden_files()).returncode
    print(f"nbval replay: {'passed' if rc == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s")
    if rc:
        print(
            "A stored output differs from a fresh smoke run. If the change is intended, run `make golden` "
            "and commit tests/golden/; otherwise the diff above shows what regressed."
        )
    return rc


if __name__ == "__main__":
    from voltlib.cli import run_cli  # a stop is one line, and the work under way is shut down

    sys.exit(run_cli(main))
