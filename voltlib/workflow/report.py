"""Assembles report/<profile>/technical_report.html from the executed notebooks in build/<profile>/.

Order: the abstract (00_abstract) first, then 01, 02, ..., then the abstract's cells tagged
`discussion`, then the Methods chapter: the repository's METHODS.md, rendered as one more markdown
cell, so the methods are written once. Its numbered sections get the anchors `methods-section-N`, and
every "Methods section N" or "METHODS.md section N" in the report's text links to its section.
What a reader sees, by cell tag:

- code is hidden; a cell tagged `show-input` shows its code;
- cells tagged `parameters`, `injected-parameters`, `remove-cell` or `interactive` (the ipywidgets
  explorers, which need a live kernel) are dropped entirely; `remove-output` drops a cell's output;
- stderr (warnings, logging, progress bars) and widget placeholders are dropped; stdout (the rounded
  numbers printed for nbval) is dropped unless the cell is tagged `show-output`;
- markdown, tables, figures (embedded as base64 PNG) and Markdown built from results are kept.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

import nbformat

from voltlib import display, paths
from voltlib.config import get_profile
from voltlib.paper import summary
from voltlib.paths import discover
from voltlib.store import atomic_path

TEMPLATES = Path(__file__).resolve().parent / "templates"
DROP_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell", "interactive"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# text/plain reprs that only say an object exists (a figure, a path, an artist) and mean nothing to a reader
NOISE_REPR = re.compile(r"^\s*(<.*>|\[<.*>\]|(Posix|Windows)?Path\(.*\)|Text\(.*\)|None)\s*$", re.S)
DEFAULT_TITLE = "Forecasting membrane voltages of a simulated network"
METHODS_TAG = "methods"
# a numbered section heading of METHODS.md ("4. Two protocols"), and a citation of one in prose
METHODS_HEADING = re.compile(r"^(\d+)\.\s")
METHODS_CITATION = re.compile(r"\b(?:METHODS\.md|Methods),? sections? (\d+)(?:\s*(?:-|–|and)\s*\d+)?")
NO_LINK_PARENTS = {"a", "code", "pre", "h1", "h2", "h3", "h4", "script", "style"}
# the figure a cell saves (plots.save_figure(fig, profile, "name.png")): its PNG holds the figure's description
FIGURE_CALL = re.compile(r"save_figure\([^)]*?[\"']([^\"']+\.png)[\"']")
HEADING = re.compile(r"^#{1,4}\s+(.+)$", re.M)


def _tags(cell) -> set:
    return set(cell.get("metadata", {}).get("tags", []))


def _keep_output(out, tags: set) -> bool:
    """Whether one output of a code cell belongs in the report."""
    if out.output_type == "stream":
        return out.name == "stdout" and "show-output" in tags
    if out.output_type == "error":
        return False
    data = out.get("data", {})
    if WIDGET_MIME in data:
        return False
    if set(data) <= {"text/plain"}:
        return not NOISE_REPR.match(data.get("text/plain", ""))
    return True


def prepare_cells(nb) -> list:
    """The cells of one executed notebook as the report shows them (see the module docstring)."""
    cells = []
    for cell in nb.cells:
        tags = _tags(cell)
        if tags & DROP_CELL_TAGS:
            continue
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs = [] if "remove-output" in tags else [o for o in cell.outputs if _keep_output(o, tags)]
            if "show-input" not in tags:
                if not cell.outputs:
                    continue
                cell.metadata.setdefault("transient", {})["remove_source"] = True
        elif cell.cell_type == "raw":
            continue
        cells.append(cell)
    return cells


def figure_description(png: Path) -> str:
    """The description plots.save_figure wrote into a saved figure ("" if the file or the text is absent)."""
    from PIL import Image, PngImagePlugin

    try:
        with Image.open(png) as im:
            if not isinstance(im, PngImagePlugin.PngImageFile):
                return ""  # only a PNG has the text chunks save_figure writes
            return " ".join(str(im.text.get("Description", "")).split())
    except (OSError, ValueError):
        return ""


def add_alt_texts(cells: list, figures_dir: Path | None) -> None:
    """Gives every image of the report an alt text of its own: "Figure N (section): what it shows".

    What it shows is the description of the PNG the cell saved (its titles and axes, see
    plots.describe); the section is the heading above it. A cell that sets metadata "alt" keeps it.
    """
    section, n = "", 0
    for cell in cells:
        if cell.cell_type == "markdown":
            headings = HEADING.findall(cell.source)
            section = headings[-1].strip() if headings else section
            continue
        if cell.cell_type != "code":
            continue
        saved = FIGURE_CALL.findall(cell.source)
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for k, out in enumerate(images):
            n += 1
            own = cell.metadata.get("alt")
            what = own or (figure_description(Path(figures_dir) / saved[k]) if figures_dir and k < len(saved) else "")
            alt = f"Figure {n}" + (f" ({section})" if section else "") + (f": {what}" if what else "")
            out.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = alt


def merged_notebook(executed: list[Path], figures_dir: Path | None = None):
    """One notebook of all executed ones in report order, the abstract's discussion cells last; every
    image with its alt text (add_alt_texts, from the figures saved in figures_dir)."""
    merged = nbformat.v4.new_notebook()
    merged.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    merged.metadata["language_info"] = {"name": "python"}
    tail = []
    for path in executed:
        nb = nbformat.read(str(path), as_version=4)
        cells = prepare_cells(nb)
        if path.name.startswith("00"):
            cells, tail = (
                [c for c in cells if "discussion" not in _tags(c)],
                [c for c in cells if "discussion" in _tags(c)],
            )
        merged.cells.extend(cells)
    merged.cells.extend(tail)
    add_alt_texts(merged.cells, figures_dir)
    return merged


def methods_cell(path: Path = paths.METHODS):
    """METHODS.md as one markdown cell tagged `methods` (the report's Methods chapter)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the report's Methods chapter is rendered from it. "
            "Restore it from git (git checkout -- METHODS.md)."
        )
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("# "):
        raise ValueError(
            f"{path} must start with a level-1 heading ('# Methods'): it becomes the report's "
            "Methods chapter, a top-level entry of the contents."
        )
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": [METHODS_TAG]})


def _link_methods_citations(soup, anchors: dict) -> None:
    """Turns each "Methods section N" in the report's prose into a link to anchors[N], the id of that section."""
    for node in list(soup.find_all(string=METHODS_CITATION)):
        if any(parent.name in NO_LINK_PARENTS for parent in node.parents):
            continue
        text, pieces, pos = str(node), [], 0
        for m in METHODS_CITATION.finditer(text):
            anchor = anchors.get(int(m.group(1)))
            if anchor is None:  # no such section: leave the text as it is
                continue
            pieces.append(text[pos : m.start()])
            link = soup.new_tag("a", href=f"#{anchor}")
            link.string = m.group(0)
            pieces.append(link)
            pos = m.end()
        if not pieces:
            continue
        pieces.append(text[pos:])
        node.replace_with(*[p for p in pieces if p != ""])


def _slug(text: str, used: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


def body_and_toc(merged) -> tuple[str, str, str]:
    """(title, body HTML without the title, table-of-contents HTML) of the merged notebook."""
    from bs4 import BeautifulSoup, Tag
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True, anchor_link_text=""
    )
    body, _ = exporter.from_notebook_node(merged)
    soup = BeautifulSoup(body, "html.parser")
    for a in soup.select("a.anchor-link"):
        a.decompose()
    headings: list[Tag] = soup.find_all(["h1", "h2"])
    title = DEFAULT_TITLE
    if headings and headings[0].name == "h1":
        # the abstract's first heading is the paper's title: shown in the header, not in the TOC
        title = headings[0].get_text(" ", strip=True)
        headings[0].decompose()
        headings = headings[1:]
    used: set[str] = set()
    items: list[str] = []
    sections: dict[int, str] = {}  # METHODS.md section number -> its heading's anchor
    for h in headings:
        text = h.get_text(" ", strip=True)
        number = METHODS_HEADING.match(text)
        if h.name == "h2" and number and h.find_parent(class_=f"celltag_{METHODS_TAG}") is not None:
            # "methods-section-4": the stable anchor that citations of section 4 link to
            h["id"] = sections[int(number.group(1))] = _slug(f"{METHODS_TAG} section {number.group(1)}", used)
        else:
            h["id"] = _slug(text, used)
        items.append(f'<li class="toc-{h.name}"><a href="#{h["id"]}">{html.escape(text)}</a></li>')
    toc = '<nav class="toc"><h2>Contents</h2><ul>' + "".join(items) + "</ul></nav>" if items else ""
    _link_methods_citations(soup, sections)
    return title, str(soup), toc


def git_commit(root: Path = paths.ROOT) -> str:
    """The short commit of the checkout, marked when the working tree has uncommitted changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def software_versions() -> dict:
    """{package: version} of Python and the packages the results depend on."""
    out = {"python": platform.python_version()}
    for pkg in ("torch", "brian2", "numpy", "scikit-learn", "papermill", "nbconvert"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_time(results_dir: Path) -> str:
    """What the build's run time was, in one sentence: the notebooks' execution and, apart, what training
    the ladder cost (its trainings counted seed by seed, as the build trains them; the fan-out trains
    them beside the notebooks, so the two times overlap rather than add up)."""
    timings_file = results_dir / "timings.json"
    if not timings_file.exists():
        return "not recorded"
    t = json.loads(timings_file.read_text())
    total = sum((n.get("seconds") or 0) for n in t.get("notebooks", {}).values())
    text = f"The notebooks ran for {total / 60:.1f} min in all (each notebook's latest run)"
    fan = t.get("fanout") or {}
    if fan.get("fits_trained") or fan.get("states_computed"):
        states = fan.get("states_computed") or 0
        text += (
            f"; in the latest run the fan-out trained {display.count(fan['fits_trained'], 'model')}"
            + (f" and computed {display.count(states, 'network state')}" if states else "")
            + (" and the observer" if fan.get("observer_computed") else "")
            + f" in {fan.get('wall_s', 0) / 60:.1f} min beside them"
        )
    ladder_file = results_dir / "ladder.json"
    if ladder_file.exists():
        entries = [e for phases in json.loads(ladder_file.read_text()).values() for e in phases.values()]
        n_fits = sum(len(e.get("seeds") or [0]) for e in entries)
        train = sum((e.get("train_s") or 0) * len(e.get("seeds") or [0]) for e in entries)
        text += (
            f"; training the ladder's {display.count(len(entries), 'model')} "
            f"({display.count(n_fits, 'training')}, counting each seed) took {train / 60:.1f} min"
            "; a rebuild loads every trained model whose configuration is unchanged from the cache"
        )
    return text + "."


def header_html(profile: str, results_dir: Path) -> str:
    """The block under the title: profile, its description, date, commit, versions, devices, time."""
    try:
        description = get_profile(profile).description
    except ValueError:
        description = ""
    versions = ", ".join(f"{k} {v}" for k, v in software_versions().items())
    devices = summary.devices(summary.load_results(profile, results_dir))
    rows_time = run_time(Path(results_dir))
    rows = [
        ("Profile", f"<b>{html.escape(profile)}</b>: {html.escape(description)}"),
        ("Built", f"{dt.date.today().isoformat()} from commit <code>{html.escape(git_commit())}</code>"),
        ("Software", html.escape(versions)),
        ("Devices", html.escape(", ".join(devices) if devices else "not recorded in the results")),
        ("Run time", html.escape(rows_time)),
    ]
    return '<table class="meta">' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def executed_notebooks(
    profile: str, build_dir: Path | None = None, notebooks_dir: Path = paths.NOTEBOOKS
) -> list[Path]:
    """The executed notebooks of the current sources, in report order (the abstract first)."""
    build_dir = Path(build_dir) if build_dir else paths.BUILD / profile
    wanted = [build_dir / f"{p.stem}.ipynb" for p in discover(notebooks_dir)]
    missing = [p.name for p in wanted if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"executed notebooks missing in {build_dir}: {', '.join(missing)}. "
            f"Run `make report PROFILE={profile}` to execute them first."
        )
    return sorted(wanted, key=lambda p: p.name)


def assemble(
    profile: str,
    build_dir: Path | None = None,
    out: Path | None = None,
    notebooks_dir: Path = paths.NOTEBOOKS,
    methods: Path = paths.METHODS,
) -> Path:
    """Writes the standalone HTML report of a profile and returns its path."""
    results_dir = paths.RESULTS / profile
    merged = merged_notebook(executed_notebooks(profile, build_dir, notebooks_dir), paths.REPORT / profile / "figures")
    merged.cells.append(methods_cell(methods))
    title, body, toc = body_and_toc(merged)
    page = (TEMPLATES / "report.html").read_text()
    css = (TEMPLATES / "report.css").read_text()
    page = (
        page.replace("{{ title }}", html.escape(title))
        .replace("{{ css }}", css)
        .replace("{{ header }}", header_html(profile, results_dir))
        .replace("{{ toc }}", toc)
        .replace("{{ body }}", body)
    )
    out = Path(out) if out else paths.REPORT / profile / "technical_report.html"
    with atomic_path(out, checksum=False) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
