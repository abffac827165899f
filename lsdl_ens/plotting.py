"""One plotting style for every chapter, and the plots that several chapters share.

Call `use_style()` at the top of a notebook. Every helper takes an `ax` and returns it, titles and labels
included, so chapters compose them freely.

Size policy (what the reader sees): a figure is at most ``MAX_WIDTH_IN`` = 8 inches wide and every text in it is at
least ``MIN_FONT_PT`` = 9 pt *at rendered size*. The book shows a PNG at its pixel size, shrunk to the text column
(``COLUMN_PX``, about 680 CSS pixels at a 1280-pixel window) when it is wider, so a font of ``s`` pt in a figure
``w`` inches wide saved at ``dpi`` appears as ``s * dpi * min(1, COLUMN_PX / (w * dpi)) / 96`` pt (96 CSS pixels per
inch). `subplots` makes figures within the policy, `figure_problems` lists what breaks it, `legend` drops repeated
entries and `zoomed_bars` draws bars on an axis zoomed to the data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.text as mtext
import numpy as np
import seaborn as sns

from . import checks

PALETTE = sns.color_palette("colorblind")
MAX_WIDTH_IN = 8.0
MIN_FONT_PT = 9.0
COLUMN_PX = 680  # a chapter's text column in CSS pixels at a 1280-pixel browser window (sphinx-book-theme)
CSS_PX_PER_IN = 96
DPI = 110


def use_style() -> None:
    """The course style: white grid, colour-blind palette, PNG figures at 110 dpi, and font sizes that stay at
    least 9 pt at rendered size up to the widest figure of the policy (8 inches, shrunk to the column)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update({
        "figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (6.0, 4.0), "font.size": 11,
        "axes.titlesize": 12, "axes.titleweight": "bold", "axes.labelsize": 11, "xtick.labelsize": 10.5,
        "ytick.labelsize": 10.5, "legend.fontsize": 10.5, "legend.title_fontsize": 10.5, "legend.frameon": False,
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
    legend(ax, loc="upper left")
    return ax


def path_plot(ax, xs, values: dict, *, xlabel: str, ylabel: str, title: str):
    """Several curves over a common x (e.g. test error along a segment and along a curve)."""
    for name, ys in values.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    legend(ax)
    return ax


def size_plot(ax, sizes, values: dict, *, ylabel: str, title: str):
    """A metric against ensemble size for several methods."""
    for name, ys in values.items():
        ax.plot(sizes[: len(ys)], ys, marker="o", label=name)
    ax.set(xlabel="number of members", ylabel=ylabel, title=title)
    ax.set_xticks(list(sizes))
    legend(ax)
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


def subplots(nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float | None = None, **kwargs):
    """``plt.subplots`` within the size policy: ``width`` defaults to 4 inches per column up to 8, ``height`` to
    3.2 inches per row; a width above ``MAX_WIDTH_IN`` raises ValueError (split the figure instead)."""
    nrows = checks.positive_int("nrows", nrows)
    ncols = checks.positive_int("ncols", ncols)
    width = min(MAX_WIDTH_IN, 4.0 * ncols) if width is None else checks.positive_float("width", width)
    height = 3.2 * nrows if height is None else checks.positive_float("height", height)
    if width > MAX_WIDTH_IN:
        raise ValueError(f"width must be at most {MAX_WIDTH_IN:g} inches, got {width:g}; a wider figure is shrunk "
                         "to the text column and its labels become unreadable: use fewer columns or two figures")
    kwargs.setdefault("layout", "constrained")  # no label collides with a title or a neighbouring panel
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def rendered_points(fig, size_pt: float, dpi: float | None = None) -> float:
    """The size in pt at which the reader sees a ``size_pt`` font of ``fig`` saved at ``dpi`` (default: the
    figure's own dpi, which the notebook's inline backend uses); see the module docstring."""
    dpi = float(fig.dpi if dpi is None else checks.positive_float("dpi", dpi))
    width_px = fig.get_figwidth() * dpi
    return size_pt * dpi * min(1.0, COLUMN_PX / width_px) / CSS_PX_PER_IN


def figure_problems(fig, dpi: float | None = None) -> list[str]:
    """What in ``fig`` breaks the size policy: a width above 8 inches, and every visible text smaller than 9 pt at
    rendered size (with its text and sizes). An empty list means the figure is readable in the book."""
    problems = []
    if fig.get_figwidth() > MAX_WIDTH_IN + 1e-9:
        problems.append(f"figure is {fig.get_figwidth():g} inches wide (at most {MAX_WIDTH_IN:g})")
    fig.canvas.draw()  # tick labels exist only once drawn
    for text in fig.findobj(mtext.Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        shown = rendered_points(fig, text.get_fontsize(), dpi)
        if shown < MIN_FONT_PT - 1e-9:
            problems.append(f"text {text.get_text()[:30]!r}: {text.get_fontsize():g} pt renders at {shown:.1f} pt "
                            f"(at least {MIN_FONT_PT:g})")
    return problems


def legend(ax, **kwargs):
    """``ax.legend`` with one entry per label (the first artist of each label), e.g. when a loop plots several
    lines under one name. Extra keyword arguments go to ``ax.legend``."""
    handles, labels = ax.get_legend_handles_labels()
    unique = {}
    for handle, label in zip(handles, labels):
        unique.setdefault(label, handle)
    return ax.legend(list(unique.values()), list(unique), **kwargs)


def zoom_to_data(values, errors=None, *, pad: float = 0.15) -> tuple[float, float]:
    """Axis limits that hold every ``value ± error`` with a margin of ``pad`` times their range on each side."""
    values = np.asarray(values, dtype=float)
    errors = np.zeros_like(values) if errors is None else np.broadcast_to(np.asarray(errors, dtype=float),
                                                                          values.shape)
    if values.size == 0 or not np.all(np.isfinite(values)) or not np.all(np.isfinite(errors)):
        raise ValueError("values and errors must be non-empty and finite to zoom an axis to them")
    low, high = float((values - errors).min()), float((values + errors).max())
    margin = pad * (high - low) if high > low else max(abs(high) * 0.05, 1e-3)
    return low - margin, high + margin


def zoomed_bars(ax, labels, values, errors=None, *, ylabel: str, title: str, color=None, fmt: str = "{:.1f}"):
    """Bars of ``values`` (with ``errors`` as error bars) on a y axis zoomed to the data, each value written on its
    bar, so that differences of a fraction of a point stay visible. The axis does not start at 0: compare the
    tops of the bars, not their lengths (the written values say it)."""
    labels = [str(label) for label in labels]
    values = np.asarray(values, dtype=float)
    if len(labels) != len(values):
        raise ValueError(f"labels and values must have the same length, got {len(labels)} labels and "
                         f"{len(values)} values")
    low, high = zoom_to_data(values, errors)
    xs = np.arange(len(values))
    ax.bar(xs, values - low, bottom=low, yerr=errors, color=color if color is not None else PALETTE[0], capsize=3)
    for x, value in zip(xs, values):
        ax.annotate(fmt.format(value), (x, value), textcoords="offset points", xytext=(0, 3), ha="center",
                    va="bottom")
    ax.set_xticks(xs, labels)
    ax.set(ylim=(low, high + 0.06 * (high - low)), ylabel=ylabel, title=title)
    return ax
