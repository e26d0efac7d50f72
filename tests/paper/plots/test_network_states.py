"""Notebook 09's figures: each state's spikes, rate and spectrum; each state's forecasts by horizon."""

import numpy as np
from support import legend_labels, lines_by_label

from voltlib.paper.plots import network_states as plots
from voltlib.paper.plots.style import EXC_COLOR, INH_COLOR


def _example(peak_at):
    f = np.arange(0, 500, 2.0)
    power = np.ones_like(f)
    power[np.searchsorted(f, peak_at)] = 50.0
    return {
        "spike_t_ms": np.array([800.0, 801.0, 900.0]),
        "spike_i": np.array([3, 85, 40]),
        "t_ms": 800.0 + np.arange(500),
        "rate_hz": np.linspace(0, 10, 500),
        "freqs_hz": f,
        "power": power,
        "n_neurons": 100,
        "n_exc": 80,
    }


def test_portraits_draw_each_states_spikes_by_population_and_mark_its_spectral_peak():
    fig = plots.state_portraits({"first": _example(40.0), "second": _example(300.0)})
    assert len(fig.axes) == 6  # per state: raster, rate, spectrum
    raster, rate, spectrum = fig.axes[:3]
    exc, inh = raster.get_lines()[:2]
    assert exc.get_color() == EXC_COLOR and list(exc.get_ydata()) == [3, 40]
    assert inh.get_color() == INH_COLOR and list(inh.get_xdata()) == [801.0]
    np.testing.assert_allclose(rate.get_lines()[0].get_ydata(), np.linspace(0, 10, 500))
    assert spectrum.get_yscale() == "log"
    curve, peak = spectrum.get_lines()
    assert curve.get_xdata().min() >= 5.0  # the spectrum below 5 Hz is left out, as in the peak's measure
    assert peak.get_xdata()[0] == 40.0 and peak.get_ydata()[0] == 50.0
    assert fig.axes[5].get_lines()[1].get_xdata()[0] == 300.0
    assert raster.get_title(loc="left") == "first" and fig.axes[3].get_title(loc="left") == "second"
    assert fig.axes[4].get_xlabel() == "time (ms)" and rate.get_xlabel() == ""  # labelled once, at the bottom


def _forecasts(offset):
    h = ["1", "2", "5"]
    return {
        b: {k: {"r2": 0.8 - 0.2 * i + offset, "r2_ci": [0.7 - 0.2 * i + offset, 0.9 - 0.2 * i + offset]}
            for i, k in enumerate(h)}
        for b in plots.BASELINE_COLORS
    }  # fmt: skip


def test_forecasts_by_state_draw_every_baseline_in_one_colour_per_panel_with_its_band():
    fig = plots.forecasts_by_state([1, 2, 5], {"a": _forecasts(0.0), "b": _forecasts(-0.5)}, {"a": "A", "b": "B"})
    left, right = fig.axes
    assert left.get_title(loc="left") == "A" and right.get_title(loc="left") == "B"
    drawn = lines_by_label(right)
    np.testing.assert_allclose(drawn["boosted trees"][1], [0.3, 0.1, -0.1])
    np.testing.assert_allclose(drawn["AR per neuron"][0], [1, 2, 5])
    assert {ln.get_color() for ln in left.get_lines() if ln.get_label() == "persistence"} == {"0.45"}
    bands = [c for c in right.collections if type(c).__name__ == "FillBetweenPolyCollection" or hasattr(c, "get_paths")]
    assert len(bands) == len(plots.BASELINE_COLORS)
    assert left.get_legend() is None and set(legend_labels(right)) == {
        "persistence", "AR per neuron", "population ridge", "boosted trees"
    }  # fmt: skip
    assert right.get_xscale() == "log" and right.get_ylabel() == "" and left.get_ylabel() == "test R²"


def test_transfer_draws_own_and_transferred_trees_per_panel_with_their_bands():
    by_h = {k: {"r2": 0.5 - i / 10, "r2_ci": [0.4, 0.6], "own_r2": 0.8 - i / 10, "own_r2_ci": [0.7, 0.9]}
            for i, k in enumerate(["1", "2", "5"])}  # fmt: skip
    fig = plots.transfer([1, 2, 5], {"A on B": by_h, "B on A": by_h})
    left, right = fig.axes
    drawn = lines_by_label(right)
    np.testing.assert_allclose(drawn["trained in this state"][1], [0.8, 0.7, 0.6])
    np.testing.assert_allclose(drawn["trained in the other state"][1], [0.5, 0.4, 0.3])
    assert len(right.collections) == 2 and left.get_legend() is None and right.get_legend() is not None
    assert left.get_title(loc="left") == "A on B"


def test_transfer_lays_its_panels_in_rows_each_with_its_colour_and_legend():
    by_h = {k: {"r2": 0.5, "r2_ci": [0.4, 0.6], "own_r2": 0.8, "own_r2_ci": [0.7, 0.9]} for k in ["1", "2", "5"]}
    fig = plots.transfer([1, 2, 5], {"A": by_h, "B": by_h, "C": by_h}, colors={"C": plots.MEMBER_COLOR}, ncols=2)
    axes = fig.axes
    assert len(axes) == 4 and [ax.get_visible() for ax in axes] == [True, True, True, False]
    assert [ax.get_legend() is not None for ax in axes[:3]] == [False, True, True]  # the last panel of each row
    assert [ax.get_title(loc="left") for ax in axes[:3]] == ["A", "B", "C"]
    assert axes[2].get_lines()[0].get_color() == plots.MEMBER_COLOR
    assert axes[0].get_lines()[0].get_color() == plots.BASELINE_COLORS["own_lags_boosting"]
    assert axes[2].get_ylabel() == "test R²" and axes[1].get_ylabel() == ""
