"""Notebook 05's figures: the training curves, the ladder's bars beside the references, the budget study."""

import matplotlib
import numpy as np
import pytest
from support import bar_heights, legend_labels

from voltlib.paper.budget import saturating
from voltlib.paper.plots import training


def _history(val, train):
    return [{"epoch": e + 1, "val_loss": v, "train_loss": t} for e, (v, t) in enumerate(zip(val, train))]


HISTORIES = {
    "original": {
        "p1": {0: _history([0.9, 0.5, 0.4], [1.0, 0.6, 0.5]), 1: _history([0.8, 0.6, 0.45], [0.9, 0.7, 0.5])},
        "p2": {0: _history([0.7, 0.3], [0.8, 0.4])},
    },
    "clean": {
        "p1": {0: _history([0.95, 0.55], [1.1, 0.7]), 1: _history([0.85, 0.65], [0.9, 0.8])},
        "p2": {0: _history([0.75, 0.35, 0.2], [0.8, 0.4, 0.3])},
    },
}
LABELS = {"p1": "1 LSTM", "p2": "2 CNN-LSTM"}


def test_training_curves_draw_every_seeds_validation_loss_and_the_first_seeds_training_loss():
    fig = training.training_curves(HISTORIES, LABELS)
    assert len(fig.axes) == 2
    for ax, (protocol, phases) in zip(fig.axes, HISTORIES.items()):
        assert ax.get_title(loc="left").startswith(f"{protocol} protocol")
        lines = ax.get_lines()
        assert len(lines) == 2 + 1 + 2  # p1: two seeds' val + one train; p2: one val + one train
        drawn = [(ln.get_xdata().tolist(), ln.get_ydata().tolist(), ln.get_linestyle()) for ln in lines]
        for by_seed in phases.values():
            for j, hist in enumerate(by_seed.values()):
                epochs = [h["epoch"] for h in hist]
                assert (epochs, [h["val_loss"] for h in hist], "-") in drawn
                if j == 0:
                    assert (epochs, [h["train_loss"] for h in hist], ":") in drawn
                else:  # other seeds: validation only
                    assert (epochs, [h["train_loss"] for h in hist], ":") not in drawn
        assert ax.get_xlabel() == "epoch"
    assert fig.axes[0].get_ylabel() == "validation MSE (z units²)"


def test_a_phase_keeps_its_colour_across_seeds_and_panels_and_the_legend_counts_its_seeds():
    fig = training.training_curves(HISTORIES, LABELS)
    colours = {}
    for ax, phases in zip(fig.axes, HISTORIES.values()):
        for phase, by_seed in phases.items():
            vals = [[h["val_loss"] for h in hist] for hist in by_seed.values()]
            for ln in ax.get_lines():
                if ln.get_ydata().tolist() in vals:
                    colours.setdefault(phase, set()).add(matplotlib.colors.to_hex(ln.get_color()))
    assert all(len(c) == 1 for c in colours.values()) and colours["p1"] != colours["p2"]
    assert fig.axes[0].get_legend() is None
    assert legend_labels(fig.axes[1]) == ["1 LSTM (2 seeds)", "2 CNN-LSTM"]
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])


def test_training_curves_take_a_single_protocol():
    fig = training.training_curves({"clean": HISTORIES["clean"]}, LABELS)
    assert len(fig.axes) == 1 and legend_labels(fig.axes[0]) == ["1 LSTM (2 seeds)", "2 CNN-LSTM"]


R2 = {"original": {"A": 0.5, "B": 0.7, "C": 0.8}, "clean": {"A": 0.4, "B": 0.6}}  # C not run on clean


def test_ladder_bars_are_the_r2_per_protocol_a_missing_model_blank():
    fig = training.ladder_bars(R2, {"persistence (clean)": 0.3})
    (ax,) = fig.axes
    assert np.allclose(bar_heights(ax, "ours, original protocol"), [0.5, 0.7, 0.8])
    assert np.allclose(bar_heights(ax, "ours, clean protocol"), [0.4, 0.6, np.nan], equal_nan=True)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    assert ax.get_ylabel() == "test R² (1 ms ahead)"
    assert legend_labels(ax) == ["ours, original protocol", "ours, clean protocol"]
    # the two protocols' bars side by side around each model's tick
    orig = [p.get_x() + p.get_width() / 2 for p in ax.containers[0].patches]
    clean = [p.get_x() + p.get_width() / 2 for p in ax.containers[1].patches]
    assert np.allclose(orig, [-0.2, 0.8, 1.8]) and np.allclose(clean, [0.2, 1.2, 2.2])


def test_ladder_bars_draw_the_intervals_the_source_and_named_reference_lines():
    ci = {"original": {"A": (0.45, 0.6), "B": (0.65, 0.72), "C": (0.7, 0.9)}, "clean": {"A": (0.3, 0.5)}}
    refs = {"persistence (clean)": 0.3, "ridge (clean)": 0.55}
    fig = training.ladder_bars(R2, refs, source={"A": 0.72, "C": 0.76}, ci=ci)
    (ax,) = fig.axes
    bars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(bars) == 2
    segments = bars[0].lines[2][0].get_segments()  # original: one vertical segment per model
    assert np.allclose([s[:, 1] for s in segments], [[0.45, 0.6], [0.65, 0.72], [0.7, 0.9]])
    (source,) = ax.collections[-1:]
    assert np.allclose(source.get_offsets(), [[0, 0.72], [1, np.nan], [2, 0.76]], equal_nan=True)
    hlines = [ln for ln in ax.get_lines() if np.ptp(ln.get_ydata()) == 0 and len(set(ln.get_xdata())) == 2]
    assert sorted(ln.get_ydata()[0] for ln in hlines) == [0.3, 0.55]
    assert {t.get_text(): t.xy[1] for t in ax.texts} == refs
    assert "source report" in legend_labels(ax)


CURVES = {
    "cnn": {
        "clean": {1000: {"r2": 0.3, "r2_ci": (0.2, 0.35)}, 100: {"r2": 0.1, "r2_ci": (0.05, 0.2)}},
        "original": {100: {"r2": 0.2, "r2_ci": (0.1, 0.3)}, 1000: {"r2": 0.4, "r2_ci": (0.35, 0.5)}},
    },
    "lstm": {"clean": {100: {"r2": 0.05, "r2_ci": (0.0, 0.1)}}},  # only clean
}


def _points(ax):
    """{label: ErrorbarContainer} of one panel: the measured budgets of each model."""
    return {c.get_label(): c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"}


def _budget_figure(**kw):
    ext = {("cnn", "clean"): {"r2_inf": 0.5, "a": 0.2, "b": 0.5}}
    args = dict(curves=CURVES, labels={"cnn": "CNN-LSTM", "lstm": "LSTM"}, references={"ridge": 0.25})
    return training.budget_curves(**{**args, "extrapolations": ext, "source_budget": 1e5, **kw})


def test_budget_curves_plot_r2_against_sorted_budgets_with_their_intervals_per_protocol():
    fig = _budget_figure()
    clean, original = fig.axes
    assert clean.get_title() == "clean protocol" and original.get_title() == "original protocol"
    assert clean.get_xscale() == original.get_xscale() == "log"
    c, o = _points(clean), _points(original)
    assert set(c) == {"CNN-LSTM", "LSTM"} and set(o) == {"CNN-LSTM"}  # the LSTM has no original-protocol point
    assert np.allclose(c["CNN-LSTM"].lines[0].get_xdata(), [100, 1000])
    assert np.allclose(c["CNN-LSTM"].lines[0].get_ydata(), [0.1, 0.3])
    assert np.allclose(o["CNN-LSTM"].lines[0].get_ydata(), [0.2, 0.4])
    assert np.allclose([s[:, 1] for s in c["CNN-LSTM"].lines[2][0].get_segments()], [[0.05, 0.2], [0.2, 0.35]])
    colours = {matplotlib.colors.to_hex(p["CNN-LSTM"].lines[0].get_color()) for p in (c, o)}
    assert len(colours) == 1  # one model, one colour in both panels
    assert legend_labels(original) == ["CNN-LSTM"] and clean.get_legend() is None


def test_budget_curves_extrapolate_dashed_to_the_source_budget_and_mark_the_references_on_clean_only():
    fig = _budget_figure()
    clean, original = fig.axes
    (ext,) = [ln for ln in clean.get_lines() if ln.get_linestyle() == "--"]
    assert ext.get_xdata()[0] == pytest.approx(100) and ext.get_xdata()[-1] == pytest.approx(1e5)
    assert np.allclose(ext.get_ydata(), saturating(ext.get_xdata(), 0.5, 0.2, 0.5))
    assert not [ln for ln in original.get_lines() if ln.get_linestyle() == "--"]  # no extrapolation given
    for ax in (clean, original):
        vertical = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]]
        assert [ln.get_xdata()[0] for ln in vertical] == [1e5]
        assert "source's budget" in [t.get_text() for t in ax.texts]
    assert [t.get_text() for t in clean.texts if t.get_text() != "source's budget"] == ["ridge"]
    assert [t.get_text() for t in original.texts] == ["source's budget"]
