"""06's explorer figure: the chosen window, a legend off the traces, and coinciding forecasts named as such."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from voltlib.paper.plots import errors, reaching, style  # noqa: E402


def _traces(rollout_offset):
    t = np.arange(970.0, 1170.0)
    truth = -60 + 5 * np.sin(t / 7)
    return t, {
        "truth": truth,
        "persistence": np.r_[truth[0], truth[:-1]],
        "CNN-LSTM direct": truth + 0.3,
        "CNN-LSTM rollout": truth + 0.3 + rollout_offset,
    }


def _legend_and_axes(fig):
    fig.canvas.draw()
    ax = fig.axes[0]
    return ax.get_legend(), ax


def test_coinciding_forecasts_share_one_line_and_say_so():
    t, traces = _traces(rollout_offset=1e-5)
    fig = errors.explorer(t, traces, neuron=3, horizon_ms=1, title="test run 3")
    legend, ax = _legend_and_axes(fig)
    labels = [x.get_text() for x in legend.get_texts()]
    assert labels == ["truth", "persistence", "CNN-LSTM direct = rollout at 1 ms"]
    assert len(ax.lines) == 3


def test_distinct_forecasts_keep_their_own_lines():
    t, traces = _traces(rollout_offset=0.5)
    fig = errors.explorer(t, traces, neuron=3, horizon_ms=5)
    legend, ax = _legend_and_axes(fig)
    assert [x.get_text() for x in legend.get_texts()] == list(traces)
    assert len(ax.lines) == 4


def test_the_window_is_the_chosen_one_and_the_legend_is_off_the_traces():
    t, traces = _traces(rollout_offset=0.5)
    fig = errors.explorer(t, traces, neuron=3, horizon_ms=5)
    legend, ax = _legend_and_axes(fig)
    assert ax.get_xlim() == (970.0, 1169.0)
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1, "the legend overlaps the axes, where it can cover the traces"
    assert box.x1 <= fig.bbox.x1 + 1, "the legend is cut off at the figure's right edge"


def test_joined_names_drop_the_shared_words():
    assert errors._joined(["CNN-LSTM direct", "CNN-LSTM rollout"]) == "CNN-LSTM direct = rollout"
    assert errors._joined(["ridge", "boosting"]) == "ridge = boosting"


def test_the_staircase_fits_the_column_and_its_legend_covers_no_panel():
    import matplotlib.pyplot as plt

    h = [1, 2, 5]
    labels = ["1 own", "2 clock", "3 wiring", "4 oracle"]
    curves = {k: ([0.6, 0.4, 0.1], style) for k, style in zip(labels, reaching.STAIRCASE_STYLES)}
    shares = {k: [0.2, 0.3, -0.2] for k in labels}
    cis = {k: [(0.1, 0.3)] * 3 for k in labels}
    colors = {k: s["color"] for k, s in zip(labels, reaching.STAIRCASE_STYLES)}
    fig = reaching.staircase(h, curves, shares, cis, [0.75, 0.6, 0.3], [(0.7, 0.8)] * 3, colors)
    assert fig.get_size_inches()[0] <= 8.5  # shown at about its own size in the 50rem column
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 1
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in fig.axes)  # below both panels
    assert len({s["color"] for s in reaching.STAIRCASE_STYLES} | {style.CEILING_COLOR}) == 5
    assert len({s["marker"] for s in reaching.STAIRCASE_STYLES}) == 4
    assert "test R² (clean protocol)" in style.describe(fig)
    plt.close(fig)


def test_r2_goes_into_the_legend_and_a_band_is_drawn_in_its_forecasts_colour():
    t, traces = _traces(rollout_offset=0.5)
    lo, hi = traces["CNN-LSTM direct"] - 1, traces["CNN-LSTM direct"] + 1
    fig = errors.explorer(
        t,
        traces,
        neuron=3,
        horizon_ms=5,
        r2={"CNN-LSTM direct": 0.8123},
        bands={"CNN-LSTM direct": (lo, hi)},
        band_label="±2 SD",
    )
    legend, ax = _legend_and_axes(fig)
    labels = [x.get_text() for x in legend.get_texts()]
    assert "CNN-LSTM direct (R² 0.812)" in labels and "CNN-LSTM direct: ±2 SD" in labels
    (band,) = ax.collections
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "CNN-LSTM direct (R² 0.812)")
    assert matplotlib.colors.same_color(band.get_facecolor()[0][:3], line.get_color())
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(lo.min()) and ys.max() == pytest.approx(hi.max())
