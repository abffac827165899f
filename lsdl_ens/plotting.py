"""One plotting style for every chapter, and the plots that several chapters share.

Call `use_style()` at the top of a notebook. Every helper takes an `ax` and returns it, titles and labels
included, so chapters compose them freely.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = sns.color_palette("colorblind")


def use_style() -> None:
    """The course style: white grid, colour-blind palette, readable sizes, PNG figures at 110 dpi."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.0, 4.0), "axes.titlesize": 12,
        "axes.titleweight": "bold", "axes.labelsize": 11, "legend.fontsize": 9, "legend.frameon": False,
    })
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass


def reliability_diagram(ax, bins: dict, *, title: str = "Reliability diagram", label: str | None = None,
                        color=None):
    """Accuracy vs confidence per bin (from `lsdl_ens.metrics.reliability_bins`), with the diagonal."""
    edges = np.asarray(bins["edges"], dtype=float)
    conf = np.asarray(bins["confidence"], dtype=float)
    acc = np.asarray(bins["accuracy"], dtype=float)
    width = np.diff(edges)
    filled = ~np.isnan(acc)
    ax.bar(edges[:-1][filled], acc[filled], width=width[filled], align="edge", alpha=0.6, edgecolor="black",
           linewidth=0.5, color=color, label=label or "accuracy per bin")
    ax.plot([0, 1], [0, 1], "--", color="gray", linewidth=1, label="perfect calibration")
    ax.plot(conf[filled], acc[filled], "o", color="black", markersize=3)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max probability)", ylabel="accuracy", title=title)
    ax.legend(loc="upper left")
    return ax


def path_plot(ax, xs, values: dict, *, xlabel: str, ylabel: str, title: str):
    """Several curves over a common x (e.g. test error along a segment and along a curve)."""
    for name, ys in values.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    return ax


def size_plot(ax, sizes, values: dict, *, ylabel: str, title: str):
    """A metric against ensemble size for several methods."""
    for name, ys in values.items():
        ax.plot(sizes[: len(ys)], ys, marker="o", label=name)
    ax.set(xlabel="number of members", ylabel=ylabel, title=title)
    ax.set_xticks(list(sizes))
    ax.legend()
    return ax


def annotated_heatmap(ax, table, *, xticklabels, yticklabels, xlabel: str, ylabel: str, title: str,
                      cmap: str = "viridis", fmt: str = "{:.1f}"):
    """A grid of values (rows: y, columns: x) as a colour map with every value written in its cell, and a colour
    bar (e.g. a hyperparameter grid's validation accuracy)."""
    table = np.asarray(table, dtype=float)
    if table.shape != (len(yticklabels), len(xticklabels)):
        raise ValueError(f"table has shape {table.shape}, but there are {len(yticklabels)} yticklabels (rows) "
                         f"and {len(xticklabels)} xticklabels (columns)")
    image = ax.imshow(table, cmap=cmap, aspect="auto")
    for i, row in enumerate(table):
        for j, value in enumerate(row):
            ax.text(j, i, fmt.format(value), ha="center", va="center", color="white")
    ax.set_xticks(range(len(xticklabels)), list(xticklabels))
    ax.set_yticks(range(len(yticklabels)), list(yticklabels))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax)
    return ax
