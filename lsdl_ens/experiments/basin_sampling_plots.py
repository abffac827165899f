"""The figures of the chapter "Sampling a basin", drawn from `chapter_results` (seed 0 for the method figures).

Every figure follows the size policy of `lsdl_ens.plotting` (at most 8 inches wide, legends without repeats, bars
zoomed to the data).
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from .. import plotting
from ..metrics import nll
from .basin_sampling_claims import scores

__all__ = ["glue_values", "running_nll", "kfac_figure", "swag_figure", "spro_figure", "equal_budget_figure"]


def glue_values(values: dict, glue=None) -> list[str]:
    """Glue every ``name -> value`` for the chapter's text (strings as plain text, figures as figures) with
    ``myst_nb.glue`` (nothing outside the book build, where myst-nb is not installed); returns the names."""
    from ..claims_page import GluedText

    if glue is None:
        try:
            from myst_nb import glue
        except ImportError:
            return []
    for name, value in values.items():
        glue(name, GluedText(value) if isinstance(value, str) else value, display=False)
    return list(values)


def running_nll(per_sample: torch.Tensor, labels) -> list[float]:
    """NLL of the average of the first k predictions of ``per_sample`` [S, n, C], for k = 1 .. S."""
    cums = per_sample.cumsum(0) / torch.arange(1, len(per_sample) + 1)[:, None, None]
    return [nll(p, labels) for p in cums]


def kfac_figure(results):
    """Left: validation NLL against the prior precision tau (last layer with the GLM predictive, all weights with
    weight samples). Right: test accuracy and NLL of single all-weights samples, their average, the last-layer
    posterior and the MAP network."""
    seed0, labels = results["seeds"][0], results["labels"]
    k = seed0["details"]["kfac"]
    fig, axes = plotting.subplots(1, 2, width=8, height=3.6)
    axes[0].plot(list(k["val_ll"]), list(k["val_ll"].values()), marker="s", label="last layer (GLM, probit)")
    axes[0].plot(list(k["val_all"]), list(k["val_all"].values()), marker="o", label="all weights (samples)")
    axes[0].axhline(k["val_map"], color="k", ls="--", label="MAP network")
    axes[0].axvline(k["tau_wd"], color="gray", ls=":", label=r"$\tau = \mathrm{wd}\cdot N$")
    axes[0].set(xscale="log", yscale="log", xlabel=r"prior precision $\tau$", ylabel="validation NLL",
                title="Choosing the prior")
    plotting.legend(axes[0])
    single = [scores(p, labels) for p in k["all_samples"]]
    axes[1].scatter([s["accuracy"] for s in single], [s["NLL"] for s in single], color="C1", alpha=0.6,
                    label="all weights: one sample")
    for name, probs, marker, color in (("all weights: average", k["all_tuned"], "D", "C1"),
                                       ("last layer (GLM)", k["last_layer"], "s", "C0"),
                                       ("MAP network", seed0["probs"]["MAP"], "*", "k")):
        s = scores(probs, labels)
        axes[1].scatter(s["accuracy"], s["NLL"], marker=marker, s=110, color=color, label=name)
    axes[1].set(xlabel="test accuracy (%)", ylabel="test NLL", title="Tuned posteriors on the test set")
    plotting.legend(axes[1])
    return fig


def swag_figure(results):
    """NLL of the SWAG (and SWAG-Diag) average against the number of samples, with SWA and SGD as lines."""
    seed0, labels = results["seeds"][0], results["labels"]
    s, probs = seed0["details"]["swag"], seed0["probs"]
    fig, ax = plotting.subplots(width=6.5, height=3.8)
    ks = np.arange(1, len(s["samples"]) + 1)
    ax.plot(ks, running_nll(s["samples"], labels), marker="o", label="SWAG (scale 0.5)")
    ax.plot(ks, running_nll(s["diag_samples"], labels), marker="s", label="SWAG-Diag (scale 1)")
    ax.axhline(nll(probs["SWA"], labels), color="C2", ls="--", label="SWA")
    ax.axhline(nll(probs["MAP"], labels), color="k", ls="--", label="SGD, standard run")
    ax.axhline(nll(probs["SGD 2B last iterate"], labels), color="gray", ls=":", label="SGD, end of the SWAG run")
    ax.set(xlabel="number of SWAG samples", ylabel="test NLL", title="SWAG: NLL of the average of k samples")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    plotting.legend(ax)
    return fig


def spro_figure(results):
    """Left: test NLL over a barycentric grid of the first three vertices. Right: NLL of the average of k random
    points of the simplex, single points and the base network v0; all on the same test set."""
    seed0, labels = results["seeds"][0], results["labels"]
    sp = seed0["details"]["spro"]
    grid = sp["grid"]
    fig, axes = plotting.subplots(1, 2, width=8, height=3.6)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    alphas = grid["alphas"].numpy()
    xy = alphas[:, :3] @ corners[: alphas.shape[1]] if alphas.shape[1] >= 3 else alphas[:, :2] @ corners[:2]
    if alphas.shape[1] >= 3:
        tc = axes[0].tricontourf(xy[:, 0], xy[:, 1], grid["loss"].numpy(), levels=12, cmap="viridis")
        fig.colorbar(tc, ax=axes[0], label="test NLL")
    else:  # a segment (two vertices): the loss along it
        tc = axes[0].scatter(xy[:, 0], xy[:, 1], c=grid["loss"].numpy(), cmap="viridis")
        fig.colorbar(tc, ax=axes[0], label="test NLL")
    axes[0].scatter(xy[:, 0], xy[:, 1], s=6, color="w")
    for j, (cx, cy) in enumerate(corners[: min(3, alphas.shape[1])]):
        axes[0].annotate(f"$v_{j}$", (cx, cy), textcoords="offset points", xytext=(-4, 6 if j == 2 else -14))
    axes[0].set_title("Test NLL over the simplex", pad=16)
    axes[0].set_aspect("equal")
    axes[0].axis("off")
    points = sp["points"]
    ks = np.arange(1, len(points) + 1)
    axes[1].plot(ks, running_nll(points, labels), marker="o", label="average of k points")
    axes[1].scatter(ks, seed0["point_nll"], color="C1", label="single points")
    axes[1].axhline(nll(seed0["probs"]["MAP"], labels), color="k", ls="--", label="$v_0$ (SGD network)")
    axes[1].set(xlabel="number of simplex points k", ylabel="test NLL", title="Averaging points of the simplex")
    axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
    plotting.legend(axes[1])
    return fig


def equal_budget_figure(frame):
    """Test NLL and DEE of every row of `equal_budget_frame` (bars zoomed to the data)."""
    fig, axes = plotting.subplots(2, 1, width=8, height=6.4)
    names = list(frame.index)
    colors = ["k" if n.startswith("SGD") else "C3" if n.startswith("Deep") else "C0" for n in names]
    plotting.zoomed_bars(axes[0], names, frame["NLL"].to_numpy(), ylabel="test NLL",
                         title="Test NLL at (about) equal budget", color=colors, fmt="{:.3f}")
    plotting.zoomed_bars(axes[1], names, frame["DEE"].to_numpy(), ylabel="DEE (members)",
                         title="Deep ensemble equivalent", color=colors, fmt="{:.2f}")
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    return fig
