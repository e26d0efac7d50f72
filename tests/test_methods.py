"""METHODS.md against the code: the values it states are the ones the code uses, and every citation of it resolves."""

import re
import subprocess
from pathlib import Path

import pytest

from voltlib.config import PHASES, NetworkConfig, get_profile, paper_phases
from voltlib.forecast.data import (
    SOURCE_WINDOW_COUNTS,
    segment_window_starts,
    source_window_starts,
    split_sizes,
)
from voltlib.forecast.models import build_model, count_params
from voltlib.workflow.report import METHODS_CITATION

ROOT = Path(__file__).resolve().parent.parent
METHODS = ROOT / "METHODS.md"


def sections() -> dict:
    """{section number: its text} of METHODS.md."""
    parts = re.split(r"^## (\d+)\. .*$", METHODS.read_text(encoding="utf-8"), flags=re.M)
    return {int(n): text for n, text in zip(parts[1::2], parts[2::2])}


def table(text: str) -> list[list[str]]:
    """The body rows of the markdown table(s) in text, each a list of stripped cells."""
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.lstrip().startswith("|")
    ]
    return [r for r in rows[1:] if not all(set(c) <= set("- ") for c in r) and r != rows[0]]


def number(cell: str) -> float:
    """The first number in a table cell ("-70 mV" -> -70.0, "1e-3" -> 0.001, "21,459" -> 21459.0)."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", cell)
    assert m, f"no number in {cell!r}"
    return float(m.group(0).replace(",", ""))


def test_sections_are_numbered_one_to_fifteen_in_order():
    assert list(sections()) == list(range(1, 16))


def test_every_citation_of_the_methods_names_a_section_that_exists():
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    existing = set(sections())
    bad = []
    for name in files:
        if name.startswith("tests/golden/") or not name.endswith((".py", ".md")):
            continue  # stored notebooks are regenerated from notebooks/ by `make golden`
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        for m in METHODS_CITATION.finditer(text):
            cited = {int(n) for n in re.findall(r"\d+", m.group(0))}
            if not cited <= existing:
                bad.append(f"{name}: {m.group(0)!r}")
    assert not bad, f"citations of sections METHODS.md does not have: {bad}"


def test_no_tracked_source_points_outside_the_repository():
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    outside = ("PROTOCOL" + ".md", "../" + "shared", "/work/" + "shared")
    bad = [
        f"{name}: {s}"
        for name in files
        if not name.startswith("tests/golden/")
        for s in outside
        if s in (ROOT / name).read_text(encoding="utf-8", errors="replace")
    ]
    assert not bad, f"tracked files refer to files outside the repository: {bad}"


def test_network_table_states_every_network_config_value():
    rows = {r[-1].strip("`"): r[1] for r in table(sections()[1]) if r[-1].startswith("`")}
    defaults = NetworkConfig()
    assert set(rows) == {f for f in NetworkConfig.__dataclass_fields__}
    for name, value in rows.items():
        assert number(value) == pytest.approx(getattr(defaults, name)), name
    assert "500 Hz" in sections()[1] and defaults.nu_ext_hz == pytest.approx(500.0)


def test_ladder_table_parameter_counts_are_the_models():
    rows = table(sections()[5])
    assert len(rows) == len(PHASES)
    for phase, row in zip(PHASES, rows):
        assert int(number(row[-1])) == count_params(build_model(paper_phases()[phase][0])), phase


def test_training_table_is_the_paper_schedule():
    rows = table(sections()[6])
    assert len(rows) == len(PHASES)
    for phase, row in zip(PHASES, rows):
        t = paper_phases()[phase][1]
        lr, wd, warmup, factor, patience = (number(c) for c in row[1:])
        assert (lr, wd, warmup, factor, patience) == pytest.approx(
            (t.lr, t.weight_decay, t.warmup_epochs, t.plateau_factor, t.early_stop)
        ), phase
        assert (t.batch_size, t.clip_norm, t.max_epochs, t.warmup_start_lr, t.min_lr) == (32, 1.0, 200, 5e-6, 1e-5)


def test_split_sizes_stated_are_the_ones_the_code_cuts():
    text = sections()[4]
    p = get_profile("paper")
    kept = p.sim.n_samples - int(p.data.discard_ms / p.sim.record_dt_ms)
    n = len(source_window_starts(p.sim.n_runs * kept, p.data.window, p.data.horizon, p.data.stride))
    original = split_sizes(n, p.data.split_fractions)
    assert dict(zip(("train", "val", "test"), original)) == SOURCE_WINDOW_COUNTS
    per_run = len(segment_window_starts(kept, p.data.window, p.data.horizon, p.data.stride))
    runs = split_sizes(p.sim.n_runs, p.data.split_fractions)
    for counts in (original, runs, tuple(r * per_run for r in runs)):
        assert " / ".join(f"{c:,}" for c in counts) in text
    assert f"{per_run} per run" in text and f"({n:,})" in text


def test_profile_table_is_the_profiles():
    rows = {r[0]: r[1:] for r in table(sections()[10])}
    widths = rows["LSTM width, phases 1 / 2 / 3 / 4"]
    runs = rows["runs × duration"]
    ceiling = rows["ceiling: start times × test runs × replicas"]
    for k, name in enumerate(("smoke", "quick", "paper")):
        p = get_profile(name)
        assert widths[k] == " / ".join(str(p.phases[ph][0].hidden) for ph in PHASES), name
        assert runs[k] == f"{p.sim.n_runs} × {p.sim.duration_s:g} s", name
        c = p.ceiling
        assert ceiling[k] == f"{c.n_start_times} × {c.n_test_runs} × {c.n_replicas}", name
        t = p.phases[PHASES[-1]][1]
        assert number(rows["batch"][k]) == t.batch_size, name
        assert number(rows["epochs at most (early-stopping patience)"][k]) == t.max_epochs, name
        b = p.beyond
        stated = rows["section 11's forecasters: width, rows per epoch, epochs at most, seeds"][k]
        assert stated == f"{b.hidden}, {b.rows_per_epoch:,}, {b.max_epochs}, {b.seeds}", name
