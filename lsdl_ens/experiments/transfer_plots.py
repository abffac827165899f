"""Figures, tables and glued numbers of chapter 06, drawn from `lsdl_ens.experiments.transfer.results`.

Every figure follows the size policy of `lsdl_ens.plotting` (`subplots`: at most 8 inches wide; `legend`: one entry
per label; `zoomed_bars` for bars of close values) and is returned, not shown, so the chapter can glue it into a
numbered MyST figure. Accuracies in `results` are fractions; figures and tables show percent.
"""

from __future__ import annotations

import numpy as np

from ..claims import t_quantile
from ..plotting import annotated_heatmap, legend, size_plot, subplots, zoomed_bars
from ..profiles import Profile

__all__ = ["plot_de", "plot_grid", "plot_sse_sizes", "plot_paths", "plot_cycles", "plot_star", "plot_diversity",
           "diversity_reading", "plot_soups", "plot_ood", "plot_planes", "final_frame", "ood_frame", "glued_numbers",
           "cell_text", "replicate_reading"]


def cell_text(cell) -> str:
    """A grid cell (lr_mult, epoch_mult) as text: ``"4x LR, 1x epochs"``."""
    return f"{cell[0]:g}x LR, {cell[1]:g}x epochs"


def _pct(values):
    return [100 * v for v in values]


def _sizes(curve):
    return list(range(1, len(curve) + 1))


def plot_de(R):
    """Local vs Global DE: accuracy against ensemble size, and against training cost."""
    fig, axes = subplots(1, 2, width=8, height=3.4)
    curves = {name: _pct(R["curves"][name]) for name in ("Local DE", "Global DE")}
    size_plot(axes[0], _sizes(curves["Local DE"]), curves, ylabel="test accuracy (%)", title="Accuracy vs size")
    for i, name in enumerate(curves):
        cost = R["costs"][name]
        axes[1].scatter((cost["pretrain_images"] + cost["finetune_images"]) / 1e6, curves[name][-1], s=60,
                        color=f"C{i}", label=f"{name}, {len(curves[name])} members")
    small = R["costs"]["Local DE, Global DE size"]
    g = len(curves["Global DE"])
    axes[1].scatter((small["pretrain_images"] + small["finetune_images"]) / 1e6, curves["Local DE"][g - 1], s=60,
                    marker="s", color="C0", edgecolor="black", label=f"Local DE, {g} members")
    axes[1].set(xlabel="million images seen (pre-training included)", ylabel="test accuracy (%)",
                title="Accuracy vs cost")
    legend(axes[1], loc="lower right")
    return fig


def plot_grid(R, profile: Profile, key: str = "grid", what: str = "ensemble"):
    """Validation accuracy of every (cycle LR, cycle length) cell of SSE and StarSSE (`key`: "grid" for ensembles,
    "soup_grid" for soups)."""
    s = profile.transfer
    fig, axes = subplots(1, 2, width=8, height=3.4)
    for ax, m in zip(axes, ("sse", "starsse")):
        table = [[100 * R[key][m][(lr, ep)]["val_acc"] for ep in s.epoch_mults] for lr in s.lr_mults]
        annotated_heatmap(ax, table, xticklabels=[f"{e:g}x" for e in s.epoch_mults],
                          yticklabels=[f"{lr:g}x" for lr in s.lr_mults], xlabel="cycle length (x epochs)",
                          ylabel="cycle max LR (x LR)", title=f"{'SSE' if m == 'sse' else 'StarSSE'} {what} (%)")
    return fig


def plot_sse_sizes(R):
    """Test accuracy of SSE at its three named cells against ensemble size, with Local DE."""
    fig, ax = subplots(1, 1, width=6, height=3.4)
    curves = {f"SSE {n} ({cell_text(c)})": _pct(R["curves"][f"SSE {n}"]) for n, c in R["chosen"]["sse"].items()}
    curves["Local DE"] = _pct(R["curves"]["Local DE"])
    size_plot(ax, _sizes(curves["Local DE"]), curves, ylabel="test accuracy (%)", title="SSE: accuracy vs size")
    return fig


def plot_paths(R):
    """Test error along the segments between consecutive SSE members, one panel per named cell."""
    fig, axes = subplots(1, 3, width=8, height=3.0, sharey=True)
    for ax, (name, paths) in zip(axes, R["paths"].items()):
        for k, path in enumerate(paths):
            ax.plot(path["alphas"] + k + 1, 100 * path["error"], marker="o", markersize=3, color="C0")
        ax.set(xlabel="member", title=f"SSE {name}")
        ax.set_xticks(range(1, len(paths) + 2))
    axes[0].set_ylabel("test error (%)")
    return fig


def plot_cycles(R):
    """Train and test accuracy of each SSE member (model 1 first) at the three named cells."""
    fig, axes = subplots(1, 2, width=8, height=3.2)
    for name in R["member_test"]:
        xs = _sizes(R["member_test"][name])
        axes[0].plot(xs, _pct(R["member_train"][name]), marker="o", label=f"SSE {name}")
        axes[1].plot(xs, _pct(R["member_test"][name]), marker="o", label=f"SSE {name}")
    for ax, what in zip(axes, ("train", "test")):
        ax.set(xlabel="member", ylabel=f"{what} accuracy (%)", title=f"{what.capitalize()} accuracy per member")
        ax.set_xticks(xs)
    legend(axes[1])
    return fig


def plot_star(R):
    """StarSSE, SSE, Local and Global DE against ensemble size at the optimal and semi-local cells."""
    fig, axes = subplots(1, 2, width=8, height=3.6, sharey=True)
    for ax, name in zip(axes, ("optimal", "semi-local")):
        curves = {"StarSSE": _pct(R["curves"][f"StarSSE {name}"]), "SSE": _pct(R["curves"][f"SSE {name}"]),
                  "Local DE": _pct(R["curves"]["Local DE"]), "Global DE": _pct(R["curves"]["Global DE"])}
        size_plot(ax, _sizes(curves["Local DE"]), curves, ylabel="test accuracy (%)", title=f"{name} cells")
    return fig


def plot_diversity(R):
    """Diversity of the members of each ensemble (test set)."""
    fig, ax = subplots(1, 1, width=8, height=3.2)
    names = list(R["diversity"])
    zoomed_bars(ax, [n.replace(" ", "\n", 1) for n in names], [R["diversity"][n] for n in names],
                ylabel="diversity", title="Diversity of the members")
    return fig


def plot_soups(R):
    """Test accuracy of the soups (each at its best validation cell) and of the ensembles of the same members, with
    model 1 (the Global DE soup, far below, is left out: see the text)."""
    fig, axes = subplots(1, 2, width=8, height=3.2)
    names = [n for n in R["soup_acc"] if n != "Global DE"]
    for ax, (title, table) in zip(axes, (("Uniform soups", R["soup_acc"]), ("Ensembles", R["ens_acc"]))):
        zoomed_bars(ax, names + ["model 1"], [100 * table[n] for n in names] + [100 * R["model1"]],
                    ylabel="test accuracy (%)", title=title, fmt="{:.2f}")
    return fig


def plot_ood(R):
    """Accuracy under corruption (mean over corruptions) against severity, ensembles and soups."""
    fig, axes = subplots(1, 2, width=8, height=3.4, sharey=True)
    sev = list(R["severities"])
    for ax, (title, table) in zip(axes, (("Ensembles", R["ood_ens"]), ("Soups", R["ood_soup"]))):
        for i, (name, values) in enumerate(table.items()):
            ax.plot(sev, _pct(values), marker="o", color=f"C{i}", label=name)
        ax.plot(sev, _pct(R["ood_model1"]), "k--", label="model 1")
        ax.set(xlabel="corruption severity", title=title)
        ax.set_xticks(sev)
        legend(ax)
    axes[0].set_ylabel("accuracy (%)")
    return fig


def plot_planes(R):
    """Train loss and test error on the plane through members 1-3 of optimal SSE and optimal StarSSE."""
    fig, axes = subplots(2, 2, width=8, height=6.4)
    for col, (name, pl) in enumerate(R["planes"].items()):
        for row, (key, label) in enumerate((("train_loss", "train loss"), ("error", "test error (%)"))):
            ax = axes[row, col]
            z = pl[key] * (100 if key == "error" else 1)
            cs = ax.contourf(pl["xs"], pl["ys"], z, levels=15, cmap="viridis")
            fig.colorbar(cs, ax=ax)
            ax.scatter(pl["points"][:, 0], pl["points"][:, 1], color="white", edgecolor="black", zorder=3)
            for i, (px, py) in enumerate(pl["points"]):
                ax.annotate(f"{i + 1}", (px, py), color="white", xytext=(4, 4), textcoords="offset points")
            ax.set(title=f"{name}: {label}", xlabel="direction 1 to 2" if row else "",
                   ylabel="orthogonal direction" if col == 0 else "")
            ax.grid(False)
    return fig


def final_frame(R):
    """Full-ensemble test accuracy (%) of every compared ensemble: its members, the first replicate's accuracy (the
    figures') and the mean ± standard deviation over all replicates (blank where only the first has it)."""
    import pandas as pd

    reps = [m["accuracy"] for m in R["replicates"]]
    rows = []
    for name, acc in R["final"].items():
        values = [100 * m[name] for m in reps if name in m]
        spread = f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
        rows.append({"ensemble": name, "members": len(R["curves"][name]),
                     "first replicate (%)": round(100 * acc, 2), f"mean ± sd, {len(reps)} replicates (%)": spread})
    return pd.DataFrame(rows).set_index("ensemble")


def ood_frame(R):
    """Accuracy under corruption (%), one row per model, one column per severity."""
    import pandas as pd

    rows = {f"{name} ensemble": v for name, v in R["ood_ens"].items()}
    rows.update({f"{name} soup": v for name, v in R["ood_soup"].items()})
    rows["model 1"] = R["ood_model1"]
    return pd.DataFrame({k: np.round(_pct(v), 2) for k, v in rows.items()},
                        index=[f"severity {s}" for s in R["severities"]]).T


def diversity_reading(diversity: dict) -> str:
    """A sentence for the text comparing the members' diversity (``R["diversity"]``: name -> value) at the optimal
    and semi-local cells with Local DE's."""
    local, star, semi = (diversity.get(k) for k in ("Local DE", "StarSSE optimal", "StarSSE semi-local"))
    if local is None or star is None:
        raise ValueError("diversity must hold 'Local DE' and 'StarSSE optimal'; pass chapter_results(profile)")
    if semi is None or star >= local:
        return ""
    more = "above" if semi > local else "still below"
    return (f"Diversity grows with the cycle's learning rate: semi-local StarSSE spokes reach {semi:.1f}, {more} "
            f"Local DE's {local:.1f}. The optimal cell is chosen for validation accuracy, and there the spokes "
            f"({star:.1f}) disagree less with each other than separate fine-tunings of the pre-trained checkpoint do.")


def replicate_reading(what: str, values, verdict: str, unit: str = " points", decimals: int = 2) -> str:
    """A sentence giving `what` (a "greater than zero" claim's value) in each replicate and, when its verdict is
    "within noise", whether the replicates agree in sign (then the spread, not the sign, keeps the interval across
    zero)."""
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError(f"values must hold one value per replicate (at least 2), got {values}")
    text = ", ".join(f"{v:.{decimals}f}" for v in values[:-1]) + f" and {values[-1]:.{decimals}f}{unit}"
    if verdict != "within noise":
        return f"{what} per replicate: {text}."
    if all(v > 0 for v in values) or all(v < 0 for v in values):
        return (f"{what} per replicate: {text}, the same sign every time, but the values vary too much across "
                f"{len(values)} replicates for the interval of their mean to exclude zero.")
    return f"{what} per replicate: {text}; the sign changes between replicates."


def glued_numbers(R, profile: Profile, first, claims=()) -> dict:
    """Name -> text of every measured or profile number the chapter's prose reads (glue names ``ch06_*``); `claims`
    (the chapter's `lsdl_ens.experiments.transfer.claims`) gives the verdicts that `replicate_reading` needs."""
    s, n_test = profile.transfer, len(R["labels"]["test"])
    pct = "{:.2f}%".format
    out = {"ch06_n_source": f"{profile.n_source:,}", "ch06_pretrain_epochs": str(profile.pretrain_epochs),
           "ch06_finetune_epochs": str(first.epochs), "ch06_finetune_lr": f"{first.lr:g}",
           "ch06_profile_finetune_epochs": str(profile.finetune_epochs), "ch06_m": str(profile.ensemble_size),
           "ch06_g": str(len(R["curves"]["Global DE"])),
           "ch06_lr_mults": ", ".join(f"{v:g}" for v in s.lr_mults),
           "ch06_epoch_mults": ", ".join(f"{v:g}" for v in s.epoch_mults),
           "ch06_n_test": f"{n_test:,}", "ch06_n_landscape": f"{min(s.n_landscape, n_test):,}",
           "ch06_n_ood": str(s.n_ood), "ch06_model1": pct(100 * R["model1"])}
    for m in ("sse", "starsse"):
        for name, cell in R["chosen"][m].items():
            out[f"ch06_{m}_{name.replace('-', '_')}_cell"] = cell_text(cell)
        out[f"ch06_{m}_soup_cell"] = cell_text(R["soup_best"][m])
    for name, value in R["barriers"].items():
        out[f"ch06_barrier_{name.replace('-', '_')}"] = f"{100 * value:.1f}"
    semi = R["member_test"]["semi-local"]
    out["ch06_semi_local_worst"] = pct(100 * min(semi[1:]))
    out["ch06_semi_local_last_train"] = pct(100 * R["member_train"]["semi-local"][-1])
    out["ch06_semi_local_last_test"] = pct(100 * semi[-1])
    for name, value in R["soup_acc"].items():
        out[f"ch06_soup_{name.lower().replace(' ', '_')}"] = pct(100 * value)
    local = [100 * float((q.argmax(-1) == R["labels"]["test"]).double().mean()) for q in R["member_probs"]["Local DE"]]
    out["ch06_seed_sd"] = f"{np.std(local, ddof=1):.2f}" if len(local) > 1 else "n/a"
    n_seeds = len(R["replicates"])
    out["ch06_n_seeds"] = str(n_seeds)
    out["ch06_t_factor"] = f"{t_quantile(0.975, n_seeds - 1):.1f}" if n_seeds > 1 else "n/a"
    verdicts = {c.id: c.verdict for c in claims}
    per_replicate = {  # barriers on n_landscape images, shown to 0.1 point like the figure's
        "global_vs_local_de": ("Global DE minus Local DE", 2, [
            100 * (m["accuracy"]["Global DE"] - m["accuracy"]["Local DE, Global DE size"]) for m in R["replicates"]]),
        "semi_local_sse_barrier": ("The semi-local barrier", 1,
                                   [100 * m["barrier"]["semi-local"] for m in R["replicates"]])}
    for claim_id, (what, decimals, values) in per_replicate.items():
        if claim_id in verdicts and len(values) > 1:
            out[f"ch06_{claim_id}_replicates"] = replicate_reading(what, values, verdicts[claim_id],
                                                                   decimals=decimals)
    out["ch06_diversity_reading"] = diversity_reading(R["diversity"])
    star_at_ens = R["soup_grid"]["starsse"][R["chosen"]["starsse"]["optimal"]]["val_acc"]
    star_best = R["soup_grid"]["starsse"][R["soup_best"]["starsse"]]["val_acc"]
    out["ch06_starsse_soup_at_ensemble_cell"] = pct(100 * star_at_ens)
    out["ch06_starsse_soup_at_soup_cell"] = pct(100 * star_best)
    gap = 100 * (star_best - star_at_ens)
    out["ch06_soup_cell_lesson"] = (
        "the cells that make good ensembles need not make good soups" if gap >= 1.0 else
        "the two soups are equally good on validation (the tie goes to the smaller hyperparameters), so here the "
        "cell that makes the best ensemble also makes a good soup" if round(gap, 2) == 0 else
        f"the two cells' soups differ by {gap:.2f} points on validation, less than one point, so here the "
        "cell that makes the best ensemble also makes a good soup")
    return out
