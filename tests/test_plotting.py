"""Tests for lsdl_ens.plotting helpers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lsdl_ens.plotting import annotated_heatmap  # noqa: E402


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
