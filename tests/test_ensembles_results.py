"""Chapter 04's measurement helpers against direct formulas on small tensors."""

import itertools

import numpy as np
import pytest
import torch

from lsdl_ens import metrics
from lsdl_ens.experiments.ensembles_results import correlation_gap, mean_confidence, mean_correlation, subset_curve


def _probs(m, n=80, c=5, seed=0, scale=1.0):
    return (scale * torch.randn(m, n, c, generator=torch.Generator().manual_seed(seed))).softmax(-1)


def test_mean_correlation_is_the_mean_off_diagonal_pearson_correlation():
    probs = _probs(4)
    corr = np.corrcoef(probs.reshape(4, -1).numpy())
    expected = np.mean([corr[i, j] for i, j in itertools.permutations(range(4), 2)])
    assert mean_correlation(probs) == pytest.approx(expected, abs=1e-6)


def test_correlation_gap_is_positive_for_near_copies_and_its_interval_covers_it():
    base = _probs(1)[0]
    g = torch.Generator().manual_seed(3)
    copies = torch.stack([(base + 0.01 * torch.rand(base.shape, generator=g)).softmax(-1) for _ in range(3)])
    independent = _probs(3, seed=1)
    gap = correlation_gap(copies, independent, n_boot=200)
    assert gap.low <= gap.value <= gap.high and gap.low > 0
    assert correlation_gap(independent, copies, n_boot=200).high < 0


def test_mean_confidence_and_subset_curve():
    probs = _probs(3, scale=3.0)
    labels = torch.randint(0, 5, (80,), generator=torch.Generator().manual_seed(2))
    assert mean_confidence(probs[0]) == pytest.approx(probs[0].max(-1).values.mean().item())
    assert mean_confidence(probs.mean(0)) < np.mean([mean_confidence(p) for p in probs])  # max of mean <= mean of max
    curve = subset_curve(probs, labels)
    assert sorted(curve) == [1, 2, 3] and curve[3]["NLL"][1] == 0.0
    singles = [metrics.nll(p, labels) for p in probs]
    assert curve[1]["NLL"][0] == pytest.approx(np.mean(singles)) and curve[1]["NLL"][1] == pytest.approx(
        np.std(singles))
