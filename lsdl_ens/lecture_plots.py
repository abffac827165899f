"""Plots of the lecture's landscape and budget figures, shared by the chapters.

Each helper takes an ``ax`` (make figures with `lsdl_ens.plotting.subplots`, which keeps them within the book's size
policy), draws titles and labels, and returns the ``ax``:

* `plane_plot`: a quantity (train loss, test error) on a plane of weight space, with the three networks spanning it,
  optional paths (trained curves projected onto the plane) and marked points (an average).
* `simplex_plot`: a quantity over a triangle of networks (three vertices, barycentric points).
* `budget_plot`: test error of several ensembling methods against the training budget, with a spread (e.g. Ind over
  seeds) drawn as error bars.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .plotting import PALETTE, legend

__all__ = ["plane_plot", "simplex_plot", "triangle_xy", "budget_plot"]

#: corners of the equilateral triangle on which `simplex_plot` draws barycentric points
TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])

_PATH_STYLES = ("-", "--", "-.", ":")


def plane_plot(ax, plane: dict, *, quantity: str = "loss", log: bool = False, vertex_labels=("A", "B", "C"),
               paths: dict | None = None, marks: dict | None = None, levels: int = 14, title: str,
               colorbar_label: str | None = None):
    """Filled contours of ``plane[quantity]`` on the plane's grid, the three spanning networks as labelled dots.

    Args:
        plane: a `lsdl_ens.landscape.plane_grid` result (``xs``, ``ys``, the [G, G] ``quantity``, ``points``).
        quantity: the grid entry to draw (``"loss"``, ``"error"``, ``"train_loss"``, ...); errors are shown in %.
        log: draw the natural log of the quantity (losses span orders of magnitude).
        vertex_labels: names of ``plane["points"]`` (state_a, state_b, state_c).
        paths: name -> [n, 2] coordinates of a path projected onto the plane (e.g. a trained curve).
        marks: name -> (x, y) of single points to mark with a star (e.g. an average of the networks).
        levels: contour levels (placed at quantiles of the values so that the low region is resolved).
    """
    if quantity not in plane:
        raise ValueError(f"quantity {quantity!r} is not in the plane result (has {sorted(plane)}); pass one of "
                         "its grid entries, e.g. 'loss' or 'error'")
    checks.positive_int("levels", levels)
    values = np.asarray(plane[quantity], dtype=float)
    percent = "error" in quantity
    if percent:
        values = 100 * values
    if log:
        values = np.log(values)
    bounds = np.unique(np.quantile(values, np.linspace(0, 1, levels + 1)))
    filled = ax.contourf(plane["xs"], plane["ys"], values, levels=bounds if len(bounds) > 2 else levels,
                         cmap="viridis_r")
    default = quantity.replace("_", " ") + (" (%)" if percent else "")
    ax.figure.colorbar(filled, ax=ax, format="%.3g", label=colorbar_label or ("log " + default if log else default))
    for k, (name, path) in enumerate((paths or {}).items()):
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], _PATH_STYLES[k % len(_PATH_STYLES)], color="white" if k == 0 else "orange",
                lw=2, label=name)
    points = np.asarray(plane["points"], dtype=float)
    ax.scatter(points[:, 0], points[:, 1], color="black", edgecolor="white", zorder=5, s=45)
    for name, (x, y) in zip(vertex_labels, points):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), weight="bold", color="black")
    for k, (name, (x, y)) in enumerate((marks or {}).items()):
        ax.scatter([x], [y], marker="*", s=160, color=PALETTE[3 + k], edgecolor="white", zorder=6, label=name)
    ax.set(xlabel="x (weight-space distance)", ylabel="y (weight-space distance)", title=title)
    if paths or marks:
        legend(ax, loc="best", fontsize=9.5)
    return ax


def triangle_xy(alphas) -> np.ndarray:
    """Barycentric weights [n, 3] -> points [n, 2] of the equilateral triangle ``TRIANGLE`` (vertex j at corner j)."""
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 2 or alphas.shape[1] != 3:
        raise ValueError(f"alphas must be [n, 3] barycentric weights, got shape {alphas.shape}")
    return alphas @ TRIANGLE


def simplex_plot(ax, alphas, values, *, vertex_labels=("A", "B", "C"), title: str, colorbar_label: str,
                 levels: int = 12):
    """Filled contours of ``values`` over a triangle of networks, drawn as an equilateral triangle whose corners are
    the vertices (``alphas`` [n, 3]: each point's barycentric weights, e.g. `lsdl_ens.simplex.barycentric_grid`).
    Needs at least the three vertices and one more point; every point is marked."""
    xy = triangle_xy(alphas)
    values = np.asarray(values, dtype=float)
    if values.shape != (len(xy),):
        raise ValueError(f"values must have one entry per point ({len(xy)}), got shape {values.shape}")
    checks.positive_int("levels", levels)
    filled = ax.tricontourf(xy[:, 0], xy[:, 1], values, levels=levels, cmap="viridis_r")
    ax.figure.colorbar(filled, ax=ax, format="%.3g", label=colorbar_label)
    ax.plot(*np.vstack([TRIANGLE, TRIANGLE[:1]]).T, color="black", lw=1)
    ax.scatter(xy[:, 0], xy[:, 1], s=8, color="white", zorder=4)
    offsets = ((-14, -14), (6, -14), (-4, 6))
    for name, corner, offset in zip(vertex_labels, TRIANGLE, offsets):
        ax.annotate(name, corner, textcoords="offset points", xytext=offset, weight="bold")
    ax.set(title=title, aspect="equal", xlim=(-0.12, 1.12), ylim=(-0.12, 1.0))
    ax.set_axis_off()
    return ax


def budget_plot(ax, budgets, errors: dict, spreads: dict | None = None, *, title: str,
                ylabel: str = "test error (%)"):
    """Test error against the training budget, one line per method; ``spreads[name]`` (same length as its errors)
    become error bars (e.g. the standard deviation of Ind over seeds).

    Args:
        budgets: the budgets (in units of one standard run), shared by every method.
        errors: method -> errors at ``budgets`` (NaN where a method has no value at a budget).
    """
    budgets = np.asarray(budgets, dtype=float)
    spreads = spreads or {}
    for k, (name, values) in enumerate(errors.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != budgets.shape:
            raise ValueError(f"errors[{name!r}] has {values.size} values for {budgets.size} budgets; pass one "
                             "value per budget (NaN where the method has none)")
        spread = spreads.get(name)
        ax.errorbar(budgets + 0.03 * (k - (len(errors) - 1) / 2), values, yerr=spread, marker="os^Dv"[k % 5],
                    capsize=4, color=PALETTE[k % len(PALETTE)], label=name)
    ax.set_xticks(budgets, [f"{b:g}B" for b in budgets])
    ax.set(xlabel="training budget", ylabel=ylabel, title=title)
    legend(ax)
    return ax
