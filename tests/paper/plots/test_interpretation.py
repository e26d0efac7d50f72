"""Notebook 07's figures: the CNN's filters, the importances, sensitivity against the wiring, the LSTM, residuals."""

import matplotlib
import numpy as np
import pytest
from support import bar_heights, legend_labels, lines_by_label

from voltlib.paper.plots import interpretation, style


def _filters(scale):
    """filter_summary's shape for a 4-step window: conv1 kernel 3, conv2 kernel 5."""
    out = {}
    for name, k in (("conv1", 3), ("conv2", 5)):
        m = scale * (np.arange(4 * k, dtype=float).reshape(4, k) + (k == 5))
        out[name] = {
            "offsets": list(range(-(k // 2), k // 2 + 1)),
            "by_offset": m.mean(axis=0),
            "by_input_step": m.mean(axis=1),
            "by_step_offset": m,
        }
    return out


def test_cnn_filters_show_each_convolutions_weights_by_step_and_offset_as_given():
    trained, init = _filters(1.0), _filters(0.5)
    fig = interpretation.cnn_filters(trained, init)
    conv1, conv2 = fig.axes[0], fig.axes[2]  # each heat map is followed by its colour bar
    for ax, name in ((conv1, "conv1"), (conv2, "conv2")):
        assert np.array_equal(ax.images[0].get_array(), trained[name]["by_step_offset"])
        assert ax.get_title(loc="left") == f"{name}: mean |w|"
        offsets = trained[name]["offsets"]
        assert [t.get_text() for t in ax.get_xticklabels()] == [f"{o:+d}" for o in offsets]
    assert [t.get_text() for t in conv1.get_xticklabels()] == ["-1", "+0", "+1"]


def test_cnn_filters_compare_trained_and_initial_weights_by_offset_and_by_input_step():
    trained, init = _filters(1.0), _filters(0.5)
    fig = interpretation.cnn_filters(trained, init)
    bars, steps = fig.axes[4], fig.axes[5]
    for k, name in enumerate(("conv1", "conv2")):
        heights = bar_heights(bars, f"{name} trained")
        assert np.allclose(heights, trained[name]["by_offset"])
        centres = [p.get_x() + p.get_width() / 2 for p in bars.containers[k].patches]
        assert np.allclose(centres, np.array(trained[name]["offsets"]) + (k - 0.5) * 0.35)
        assert np.allclose(bars.collections[k].get_offsets()[:, 1], init[name]["by_offset"])
    assert sorted(legend_labels(bars)) == ["at initialisation", "conv1 trained", "conv2 trained"]
    drawn = lines_by_label(steps)
    line = {ln.get_label(): ln for ln in steps.get_lines()}
    for name in ("conv1", "conv2"):
        assert np.allclose(drawn[f"{name} trained"][1], trained[name]["by_input_step"])
        assert np.allclose(drawn[f"{name} initial"][1], init[name]["by_input_step"])
        assert line[f"{name} trained"].get_color() == line[f"{name} initial"].get_color()
        assert line[f"{name} initial"].get_linestyle() == ":"
    assert line["conv1 trained"].get_color() != line["conv2 trained"].get_color()


def test_cnn_filters_name_the_newest_step_of_the_window_they_are_given():
    """A 4-step window's newest input channel is 3, whatever the default window (150 samples) makes it."""
    fig = interpretation.cnn_filters(_filters(1.0), _filters(0.5))
    assert fig.axes[0].get_ylabel() == "input channel = time step of the window (3 = newest)"
    assert fig.axes[5].get_xlabel() == "input channel (time step; 3 = newest)"


def test_feature_importance_draws_the_ablations_the_stacked_neuron_importance_and_the_lags():
    ablation = {"full CNN-LSTM": 0.8, "CNN switched off": 0.5, "residual switched off": -0.1}
    own, others = np.array([0.3, 0.2, 0.1, 0.05]), np.array([0.05, 0.1, 0.0, 0.02])
    lag_imp = np.array([0.5, 0.01, 1e-4])
    fig = interpretation.feature_importance(ablation, own, others, 2, ["1", "2-5", "6-150"], lag_imp)
    abl, neurons, lags = fig.axes
    widths = [p.get_width() for p in abl.patches]
    assert np.allclose(widths, list(ablation.values()))
    assert matplotlib.colors.same_color(abl.patches[0].get_facecolor()[:3], "k")  # the full model first, black
    assert all(matplotlib.colors.same_color(p.get_facecolor()[:3], "0.55") for p in abl.patches[1:])
    assert [t.get_text() for t in abl.get_yticklabels()] == list(ablation)
    assert abl.yaxis_inverted()  # read top-down in the order given
    assert [t.get_text() for t in abl.texts] == ["0.800", "0.500", "-0.100"]
    on_own = bar_heights(neurons, "on its own forecast")
    assert np.allclose(on_own, own)
    stacked = next(c for c in neurons.containers if c.get_label() == "on all other neurons' forecasts")
    assert np.allclose([p.get_y() for p in stacked.patches], own)  # on top of the own bars
    assert np.allclose([p.get_height() for p in stacked.patches], others)
    own_box = neurons.containers[0]
    expected = [style.EXC_COLOR] * 2 + [style.INH_COLOR] * 2
    assert all(matplotlib.colors.same_color(p.get_facecolor()[:3], c) for p, c in zip(own_box.patches, expected))
    assert np.allclose([p.get_height() for p in lags.patches], lag_imp)
    assert [t.get_text() for t in lags.get_xticklabels()] == ["1", "2-5", "6-150"]
    assert lags.get_yscale() == "symlog"


def _spatial():
    rng = np.random.default_rng(0)
    n = 6
    sens = rng.normal(size=(n, n))
    w = np.zeros((n, n))
    w[0, 1] = w[1, 2] = w[2, 0] = 0.2
    w[4, 0] = w[5, 1] = -1.0
    corr = {"r_own": 0.42, "r_other_runs": [0.01, -0.05, 0.03, 0.0]}
    return sens, w, corr


def test_spatial_patterns_show_sensitivity_without_its_diagonal_beside_the_wiring():
    sens, w, corr = _spatial()
    fig = interpretation.spatial_patterns(sens, w, corr, n_exc=4, run=7)
    s_ax, w_ax = fig.axes[0], fig.axes[1]
    shown = np.ma.filled(s_ax.images[0].get_array(), np.nan)
    assert np.isnan(np.diag(shown)).all()
    off = ~np.eye(6, dtype=bool)
    assert np.allclose(shown[off], sens[off])
    lo, hi = s_ax.images[0].get_clim()
    assert lo == -hi  # symmetric around zero: the sign reads as the colour
    assert np.array_equal(w_ax.images[0].get_array(), w) and w_ax.images[0].get_clim() == (-1.0, 1.0)
    assert w_ax.get_title(loc="left") == "true connectivity of test run 7"
    for ax in (s_ax, w_ax):
        assert ax.get_xlabel() == "post (forecast neuron)" and ax.get_ylabel() == "pre (input neuron)"
        assert sorted(t.get_text() for t in ax.texts) == ["E", "E", "I", "I"]  # both axes marked


def test_spatial_patterns_group_the_sensitivity_by_true_weight_and_set_the_own_run_against_the_null():
    sens, w, corr = _spatial()
    fig = interpretation.spatial_patterns(sens, w, corr, n_exc=4, run=7)
    box_ax, null_ax = fig.axes[2], fig.axes[3]
    assert [t.get_text() for t in box_ax.get_xticklabels()] == ["-1", "0", "0.2"]
    medians = [ln for ln in box_ax.get_lines() if ln.get_color() in ("C1", "#ff7f0e")]  # one median per level
    off = ~np.eye(6, dtype=bool)
    s, wo = sens[off], w[off]
    expected = [np.median(s[wo == v]) for v in (-1.0, 0.0, 0.2)]
    assert len(medians) == 3
    assert np.allclose([ln.get_ydata()[0] for ln in medians], expected)
    assert box_ax.get_title(loc="left") == "Pearson r = 0.420 over 30 pairs"
    assert sum(p.get_height() for p in null_ax.patches) == len(corr["r_other_runs"])
    assert sorted(legend_labels(null_ax)) == ["other runs' graphs", "own run's graph (0.420)"]
    (own,) = null_ax.get_lines()
    assert np.allclose(own.get_xdata(), 0.42)


def _dynamics():
    t = np.arange(100.0, 600.0)  # one sample per ms
    pcs = np.c_[np.sin(t / 10), 3 * np.cos(t / 10), t / 100]
    rate = 20 + 5 * np.sin(t / 10 + 0.3)
    osc = {
        "phase": np.mod(t / 10, 2 * np.pi),
        "freqs_hz": np.array([1.0, 10.0, 100.0]),
        "power": np.array([1.0, 50.0, 2.0]),
        "band_hz": (8.0, 12.0),
        "peak_hz": 10.0,
        "peak_over_median": 25.0,
    }
    decoding = {"hidden": {"rate": 0.9, "phase": 0.6}, "last input": {"rate": 0.4, "phase": -2.0}}
    return t, pcs, np.array([0.5, 0.3, 0.1]), rate, osc, decoding


def test_lstm_dynamics_draw_the_first_span_z_scored_pc_against_pc_and_the_spectrum():
    t, pcs, explained, rate, osc, decoding = _dynamics()
    fig = interpretation.lstm_dynamics(t, pcs, explained, rate, osc, decoding, span_ms=200.0)
    traces, plane, spectrum, _ = fig.axes[:4]
    sel = t < 300.0

    def z(v):
        return (v - v.mean()) / v.std()

    drawn = lines_by_label(traces)
    assert list(drawn) == ["population rate", "hidden PC1 (50 %)", "hidden PC2 (30 %)"]  # two PCs, not three
    assert np.array_equal(drawn["population rate"][0], t[sel])
    assert np.allclose(drawn["population rate"][1], z(rate)[sel])  # z-scored over the whole run, shown in the span
    assert np.allclose(drawn["hidden PC2 (30 %)"][1], z(pcs[:, 1])[sel])
    (points,) = plane.collections
    assert np.allclose(points.get_offsets(), pcs[sel, :2])
    assert np.allclose(points.get_array(), osc["phase"][sel])  # coloured by phase
    assert plane.get_xlabel() == "hidden PC1" and plane.get_ylabel() == "hidden PC2"
    (power,) = spectrum.get_lines()
    assert np.allclose(power.get_ydata(), osc["power"]) and spectrum.get_yscale() == "log"
    (band,) = spectrum.patches
    assert band.get_x() == pytest.approx(8.0) and band.get_x() + band.get_width() == pytest.approx(12.0)
    assert spectrum.get_title(loc="left") == "peak 10 Hz, 25.0 x the median power"


def test_lstm_dynamics_decoding_bars_per_feature_and_target_the_axis_clipped_at_minus_half():
    t, pcs, explained, rate, osc, decoding = _dynamics()
    fig = interpretation.lstm_dynamics(t, pcs, explained, rate, osc, decoding)
    ax = fig.axes[3]
    assert np.allclose(bar_heights(ax, "rate"), [0.9, 0.4]) and np.allclose(bar_heights(ax, "phase"), [0.6, -2.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hidden", "last input"]
    assert ax.get_ylim() == (-0.5, 1.0)
    assert sorted(t.get_text() for t in ax.texts) == ["-2.00", "0.40", "0.60", "0.90"]
    assert legend_labels(ax) == ["rate", "phase"]


def test_residual_analysis_draws_the_histogram_against_its_gaussian_the_acfs_and_the_heads_parts():
    rng = np.random.default_rng(1)
    resid = rng.standard_t(3, size=(400, 5))
    lags = np.arange(4) * 1.0
    acfs = {"CNN-LSTM": np.array([1.0, 0.2, 0.05, 0.0]), "persistence": np.array([1.0, 0.7, 0.5, 0.3])}
    parts = {"full CNN-LSTM": 0.8, "skip part alone (+ bias)": 0.6}
    fig = interpretation.residual_analysis(resid, lags, acfs, parts)
    hist, acf, head = fig.axes
    r = resid.ravel()
    bins = np.linspace(np.percentile(r, 0.01), np.percentile(r, 99.99), 120)
    expected, _ = np.histogram(r, bins, density=True)
    assert np.allclose([p.get_height() for p in hist.patches], expected)
    assert hist.get_yscale() == "log"
    gauss = lines_by_label(hist)["Gaussian, same SD"]
    assert np.allclose(gauss[1], np.exp(-0.5 * (bins / r.std()) ** 2) / (r.std() * np.sqrt(2 * np.pi)))
    drawn = lines_by_label(acf)
    assert list(drawn) == ["CNN-LSTM", "persistence"]
    for name, values in acfs.items():
        assert np.array_equal(drawn[name][0], lags) and np.allclose(drawn[name][1], values)
    assert acf.get_xlabel() == "lag (ms)"
    assert np.allclose([p.get_width() for p in head.patches], list(parts.values()))
    assert [t.get_text() for t in head.get_yticklabels()] == list(parts)
