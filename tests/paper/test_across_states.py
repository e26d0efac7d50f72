"""Notebook 09's reading of the states: verdicts across states, the tables and the sentences, on hand-made
numbers with known answers."""

import numpy as np
import pytest

from voltlib.forecast.metrics import run_stats
from voltlib.paper import across_states as xs
from voltlib.paper import prose
from voltlib.sim import states


def _by_state(**words):
    return {k: {"difference": 0.1, "ci": [0.05, 0.15], "word": w} for k, w in words.items()}


def test_across_says_holds_changes_undecided_from_the_reference_states_word():
    H, R, U = xs.HOLDS, xs.REVERSED, xs.UNDECIDED
    assert xs.across(_by_state(source=H, ai=H, si=H)) == {
        "in_reference": H,
        "across": "holds in every state",
        "elsewhere": {H: ["ai", "si"]},
    }
    changed = xs.across(_by_state(source=H, ai=R, si=U, sr=H))
    assert changed["across"] == "changes" and changed["elsewhere"] == {H: ["sr"], R: ["ai"], U: ["si"]}
    assert xs.across(_by_state(source=R, ai=R, si=U))["across"] == "not distinguishable in some states"
    assert xs.across(_by_state(source=U, ai=H))["across"] == "undecided in the reference state"


def _forecasts(gap_by_state, n_runs=8, seed=0):
    """Two forecasters per state on the same test runs: b errs with SD 1 everywhere, a with SD 1 - gap."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, gap in gap_by_state.items():
        runs = np.repeat(np.arange(n_runs), 200)
        y = rng.normal(0, 2, size=(len(runs), 5))
        noise = rng.normal(size=y.shape)
        stats = {"a": run_stats(y, y + (1 - gap) * noise, runs), "b": run_stats(y, y + noise, runs)}
        out[key] = {m: {"1": {"run_stats": st}} for m, st in stats.items()}
    return out


def test_judge_decides_each_state_by_its_paired_interval():
    verdicts = (xs.Verdict("a beats b", "a", "b", 1),)
    (v,) = xs.judge(_forecasts({"source": 0.5, "ai": 0.5, "si": -0.5, "sr": 0.0}), verdicts)
    words = {k: s["word"] for k, s in v["by_state"].items()}
    assert words == {"source": xs.HOLDS, "ai": xs.HOLDS, "si": xs.REVERSED, "sr": xs.UNDECIDED}
    assert v["across"] == "changes" and v["elsewhere"][xs.REVERSED] == ["si"]
    # a's error variance is a quarter of b's; R^2 = 1 - MSE / var(y) with var(y) = 4: 0.9375 - 0.75
    assert v["by_state"]["source"]["difference"] == pytest.approx(0.1875, abs=0.01)
    lo, hi = v["by_state"]["source"]["ci"]
    assert lo < 0.1875 < hi and hi - lo < 0.05


def _record(key, rate=7.0, cv=0.86, fano=1.2, peak=20.0, ratio=5.0, n=3, labels=None):
    st = states.STATES[key]
    per = {"rate_hz": rate, "cv_isi": cv, "fano": fano, "chi": 0.25, "peak_hz": peak, "peak_over_median": ratio}
    rec = {k: {"mean": v, "sd": 0.1 * v, "min": v, "max": v} for k, v in per.items()}
    rec.update(
        n_runs=n,
        duration_s=10.0,
        expected=f"{st.synchrony} {st.regularity}",
        label=states.label(per),
        misses=states.misses(st, per),
        run_labels=labels or [states.label(per)] * n,
    )
    return xs.Measured(rec, {})


def test_the_states_table_shows_mean_and_sd_and_how_many_runs_carry_the_label():
    measured = {"ai": _record("ai"), "si": _record("si", labels=["synchronous irregular", "asynchronous irregular"],
                                                    fano=3.0, ratio=26.0, cv=0.95, n=2)}  # fmt: skip
    table = xs.states_frame(measured)
    assert list(table.columns) == ["AI", "SI"]
    assert table.loc["rate (Hz)", "AI"] == "7.0 ± 0.7"
    assert (table.loc["measured as", "AI"], table.loc["", "AI"]) == ("asynchronous", "irregular")
    assert table.loc["runs with the label", "SI"] == "1 of 2"
    assert table.loc["ν_ext/ν_thr", "SI"] == "0.3"


def test_the_measured_sentence_names_a_state_that_misses_its_label_and_why():
    ok = prose.render("states_measured", **xs.measured_fields({"ai": _record("ai"), "sr": _record("sr", rate=270.0,
                      cv=0.2, fano=10.0, peak=375.0, ratio=900.0)}))  # fmt: skip
    assert ok.startswith("Every state measures as its label, in the mean over its runs (3 runs of 10 s).")
    assert "The asynchronous irregular state fires at 7.0 ± 0.7 Hz with a CV of 0.86 ± 0.09" in ok
    assert "5.0 times above its median in the asynchronous irregular state," in ok
    assert "900.0 times above its median in the synchronous regular state (at 375 Hz)." in ok
    missed = prose.render("states_measured", **xs.measured_fields({"ai": _record("ai", rate=30.0, cv=0.5)}))
    assert missed.startswith("At this profile 1 of the 1 states does not measure as its label: the asynchronous")
    assert "irregular state measures as asynchronous near-regular (near-regular: CV of ISIs 0.50," in missed
    assert "; a rate of 30.0 Hz, outside 5-20 Hz)." in missed


def test_the_verdicts_sentence_says_where_a_verdict_changes():
    (v,) = xs.judge(_forecasts({"source": 0.5, "ai": 0.5, "si": -0.5}), (xs.Verdict("a beats b", "a", "b", 1),))
    names = {k: s.name for k, s in states.STATES.items()}
    text = prose.render("states_verdicts", verdicts=[v], names=names, member="M", above_ceiling=[])
    assert text.startswith("- *A beats b* (1 ms): holds in the source's state (0.18")
    assert "Elsewhere it holds in the asynchronous irregular state (0.1" in text
    assert "; is reversed in the synchronous irregular state (-0.2" in text
    assert text.endswith("No forecaster lies above its state's ceiling interval at any horizon.")
    above = [{"state": "ai", "forecaster": "member", "horizon_ms": 1, "r2": 0.9, "ceiling_hi": 0.85}]
    flagged = prose.render("states_verdicts", verdicts=[v], names=names, member="M", above_ceiling=above)
    assert "**1 forecasts lie above their state's ceiling interval**, which no forecaster can do: M in the" in flagged
    (u,) = xs.judge(_forecasts({"source": 0.0, "ai": 0.5}), (xs.Verdict("the AR beats b", "a", "b", 1),))
    text = prose.render("states_verdicts", verdicts=[u], names=names, member="M", above_ceiling=[])
    assert text.startswith("- *The AR beats b* (1 ms): is not distinguishable at this budget in the source's state")
    (w,) = xs.judge(_forecasts({"source": 0.5, "ai": 0.5}), (xs.Verdict("a beats b", "a", "b", 1),))
    text = prose.render("states_verdicts", verdicts=[w], names=names, member="M", above_ceiling=[])
    assert "So in every other state: in the asynchronous irregular state (0.1" in text


def test_above_ceiling_finds_only_forecasts_beyond_the_intervals_upper_end():
    ceilings = {"ai": {"horizons_ms": [1, 2], "ceiling_r2_ci": [[0.80, 0.85], [0.5, 0.6]]}}
    forecasts = {"ai": {"x": {"1": {"r2": 0.84}, "2": {"r2": 0.61}}, "y": {"1": {"r2": 0.86}}}}
    found = xs.above_ceiling(forecasts, ceilings)
    assert sorted((a["forecaster"], a["horizon_ms"]) for a in found) == [("x", 2), ("y", 1)]


def test_the_verdicts_table_has_a_row_per_verdict_and_state():
    (v,) = xs.judge(_forecasts({"source": 0.5, "ai": -0.5}), (xs.Verdict("a beats b", "a", "b", 1),))
    table = xs.verdicts_frame([v])
    assert list(table.index) == [("a beats b (1 ms)", "source's"), ("a beats b (1 ms)", "AI")]
    assert list(table["verdict"]) == [xs.HOLDS, xs.REVERSED]
    assert list(table["across the states"]) == ["changes", ""]


def _moved(diff_ci, r2=0.6, own=0.75):
    return {"r2": r2, "r2_ci": [r2 - 0.1, r2 + 0.1], "own_r2": own, "own_r2_ci": [own - 0.05, own + 0.05],
            "difference": r2 - own, "ci": diff_ci}  # fmt: skip


def test_transfer_is_worse_only_where_its_paired_interval_lies_below_zero():
    products = {
        "source": {"state": "source"},
        "ai": {"transfer": {"from_source": {"1": _moved([-0.2, -0.1]), "2": _moved([-0.2, 0.1])},
                            "to_source": {"1": _moved([0.01, 0.2], r2=0.8), "2": _moved([-0.3, -0.1])}}},
    }  # fmt: skip
    panels = xs.transfer_panels(products)
    assert list(panels) == ["source's trees on AI", "AI's trees on the source's"]
    table = xs.transfer_frame(panels, 1)
    assert list(table["verdict"]) == ["worse transferred", "better transferred"]
    text = prose.render("states_transfer", **xs.transfer_fields(panels, (1, 2)))
    assert "- *Source's trees on AI*: at 1 ms R² 0.600 against 0.750 for trees trained there (difference" in text
    assert "worse at 1 ms, not distinguishable at 2 ms." in text
    assert "worse at 2 ms, better at 1 ms." in text
    for products_ in products.values():  # the member's transfer, in the same layout under its own keys
        products_["transfer"] = {"member_" + k: v for k, v in products_.get("transfer", {}).items()}
    member = xs.transfer_panels(products, "member")
    assert list(member) == ["source's member on AI", "AI's member on the source's"] and not xs.transfer_panels(products)
    text = prose.render("states_transfer", **xs.transfer_fields(member, (1, 2), "member"))
    assert "- *Source's member on AI*: at 1 ms R² 0.600 against 0.750 for the member trained there (difference" in text
