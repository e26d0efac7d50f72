"""Notebook 08's figures: the staircase of forecasters against the ceiling, and the recovery of the wiring."""

import matplotlib
import numpy as np
import pytest
from support import bar_heights, legend_labels, lines_by_label, spill_inches

from voltlib.forecast.staircase import MEMBER_LABELS
from voltlib.paper.plots import reaching, style

H = [1, 2, 5]
LABELS = ["1 own", "2 clock", "3 wiring", "4 oracle"]


def _staircase():
    curves = {k: ([0.6 + 0.05 * i, 0.4, 0.1], s) for i, (k, s) in enumerate(zip(LABELS, reaching.STAIRCASE_STYLES))}
    shares = {k: [0.2 + 0.1 * i, 0.3, -0.2] for i, k in enumerate(LABELS)}
    cis = {k: [(0.1, 0.3)] * 3 for k in LABELS}
    colors = {k: s["color"] for k, s in zip(LABELS, reaching.STAIRCASE_STYLES)}
    fig = reaching.staircase(H, curves, shares, cis, [0.75, 0.6, 0.3], [(0.7, 0.8)] * 3, colors)
    return fig, curves, shares


def test_the_staircase_fits_the_column_and_its_legend_covers_no_panel():
    fig, _, _ = _staircase()
    assert fig.get_size_inches()[0] <= 8.5  # shown at about its own size in the 50rem column
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 1
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in fig.axes)  # below both panels
    assert spill_inches(fig) == 0.0, "text past the figure's edges: saved larger than the column"
    assert len({s["color"] for s in reaching.STAIRCASE_STYLES} | {style.CEILING_COLOR}) == 5
    assert len({s["marker"] for s in reaching.STAIRCASE_STYLES}) == 4
    assert "test R² (clean protocol)" in style.describe(fig)


def test_the_staircase_draws_each_members_r2_and_share_in_one_colour_on_both_panels():
    fig, curves, shares = _staircase()
    left, right = fig.axes
    drawn = lines_by_label(left)
    for k in LABELS:
        assert np.allclose(drawn[k][1], curves[k][0])
        assert np.allclose(bar_heights(right, k), shares[k])
        line = next(ln for ln in left.get_lines() if ln.get_label() == k)
        bars = next(c for c in right.containers if c.get_label() == k)
        assert matplotlib.colors.same_color(line.get_color(), bars.patches[0].get_facecolor()[:3])
        assert line.get_marker() == curves[k][1]["marker"]
    assert np.allclose(drawn["ceiling + 0.2 mV meas. noise"][1], [0.75, 0.6, 0.3])
    assert legend_labels(fig) == ["ceiling + 0.2 mV meas. noise", *LABELS]
    assert right.get_ylabel() == "share of the achievable gain"
    assert left.get_ylim() == (-0.05, 1.0)


def _scores():
    """score() by member: R², gain share and its interval at each horizon key."""
    return {
        k: {
            hk: {
                "r2": 0.5 + 0.1 * i - 0.1 * j,
                "gain_share": 0.1 * (i + 1) - 0.05 * j,
                "gain_share_ci": (0.0, 0.1 * (i + 1)),
            }
            for j, hk in enumerate(("1", "2", "5"))
        }
        for i, k in enumerate(MEMBER_LABELS)
    }


BASELINES = {  # clean protocol: ridge best at 1 ms, the mean at 5 ms
    "persistence": {"1": {"r2": 0.3}, "2": {"r2": 0.1}, "5": {"r2": -0.4}},
    "mean": {"1": {"r2": 0.0}, "2": {"r2": 0.0}, "5": {"r2": 0.01}},
    "ridge": {"1": {"r2": 0.45}, "2": {"r2": 0.2}, "5": {"r2": -0.1}},
}
CEILING = {
    "horizons_ms": [1, 2, 5],
    "ceiling_r2": [0.9, 0.7, 0.4],
    "ceiling_r2_ci": [(0.85, 0.95), (0.6, 0.8), (0.3, 0.5)],
}


def test_staircase_figure_puts_each_member_beside_the_best_baseline_at_each_horizon_persistence_and_the_ceiling():
    scores = _scores()
    fig = reaching.staircase_figure(H, scores, BASELINES, CEILING)
    left, right = fig.axes
    drawn = lines_by_label(left)
    for k, label in MEMBER_LABELS.items():
        assert np.allclose(drawn[label][1], [scores[k][hk]["r2"] for hk in ("1", "2", "5")])
        assert np.allclose(bar_heights(right, label), [scores[k][hk]["gain_share"] for hk in ("1", "2", "5")])
    assert np.allclose(drawn["best baseline"][1], [0.45, 0.2, 0.01])  # ridge, ridge, the mean
    assert np.allclose(drawn["persistence"][1], [0.3, 0.1, -0.4])
    assert np.allclose(drawn["ceiling + 0.2 mV meas. noise"][1], [0.9, 0.7, 0.4])
    assert legend_labels(fig) == [
        "ceiling + 0.2 mV meas. noise",
        *MEMBER_LABELS.values(),
        "best baseline",
        "persistence",
    ]
    assert {c.get_label() for c in right.containers if type(c).__name__ == "BarContainer"} == set(
        MEMBER_LABELS.values()
    )


def test_staircase_figure_with_the_members_long_labels_keeps_its_legend_below_both_panels_and_inside():
    fig = reaching.staircase_figure(H, _scores(), BASELINES, CEILING)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in fig.axes)
    assert spill_inches(fig) == 0.0


def test_staircase_figure_draws_each_members_interval_and_styles_members_apart():
    scores = _scores()
    fig = reaching.staircase_figure(H, scores, BASELINES, CEILING)
    left, right = fig.axes
    errs = [c for c in right.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(errs) == 4
    for err, k in zip(errs, MEMBER_LABELS):
        assert np.allclose(
            [s[:, 1] for s in err.lines[2][0].get_segments()],
            [scores[k][hk]["gain_share_ci"] for hk in ("1", "2", "5")],
        )
    line = {ln.get_label(): ln for ln in left.get_lines()}
    assert len({line[lb].get_marker() for lb in MEMBER_LABELS.values()}) == 4
    assert len({matplotlib.colors.to_hex(line[lb].get_color()) for lb in MEMBER_LABELS.values()}) == 4
    # the ceiling's band covers the horizons with an interval, its values where given
    (band,) = left.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.max() == pytest.approx(0.95)


def _recovery(null_e):
    past = [0.0, 0.5, 1.0]
    auc = {"E": [[np.nan, 0.6, 0.8], [np.nan, 0.7, 0.9]], "I": [[np.nan, 0.55, 0.65], [np.nan, 0.65, 0.75]]}
    null = {"E": null_e, "I": [[np.nan] * 3, [np.nan] * 3]}  # I: no other runs, no null
    gain = {"3 wiring": np.array([0.0, 0.02, 0.05]), "4 oracle": np.array([0.0, 0.06, 0.08])}
    return reaching.wiring_recovery(past, auc, null, gain, "2 clock"), auc


def test_wiring_recovery_draws_the_mean_auc_over_runs_its_min_max_band_and_a_null_only_where_there_is_one():
    fig, auc = _recovery(null_e=[[np.nan, 0.5, 0.52], [np.nan, 0.48, 0.5]])
    left, right = fig.axes
    drawn = lines_by_label(left)
    assert list(drawn) == ["E synapses, this run", "E, other runs' graphs (null)", "I synapses, this run"]
    assert np.array_equal(drawn["E synapses, this run"][0], [0.0, 0.5, 1.0])
    assert np.allclose(drawn["E synapses, this run"][1], [np.nan, 0.65, 0.85], equal_nan=True)
    assert np.allclose(drawn["I synapses, this run"][1], [np.nan, 0.6, 0.7], equal_nan=True)
    assert np.allclose(drawn["E, other runs' graphs (null)"][1], [np.nan, 0.49, 0.51], equal_nan=True)
    line = {ln.get_label(): ln for ln in left.get_lines()}
    assert matplotlib.colors.same_color(line["E synapses, this run"].get_color(), style.EXC_COLOR)
    assert matplotlib.colors.same_color(line["I synapses, this run"].get_color(), style.INH_COLOR)
    band_e, band_i = left.collections
    for band, kind, colour in ((band_e, "E", style.EXC_COLOR), (band_i, "I", style.INH_COLOR)):
        ys = band.get_paths()[0].vertices[:, 1]
        a = np.asarray(auc[kind])
        assert ys.min() == pytest.approx(np.nanmin(a)) and ys.max() == pytest.approx(np.nanmax(a))
        assert matplotlib.colors.same_color(band.get_facecolor()[0][:3], colour)
    assert left.get_ylabel() == "ROC AUC (synapse vs none)" and left.get_ylim() == (0.4, 1.02)


def test_wiring_recovery_right_panel_is_each_members_gain_over_the_reference():
    fig, _ = _recovery(null_e=[[np.nan] * 3, [np.nan] * 3])
    left, right = fig.axes
    assert "E, other runs' graphs (null)" not in lines_by_label(left)  # an all-NaN null is not drawn
    drawn = lines_by_label(right)
    assert list(drawn) == ["3 wiring", "4 oracle"]
    assert np.allclose(drawn["4 oracle"][1], [0.0, 0.06, 0.08])
    assert right.get_ylabel() == "test R² at 1 ms minus 2 clock's"
    assert legend_labels(right) == ["3 wiring", "4 oracle"]
