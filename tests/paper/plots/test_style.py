"""The house style: its colours, the figure described in words (the report's alt text), saving one, the E | I marks."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from voltlib import paths
from voltlib.paper.plots import style


def test_the_house_colours_tell_excitatory_inhibitory_and_the_ceiling_apart():
    colours = {matplotlib.colors.to_hex(c) for c in (style.EXC_COLOR, style.INH_COLOR, style.CEILING_COLOR)}
    assert len(colours) == 3
    assert plt.rcParams["axes.spines.top"] is False and plt.rcParams["axes.spines.right"] is False


def test_describe_names_titles_and_what_is_plotted_against_what_once_each():
    fig, (a, b, c, d) = plt.subplots(1, 4)
    fig.suptitle("the  network")
    a.plot([0, 1], [0, 1])
    a.set_title("left", loc="left")
    a.set_xlabel("time (ms)")
    a.set_ylabel("v (mV)")
    b.plot([0, 1], [0, 1])  # the same words as a's: said once
    b.set_title("left", loc="left")
    b.set_xlabel("time (ms)")
    b.set_ylabel("v (mV)")
    c.set_title("empty panel")  # no data: not described
    d.plot([0, 1], [1, 0])
    d.set_xlabel("rank")  # x alone
    d.set_visible(False)
    assert style.describe(fig) == "the network; left: v (mV) against time (ms)"
    d.set_visible(True)
    assert style.describe(fig) == "the network; left: v (mV) against time (ms); rank"


def test_describe_cuts_a_long_description_at_a_word_and_says_so():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("word " * 30)
    text = style.describe(fig, limit=40)
    assert len(text) <= 40 and text.endswith("…")
    assert text[:-1].split() == ["word"] * len(text[:-1].split())  # whole words only


def test_save_figure_writes_the_png_with_its_description_and_refuses_other_names(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "figures_dir", lambda profile: tmp_path / profile / "figures")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("horizon (ms)")
    ax.set_ylabel("test R²")
    path = style.save_figure(fig, "smoke", "r2.png")
    assert path == tmp_path / "smoke" / "figures" / "r2.png"
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.text["Description"] == "test R² against horizon (ms)"
    assert sorted(p.name for p in path.parent.iterdir()) == ["r2.png"]  # no temporary file left
    with pytest.raises(ValueError, match="must end with .png"):
        style.save_figure(fig, "smoke", "r2.svg")


@pytest.mark.parametrize("axis", ["x", "y"])
def test_the_ei_marks_sit_at_the_boundary_and_the_middle_of_each_population(axis):
    fig, ax = plt.subplots()
    ax.plot(np.arange(10), np.arange(10))
    style._ei_axis(ax, n=10, n_exc=8, axis=axis)
    (line,) = ax.get_lines()[1:]
    boundary = line.get_xdata() if axis == "x" else line.get_ydata()
    assert np.allclose(boundary, 7.5)  # between neuron 7 (E) and 8 (I)
    marks = {t.get_text(): t for t in ax.texts}
    assert sorted(marks) == ["E", "I"]
    along = 0 if axis == "x" else 1
    assert marks["E"].xy[along] == 4.0 and marks["I"].xy[along] == 9.0
    assert marks["E"].xy[1 - along] == 1.0  # at the axes' edge, outside the data
    assert matplotlib.colors.same_color(marks["E"].get_color(), style.EXC_COLOR)
    assert matplotlib.colors.same_color(marks["I"].get_color(), style.INH_COLOR)
