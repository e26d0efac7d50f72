"""The report in headless Chromium: the PDF step of `make report` and the reader's checks of
tests/lab/check_report.py, on small pages whose faults are known. Skipped without Chromium."""

import importlib.util
import re
import shutil
import subprocess

import pytest

from voltlib.workflow import browser

pytestmark = pytest.mark.skipif(bool(browser.missing()), reason="Chromium or chromedriver not installed")
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
main {{ max-width: 40rem; margin: 0 auto; padding: 1rem; }}</style></head><body><main><header>Header</header>
<article><div class="cell"><div><h2>Abstract</h2></div></div><div class="cell"><p>We forecast voltages. More text.</p></div>
{body}</article></main></body></html>"""
GOOD = "<table><tr><td>0.381\u00a0[0.379,\u00a00.384]</td></tr></table><img alt='Figure 1: a trace' src='{png}'>"
BAD = (
    "<table style='width: 60rem'><tr><td>NaN</td><td>own_lags_boosting</td><td>8 test run(s)</td></tr></table>"
    "<p>cached: False</p><code>leak_effect in code is fine</code>"
    "<img alt='No description has been provided for this image' src='{png}'><img src='{png}'>"
)


def load_check():
    spec = importlib.util.spec_from_file_location(
        "check_report", browser.paths.ROOT / "tests" / "lab" / "check_report.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def driver():
    with browser.chromium() as d:
        yield d


def page(tmp_path, body, name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1])
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
    path = tmp_path / name
    path.write_text(PAGE.format(body=body.format(png="f.png")), encoding="utf-8")
    return path


def test_the_checks_find_every_planted_fault_and_pass_a_clean_page(tmp_path, driver, monkeypatch):
    check = load_check()
    monkeypatch.setattr(check, "OUT", tmp_path)
    problems, facts = check.check_html(driver, page(tmp_path, BAD, "bad.html"))
    text = "\n".join(problems)
    assert "table" in text and "past the" in text  # the wide table
    for fault in ("'NaN'", "'False'", "(s)", "'own_lags_boosting'", "no alt text of its own"):
        assert fault in text, fault
    assert "leak_effect" not in text  # code may show identifiers
    assert text.count("no alt text of its own") == 2 and (tmp_path / "too_wide_1.png").exists()
    problems, facts = check.check_html(driver, page(tmp_path, GOOD, "good.html"))
    assert problems == [] and facts["images"] == 1 and facts["abstract"].startswith("We forecast voltages.")


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils (pdfinfo, pdftotext) not installed")
def test_the_pdf_holds_the_page_its_text_and_its_images(tmp_path, driver, monkeypatch):
    html = page(tmp_path, GOOD, "good.html")
    pdf = browser.print_pdf(driver, html, tmp_path / "good.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and not list(tmp_path.glob("*.tmp*"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "We forecast voltages." in text and re.search(r"^1\s*/\s*1$", text, re.M)  # the footer: page 1 of 1
    check = load_check()
    monkeypatch.setattr(check, "OUT", tmp_path)
    monkeypatch.setattr(check, "PAGES", (1, 1))
    assert check.check_pdf(pdf, {"abstract": "We forecast voltages. More text.", "images": 1}) == []
    assert check.check_pdf(pdf, {"abstract": "Another sentence.", "images": 2}) != []


def test_a_missing_chromium_is_one_line_that_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    assert browser.main(["--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pdf: skipped, /nonexistent/chromium not found") and "apt-get install chromium" in out
    with pytest.raises(browser.ChromiumMissing, match="apt-get install chromium"):
        with browser.chromium():
            pass
