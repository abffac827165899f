"""Chapter 01's figures, within the size policy of `lsdl_ens.plotting` (at most 8 inches wide, fonts >= 9 pt).

Each function takes what `lsdl_ens.experiments.calibration` computes and returns the figure; the chapter glues it
into a numbered MyST figure with its caption.
"""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from .. import metrics, plotting
from .calibration import CalibrationResults

__all__ = ["plot_training", "plot_reliability", "plot_quality", "plot_shift"]


def plot_training(results: CalibrationResults, count: int = 2):
    """Training loss and training accuracy per epoch of the first ``count`` networks."""
    fig, axes = plotting.subplots(1, 2, width=7.8, height=3.2)
    for seed, history in list(zip(results.seeds, results.histories))[:count]:
        axes[0].plot(history.epoch, history.train_loss, marker="o", markersize=3, label=f"seed {seed}")
        axes[1].plot(history.epoch, [100 * a for a in history.train_accuracy], marker="o", markersize=3,
                     label=f"seed {seed}")
    axes[0].set(xlabel="epoch", ylabel="training loss", title="Training loss")
    axes[1].set(xlabel="epoch", ylabel="training accuracy (%)", title="Training accuracy")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        plotting.legend(ax)
    return fig


def plot_reliability(scaled: dict, labels):
    """Reliability diagrams of one network before (T = 1) and after temperature scaling (``scaled`` from
    `calibration.temperature_scaling`), with each panel's ECE in its title."""
    fig, axes = plotting.subplots(1, 2, width=7.8, height=3.8)
    for ax, key, t, color in ((axes[0], "probs_before", 1.0, None), (axes[1], "probs_after", scaled["T"], "C2")):
        probs = scaled[key]
        plotting.reliability_diagram(ax, metrics.reliability_bins(probs, labels), color=color,
                                     title=f"T = {t:.2f}: ECE {100 * metrics.ece(probs, labels):.1f}%")
    return fig


def plot_quality(frame):
    """Test accuracy and NLL of two networks and their ensemble (a row each of `calibration.quality_frame`), on
    axes zoomed to the values."""
    fig, axes = plotting.subplots(1, 2, width=7.8, height=3.4)
    names = [name.replace(" of ", "\nof ") for name in frame.index]
    colors = [plotting.PALETTE[0]] * (len(names) - 1) + [plotting.PALETTE[3]]
    plotting.zoomed_bars(axes[0], names, frame["accuracy (%)"], ylabel="test accuracy (%)", title="Accuracy",
                         color=colors)
    plotting.zoomed_bars(axes[1], names, frame["NLL"], ylabel="test NLL", title="NLL", color=colors, fmt="{:.3f}")
    return fig


def plot_shift(frame):
    """Accuracy and ECE against corruption severity (rows of `calibration.shift_frame`), one line per predictor."""
    fig, axes = plotting.subplots(1, 2, width=7.8, height=3.4)
    for ax, metric, title in ((axes[0], "accuracy (%)", "Accuracy under corruption"),
                              (axes[1], "ECE (%)", "Calibration under corruption")):
        for who in ("single network", "ensemble of two"):
            ax.plot(frame.index, frame[f"{who}, {metric}"], marker="o", label=who)
        ax.set(xlabel="severity (0 = clean)", ylabel=metric, title=title)
        ax.set_xticks(list(frame.index))
        plotting.legend(ax)
    return fig
