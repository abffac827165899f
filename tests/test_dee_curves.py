"""The shared DEE computation (lsdl_ens.ensembles.dee_curves) against a direct computation."""

import itertools
import math

import torch

from lsdl_ens.ensembles.dee import dee
from lsdl_ens.ensembles.dee_curves import deep_ensemble_curve, ensemble_cnll, method_dee
from lsdl_ens.metrics import calibrated_nll


def _members(m=3, n=300, c=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n,), generator=gen)
    logits = 2.0 * torch.nn.functional.one_hot(labels, c) + 2.0 * torch.randn(m, n, c, generator=gen)
    return logits.softmax(-1), labels


def test_curve_averages_the_calibrated_nll_of_every_subset():
    probs, labels = _members()
    curve = deep_ensemble_curve(probs, labels)
    for k in (1, 2, 3):
        direct = [float(calibrated_nll(probs[list(s)].mean(0).log(), labels))
                  for s in itertools.combinations(range(3), k)]
        assert math.isclose(curve[k], sum(direct) / len(direct), rel_tol=1e-5)
    assert curve[3] < curve[1]  # averaging independent noisy members helps


def test_method_dee_matches_dee_of_its_calibrated_nll():
    probs, labels = _members()
    curve = deep_ensemble_curve(probs, labels)
    two = probs[:2]
    assert math.isclose(method_dee(two, curve, labels), dee({1: ensemble_cnll(two, labels)}, curve)[1])
    assert method_dee(probs, curve, labels) == 3.0  # the whole ensemble is worth all its members (capped)
    assert ensemble_cnll(list(probs[:1]), labels) == ensemble_cnll(probs[:1], labels)
