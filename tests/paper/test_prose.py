"""The templates' renderer: fields filled or refused, line ends kept where text ends, paragraphs joined,
and every template of the paper rendered from results with and without the numbers it names."""

import re

import pytest

from voltlib import display, paths
from voltlib.config import get_profile
from voltlib.paper import prose
from voltlib.paper import summary as S


@pytest.fixture
def templates(tmp_path, monkeypatch):
    """A scratch template folder: write(name, text) adds a template that render() finds."""
    monkeypatch.setattr(prose, "TEMPLATES", tmp_path)
    monkeypatch.setattr(prose, "_ENV", prose._environment())

    def write(name, text):
        (tmp_path / f"{name}{prose.SUFFIX}").write_text(text)

    return write


def test_a_field_is_filled_with_its_filter(templates):
    templates("t", "R² = {{ r2 | num }}, {{ share | pct }} of the gain, {{ n | count('test run') }}.\n")
    assert prose.render("t", r2=0.75512, share=0.5, n=1) == "R² = 0.755, 50 % of the gain, 1 test run."


def test_a_field_that_was_not_given_is_an_error_that_names_it(templates):
    templates("t", "R² = {{ r2 | num }} and {{ ceiling_r2 | num }}.\n")
    with pytest.raises(prose.TemplateError, match="ceiling_r2.*given: r2"):
        prose.render("t", r2=0.7)


def test_an_unknown_template_names_the_ones_there_are(templates):
    templates("abstract", "x\n")
    with pytest.raises(prose.TemplateError, match="No template 'abstrct': expected one of abstract"):
        prose.render("abstrct")


def test_a_missing_value_reads_as_missing_words_not_as_none(templates):
    templates("t", "{{ x | num }}; {{ a | vs(b) }}; {{ 0.9 | vs(0.8, 'higher', 'lower') }}; {{ missing }}\n")
    assert prose.render("t", x=None, a=None, b=0.5) == f"{S.MISSING}; {S.MISSING}; higher; {S.MISSING}"


def test_lines_of_tags_vanish_and_text_lines_end_where_written(templates):
    templates(
        "t",
        "{# a comment #}\n"
        "First{% if a %} one{% endif %}\n"  # ends in a tag: the line's end stays a space
        "line.\n"
        "{% if b %}\n"
        "Second paragraph{% if a %}, with a{% endif %}\n"
        "\n"  # after a line ending in a tag, the blank line still ends the paragraph
        "Third.\n"
        "{% endif %}\n",
    )
    assert prose.render("t", a=True, b=True) == "First one line. Second paragraph, with a\n\nThird."
    assert prose.render("t", a=False, b=False) == "First line."


def test_tidy_joins_a_paragraph_and_keeps_list_items_and_non_breaking_spaces():
    text = f"A sentence\n  broken   here.\n\n\n- one item\n  continued\n- two{display.NBSP}%\n1. first\n2. second\n"
    assert (
        prose.tidy(text)
        == f"A sentence broken here.\n\n- one item continued\n- two{display.NBSP}%\n1. first\n2. second"
    )


def test_keep_line_ends_marks_only_tags_that_end_a_line_of_text():
    src = "{% if a %}\ntext {% endif %}\n{{ x }}\nalready {% endif +%}\n"
    assert prose.keep_line_ends(src) == "{% if a %}\ntext {% endif +%}\n{{ x }}\nalready {% endif +%}\n"


def _results():
    """Results files as the notebooks write them, with numbers whose headline values are known."""
    run = lambda r2, ci=None: {"r2": r2, "r2_ci": ci}  # noqa: E731
    h1 = "1"
    return {
        "simulation": {"n_runs": 4, "duration_s": 2.0, "rate_hz": 31.25, "cv_isi": 0.4},
        "baselines": {
            p: {"mean": {h1: run(0.0)}, "persistence": {h1: run(0.6)}, "ar_ridge": {h1: run(0.7, [0.68, 0.72])}}
            for p in ("original", "clean")
        },
        "ladder": {
            p: {
                "phase1_lstm": run(0.5),
                "phase4_cnn_lstm": {**run(0.65 if p == "clean" else 0.7, [0.6, 0.7]), "seeds": [0, 1]},
            }
            for p in ("original", "clean")
        },
        "ceiling": {"horizons_ms": [1, 2], "ceiling_r2": [0.9, 0.8], "ceiling_r2_ci": [[0.85, 0.95], None]},
        "comparisons": {"ladder": {"leak_effect": {"difference": 0.05, "ci": [0.02, 0.08], "verdict": "higher"}}},
        "beyond": None,
        "analysis": {"findings": ["It reads its own past.", 3]},
    }


def test_the_headline_reads_the_best_phase_baseline_ceiling_and_shares():
    h = S.headline({**_results(), "comparisons": None})
    assert (h["best_phase"], h["best_r2"], h["n_seeds"]) == ("phase4_cnn_lstm", 0.65, 2)
    assert (h["best_baseline"], h["best_baseline_r2"], h["ceiling_r2"], h["ceiling_ci"]) == (
        "ar_ridge",
        0.7,
        0.9,
        (0.85, 0.95),
    )
    assert h["share"] == pytest.approx((0.65 - 0.6) / (0.9 - 0.6))
    assert h["baseline_share"] == pytest.approx((0.7 - 0.6) / (0.9 - 0.6))
    assert (h["leak"], h["best_forecaster"], h["rate_hz"]) == (None, None, 31.25)


def test_the_headline_of_no_results_is_all_missing():
    h = S.headline({})
    assert {k for k, v in h.items() if v not in (None, 0)} == {"source_r2"}


def test_the_findings_are_sentences_or_none():
    assert S.findings(_results()) == ["It reads its own past.", "3"]
    assert S.findings({"analysis": {"findings": "not a list"}}) == []


def test_the_headline_table_puts_the_source_beside_both_protocols():
    t = S.headline_table(_results())
    assert t.loc["phase 4 CNN-LSTM"].tolist() == [
        "0.755",
        display.with_interval(0.7, [0.6, 0.7]),
        display.with_interval(0.65, [0.6, 0.7]),
    ]
    assert t.loc["best simple baseline (AR per neuron)", "ours, clean protocol"] == display.with_interval(
        0.7, [0.68, 0.72]
    )
    assert t.loc["phase 2 larger LSTM"].tolist() == ["0.526", display.MISSING, display.MISSING]


def _paper_text(results) -> dict:
    """Every template of notebook 00 rendered as the notebook renders it."""
    cfg, h = get_profile("smoke"), S.headline(results)
    return {
        "abstract": prose.render("abstract", **h),
        "method_in_brief": prose.render("method_in_brief", profile="smoke", cfg=cfg),
        "discussion": prose.render(
            "discussion", **h, source_phase1_r2=0.511, budget_words="512 window-passes", budget_point="**Budget.**"
        ),
        "findings": prose.render("findings", findings=S.findings(results)),
        "limitations": prose.render(
            "limitations", profile="smoke", cfg=cfg, paper=False, n_seeds=2, budget_limitation="x.", devices=["cpu"]
        ),
    }


def test_the_abstract_says_the_numbers_and_the_leak_in_words_its_interval_allows():
    text = _paper_text(_results())
    assert "**R² = 0.700**. Under a clean protocol" in text["abstract"]
    assert "(means over 2 training seeds)" in text["abstract"]
    assert "original minus clean, is 0.050 higher (95" in text["abstract"]
    assert "best simple baseline (AR per neuron) **0.700**" in text["abstract"]
    assert "realises **17 %** of the gain" in text["abstract"]  # (0.65 - 0.6) / (0.9 - 0.6)
    assert f"The forecasters that go beyond the source are {S.MISSING}." in text["abstract"]
    assert f"The findings across network states are {S.MISSING}." in text["abstract"]
    assert text["abstract"].endswith(f"The observer's ceiling is {S.MISSING}.")
    assert "\n" not in text["abstract"]  # one paragraph
    assert text["discussion"].startswith("1. **The source's split leaks, and here it shows.** With windows")
    assert [int(m) for m in re.findall(r"^(\d)\. ", text["discussion"], re.M)] == [1, 2, 3, 4, 5, 6]
    assert text["findings"].splitlines()[2:] == ["- It reads its own past.", "- 3"]
    assert text["limitations"].count("\n- ") == 5 and text["limitations"].endswith("Training ran on: cpu.")


def test_with_no_results_every_template_says_what_is_missing():
    text = _paper_text({})
    assert text["abstract"].count(S.MISSING) >= 8
    assert f"the size of the effect on R² is {S.MISSING}." in text["discussion"]
    assert text["findings"] == f"**What the models use**: the interpretability findings are {S.MISSING}."
    assert "**Data.** 4 independent runs of 2 s of a 100-neuron Brunel network" in text["method_in_brief"]


def test_every_template_is_rendered_by_the_code_or_a_notebook():
    sources = [*paths.PACKAGE_DIR.rglob("*.py"), *paths.NOTEBOOKS.glob("*.py")]
    used = {m for f in sources for m in re.findall(r'render\(\s*"(\w+)"', f.read_text())}
    assert set(prose.names()) == used


def test_items_reads_a_rendered_list_back_as_its_sentences(templates):
    templates("t", "{% for f in fs %}\n- {{ f }}\n  and more\n{% endfor %}\n")
    text = prose.render("t", fs=["One.", "Two - 2."])
    assert text == "- One. and more\n- Two - 2. and more"
    assert prose.items(text) == ["One. and more", "Two - 2. and more"]
    assert prose.items("A paragraph, not a list.") == []


def test_the_abstract_counts_the_verdicts_that_hold_change_or_stay_open_across_states():
    def v(claim, across):
        return {"claim": claim, "across": across}

    states = {
        "forecasts": {"source": {}, "ai": {}, "si": {}, "sr": {}},
        "verdicts": [
            v("a beats b", "holds in every state"),
            v("c beats d", "changes"),
            v("e beats f", "not distinguishable in some states"),
            v("g beats h", "holds in every state"),
        ],
    }
    a = S.across_states(states)
    assert a == {"n_states": 4, "n_verdicts": 4, "holds": ["a beats b", "g beats h"], "changes": ["c beats d"],
                 "undecided": ["e beats f"]}  # fmt: skip
    text = prose.render("abstract", **{**S.headline(_results()), "across_states": a})
    assert text.split(" The observer's ceiling is")[0].endswith(
        "Across 4 network states of the same kind at this size, from the source's to asynchronous irregular firing "
        "like cortex's and to synchronous rhythms, 2 of the 4 verdicts that two forecasters decide hold in every "
        "state, and 1 changes direction in some (c beats d); 1 is not distinguishable in some states at this budget."
    )
    assert S.across_states(None) is None and S.across_states({"verdicts": []}) is None


def test_the_abstract_states_the_observers_ceiling_and_the_shares_of_the_gap():
    observer = {
        "scores": {"observer": {"1": {"r2": 0.77, "r2_ci": [0.75, 0.79]}}, "oracle": {"1": {"r2": 0.79}}},
        "differences": {"oracle_minus_observer": {"1": {"difference": 0.02, "ci": [0.01, 0.03]}}},
        "decomposition": {"1": {"observer_share_of_oracle_gain": 0.9, "learned_share_of_observer_gain": 0.97}},
    }
    h = S.headline({**_results(), "observer": observer})
    assert h["observer"]["r2"] == 0.77 and h["observer"]["learned_share"] == 0.97
    text = prose.render("abstract", **h)
    assert "**R² = 0.770** (95 % CI 0.750 to 0.790) where the oracle reaches 0.790" in text.replace("\xa0", " ")
    assert "the oracle's R² is 0.020 higher" in text
    assert "holds 90 % of the oracle's gain above the floor; the best learned forecaster reaches 97 %" in text
    assert S.observer(None) is None and S.observer({"scores": {}}) is None
    observer["scores"]["observer"]["1"]["r2_ci"] = [None, None]  # one test run: no interval, no empty brackets
    text = prose.render("abstract", **S.headline({**_results(), "observer": observer}))
    assert "**R² = 0.770** where the oracle reaches" in text
    assert "quantiles instead of a mean" not in text  # no distributional member in this product
    observer["scores"]["quantile_seeds"] = {"1": {"coverage_90": {"value": 0.874, "ci": [0.86, 0.89]}}}
    observer["distributional"] = {"quantiles": 64}
    text = prose.render("abstract", **S.headline({**_results(), "observer": observer})).replace("\xa0", " ")
    assert "Trained to forecast 64 quantiles instead of a mean" in text
    assert "(its seeds pooled) hold 87 % of the recorded values (95 % CI 86 to 89 %)." in text
