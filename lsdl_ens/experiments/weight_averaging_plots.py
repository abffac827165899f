"""The figures and tables of chapter 03 (weight averaging), within the size policy of `lsdl_ens.plotting`
(at most 8 inches wide, legends without repeated entries). Each function takes the chapter's results and
returns a matplotlib figure or a pandas DataFrame."""

from __future__ import annotations

import numpy as np

from ..lecture_plots import plane_plot
from ..plotting import legend, subplots, zoomed_bars

__all__ = ["plot_swa_training", "swa_seed_frame", "plot_iterate_plane", "plot_line", "plot_rays",
           "ingredients_frame", "plot_soup_plane", "plot_angles", "plot_soup_vs_ensemble", "plot_ingredient_curve",
           "plot_wise", "soup_table_frame", "plot_swa_seed_bars"]


def plot_swa_training(sgd_rows, swa_rows, budget_epochs: int):
    """Test error of SGD, of the SWA run's iterate and of its average per epoch; training loss of both runs."""
    fig, axes = subplots(1, 2, width=8.0, height=3.4)
    err = lambda rows, key: [100 * (1 - r[key]) for r in rows if key in r]  # noqa: E731
    axes[0].plot([r["epoch"] for r in sgd_rows], err(sgd_rows, "sgd_test_accuracy"), "o-", label="SGD, cosine")
    axes[0].plot([r["epoch"] for r in swa_rows], err(swa_rows, "sgd_test_accuracy"), "s--", label="SWA run, iterate")
    with_swa = [r for r in swa_rows if "swa_test_accuracy" in r]
    axes[0].plot([r["epoch"] for r in with_swa], err(with_swa, "swa_test_accuracy"), "^-", label="SWA average")
    axes[0].axvline(budget_epochs, color="grey", lw=0.8, ls=":")
    axes[0].set(xlabel="epoch", ylabel="test error (%)", title="Test error")
    axes[1].plot([r["epoch"] for r in sgd_rows], [r["train_loss"] for r in sgd_rows], "o-", label="SGD, cosine")
    axes[1].plot([r["epoch"] for r in swa_rows], [r["train_loss"] for r in swa_rows], "s--", label="SWA run, iterate")
    axes[1].set(xlabel="epoch", ylabel="training loss", title="Training loss")
    legend(axes[0])  # the right panel's lines share these styles
    return fig


def swa_seed_frame(acc: dict):
    """Test accuracy (%) per seed of SGD (one budget) and SWA (one and 1.5 budgets), and SWA minus SGD."""
    import pandas as pd

    frame = pd.DataFrame({"SGD, 1 budget": acc["sgd"], "SWA, 1 budget": acc["swa_1b"],
                          "SWA, 1.5 budgets": acc["swa_15b"]}, index=pd.Index(acc["seed"], name="seed"))
    frame["SWA 1B - SGD"] = frame["SWA, 1 budget"] - frame["SGD, 1 budget"]
    frame["SWA 1.5B - SGD"] = frame["SWA, 1.5 budgets"] - frame["SGD, 1 budget"]
    return frame.round(2)


def plot_iterate_plane(plane, iterate_xy, average_xy, *, title: str):
    """Test error on the plane of three iterates, every averaged iterate as a white dot, the average as a star."""
    fig, ax = subplots(width=5.6, height=4.4)
    plane_plot(ax, plane, quantity="error", vertex_labels=("first", "middle", "last"),
               marks={"SWA average": average_xy}, colorbar_label="test error (%)", title=title)
    xy = np.asarray(iterate_xy, dtype=float)
    ax.scatter(xy[:, 0], xy[:, 1], s=14, color="white", zorder=4)
    return fig


def plot_line(line):
    """Test error and training loss along the SGD-SWA line against the distance from SWA."""
    fig, ax1 = subplots(width=6.5, height=3.6)
    ax1.plot(line["distances"], 100 * np.asarray(line["error"]), "o-", color="C0", label="test error")
    ax1.set(xlabel="distance from SWA towards SGD", ylabel="test error (%)", title="Along the SGD-SWA line")
    ax2 = ax1.twinx()
    ax2.plot(line["distances"], line["train_loss"], "s--", color="C1", label="training loss")
    ax2.set_ylabel("training loss")
    ax2.grid(False)
    for x, name in [(0.0, "SWA"), (line["sgd_distance"], "SGD")]:
        ax1.axvline(x, color="grey", lw=0.8, ls=":")
        ax1.annotate(name, (x, 0.03), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                     bbox={"boxstyle": "round", "fc": "white", "ec": "none"})
    handles = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax1.legend(handles, [h.get_label() for h in handles], loc="best")
    return fig


def plot_rays(distances, rays: dict, n_rays: int):
    """Mean test error and training loss over the random rays from each centre."""
    fig, axes = subplots(1, 2, width=8.0, height=3.4)
    for name, r in rays.items():
        axes[0].plot(distances, 100 * np.asarray(r["error"]).mean(0), "o-", label=name)
        axes[1].plot(distances, np.asarray(r["train_loss"]).mean(0), "o-", label=name)
    axes[0].set(xlabel="distance along a random ray", ylabel="test error (%)", title=f"Test error, {n_rays} rays")
    axes[1].set(xlabel="distance along a random ray", ylabel="training loss", title=f"Training loss, {n_rays} rays")
    legend(axes[0])  # the same centres in both panels
    return fig


def ingredients_frame(ingredients, val_acc, test_acc, ood_acc, own_bn_val_acc):
    """One row per fine-tuning: its hyper-parameters and accuracies (%)."""
    import pandas as pd

    rows = [{"lr": f"{ing.hparams['lr']:g}", "weight decay": f"{ing.hparams['weight_decay']:g}",
             "augment": ing.hparams["augment"], "label smoothing": ing.hparams["label_smoothing"],
             "seed": ing.hparams["seed"], "val %": 100 * v, "test %": 100 * t, "OOD %": 100 * o,
             "val, own BN %": 100 * vo}
            for ing, v, t, o, vo in zip(ingredients, val_acc, test_acc, ood_acc, own_bn_val_acc)]
    return pd.DataFrame(rows).round(2)


def plot_soup_plane(plane, soup_xy, seeds, *, title: str):
    """Target test error on the plane through theta_0 and two fine-tunings, their soup as a star."""
    fig, ax = subplots(width=5.6, height=4.4)
    plane_plot(ax, plane, quantity="error", vertex_labels=("θ0", f"seed {seeds[0]}", f"seed {seeds[1]}"),
               marks={"soup (midpoint)": soup_xy}, colorbar_label="target test error (%)", title=title)
    return fig


def plot_angles(angles, advantages):
    """Interpolation advantage of each pair against the angle between the two fine-tuning updates."""
    fig, ax = subplots(width=5.6, height=3.6)
    ax.scatter(angles, advantages)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="angle between θi - θ0 and θj - θ0 (degrees)", ylabel="advantage (points)",
           title="Interpolation advantage vs angle")
    return fig


def plot_soup_vs_ensemble(lrs, per_lr: dict):
    """Per learning rate: mean individual, uniform soup and ensemble accuracy of its ingredients."""
    fig, ax = subplots(width=5.6, height=3.6)
    for key, mk in [("individual", "o-"), ("soup", "s-"), ("ensemble", "^-")]:
        ax.plot(lrs, [per_lr[lr][key] for lr in lrs], mk, label="mean individual" if key == "individual" else key)
    ax.set(xscale="log", xlabel="fine-tuning learning rate", ylabel="target test accuracy (%)",
           title="Soup vs ensemble of same-lr runs")
    legend(ax)
    return fig


def plot_ingredient_curve(ks, curve: dict):
    """Accuracy of the best individual, uniform / greedy soup and ensemble of the first k ingredients."""
    fig, ax = subplots(width=5.6, height=3.6)
    for key, values in curve.items():
        ax.plot(ks, values, "o-", label=key)
    ax.set(xlabel="ingredients (random order)", ylabel="target test accuracy (%)",
           title="Accuracy vs number of ingredients")
    legend(ax)
    return fig


def plot_wise(wise: dict):
    """WiSE-FT: ID and OOD accuracy against alpha, and OOD against ID, for each fine-tuned end."""
    fig, axes = subplots(1, 2, width=8.0, height=3.6)
    for k, (name, rows) in enumerate(wise.items()):
        alphas = [r["alpha"] for r in rows]
        axes[0].plot(alphas, [r["id"] for r in rows], "o-", color=f"C{k}", label=f"ID, {name}")
        axes[0].plot(alphas, [r["ood"] for r in rows], "s--", color=f"C{k}", label=f"OOD, {name}")
        axes[1].plot([r["id"] for r in rows], [r["ood"] for r in rows], "o-", color=f"C{k}", label=name)
    axes[0].set(xlabel="α (0: start, 1: fine-tuned)", ylabel="accuracy (%)", title="WiSE-FT curves")
    axes[1].set(xlabel="ID accuracy (%)", ylabel="OOD accuracy (%)", title="ID vs OOD")
    for ax in axes:
        legend(ax)
    return fig


def soup_table_frame(rows: dict):
    """The soup table: validation, test and corrupted-test accuracy (%) and inference cost per method."""
    import pandas as pd

    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["val %", "test %", "corrupted %",
                                                                  "inference cost"])
    frame.index.name = "method"
    return frame.round({"val %": 2, "test %": 2, "corrupted %": 2})


def plot_swa_seed_bars(acc: dict):
    """Mean test accuracy over seeds of SGD and SWA with the seeds' spread, on an axis zoomed to the data."""
    fig, ax = subplots(width=5.6, height=3.4)
    names = {"sgd": "SGD 1B", "swa_1b": "SWA 1B", "swa_15b": "SWA 1.5B"}
    values = [float(np.mean(acc[k])) for k in names]
    errors = [float(np.std(acc[k], ddof=1)) if len(acc[k]) > 1 else 0.0 for k in names]
    zoomed_bars(ax, list(names.values()), values, errors, ylabel="test accuracy (%)",
                title=f"Mean of {len(acc['sgd'])} seeds (± sd)", fmt="{:.2f}")
    return fig
