"""Chapter 04's figures and tables, drawn from `lsdl_ens.experiments.ensembles_results.chapter_results`.

Schedules are drawn against the budget spent after each iteration, (iteration + 1) / iterations per B, the
same count as a snapshot's ``cost``, so each snapshot sits on the rate of the iteration it was taken after.

Every figure follows the book's size policy (`lsdl_ens.plotting.subplots`: at most 8 inches wide, fonts of at least
9 pt) and returns the figure, so the chapter can glue it into a numbered MyST figure; tables are DataFrames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from ..lecture_plots import budget_plot
from ..plotting import legend, reliability_diagram, subplots
from ..schedules import cosine_lr, fge_lr, sse_lr
from ..ensembles.csgld import cycle_position

__all__ = ["members_figure", "reliability_figure", "barrier_figure", "sse_schedule_figure", "interpolation_figure",
           "correlation_figure", "fge_schedule_figure", "csgld_schedule_figure", "dee_figure", "budget_figure",
           "scores_frame", "budget_frame", "temperatures_frame"]


def members_figure(curve: dict):
    """Accuracy, NLL and ECE of the deep ensemble against its size (mean over subsets, band: std)."""
    sizes = sorted(curve)
    fig, axes = subplots(1, 3, width=8.0, height=2.9)
    for ax, (name, unit) in zip(axes, [("accuracy", "%"), ("NLL", "nats"), ("ECE", "%")]):
        mean = np.array([curve[k][name][0] for k in sizes])
        std = np.array([curve[k][name][1] for k in sizes])
        ax.plot(sizes, mean, marker="o")
        ax.fill_between(sizes, mean - std, mean + std, alpha=0.25)
        ax.set(xlabel="members", ylabel=f"{name} ({unit})", title=f"Test {name}")
        ax.set_xticks(sizes)
    return fig


def reliability_figure(single, ensemble, labels, m: int):
    """Reliability diagrams of one network and of the deep ensemble of `m`."""
    fig, axes = subplots(1, 2, width=7.0, height=3.4)
    reliability_diagram(axes[0], metrics.reliability_bins(single, labels), title="One network")
    reliability_diagram(axes[1], metrics.reliability_bins(ensemble, labels), color="C2",
                        title=f"Deep ensemble of {m}")
    return fig


def barrier_figure(paths: dict):
    """Test error along the segment between two members of each kind of ensemble."""
    fig, ax = subplots(width=6.0, height=3.4)
    for name, p in paths.items():
        ax.plot(p["alphas"], p["error"], marker="o", markersize=3, label=name)
    ax.set(xlabel=r"$\alpha$ on $(1-\alpha)\,w_a + \alpha\,w_b$", ylabel="test error (%)",
           title="Segments between two members")
    legend(ax)
    return fig


def sse_schedule_figure(sse, profile):
    """SSE's learning rate per iteration against the standard run's, with its snapshots."""
    per_b = sse.extra["iterations_per_budget"]
    total = sse.recipe.budget * per_b
    its = np.arange(total)
    fig, ax = subplots(width=7.0, height=3.0)
    ax.plot((its + 1) / per_b, [sse_lr(i, total, sse.recipe.n_cycles, sse.recipe.lr_max) for i in its],
            label="SSE (cosine restarts)")
    ax.plot((its[:per_b] + 1) / per_b, [cosine_lr(i / per_b * profile.epochs, profile.epochs, profile.lr)
                                  for i in its[:per_b]], "--", label="standard run (1B)")
    ax.plot(np.array(sse.costs), sse.lrs, "o", color="C3", label="snapshots")
    ax.set(xlabel="training budget (B)", ylabel="learning rate", title="SSE learning rate per iteration")
    legend(ax)
    return fig


def interpolation_figure(interpolations: dict):
    """Test error from each earlier snapshot (checkpoint) to the last one of 1B, with and without cycles."""
    fig, axes = subplots(1, 2, width=8.0, height=3.2, sharey=True)
    for ax, (name, paths) in zip(axes, interpolations.items()):
        for p in paths:
            ax.plot(p["alphas"], p["error"], marker="o", markersize=3, label=f"from {p['from']:.2f} B")
        ax.set(xlabel=r"$\alpha$ (0: earlier, 1: last)", title="SSE snapshots" if name == "SSE" else
               "checkpoints, no cycles")
        legend(ax)
    axes[0].set_ylabel("test error (%)")
    return fig


def correlation_figure(sse_probs, de_probs):
    """Pairwise correlation of the softmax outputs of SSE snapshots and of deep-ensemble members (shared colours)."""
    corr = [np.corrcoef(p.reshape(len(p), -1).double().numpy()) for p in (sse_probs, de_probs)]
    low = min(c.min() for c in corr)
    fig, axes = subplots(1, 2, width=8.0, height=3.6)
    for ax, c, name in zip(axes, corr, ["SSE snapshots", "deep-ensemble members"]):
        image = ax.imshow(c, vmin=low, vmax=1, cmap="viridis")
        ax.set(title=name, xlabel="member", ylabel="member", xticks=range(len(c)), yticks=range(len(c)))
        ax.grid(False)
    fig.colorbar(image, ax=axes, shrink=0.8, label="correlation")
    return fig


def fge_schedule_figure(fge, profile):
    """The standard run's cosine up to the FGE start, then FGE's triangular cycles, with the mid-cycle snapshots."""
    per_b, start = fge.extra["iterations_per_budget"], fge.extra["start_iterations"]
    cycle = fge.extra["cycle_iterations"]
    its = np.arange(round(fge.recipe.budget * per_b))
    lr = [cosine_lr(i / per_b * profile.epochs, profile.epochs, profile.lr) if i < start else
          fge_lr(i - start, cycle, fge.recipe.lr_1, fge.recipe.lr_2) for i in its]
    fig, ax = subplots(width=7.0, height=3.0)
    ax.plot((its + 1) / per_b, lr, label="standard run, then FGE cycles")
    ax.plot(fge.costs, fge.lrs, "o", color="C3", markersize=4, label="snapshots (mid-cycle)")
    ax.axvline(start / per_b, color="gray", ls=":", label="FGE start")
    ax.set(xlabel="training budget (B)", ylabel="learning rate", title="FGE learning rate per iteration", yscale="log")
    legend(ax)
    return fig


def csgld_schedule_figure(csgld):
    """cSGLD's step size per iteration with its sampling stage shaded and its samples."""
    rec = csgld.recipe
    per_b = csgld.extra["iterations_per_budget"]
    total = per_b * rec.budget
    its = np.arange(total)
    steps = np.array([sse_lr(i, total, rec.n_cycles, rec.lr_0) for i in its])
    sampling = np.array([cycle_position(i, total, rec.n_cycles) >= rec.beta for i in its])
    fig, ax = subplots(width=7.0, height=3.0)
    ax.plot((its + 1) / per_b, steps, color="C0", label="step size")
    ax.fill_between((its + 1) / per_b, 0, steps.max(), where=sampling, color="C1", alpha=0.25, label="sampling stage")
    ax.plot(csgld.costs, csgld.lrs, "o", color="C3", label="samples")
    ax.set(xlabel="training budget (B)", ylabel=r"step size $\alpha$", title="cSGLD: exploration and sampling")
    legend(ax)
    return fig


def dee_figure(de_cnll: dict, method_cnll: dict, dees: dict, m: int):
    """Calibrated NLL against the number of members, and the deep ensemble equivalent of each method."""
    fig, axes = subplots(1, 2, width=8.0, height=3.4)
    axes[0].plot(list(de_cnll), list(de_cnll.values()), "k-o", label="deep ensemble")
    for name, curve in method_cnll.items():
        axes[0].plot(list(curve), list(curve.values()), marker=".", label=name)
    axes[0].set(xlabel="members", ylabel="calibrated test NLL", title="Calibrated NLL")
    legend(axes[0])
    kmax = max(len(c) for c in method_cnll.values())
    axes[1].plot([1, m], [1, m], "k--", label="deep ensemble")
    for name, d in dees.items():
        axes[1].plot(list(d), list(d.values()), marker=".", label=name)
    axes[1].axhline(m, color="gray", ls=":", label="cap")
    axes[1].set(xlabel="members", ylabel="DEE", title="Deep ensemble equivalent", xlim=(0.5, kmax + 0.5))
    legend(axes[1])
    return fig


def budget_figure(table: dict):
    """Test error of Ind, SSE and FGE at each budget (error bars: std over seeds, for Ind over seed subsets)."""
    fig, ax = subplots(width=6.0, height=3.6)
    budget_plot(ax, table["budgets"], {"Ind": table["Ind"]["mean"], "SSE": table["SSE"], "FGE": table["FGE"]},
                {"Ind": table["Ind"]["std"], "SSE": table["spread"]["SSE"], "FGE": table["spread"]["FGE"]},
                title="Test error at equal training budgets")
    return fig


def scores_frame(scores: dict) -> pd.DataFrame:
    """``{method: {budget: {"members", "accuracy", "NLL", "ECE"}}}`` as a table of error (%), NLL and ECE (%)."""
    rows = [{"method": name, "budget": f"{b}B", "members": r["members"], "error (%)": 100 - r["accuracy"],
             "NLL": r["NLL"], "ECE (%)": r["ECE"]} for name, row in scores.items() for b, r in row.items()]
    return pd.DataFrame(rows).set_index(["method", "budget"]).round({"error (%)": 2, "NLL": 3, "ECE (%)": 2})


def budget_frame(table: dict) -> pd.DataFrame:
    """The equal-budget table: Ind (mean and std over seed subsets), SSE and FGE (mean and std over seeds)."""
    return pd.DataFrame({"Ind": table["Ind"]["mean"], "Ind std": table["Ind"]["std"], "SSE": table["SSE"],
                         "SSE std": table["spread"]["SSE"], "FGE": table["FGE"], "FGE std": table["spread"]["FGE"],
                         "SSE snapshots": table["members"]["SSE"], "FGE snapshots": table["members"]["FGE"]},
                        index=pd.Index([f"{b}B" for b in table["budgets"]], name="budget")).round(2)


def temperatures_frame(by_temperature: dict) -> pd.DataFrame:
    """cSGLD at each temperature: noise, samples, their accuracies and their ensemble's scores."""
    return pd.DataFrame({name: {"T": r["temperature"], "noise std": r["noise_std"], "samples": r["samples"],
                                "worst sample acc. (%)": min(r["sample_accuracy"]),
                                "best sample acc. (%)": max(r["sample_accuracy"]), "ensemble acc. (%)": r["accuracy"],
                                "ensemble NLL": r["nll"], "ensemble ECE (%)": r["ece"]}
                         for name, r in by_temperature.items()}).T
