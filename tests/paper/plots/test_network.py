"""Notebook 01's figures: the raster above the voltage traces, and the rate and CV histograms."""

import matplotlib
import numpy as np

from voltlib.config import NetworkConfig, SimConfig
from voltlib.paper.plots import network, style
from voltlib.sim.simulate import Simulation

N_EXC, N_INH = 4, 4


def _simulation():
    """Two runs of 8 neurons (4 E, 4 I) over 100 ms; every voltage says its run, neuron and time."""
    n_t, n = 100, N_EXC + N_INH
    t = np.arange(n_t)
    v = np.array([[-70 + run * 10 + neuron + t / 1000 for neuron in range(n)] for run in range(2)])
    v = v.transpose(0, 2, 1)  # [run, time, neuron]
    spike_i = [np.array([0, 5, 1, 6, 3]), np.array([2, 7, 2, 4])]
    spike_t = [np.array([10.0, 15.0, 30.0, 45.0, 60.0]), np.array([5.0, 25.0, 35.0, 55.0])]
    cfg = SimConfig(network=NetworkConfig(n_exc=N_EXC, n_inh=N_INH), n_runs=2, duration_s=0.1)
    return Simulation(cfg, v.astype(np.float32), spike_i, spike_t, [], [], [0, 1], 0.0, np.zeros(2))


def test_the_raster_shows_the_chosen_runs_spikes_in_the_window_coloured_by_population():
    fig = network.raster_and_traces(_simulation(), run=1, t0_ms=20.0, span_ms=40.0, n_traces=2)
    ax_r = fig.axes[0]
    exc, inh = ax_r.collections
    # run 1's spikes in [20, 60): (25, 7) I, (35, 2) E, (55, 4) I
    assert exc.get_offsets().tolist() == [[35.0, 2.0]]
    assert inh.get_offsets().tolist() == [[25.0, 7.0], [55.0, 4.0]]
    assert matplotlib.colors.same_color(exc.get_facecolor()[0], style.EXC_COLOR)
    assert matplotlib.colors.same_color(inh.get_facecolor()[0], style.INH_COLOR)
    assert [t.get_text() for t in ax_r.get_legend().get_texts()] == ["excitatory", "inhibitory"]
    assert ax_r.get_title(loc="left") == "run 1: spikes and membrane voltage"


def test_the_traces_are_the_first_e_and_the_first_i_neurons_of_the_run_in_the_window():
    sim = _simulation()
    fig = network.raster_and_traces(sim, run=1, t0_ms=20.0, span_ms=40.0, n_traces=2)
    _, ax_e, ax_i = fig.axes
    sel = slice(20, 60)
    for ax, neurons, colour in ((ax_e, [0, 1], style.EXC_COLOR), (ax_i, [4, 5], style.INH_COLOR)):
        traces = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
        assert len(traces) == 2
        for ln, neuron in zip(traces, neurons):
            assert np.array_equal(ln.get_xdata(), sim.t_ms[sel])
            assert np.allclose(ln.get_ydata(), sim.v_mv[1, sel, neuron])
            assert matplotlib.colors.same_color(ln.get_color(), colour)
        (threshold,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
        assert np.allclose(threshold.get_ydata(), sim.sim.network.theta_mv)
    assert ax_e.get_ylabel() == "v of E cells (mV)" and ax_i.get_ylabel() == "v of I cells (mV)"
    assert ax_i.get_xlabel() == "time (ms)"


def test_the_histograms_count_e_and_i_apart_on_shared_bins_and_mark_the_source():
    rates = np.array([[1.0, 2.0, 3.0, 10.0], [2.0, 2.0, np.nan, 12.0]])  # [run, neuron], 2 E then 2 I
    cvs = np.array([[0.1, 0.2, 0.8, 0.9], [0.3, np.nan, 0.7, 1.0]])
    fig = network.rate_cv_histograms(rates, cvs, n_exc=2, source_rate=5.0, source_cv=0.5)
    for ax, values, ref, xlabel in (
        (fig.axes[0], rates, 5.0, "firing rate (Hz)"),
        (fig.axes[1], cvs, 0.5, "CV of inter-spike intervals"),
    ):
        bins = np.histogram_bin_edges(values[np.isfinite(values)], 30)
        exc, inh = ax.containers
        for box, part, colour in ((exc, values[:, :2], style.EXC_COLOR), (inh, values[:, 2:], style.INH_COLOR)):
            part = part[np.isfinite(part)]
            expected, _ = np.histogram(part, bins, density=True)
            assert np.allclose([p.get_height() for p in box.patches], expected)
            assert matplotlib.colors.same_color(box.patches[0].get_facecolor()[:3], colour)
        (source,) = ax.get_lines()
        assert np.allclose(source.get_xdata(), ref)
        assert ax.get_xlabel() == xlabel
    assert fig.axes[0].get_ylabel() == "density"
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["excitatory", "inhibitory", "source report"]
