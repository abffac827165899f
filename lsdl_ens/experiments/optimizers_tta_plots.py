"""Chapter 07's figures and tables: the Lookaround steps on a 2-D toy problem, the Lookahead plane, the optimizer
curves, the WATT paths and the adaptation tables (DataFrames).

Every figure follows the size policy of `lsdl_ens.plotting` (``subplots``: at most 8 inches wide, fonts of at
least 9 pt as rendered; ``legend``: one entry per label; bars on axes zoomed to the data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..optim import Lookaround
from ..plotting import PALETTE, legend, subplots, zoom_to_data
from ..tta import WATT_TEMPLATES

__all__ = ["METHOD_NAMES", "lookaround_toy", "plot_lookaround_steps", "plot_lookahead_plane", "plot_curves",
           "optimizer_frame", "strategy_frame", "plot_strategies", "corruption_frame", "plot_corruptions",
           "plot_watt_paths"]

METHOD_NAMES = {"sgd": "SGD", "lookahead": "Lookahead", "lookaround": "Lookaround", "swa": "SWA"}

#: the toy problem: view j of the data has its minimum at OFFSETS[j]; the curvature is CURVATURE (a valley)
OFFSETS = torch.tensor([[0.9, 0.0], [-0.45, 0.78], [-0.45, -0.78]])
CURVATURE = torch.tensor([1.0, 3.0])


def _toy_loss(w: torch.Tensor, j: int, noise: torch.Tensor) -> torch.Tensor:
    """Loss of view j: 0.5 * sum_i a_i (w_i - c_ji)^2 plus a linear mini-batch noise term <noise, w>."""
    return 0.5 * (CURVATURE * (w - OFFSETS[j]) ** 2).sum() + (noise * w).sum()


def lookaround_toy(start=(-2.2, 1.6), *, lr: float = 0.12, k: int = 4, outer: int = 3, noise: float = 0.2,
                   seed: int = 0) -> dict:
    """Run `lsdl_ens.optim.Lookaround` (d = 3 heads, no momentum) on a 2-D toy problem where head j always sees
    view j, whose loss has its minimum at ``OFFSETS[j]``, plus Gaussian mini-batch noise.

    The average step is called explicitly (``average_now()`` after k rounds; the optimizer's own period is set
    out of reach) so that the heads can be recorded just before it; this is the same update as ``Lookaround(k=k)``.

    Returns {"paths": [outer, d, k + 1, 2] each head's weights from the block's start through its k around
    steps, "averages": [outer + 1, 2] the start and the weights after each average step, "grid": (xs, ys, mean
    loss over the views), "k", "d"}."""
    d = len(OFFSETS)
    w = torch.nn.Parameter(torch.tensor(start, dtype=torch.float32))
    opt = Lookaround([w], lr=lr, n_heads=d, k=10 ** 9, momentum=0.0)
    gen = torch.Generator().manual_seed(seed)
    averages, paths = [w.detach().clone()], []
    for _ in range(outer):
        block = [opt.state[w]["heads"].clone()]
        for _ in range(k):
            for j in range(d):  # the live head is j: step() updates it and loads head j + 1
                opt.zero_grad()
                _toy_loss(w, j, noise * torch.randn(2, generator=gen)).backward()
                opt.step()
            block.append(opt.state[w]["heads"].clone())
        paths.append(torch.stack(block, 1))  # [d, k + 1, 2]
        opt.average_now()
        averages.append(w.detach().clone())
    xs, ys = np.linspace(-2.6, 1.6, 80), np.linspace(-1.6, 2.0, 80)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.tensor(np.stack([gx, gy], -1), dtype=torch.float32)
    mean_loss = sum(0.5 * (CURVATURE * (pts - c) ** 2).sum(-1) for c in OFFSETS) / d
    return {"paths": torch.stack(paths).numpy(), "averages": torch.stack(averages).numpy(),
            "grid": (xs, ys, mean_loss.numpy()), "k": k, "d": d}


def plot_lookaround_steps(toy: dict):
    """Each head's path (around steps, solid), its jump to the mean (average step, dotted) and the averages, on
    the contours of the mean loss over the views; crosses mark each view's own minimum."""
    fig, ax = subplots(width=6.4, height=4.6)
    xs, ys, loss = toy["grid"]
    ax.contour(xs, ys, loss, levels=14, colors="0.75", linewidths=0.8)
    avg = toy["averages"]
    for b, block in enumerate(toy["paths"]):
        for j, path in enumerate(block):
            ax.plot(path[:, 0], path[:, 1], "-o", ms=2.5, lw=1.2, color=PALETTE[j],
                    label=f"head {j + 1} (view {j + 1})")
            ax.plot([path[-1, 0], avg[b + 1, 0]], [path[-1, 1], avg[b + 1, 1]], ":", color=PALETTE[j], lw=1)
    ax.plot(avg[:, 0], avg[:, 1], "k-*", ms=11, lw=1.8, label="start and averages")
    for j, c in enumerate(OFFSETS.numpy()):
        ax.plot(*c, "x", color=PALETTE[j], ms=9, mew=2)
    ax.set(xlabel="weight 1", ylabel="weight 2", title="Lookaround: k around steps, one average")
    ax.set_aspect("equal", adjustable="datalim")
    legend(ax, loc="upper right")
    return fig


def plot_lookahead_plane(plane: dict, k: int = 10):
    """One Lookahead outer iteration on the test-accuracy plane: the fast path and the slow update."""
    fig, ax = subplots(width=6.4, height=4.8)
    cs = ax.contourf(plane["xs"], plane["ys"], plane["accuracy"], levels=15, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="test accuracy (%)")
    ax.plot(plane["fast"][:, 0], plane["fast"][:, 1], "w--o", ms=3, label=f"fast weights ({k} SGD steps)")
    ax.plot(plane["slow"][:, 0], plane["slow"][:, 1], "-s", color=PALETTE[3], ms=7, lw=2.5,
            label=r"slow update $\phi_t \to \phi_{t+1}$")
    ax.set(xlabel="plane coordinate 1", ylabel="plane coordinate 2", title="Lookahead on the test-accuracy plane")
    legend(ax, loc="lower left")
    return fig


def plot_curves(optim: dict):
    """Training loss (clean images) and test accuracy per epoch of every method, seed 0."""
    fig, axes = subplots(1, 2, width=8, height=3.6)
    for m, infos in optim.items():
        rows = infos[0]["epochs"]
        ep = [r["epoch"] for r in rows]
        axes[0].plot(ep, [r["train_loss"] for r in rows], marker="o", label=METHOD_NAMES[m])
        axes[1].plot(ep, [100 * r["test_accuracy"] for r in rows], marker="o", label=METHOD_NAMES[m])
    axes[0].set(xlabel="epoch", ylabel="training loss", title="Training loss")
    axes[1].set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    legend(axes[1], loc="lower right")
    return fig


def optimizer_frame(optim: dict) -> pd.DataFrame:
    """Final test accuracy (BN recomputed) and NLL per method: mean and spread over seeds, and the seed count."""
    rows = {}
    for m, infos in optim.items():
        acc = np.array([100 * i["final"]["test_accuracy_bn"] for i in infos])
        nll = np.array([i["final"]["test_loss_bn"] for i in infos])
        rows[METHOD_NAMES[m]] = {"seeds": len(infos), "test acc (%)": acc.mean(),
                                 "sd over seeds": acc.std(ddof=1) if len(acc) > 1 else float("nan"),
                                 "test NLL": nll.mean(), "train loss": np.mean([i["epochs"][-1]["train_loss"]
                                                                                for i in infos])}
    return pd.DataFrame(rows).T.astype({"seeds": int})


def strategy_frame(strategies: dict) -> pd.DataFrame:
    """Accuracy (%) of each averaging strategy (rows) on each test set (columns) and their mean."""
    table = pd.DataFrame({label: {name: 100 * r["accuracy"] for name, r in row.items()}
                          for label, row in strategies.items()}).T
    table["mean"] = table.mean(axis=1)
    return table


def _grouped_bars(ax, table: pd.DataFrame, title: str):
    values = table.to_numpy()
    n_groups, n_bars = values.shape
    width = 0.8 / n_bars
    for i, label in enumerate(table.columns):
        ax.bar(np.arange(n_groups) + (i - (n_bars - 1) / 2) * width, values[:, i], width, label=str(label),
               color=PALETTE[i % len(PALETTE)])
    low, high = zoom_to_data(values)
    ax.set_ylim(low, high)
    ax.set(ylabel="accuracy (%)", title=title)


def plot_strategies(strategies: dict):
    """Accuracy of each averaging strategy, grouped by test set (axis zoomed to the data)."""
    table = strategy_frame(strategies).drop(columns="mean").T
    fig, ax = subplots(width=8, height=3.8)
    _grouped_bars(ax, table, "Averaging strategies over the templates")
    ax.set_xticks(np.arange(len(table)), list(table.index))
    legend(ax, ncol=2, loc="upper right")
    return fig


def corruption_frame(corruptions: dict) -> pd.DataFrame:
    """Accuracy (%) per corruption (rows) and method (columns), with a last row of means."""
    table = pd.DataFrame({c: {label: 100 * r["accuracy"] for label, r in row.items()}
                          for c, row in corruptions.items()}).T
    table.index = [c.replace("_", " ") for c in table.index]
    table.loc["mean"] = table.mean(axis=0)
    return table


def plot_corruptions(corruptions: dict):
    """Accuracy per corruption and method (axis zoomed to the data)."""
    table = corruption_frame(corruptions).drop(index="mean")
    fig, ax = subplots(width=8, height=4.2)
    _grouped_bars(ax, table, "Test-time adaptation per corruption (severity 5)")
    ax.set_xticks(np.arange(len(table)), list(table.index), rotation=45, ha="right")
    legend(ax, ncol=4, loc="upper left")
    return fig


def plot_watt_paths(paths: dict):
    """WATT-P (fan) and WATT-S (chain) on one batch: adapted LayerNorm weights after every step, projected on
    their first two principal directions; ``paths`` from `optimizers_tta.watt_paths`."""
    points = torch.cat([torch.stack([r["weights"] for r in p["trace"]] + p["averages"]) for p in paths.values()])
    center = points.mean(0)
    _, _, v = torch.pca_lowrank(points - center, q=2, center=False)

    def proj(w):
        return ((w - center) @ v).numpy()

    fig, axes = subplots(1, 2, width=8, height=4.2, sharex=True, sharey=True)
    for ax, (mode, p) in zip(axes, paths.items()):
        trace, averages = p["trace"], p["averages"]
        for m in range(len(averages) - 1):
            for h in range(len(WATT_TEMPLATES)):
                steps = [r["weights"] for r in trace if r["round"] == m and r["template"] == h]
                if mode == "parallel" or h == 0:
                    first = averages[m]
                else:
                    first = [r["weights"] for r in trace if r["round"] == m and r["template"] == h - 1][-1]
                xy = proj(torch.stack([first] + steps))
                ax.plot(xy[:, 0], xy[:, 1], "-", color=PALETTE[h % len(PALETTE)], alpha=0.8, lw=1.2)
                ax.plot(xy[-1, 0], xy[-1, 1], "o", color=PALETTE[h % len(PALETTE)], ms=4)
        avg = np.stack([proj(a) for a in averages])
        ax.plot(avg[:, 0], avg[:, 1], "k-*", ms=11, lw=2, label="start and averages")
        ax.set(title=f"WATT-{mode[0].upper()}: {p['accuracy']:.1f}% on the batch", xlabel="direction 1",
               ylabel="direction 2" if ax is axes[0] else "")
    legend(axes[0], loc="best")
    return fig
