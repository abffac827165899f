"""Tests for lsdl_ens.plotting helpers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lsdl_ens.plotting import (  # noqa: E402
    MAX_WIDTH_IN, annotated_heatmap, figure_problems, legend, rendered_points, subplots, use_style, zoom_to_data,
    zoomed_bars)


def test_annotated_heatmap_writes_every_value_in_its_cell():
    table = np.array([[80.25, 81.0, 79.5], [75.0, 76.75, 80.0]])
    fig, ax = plt.subplots()
    assert annotated_heatmap(ax, table, xticklabels=["a", "b", "c"], yticklabels=["r1", "r2"], xlabel="x",
                             ylabel="y", title="t") is ax
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert texts == {(i, j): f"{table[i, j]:.1f}" for i in range(2) for j in range(3)}
    assert np.array_equal(ax.images[0].get_array(), table)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert len(fig.axes) == 2  # the colour bar
    with pytest.raises(ValueError, match="xticklabels"):
        annotated_heatmap(ax, table, xticklabels=["a", "b"], yticklabels=["r1", "r2"], xlabel="x", ylabel="y",
                          title="t")
    plt.close(fig)


def _fresh():
    plt.close("all")
    use_style()


def test_subplots_keeps_figures_within_the_width_policy():
    _fresh()
    fig, axes = subplots(1, 3)
    assert fig.get_figwidth() == MAX_WIDTH_IN and len(axes) == 3
    with pytest.raises(ValueError, match="width must be at most 8"):
        subplots(1, 2, width=12)
    plt.close("all")


def test_rendered_points_follow_the_column_width():
    _fresh()
    narrow, _ = plt.subplots(figsize=(5, 3), dpi=110)   # 550 px: shown at its size
    wide, _ = plt.subplots(figsize=(13, 4), dpi=110)    # 1430 px: shrunk to the 680-px column
    assert rendered_points(narrow, 9) == pytest.approx(9 * 110 / 96)
    assert rendered_points(wide, 11) == pytest.approx(11 * 110 * (680 / 1430) / 96)  # about 6 pt, as the reader saw
    plt.close("all")


def test_figure_problems_flags_a_wide_figure_and_small_text_but_not_the_course_style():
    _fresh()
    fig, axes = subplots(1, 2)  # the widest figure of the policy, with the course fonts
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="line")
        ax.set(xlabel="x", ylabel="y", title="title")
        legend(ax)
    assert figure_problems(fig) == []
    axes[0].text(0.5, 0.5, "tiny note", fontsize=6)
    problems = figure_problems(fig)
    assert len(problems) == 1 and "tiny note" in problems[0]
    wide, ax = plt.subplots(figsize=(13, 4))
    ax.plot([0, 1], [0, 1])
    problems = figure_problems(wide)
    assert "13 inches wide" in problems[0] and any("renders at" in p for p in problems[1:])
    plt.close("all")


def test_legend_lists_each_label_once():
    _fresh()
    fig, ax = plt.subplots()
    for seed in range(3):
        ax.plot([0, 1], [seed, seed + 1], color="C0", label="independent inits")
    ax.plot([0, 1], [1, 0], label="spawned")
    assert len(ax.legend().get_texts()) == 4  # matplotlib repeats the label
    assert [t.get_text() for t in legend(ax).get_texts()] == ["independent inits", "spawned"]
    plt.close(fig)


def test_zoomed_bars_show_small_differences_and_write_the_values():
    _fresh()
    fig, ax = plt.subplots()
    values, errors = [80.4, 80.9, 81.6], [0.2, 0.3, 0.2]
    assert zoomed_bars(ax, ["A", "B", "C"], values, errors, ylabel="test accuracy (%)", title="t") is ax
    low, high = ax.get_ylim()
    assert 79.5 < low < 80.2 and 81.8 < high < 82.5  # zoomed: the differences fill the axis, not 0 to 82
    tops = [bar.get_y() + bar.get_height() for bar in ax.patches]
    assert tops == pytest.approx(values)
    assert [t.get_text() for t in ax.texts] == ["80.4", "80.9", "81.6"]
    assert zoom_to_data([1.0, 1.0]) == pytest.approx((0.95, 1.05))
    with pytest.raises(ValueError, match="same length"):
        zoomed_bars(ax, ["A"], values, ylabel="y", title="t")
    with pytest.raises(ValueError, match="finite"):
        zoom_to_data([1.0, float("nan")])
    plt.close(fig)
