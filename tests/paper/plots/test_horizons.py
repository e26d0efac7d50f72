"""R² and the gain share against the horizon (notebooks 06 and 08): the curves, the ceiling's bands, the bars."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from support import bar_heights, legend_labels, lines_by_label

from voltlib.paper.plots import horizons, style

H = [1, 2, 5, 10]
CURVES = {
    "CNN-LSTM": ([0.9, 0.7, 0.4, 0.2], {"color": "k"}),
    "ridge": ([0.8, 0.5, 0.1], {"color": "C1", "ls": "--"}),  # one horizon short
}


def test_each_curve_is_its_r2_at_its_horizons_on_a_log_axis_labelled_in_ms():
    fig = horizons.r2_vs_horizon(H, CURVES, ylim=(-0.5, 1.0))
    (ax,) = fig.axes
    drawn = lines_by_label(ax)
    assert list(drawn) == ["CNN-LSTM", "ridge"]
    assert np.array_equal(drawn["CNN-LSTM"][0], H) and np.allclose(drawn["CNN-LSTM"][1], CURVES["CNN-LSTM"][0])
    assert np.array_equal(drawn["ridge"][0], H[:3]) and np.allclose(drawn["ridge"][1], CURVES["ridge"][0])
    line = {ln.get_label(): ln for ln in ax.get_lines()}
    assert line["ridge"].get_linestyle() == "--" and matplotlib.colors.same_color(line["ridge"].get_color(), "C1")
    assert line["CNN-LSTM"].get_marker() == "o"  # the default marker, kept where the style has none
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == H and [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "5", "10"]
    assert ax.get_xlabel() == "horizon (ms)" and ax.get_ylabel() == "test R²"
    assert ax.get_ylim() == (-0.5, 1.0)
    assert legend_labels(ax) == ["CNN-LSTM", "ridge"]
    assert not ax.collections  # no ceiling given: no band


def test_the_ceilings_are_drawn_in_the_ceiling_colour_with_a_band_only_where_an_interval_is_given():
    ceiling, oracle = [0.95, 0.85, 0.6, 0.4], [0.97, 0.9, 0.7, 0.5]
    ci = [(0.94, 0.96), (0.8, 0.9), (0.55, 0.65), (0.3, 0.5)]
    fig = horizons.r2_vs_horizon(H, CURVES, ceiling=ceiling, ceiling_ci=ci, ceiling_oracle=oracle)
    (ax,) = fig.axes
    drawn = lines_by_label(ax)
    assert np.allclose(drawn["ceiling + 0.2 mV meas. noise"][1], ceiling)
    assert np.allclose(drawn["ceiling (oracle)"][1], oracle)
    for ln in ax.get_lines():
        if ln.get_label().startswith("ceiling"):
            assert matplotlib.colors.same_color(ln.get_color(), style.CEILING_COLOR)
    (band,) = ax.collections  # the noisy ceiling's interval; the oracle was given none
    assert matplotlib.colors.same_color(band.get_facecolor()[0][:3], style.CEILING_COLOR)
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.3) and ys.max() == pytest.approx(0.96)
    assert legend_labels(ax)[:2] == ["ceiling (oracle)", "ceiling + 0.2 mV meas. noise"]


def test_r2_vs_horizon_draws_into_the_axes_it_is_given():
    fig, (a, b) = plt.subplots(1, 2)
    assert horizons.r2_vs_horizon(H, CURVES, ax=b) is fig
    assert not a.get_lines() and set(lines_by_label(b)) == {"CNN-LSTM", "ridge"}


SHARES = {"CNN-LSTM": [0.8, 0.5, -0.2], "ridge": [0.4, -1.5, 0.1]}


def test_gain_share_bars_are_the_shares_grouped_by_horizon_a_share_below_minus_one_clipped_and_labelled():
    fig = horizons.gain_share_bars([1, 2, 5], SHARES, colors={"CNN-LSTM": "k", "ridge": "C3"})
    (ax,) = fig.axes
    assert np.allclose(bar_heights(ax, "CNN-LSTM"), [0.8, 0.5, -0.2])
    assert np.allclose(bar_heights(ax, "ridge"), [0.4, -1.0, 0.1])  # -1.5 drawn at -1 ...
    (note,) = ax.texts
    assert note.get_text() == "-150 %" and note.xy == pytest.approx((1 + 0.2, -1))  # ... and says so
    centres = {c.get_label(): [p.get_x() + p.get_width() / 2 for p in c.patches] for c in ax.containers}
    assert np.allclose(centres["CNN-LSTM"], [-0.2, 0.8, 1.8]) and np.allclose(centres["ridge"], [0.2, 1.2, 2.2])
    for name, colour in (("CNN-LSTM", "k"), ("ridge", "C3")):
        box = next(c for c in ax.containers if c.get_label() == name)
        assert all(matplotlib.colors.same_color(p.get_facecolor()[:3], colour) for p in box.patches)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "5"]
    assert ax.get_xlabel() == "horizon (ms)"
    assert ax.get_ylim() == pytest.approx((-1.05, 1.1))
    assert legend_labels(ax) == ["CNN-LSTM", "ridge"]
    ceiling = [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), 1)]
    assert len(ceiling) == 1 and matplotlib.colors.same_color(ceiling[0].get_color(), style.CEILING_COLOR)


def test_gain_share_bars_draw_intervals_only_for_the_models_that_have_them():
    intervals = {"CNN-LSTM": [(0.7, 0.9), (0.3, 0.6), (-0.4, 0.0)]}
    fig = horizons.gain_share_bars([1, 2, 5], SHARES, intervals=intervals)
    (ax,) = fig.axes
    (err,) = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    segments = err.lines[2][0].get_segments()
    assert np.allclose([s[:, 1] for s in segments], intervals["CNN-LSTM"])
    assert np.allclose([s[0, 0] for s in segments], [-0.2, 0.8, 1.8])  # on the CNN-LSTM's bars


def test_gain_share_bars_keep_the_axis_low_enough_for_a_negative_share_above_minus_one():
    fig = horizons.gain_share_bars([1], {"a": [-0.3]})
    assert fig.axes[0].get_ylim() == pytest.approx((-0.35, 1.1))


@pytest.mark.parametrize("draw", ["r2_vs_horizon", "gain_share_bars"])
def test_the_legend_sits_right_of_the_axes_off_the_data(draw):
    fig = horizons.r2_vs_horizon(H, CURVES) if draw == "r2_vs_horizon" else horizons.gain_share_bars([1, 2, 5], SHARES)
    fig.canvas.draw()
    (ax,) = fig.axes
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1


@pytest.mark.parametrize("h", [[1, 2, 5, 10, 20], [1, 5], [1, 2, 3]])
def test_the_horizon_axis_is_labelled_at_the_horizons_only(h):
    """Spanning less than a decade, a log axis labels its minor ticks too ('2×10⁰' beside '1' and '5')."""
    fig = horizons.r2_vs_horizon(h, {"a": ([0.5] * len(h), {})})
    fig.canvas.draw()
    (ax,) = fig.axes
    lo, hi = ax.get_xlim()
    shown = [
        t.label1.get_text()
        for t in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()
        if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()
    ]
    assert sorted(shown) == sorted(f"{x:g}" for x in h)
