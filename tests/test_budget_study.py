"""lsdl_ens.experiments.budget: conditions (a) and (b) of the budget study, with their noise, on planted runs."""

from __future__ import annotations

import pytest
import torch

from lsdl_ens.experiments.budget import budget_conditions, combine_verdicts, conditions_frame, plot_budget, runs_frame
from lsdl_ens.metrics import accuracy

N, C = 2000, 10


def predictor(labels, signal: float, seed: int) -> torch.Tensor:
    """Softmax of noisy logits: `signal` on the true class plus independent Gaussian noise (std 1.5) per seed, so
    that two seeds err on different examples and their average is a better predictor than either."""
    g = torch.Generator().manual_seed(seed)
    logits = 1.5 * torch.randn(len(labels), C, generator=g)
    logits[torch.arange(len(labels)), labels] += signal
    return logits.softmax(-1)


@pytest.fixture
def labels():
    return torch.randint(0, C, (N,), generator=torch.Generator().manual_seed(0))


def test_converged_and_ensembling_pays(labels):
    """Training longer changes nothing; two independent networks' average beats either: both conditions hold."""
    probs = {(1000, e, s): predictor(labels, 2.5, seed=s) for e in (6, 12) for s in (0, 1)}  # 2E = E
    (row,) = budget_conditions(probs, labels, n_boot=300)
    assert (row["n_train"], row["E"]) == (1000, 6)
    assert row["de2_E_acc"] > row["single_2E_acc"] + 0.03, row
    assert row["b_verdict"] == "holds", row["b"]
    assert row["a_verdict"] == "holds", row["a"]  # no gain at all: the interval is [0, 0]
    assert row["a"][0]["value"] == 0
    assert [r["seed"] for r in row["a"]] == [0, 1]


def test_under_trained_fails_both(labels):
    """The longer run is 15 points better: (a) does not hold and the ensemble of short runs cannot catch up."""
    probs = {(1000, 6, s): predictor(labels, 1.5, seed=s) for s in (0, 1)}
    probs |= {(1000, 12, s): predictor(labels, 4.0, seed=100 + s) for s in (0, 1)}
    (row,) = budget_conditions(probs, labels, n_boot=300)
    assert row["a_verdict"] == "does not hold"
    assert row["b_verdict"] == "does not hold"
    gain = row["a"][0]
    assert gain["low"] <= gain["value"] <= gain["high"]
    assert gain["value"] == pytest.approx(100 * (accuracy(probs[(1000, 12, 0)], labels)
                                                 - accuracy(probs[(1000, 6, 0)], labels)))


def test_only_cells_with_a_double_and_two_seeds(labels):
    probs = {(1000, 6, 0): predictor(labels, 2.0, 0), (1000, 12, 0): predictor(labels, 2.0, 1),
             (2000, 6, 0): predictor(labels, 2.0, 2), (2000, 6, 1): predictor(labels, 2.0, 3)}
    assert budget_conditions(probs, labels, n_boot=100) == []


def test_combine_verdicts():
    assert combine_verdicts(["holds", "holds"]) == "holds"
    assert combine_verdicts(["holds", "within noise"]) == "within noise"
    assert combine_verdicts(["within noise", "does not hold"]) == "does not hold"
    with pytest.raises(ValueError, match="verdicts"):
        combine_verdicts([])


def test_frames_and_figure(labels):
    probs = {(1000, e, s): predictor(labels, 2.5, seed=10 * e + s) for e in (6, 12) for s in (0, 1)}
    conds = budget_conditions(probs, labels, n_boot=100)
    runs = [{"n_train": n, "epochs": e, "seed": s, "accuracy": accuracy(p, labels), "nll": 1.0}
            for (n, e, s), p in probs.items()]
    assert len(runs_frame(runs)) == 4
    frame = conditions_frame(conds)
    assert list(frame["(b) DE-2 beats 2E"]) == ["holds"]
    fig = plot_budget(runs)
    assert fig.get_size_inches()[0] <= 8
