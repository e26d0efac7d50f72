"""Notebook 10's figures: the filter's convergence, the ceilings by horizon, PIT histograms, one example."""

import numpy as np
from support import legend_labels

from voltlib.paper.observing import LABELS
from voltlib.paper.plots import observer_ceiling as plots


def test_convergence_draws_the_error_against_particles_on_a_log_axis_and_against_burn_in():
    check = {"starts": 5, "particles": {"64": 0.4, "128": 0.35, "256": 0.33}, "burn_in_ms": {"10": 0.5, "50": 0.33}}
    fig = plots.convergence(check)
    left, right = fig.axes
    np.testing.assert_allclose(left.get_lines()[0].get_xdata(), [64, 128, 256])
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), [0.4, 0.35, 0.33])
    assert left.get_xscale() == "log" and right.get_xscale() == "linear"
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), [0.5, 0.33])
    assert "5 start times" in fig.texts[0].get_text()


def test_ceilings_draw_one_curve_and_band_per_row_and_the_paired_gaps_beside_them():
    rows = {
        "oracle": {"1": (0.9, (0.88, 0.92)), "2": (0.8, (0.78, 0.82))},
        "learned": {"1": (0.7, None), "2": (-1.4, [None, None])},
    }
    gaps = {
        "hides": {"1": {"difference": 0.02, "ci": [0.01, 0.03]}, "2": {"difference": 0.01, "ci": [None, None]}},
        "leaves": {"1": {"difference": -0.01, "ci": [-0.02, 0.0]}, "2": {"difference": 0.0, "ci": [-0.01, 0.01]}},
    }
    fig = plots.ceilings([1, 2], rows, {"oracle": "#000000", "learned": "#ff0000"}, gaps)
    ax, right = fig.axes
    assert legend_labels(ax) == ["oracle", "learned"]
    curves = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    np.testing.assert_allclose(curves["learned"].get_ydata(), [0.7, -1.4])
    assert len(ax.collections) == 1  # a band only where every horizon has an interval
    assert ax.get_ylim()[0] == -1.0  # clipped at -1 like every R² figure
    assert legend_labels(right) == ["hides", "leaves"]
    hides, leaves = (c.lines[0] for c in right.containers)  # errorbar keeps its label on the container
    np.testing.assert_allclose(hides.get_ydata(), [0.02, 0.01])
    assert hides.get_xdata()[0] < 1 < leaves.get_xdata()[0]  # side by side on the log axis


def test_pit_histograms_are_one_row_per_forecaster_and_one_column_per_horizon():
    flat, u_shape = [1.0] * 10, [3.0] + [0.5] * 8 + [3.0]
    scores = {
        "oracle": {"1": {"pit_histogram": flat}, "5": {"pit_histogram": flat}},
        "persistence": {"1": {"pit_histogram": u_shape}, "5": {"pit_histogram": flat}},
    }
    fig = plots.pit_histograms([1, 5], scores, LABELS)
    assert len(fig.axes) == 4
    bars = [p.get_height() for p in fig.axes[2].patches]
    np.testing.assert_allclose(bars, u_shape)
    assert fig.axes[0].get_title() == "1 ms" and fig.axes[1].get_title() == "5 ms"
    assert fig.axes[2].get_ylabel() == "persistence\n+ residuals"


def test_the_example_shows_each_forecasters_members_and_the_recorded_value():
    ex = {
        "run": 3,
        "sample": 1200,
        "neuron": 7,
        "horizon_ms": 1.0,
        "recorded_mv": -69.5,
        "members_mv": {"oracle": [-69.8] * 10 + [-50.5] * 6, "persistence": list(np.linspace(-52, -49, 16))},
    }
    fig = plots.example(ex, LABELS)
    assert len(fig.axes) == 2  # only the forecasters given
    top = fig.axes[0]
    heights = np.array([p.get_height() for p in top.patches])
    assert (heights > 0).sum() == 2  # the oracle's two peaks: a reset, or not
    assert top.get_lines()[0].get_xdata()[0] == -69.5
    assert "neuron 7 of test run 3" in fig.texts[0].get_text()
