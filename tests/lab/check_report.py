"""The report as a reader meets it, in headless Chromium: `make test-lab` runs this after drive_lab.py.

Without --report it builds the whole smoke report (`make report PROFILE=smoke`, HTML and PDF) in the
lab test's scratch root, build/test-lab/root (VOLTLIB_ROOT points there; its smoke caches are
reused), so nothing of the developer's results/ or report/ is touched. Then, in Chromium at a
desktop window:

- no table and no figure is wider than the text column (a wide table would be cut or scroll);
- the visible text (code and pre blocks aside) holds no NaN, None, True/False, no "(s)" template
  and no code identifier of a model, baseline or comparison (own_lags_boosting, leak_effect, ...);
- every image has an alt text of its own (not nbconvert's default, not shared with another image);
and of the PDF beside it (poppler's pdfinfo, pdftotext, pdfimages):
- at least a few pages and no more than a bound, the abstract's first sentence on page 1,
  every figure of the HTML present as an image.

Screenshots (the top of the report, each offending element, a few PDF pages) go to
build/report-check/. `--report PATH` checks an existing HTML report (and its PDF, if one is beside
it) instead of building one: run it against an old report to see what it finds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "build" / "report-check"
ROOT = REPO / "build" / "test-lab" / "root"
PROFILE = "smoke"
DEFAULT_ALT = "No description has been provided for this image"
# the code names a reader must never meet; the Methods chapter may show them as code (<code>, <pre>)
# snake_case words of two or more letters a part (own_lags_boosting, leak_effect): code, not prose;
# a formula's subscripts (v_i, x_last) are not code names
IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]+(?:_[a-z0-9]{2,})+\b")
RAW = re.compile(r"\b(NaN|nan|None(?! of)|True|False)\b|\w\(s\)")
PAGES = (3, 400)

# the text column and, for each table and image, how far it reaches past it
JS_LAYOUT = """
const main = document.querySelector('main');
const cs = getComputedStyle(main);
const r = main.getBoundingClientRect();
const left = r.left + parseFloat(cs.paddingLeft), right = r.right - parseFloat(cs.paddingRight);
const over = [];
document.querySelectorAll('article table, article img, article svg').forEach((e, i) => {
  const b = e.getBoundingClientRect();
  if (b.width === 0) return;
  const wide = Math.max(b.right - right, left - b.left, e.scrollWidth - e.clientWidth);
  if (wide > 1) over.push({i: i, tag: e.tagName.toLowerCase(), width: Math.round(b.width), over: Math.round(wide),
    text: (e.innerText || e.alt || '').slice(0, 60)});
  e.setAttribute('data-check-index', i);
});
return {column: Math.round(right - left), over: over};
"""
JS_TEXT = """
const copy = document.querySelector('article').cloneNode(true);
copy.querySelectorAll('code, pre, script, style').forEach(e => e.remove());
document.body.appendChild(copy);  // innerText needs a rendered node
const text = copy.innerText;
copy.remove();
return document.querySelector('header').innerText + '\\n' + text;
"""
JS_ALTS = "return [...document.querySelectorAll('img')].map(i => i.getAttribute('alt') || '')"
JS_ABSTRACT = """
const h = [...document.querySelectorAll('h2')].find(e => e.textContent.trim().startsWith('Abstract'));
let n = h && h.closest('.cell, .jp-Cell');  // nbconvert's cell around the heading
for (n = n && n.nextElementSibling; n; n = n.nextElementSibling) { const t = n.innerText.trim(); if (t) return t; }
return '';
"""


def log(text: str) -> None:
    print(f"[report-check {time.strftime('%H:%M:%S')}] {text}", flush=True)


def context(text: str, m: re.Match, width: int = 50) -> str:
    return " ".join(text[max(0, m.start() - width) : m.end() + width].split())


def text_problems(text: str) -> list[str]:
    """What a reader should never see in the report's visible text, each with its context."""
    problems = [f"raw value or template {m.group(0)!r}: ...{context(text, m)}..." for m in RAW.finditer(text)]
    problems += [f"code identifier {m.group(0)!r}: ...{context(text, m)}..." for m in IDENTIFIER.finditer(text)]
    return problems


def alt_problems(alts: list[str]) -> list[str]:
    """Every image needs an alt text of its own."""
    problems = []
    for k, alt in enumerate(alts, 1):
        if not alt.strip() or alt.strip() == DEFAULT_ALT:
            problems.append(f"image {k} of {len(alts)} has no alt text of its own ({alt!r})")
        elif alts.count(alt) > 1:
            problems.append(f"image {k} shares its alt text with another image: {alt[:80]!r}")
    return problems


def check_html(driver, html: Path) -> tuple[list[str], dict]:
    """(problems, facts) of the HTML report opened in driver; screenshots of the offenders under OUT."""
    driver.get(html.resolve().as_uri())
    layout = driver.execute_script(JS_LAYOUT)
    problems = [
        f"{o['tag']} {o['width']} px wide reaches {o['over']} px past the {layout['column']} px text column "
        f"({o['text']!r})"
        for o in layout["over"]
    ]
    driver.save_screenshot(str(OUT / "report_top.png"))
    for k, o in enumerate(layout["over"][:3], 1):
        el = driver.find_element("css selector", f"[data-check-index='{o['i']}']")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        driver.save_screenshot(str(OUT / f"too_wide_{k}.png"))
    text = driver.execute_script(JS_TEXT)
    alts = driver.execute_script(JS_ALTS)
    problems += text_problems(text) + alt_problems(alts)
    abstract = driver.execute_script(JS_ABSTRACT)
    return problems, {"column_px": layout["column"], "images": len(alts), "abstract": abstract}


def first_sentence(text: str) -> str:
    """The abstract's first sentence, as pdftotext would find it on one line (spaces normalised)."""
    return " ".join(re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].split())


def check_pdf(pdf: Path, facts: dict) -> list[str]:
    """The PDF's page count, its first page's text and its images against what the HTML holds."""
    if not pdf.is_file():
        return [f"{pdf} does not exist: `make report` writes it beside the HTML report (needs Chromium)"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    problems = (
        [] if PAGES[0] <= pages <= PAGES[1] else [f"{pdf.name} has {pages} pages, expected {PAGES[0]}-{PAGES[1]}"]
    )
    page1 = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True).stdout
    sentence = first_sentence(facts["abstract"])
    flat = " ".join(page1.replace("-\n", "").split())
    if not sentence or sentence[:80] not in flat:
        problems.append(f"page 1 of {pdf.name} lacks the abstract's first sentence {sentence[:80]!r}")
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    n_images = sum(1 for line in images.splitlines()[2:] if re.match(r"\s*\d+\s+\d+\s+image\b", line))
    if n_images < facts["images"]:
        problems.append(f"{pdf.name} holds {n_images} images, the HTML report {facts['images']} figures")
    for k in (1, 2, max(1, pages // 2), pages):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", "-f", str(k), "-l", str(k), str(pdf), str(OUT / f"pdf_page_{k}")]
        )
    facts.update(pages=pages, pdf_images=n_images)
    return problems


def build_smoke_report() -> Path:
    """The smoke report (HTML and PDF) built with the Makefile's own recipe in the scratch root."""
    (ROOT / "notebooks").mkdir(parents=True, exist_ok=True)
    for src in sorted((REPO / "notebooks").iterdir()):
        if src.suffix in (".py", ".toml"):
            (ROOT / "notebooks" / src.name).write_bytes(src.read_bytes())
    (ROOT / "METHODS.md").write_bytes((REPO / "METHODS.md").read_bytes())
    t0 = time.perf_counter()
    env = {**os.environ, "VOLTLIB_ROOT": str(ROOT)}
    subprocess.run(
        ["make", "--no-print-directory", "report", f"PROFILE={PROFILE}", "WORKERS=1"], cwd=REPO, env=env, check=True
    )
    log(f"smoke report built in {time.perf_counter() - t0:.0f} s")
    return ROOT / "report" / PROFILE / "technical_report.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Check the report in headless Chromium as a reader meets it.")
    ap.add_argument("--report", type=Path, help="an existing technical_report.html (default: build the smoke report)")
    args = ap.parse_args(argv)
    from voltlib.workflow import browser

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    html = args.report or build_smoke_report()
    with browser.chromium(log=OUT / "chromedriver.log") as driver:
        problems, facts = check_html(driver, html)
    pdf = html.with_suffix(".pdf")
    if args.report is None or pdf.exists():
        problems += check_pdf(pdf, facts)
    (OUT / "facts.json").write_text(json.dumps(facts, indent=1))
    if problems:
        print(f"\nREPORT CHECK FAILED for {html}: {len(problems)} problems (screenshots in {OUT}):", file=sys.stderr)
        for p in problems:
            print(f"- {p}", file=sys.stderr)
        return 1
    log(f"passed: {html} ({facts}); screenshots in {OUT.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
