"""Notebook 06's figures: errors by neuron and horizon, the ranking, errors in time, and the explorer's plot."""

import matplotlib
import numpy as np
import pytest
from support import legend_labels, lines_by_label, spill_inches

from voltlib.paper.plots import errors, style

# ---------------------------------------------------------------- per neuron


def test_the_heatmaps_are_the_r2_and_rmse_arrays_with_a_row_per_horizon():
    r2 = np.array([[0.9, 0.8, 0.7, 0.6, 0.5], [0.4, 0.3, -0.2, 0.1, 0.0]])  # [H, n]
    rmse = np.array([[1.0, 1.5, 2.0, 2.5, 3.0], [3.0, 3.5, 4.0, 4.5, 5.0]])
    fig = errors.neuron_heatmap(r2, rmse, [1, 5], n_exc=3)
    top, bottom = fig.axes[:2]
    assert np.array_equal(top.images[0].get_array(), r2) and np.array_equal(bottom.images[0].get_array(), rmse)
    assert top.images[0].get_clim() == (-0.2, 1)  # R² down to its lowest, below 0
    assert bottom.images[0].get_clim() == (0, 5.0)
    for ax in (top, bottom):
        assert [t.get_text() for t in ax.get_yticklabels()] == ["1 ms", "5 ms"]
        assert ax.get_ylabel() == "horizon"
        assert sorted(t.get_text() for t in ax.texts) == ["E", "I"]
    assert bottom.get_xlabel() == "neuron index"
    assert sorted(cb.get_ylabel() for cb in fig.axes[2:]) == ["RMSE (mV)", "R²"]


def test_the_r2_colour_scale_starts_at_zero_when_every_r2_is_positive():
    r2 = np.full((1, 4), 0.5)
    fig = errors.neuron_heatmap(r2, np.ones((1, 4)), [1], n_exc=2)
    assert fig.axes[0].images[0].get_clim() == (0, 1)


def _ranking(**kw):
    r2 = np.array([0.5, 0.9, 0.7, 0.2, 0.8])  # neurons 0-2 E, 3-4 I
    r2_rn = np.array([[0.4, 0.8, 0.6, 0.1, 0.7], [0.6, 1.0, 0.8, 0.3, 0.9]])  # [run, neuron]
    rate = np.array([[10.0, 20, 30, 40, 50], [11, 21, 31, 41, 51]])
    degree = np.array([[3.0, 4, 5, 6, 7], [2, 3, 4, 5, 6]])
    ei = {"median_exc": 0.7, "median_inh": 0.5, "p": 0.0123}
    args = dict(r2=r2, n_exc=3, ei=ei, r2_run_neuron=r2_rn, rate_hz=rate, in_degree=degree)
    return errors.neuron_ranking(
        **{**args, "rho_rate": {"rho": -0.61, "p": 0.001}, "rho_degree": {"rho": 0.05, "p": 0.8}, **kw}
    ), args


def test_neurons_are_ranked_best_first_and_coloured_by_their_own_population():
    fig, args = _ranking()
    ax = fig.axes[0]
    ranked = ax.containers[0]
    assert np.allclose([p.get_height() for p in ranked.patches], [0.9, 0.8, 0.7, 0.5, 0.2])
    # ranked neurons 1 (E), 4 (I), 2 (E), 0 (E), 3 (I)
    expected = [style.EXC_COLOR, style.INH_COLOR, style.EXC_COLOR, style.EXC_COLOR, style.INH_COLOR]
    assert all(matplotlib.colors.same_color(p.get_facecolor()[:3], c) for p, c in zip(ranked.patches, expected))
    assert legend_labels(ax) == ["excitatory", "inhibitory"]
    assert ax.get_title(loc="left") == "E median 0.700, I median 0.500; Mann-Whitney p = 0.012"
    assert ax.get_xlabel() == "rank" and ax.get_ylabel() == "test R² (1 ms)"


def test_each_run_and_neuron_is_one_point_against_its_rate_and_its_jittered_in_degree():
    fig, args = _ranking()
    exc = np.arange(5) < 3
    for ax, x, jitter in ((fig.axes[1], args["rate_hz"], 0.0), (fig.axes[2], args["in_degree"], 0.2)):
        e, i = ax.collections
        for points, mask, colour in ((e, exc, style.EXC_COLOR), (i, ~exc, style.INH_COLOR)):
            xy = points.get_offsets()
            assert np.allclose(xy[:, 1], args["r2_run_neuron"][:, mask].ravel())
            assert np.allclose(xy[:, 0], x[:, mask].ravel(), atol=jitter + 1e-12)
            assert matplotlib.colors.same_color(points.get_facecolor()[0][:3], colour)
    assert np.array_equal(fig.axes[1].collections[0].get_offsets()[:, 0], args["rate_hz"][:, :3].ravel())
    assert fig.axes[1].get_title(loc="left") == "Spearman rho = -0.61 (p = 0.001)"
    assert fig.axes[2].get_title(loc="left") == "Spearman rho = 0.05 (p = 0.8)"
    assert (
        fig.axes[1].get_xlabel() == "firing rate in that run (Hz)"
        and fig.axes[2].get_xlabel() == "in-degree in that run"
    )


# ---------------------------------------------------------------- in time


def _profile(scale):
    c = np.array([0.5, 2.0, 8.0, 32.0])
    return {
        part: {"centers": c + k, "mse": scale * (k + 1) / (1 + c)}
        for k, part in enumerate(("since", "offset", "voltage", "time"))
    } | {"cumulative": {"within_ms": c, "share_of_error": scale * c / 40, "share_of_samples": c / 64}}


def test_temporal_patterns_draw_each_profile_in_its_panel_on_the_promised_scales():
    prof = {"CNN-LSTM": _profile(1.0), "persistence": _profile(2.0)}
    reset = {"within_ms": 2, "share_of_error": 0.4, "share_of_samples": 0.031}
    fig = errors.temporal_patterns(prof, 1.0, reset)
    (a, b, c), (d, e, f) = np.reshape(fig.axes, (2, 3))
    for ax, part in ((a, "since"), (b, "offset"), (d, "voltage"), (e, "time")):
        drawn = lines_by_label(ax)
        for name, p in prof.items():
            assert np.allclose(drawn[name][0], p[part]["centers"]) and np.allclose(drawn[name][1], p[part]["mse"])
        assert ax.get_yscale() == "log" and ax.get_ylabel() == "MSE (z units²)"
    cum = lines_by_label(c)
    assert np.allclose(cum["CNN-LSTM: error"][1], prof["CNN-LSTM"]["cumulative"]["share_of_error"])
    assert np.allclose(cum["persistence: error"][1], prof["persistence"]["cumulative"]["share_of_error"])
    assert np.allclose(cum["share of samples"][1], prof["CNN-LSTM"]["cumulative"]["share_of_samples"])
    assert a.get_xscale() == "log" and c.get_xscale() == "log" and b.get_xscale() == "linear"
    assert c.get_title(loc="left") == "within 2 ms: 40 % of the error, 3.1 % of samples"
    assert legend_labels(a) == ["CNN-LSTM", "persistence"]
    assert legend_labels(c) == ["CNN-LSTM: error", "persistence: error", "share of samples"]
    assert not f.axison
    (span,) = b.patches  # the unseen-spike zone: offsets 0 to the horizon
    assert span.get_x() == pytest.approx(0) and span.get_x() + span.get_width() == pytest.approx(1.0)


def test_the_two_forecasts_keep_their_styles_in_every_panel():
    prof = {"CNN-LSTM": _profile(1.0), "persistence": _profile(2.0)}
    fig = errors.temporal_patterns(prof, 1.0, {"within_ms": 2, "share_of_error": 0.4, "share_of_samples": 0.03})
    styles = {}
    for ax in fig.axes:
        for ln in ax.get_lines():
            name = ln.get_label().split(":")[0]
            if name in prof:
                styles.setdefault(name, set()).add((matplotlib.colors.to_hex(ln.get_color()), ln.get_linestyle()))
    assert styles == {"CNN-LSTM": {("#000000", "-")}, "persistence": {("#8c8c8c", "--")}}


# ---------------------------------------------------------------- the explorer


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


def test_the_explorer_draws_each_trace_as_given_truth_and_persistence_in_their_own_styles():
    t, traces = _traces(rollout_offset=0.5)
    fig = errors.explorer(t, traces, neuron=3, horizon_ms=5, title="test run 3")
    ax = fig.axes[0]
    drawn = lines_by_label(ax)
    for name, v in traces.items():
        assert np.array_equal(drawn[name][0], t) and np.allclose(drawn[name][1], v)
    line = {ln.get_label(): ln for ln in ax.get_lines()}
    assert matplotlib.colors.same_color(line["truth"].get_color(), "k")
    assert line["persistence"].get_linestyle() == "--"
    forecasts = {matplotlib.colors.to_hex(line[k].get_color()) for k in ("CNN-LSTM direct", "CNN-LSTM rollout")}
    assert len(forecasts) == 2
    assert ax.get_xlabel() == "time in the run (ms)" and ax.get_ylabel() == "v of neuron 3 (mV)"
    assert ax.get_title(loc="left") == "test run 3"
    assert not ax.collections  # no bands asked for: none drawn


def test_the_window_is_the_chosen_one_and_the_legend_is_off_the_traces():
    t, traces = _traces(rollout_offset=0.5)
    fig = errors.explorer(t, traces, neuron=3, horizon_ms=5)
    legend, ax = _legend_and_axes(fig)
    assert ax.get_xlim() == (970.0, 1169.0)
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1, "the legend overlaps the axes, where it can cover the traces"
    assert box.x1 <= fig.bbox.x1 + 1, "the legend is cut off at the figure's right edge"
    assert spill_inches(fig) == 0.0, "text past the figure's edges"


def test_joined_names_drop_the_shared_words():
    assert errors._joined(["CNN-LSTM direct", "CNN-LSTM rollout"]) == "CNN-LSTM direct = rollout"
    assert errors._joined(["ridge", "boosting"]) == "ridge = boosting"


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
