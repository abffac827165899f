"""Figures and tables of the mode-connectivity chapter, and the numbers their captions quote.

Each ``*_figure`` takes results of `lsdl_ens.experiments.mode_connectivity` and returns a matplotlib figure within
the course's size policy (`lsdl_ens.plotting.subplots`: at most 8 inches wide, fonts of at least 9 pt as shown);
each ``*_numbers`` returns the values the text quotes, as plain floats. `glue` hands a value to myst-nb (a no-op
where myst-nb is missing, as in Colab).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims_page import GluedText
from ..landscape import barrier
from ..lecture_plots import plane_plot, simplex_plot
from ..plotting import annotated_heatmap, legend, path_plot, subplots

__all__ = ["glue", "paths_figure", "path_numbers", "three_plane_figure", "curve_plane_figure", "cross_section",
           "cross_section_figure", "triangle_table", "triangle_figure", "spawn_figure", "transfer_figure",
           "transfer_numbers", "similarity_figure", "domain_figure"]


def glue(name: str, value, fmt: str | None = None) -> None:
    """Glue `value` under `name` for the chapter's text (formatted with `fmt` when given; strings appear without
    quotes); nothing happens where myst-nb is not installed."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    if fmt is not None:
        value = GluedText(fmt.format(value))
    elif isinstance(value, str):
        value = GluedText(value)
    myst_glue(name, value, display=False)


# ----------------------------------------------------------------------------------------------- segment and curves
def paths_figure(segment: dict, along: dict):
    """Train loss and test error along the straight segment and along each trained curve (``along``: kind ->
    `curve_results`)."""
    fig, axes = subplots(1, 2, width=8, height=3.4)
    names = {"bezier": "Bezier curve", "polychain": "polygonal chain"}
    for ax, key, label in ((axes[0], "train_loss", "train loss"), (axes[1], "error", "test error (%)")):
        scale = 100 if key == "error" else 1
        ax.plot(segment["alphas"], scale * segment[key], marker="o", markersize=3, label="straight segment")
        for kind, res in along.items():
            ax.plot(res["ts"], scale * res[key], marker="o", markersize=3, label=names.get(kind, kind))
        ax.set(xlabel="position on the path", ylabel=label, title=label.capitalize())
    legend(axes[1], loc="best")
    return fig


def path_numbers(segment: dict, along: dict) -> dict:
    """Test errors (%) of the ends, the segment's maximum and barrier, each curve's maximum and barrier (points)."""
    out = {"end_a": 100 * segment["error"][0], "end_b": 100 * segment["error"][-1],
           "segment_max": 100 * segment["error"].max(), "segment_barrier": 100 * barrier(segment["error"],
                                                                                        segment["alphas"])}
    for kind, res in along.items():
        out[f"{kind}_max"] = 100 * res["error"].max()
        out[f"{kind}_barrier"] = 100 * barrier(res["error"], res["ts"])
    return {k: float(v) for k, v in out.items()}


# ----------------------------------------------------------------------------------------------- planes
def _framed_legend(ax) -> None:
    """The legend on a white frame, readable over the dark and the light regions of a contour plot."""
    legend(ax, loc="best", fontsize=9.5, frameon=True, framealpha=0.85)


def three_plane_figure(three: dict):
    """Train loss on the plane of three independent networks, the two curves between A and B projected onto it."""
    fig, ax = subplots(width=6.4, height=4.8)
    plane_plot(ax, three, quantity="loss", log=True, vertex_labels=("A", "B", "C"),
               paths={"Bezier curve A-B (projected)": three["bezier_xy"],
                      "polygonal chain A-B (projected)": three["polychain_xy"]},
               title="Plane of three independent networks", colorbar_label="log train loss")
    _framed_legend(ax)
    return fig


def curve_plane_figure(plane: dict):
    """Train loss on the plane through A, B and the Bezier bend (it holds the whole Bezier curve)."""
    fig, ax = subplots(width=6.4, height=4.8)
    plane_plot(ax, plane, quantity="loss", log=True, vertex_labels=("A", "B", "bend"),
               paths={"Bezier curve": plane["bezier_xy"], "polygonal chain (projected)": plane["polychain_xy"]},
               title="Plane of the Bezier curve", colorbar_label="log train loss")
    ends = np.asarray(plane["points"][:2], dtype=float)
    ax.plot(ends[:, 0], ends[:, 1], ":", color="red", lw=2, label="straight segment")
    _framed_legend(ax)
    return fig


def cross_section(plane: dict, segment: dict) -> dict:
    """The grid column of `plane` nearest to the Bezier curve's middle: its ``ys`` and ``loss``, the ``threshold``
    (twice the worse end's train loss), the ``width`` of the region below it, the grid step ``dy``, the middle's
    ``mid_y``, the column's ``x`` and the distance ``ab`` between the ends."""
    mid_x, mid_y = plane["bezier_xy"][len(plane["bezier_xy"]) // 2]
    col = int(np.argmin(np.abs(plane["xs"] - mid_x)))
    threshold = 2 * max(segment["train_loss"][0], segment["train_loss"][-1])
    dy = float(plane["ys"][1] - plane["ys"][0])
    return {"ys": plane["ys"], "loss": plane["loss"][:, col], "threshold": float(threshold), "dy": dy,
            "width": float((plane["loss"][:, col] < threshold).sum() * dy), "mid_y": float(mid_y),
            "x": float(plane["xs"][col]), "ab": float(plane["points"][1, 0])}


def cross_section_figure(section: dict):
    fig, ax = subplots(width=6, height=3.4)
    ax.plot(section["ys"], section["loss"], marker="o", label="train loss across the curve")
    ax.axhline(section["threshold"], ls="--", color="gray", label="twice the worse end's train loss")
    ax.axvline(section["mid_y"], ls=":", color="C3", label="Bezier curve's middle")
    ax.set(xlabel="y (weight-space distance)", ylabel="train loss", yscale="log",
           title="Cross-section through the curve's middle")
    legend(ax, fontsize=9.5)
    return fig


# ----------------------------------------------------------------------------------------------- the triangle
def triangle_table(tri: dict) -> pd.DataFrame:
    """Test error (%) at the two networks, the worst point of the segment between them, and the worst and mean
    point of the trained triangle's grid."""
    on_edge = tri["alphas"][:, 2] == 0  # the straight segment between w_A and w_B
    ends = (tri["alphas"].max(1) == 1) & on_edge
    err = 100 * tri["error"]
    return pd.DataFrame({"test error (%)": [err[ends].mean(), err[on_edge].max(), err.max(), err.mean()]},
                        index=["w_A and w_B (mean)", "worst point of the segment", "worst point of the triangle",
                               "mean over the triangle"]).round(2)


def triangle_figure(tri: dict):
    fig, ax = subplots(width=5.6, height=4.4)
    simplex_plot(ax, tri["alphas"], 100 * tri["error"], vertex_labels=("$w_A$", "$w_B$", r"$\theta$"),
                 colorbar_label="test error (%)", title="Test error over the triangle")
    return fig


# ----------------------------------------------------------------------------------------------- spawning
def spawn_figure(spawn: dict, measures: dict):
    """Left: test error between the two children of each spawn epoch (first repetition) and between two
    independent networks. Right: the barrier against the spawn epoch, mean over repetitions with their range."""
    fig, axes = subplots(1, 2, width=8, height=3.4)
    for k in spawn["spawn_epochs"]:
        p = spawn["paths"][k]
        axes[0].plot(p["alphas"], 100 * p["error"], marker="o", markersize=3, label=f"spawned at epoch {k}")
    ind = spawn["independent"]
    axes[0].plot(ind["alphas"], 100 * ind["error"], "k--", marker="o", markersize=3, label="independent")
    axes[0].set(xlabel="alpha", ylabel="test error (%)", title="Between the two children")
    legend(axes[0])
    ks = np.array(measures["spawn_epochs"])
    values = np.array(measures["spawn_barrier"])
    axes[1].fill_between(ks, values.min(0), values.max(0), alpha=0.25, label="range over repetitions")
    axes[1].plot(ks, values.mean(0), marker="o", label="mean")
    axes[1].set(xlabel="spawn epoch k", ylabel="test-error barrier (points)", title="Barrier vs spawn epoch")
    legend(axes[1])
    return fig


# ----------------------------------------------------------------------------------------------- transfer
def transfer_figure(lmc: dict):
    fig, ax = subplots(width=6, height=3.6)
    path_plot(ax, lmc["P-T"]["alphas"], {"P-T & P-T (fine-tuned)": 100 * lmc["P-T"]["error"],
                                         "RI-T & RI-T (random init)": 100 * lmc["RI-T"]["error"]},
              xlabel="alpha", ylabel="target test error (%)", title="Interpolation on the target task")
    return fig


def transfer_numbers(lmc: dict) -> dict:
    """Per pair kind: the end errors, the maximum (%) and the test- and train-error barriers (points)."""
    out = {}
    for kind, v in lmc.items():
        key = kind.replace("-", "").lower()
        out.update({f"{key}_end_a": 100 * v["error"][0], f"{key}_end_b": 100 * v["error"][-1],
                    f"{key}_max": 100 * v["error"].max(), f"{key}_barrier": 100 * barrier(v["error"], v["alphas"]),
                    f"{key}_train_barrier": 100 * barrier(v["train_error"], v["alphas"])})
    return {k: float(v) for k, v in out.items()}


def _readable_cell_texts(ax, table) -> None:
    """Black cell labels on light colours, white on dark ones (the heatmap writes every label in white)."""
    image = ax.images[0]
    for text, value in zip(ax.texts, np.asarray(table, dtype=float).ravel()):
        red, green, blue, _ = image.cmap(image.norm(value))
        text.set_color("black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white")


def similarity_figure(sim: dict):
    """Linear CKA (top) and feature l2 distance (bottom, coloured per stage relative to its largest value) per
    stage for each pair."""
    cka = pd.DataFrame(sim["cka"], index=sim["stages"]).T
    l2 = pd.DataFrame(sim["l2"], index=sim["stages"]).T
    fig, axes = subplots(2, 1, width=7, height=6.4)
    for ax, table, title, fmt, cmap in ((axes[0], cka, "Linear CKA per stage", "{:.2f}", "viridis"),
                                        (axes[1], l2, "Feature l2 distance per stage", "{:.1f}", "magma")):
        annotated_heatmap(ax, table.values, xticklabels=table.columns, yticklabels=table.index, xlabel="stage",
                          ylabel="", title=title, cmap=cmap, fmt=fmt)
        _readable_cell_texts(ax, table.values)
    return fig


def domain_figure(dist: dict, pairs):
    """Feature l2 distance of the pooled features for each pair (rows) and target domain (columns)."""
    pooled = pd.DataFrame({d: [dist["l2"][d][pair][-1] for pair in pairs] for d in dist["domains"]},
                          index=list(pairs))
    fig, ax = subplots(width=6.4, height=3.4)
    annotated_heatmap(ax, pooled.values, xticklabels=[c.replace("_", " ") for c in pooled.columns],
                      yticklabels=pooled.index, xlabel="target domain", ylabel="", fmt="{:.2f}",
                      title="Feature l2 distance (pooled features)")
    _readable_cell_texts(ax, pooled.values)
    return fig

