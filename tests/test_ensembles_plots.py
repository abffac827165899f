"""Chapter 04's figures follow the book's size policy (at most 8 inches wide, fonts of at least 9 pt) on fake data."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lsdl_ens.experiments import ensembles_plots as plots  # noqa: E402
from lsdl_ens.plotting import figure_problems, use_style  # noqa: E402


def _probs(m, n=60, c=4, seed=0):
    return torch.randn(m, n, c, generator=torch.Generator().manual_seed(seed)).softmax(-1)


def _path(shift=0.0):
    alphas = np.linspace(0, 1, 5)
    return {"alphas": alphas, "error": 30 + shift + 2 * np.sin(np.pi * alphas), "from": 0.5}


FIGURES = {
    "members": lambda: plots.members_figure({k: {"accuracy": (70 + k, 0.3), "NLL": (0.9 - 0.02 * k, 0.01),
                                                 "ECE": (3.0, 0.2)} for k in range(1, 6)}),
    "reliability": lambda: plots.reliability_figure(_probs(1)[0], _probs(3).mean(0), torch.randint(0, 4, (60,)), 3),
    "barriers": lambda: plots.barrier_figure({"deep ensemble": _path(), "SSE": _path(1), "FGE": _path(2)}),
    "interpolation": lambda: plots.interpolation_figure({"SSE": [_path(), dict(_path(1), **{"from": 0.75})],
                                                       "no cycles": [_path()]}),
    "correlation": lambda: plots.correlation_figure(_probs(8), _probs(5, seed=1)),
    "dee": lambda: plots.dee_figure({1: 1.0, 2: 0.9, 3: 0.85}, {"SSE": {1: 1.0, 2: 0.95}}, {"SSE": {1: 1.0, 2: 1.6}},
                                    3),
    "budget": lambda: plots.budget_figure({"budgets": [1, 2, 3], "Ind": {"mean": [30, 28, 27], "std": [0.3] * 3},
                                           "SSE": [29, 28, 27.5], "FGE": [28, 27.5, 27],
                                           "spread": {"SSE": [0.2] * 3, "FGE": [0.1] * 3}}),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_follows_the_size_policy(name):
    use_style()
    fig = FIGURES[name]()
    try:
        assert figure_problems(fig) == []
        for ax in fig.axes:
            labels = ax.get_legend_handles_labels()[1]
            assert len(labels) == len(set(labels)), labels
    finally:
        plt.close(fig)


def test_tables_are_data_frames():
    frame = plots.budget_frame({"budgets": [1, 2], "Ind": {"mean": [30, 28], "std": [0.3, 0.2]}, "SSE": [29, 28],
                                "FGE": [28, 27], "spread": {"SSE": [0.2, 0.1], "FGE": [0.1, 0.1]},
                                "members": {"SSE": [4, 8], "FGE": [4, 24]}})
    assert list(frame.index) == ["1B", "2B"] and frame.loc["2B", "FGE snapshots"] == 24
