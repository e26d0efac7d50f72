"""The report as a PDF: the assembled HTML printed by headless Chromium (build-only; no notebook imports it).

`python -m voltlib.workflow.browser --profile P` (the second step of `make report`) prints
report/P/technical_report.html to report/P/technical_report.pdf through Chromium's DevTools
(Page.printToPDF, driven by selenium with Debian's chromium and chromedriver, which selenium is given
by path and never downloads): A4, the page number and count in the footer, backgrounds kept. The
page layout itself (margins, no figure or table row cut across pages, the abstract on page 1) is the
report's print CSS (voltlib/templates/report.css, `@media print`).

Where Chromium is not installed the step prints one line saying so and what to install, and writes
nothing: the HTML report is complete without it. The PDF is written atomically, so an interrupted
print never leaves a file that looks complete.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from voltlib import paths
from voltlib.store import atomic_path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL = "apt-get install chromium chromium-driver (Debian), or set CHROMIUM and CHROMEDRIVER to their paths"
# the column the report is read in: the window is wide enough that the text column (50rem) is its own width
WINDOW = (1280, 1000)
FOOTER = (
    '<div style="font: 8px Helvetica, Arial, sans-serif; color: #5f6368; width: 100%; text-align: center;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


class ChromiumMissing(RuntimeError):
    """Chromium or its chromedriver is not installed where this module looks for them."""


def missing() -> list[str]:
    """The paths of Chromium and chromedriver that do not exist (empty: both are there)."""
    return [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]


@contextmanager
def chromium(window=WINDOW, log: Path | None = None):
    """A headless Chromium (selenium WebDriver) with a fresh profile, stopped and its profile removed on exit."""
    gone = missing()
    if gone:
        raise ChromiumMissing(f"{', '.join(gone)} not found: headless Chromium is needed here. Install it: {INSTALL}.")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix="voltlib-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--window-size={window[0]},{window[1]}",
        f"--user-data-dir={profile_dir}",
    ):
        opts.add_argument(arg)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(log) if log else os.devnull)
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def print_pdf(driver, html_path: Path, pdf_path: Path) -> Path:
    """Opens html_path in driver and prints it to pdf_path (A4, page numbers in the footer); returns pdf_path."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"{html_path} does not exist: assemble the report first (make report).")
    driver.get(html_path.as_uri())
    driver.execute_script("return document.fonts.ready")
    pdf = driver.execute_cdp_cmd(
        "Page.printToPDF",
        {
            "printBackground": True,
            "preferCSSPageSize": True,
            "paperWidth": 8.27,
            "paperHeight": 11.69,
            "marginTop": 0.6,
            "marginBottom": 0.6,
            "marginLeft": 0.7,
            "marginRight": 0.7,
            "generateDocumentOutline": True,
            "displayHeaderFooter": True,
            "headerTemplate": "<div></div>",
            "footerTemplate": FOOTER,
        },
    )
    data = base64.b64decode(pdf["data"])
    if not data.startswith(b"%PDF"):
        raise RuntimeError(f"Chromium returned no PDF for {html_path} (first bytes {data[:8]!r}).")
    with atomic_path(Path(pdf_path), checksum=False) as tmp:
        tmp.write_bytes(data)
    return Path(pdf_path)


def report_pdf(profile: str, report_dir: Path | None = None) -> Path:
    """report/<profile>/technical_report.pdf printed from the HTML report beside it; returns its path."""
    folder = Path(report_dir) if report_dir else paths.REPORT / profile
    with chromium() as driver:
        return print_pdf(driver, folder / "technical_report.html", folder / "technical_report.pdf")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Print report/<profile>/technical_report.html to a PDF beside it.")
    ap.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    args = ap.parse_args(argv)
    gone = missing()
    if gone:
        print(
            f"pdf: skipped, {', '.join(gone)} not found (the HTML report is complete). "
            f"For report/{args.profile}/technical_report.pdf install Chromium: {INSTALL}; then rerun make report."
        )
        return 0
    out = report_pdf(args.profile)
    print(f"pdf: {out.relative_to(paths.ROOT) if out.is_relative_to(paths.ROOT) else out}")
    return 0


if __name__ == "__main__":
    from voltlib.cli import run_cli  # a stop is one line, and the work under way is shut down

    sys.exit(run_cli(main))
