"""The Deep Ensemble Equivalent of a method from test predictions: the one computation every chapter uses.

* ``ensemble_cnll(member_probs, labels)``: calibrated NLL of the probability average of members [k, n, C],
  CNLL = calibrated_nll(log (1/k sum_m p_m)) with the temperature fitted by test-time cross-validation
  (`lsdl_ens.metrics.calibrated_nll`); a single prediction (a Bayesian model average) is passed as [1, n, C].
* ``deep_ensemble_curve(member_probs, labels)``: CNLL_DE(l) for l = 1 .. M, each the mean over **all** subsets of
  l of the M members (the run-averaged curve of Ashukha et al.; with one run of M members, subsets stand in for
  runs).
* ``method_dee(member_probs, curve, labels)``: DEE = `lsdl_ens.ensembles.dee.dee` of the method's CNLL against that
  curve (capped at M).

Reference: Ashukha et al., "Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning", ICLR
2020; bayesgroup/pytorch-ensembles@76b71c9: notebooks/DEE camera ready plots.ipynb (``dee``), metrics.py.
Deliberate deviation: subsets of one set of M members replace the paper's average over independent runs.
"""

from __future__ import annotations

import itertools

import torch

from .. import checks
from ..metrics import calibrated_nll, ensemble_log_probs
from .dee import dee

__all__ = ["ensemble_cnll", "deep_ensemble_curve", "method_dee"]


def _members(name: str, member_probs) -> torch.Tensor:
    if isinstance(member_probs, (list, tuple)):
        member_probs = torch.stack(list(member_probs))
    return checks.tensor(name, member_probs, dim=3, floating=True)


def ensemble_cnll(member_probs, labels) -> float:
    """Calibrated NLL of the average of the members' probabilities ([k, n, C] or a list of [n, C])."""
    probs = _members("member_probs", member_probs)
    return float(calibrated_nll(ensemble_log_probs(list(probs.clamp_min(1e-12).log())), labels))


def deep_ensemble_curve(member_probs, labels) -> dict[int, float]:
    """{l: mean CNLL over all l-subsets of the M deep-ensemble members} for l = 1 .. M."""
    probs = _members("member_probs", member_probs)
    m = len(probs)
    return {k: sum(ensemble_cnll(probs[list(s)], labels) for s in itertools.combinations(range(m), k))
            / len(list(itertools.combinations(range(m), k))) for k in range(1, m + 1)}


def method_dee(member_probs, curve: dict, labels) -> float:
    """DEE of a method whose prediction averages ``member_probs`` ([k, n, C]; a BMA as [1, n, C]) against the
    deep-ensemble ``curve`` of `deep_ensemble_curve` (capped at its largest size)."""
    return dee({1: ensemble_cnll(member_probs, labels)}, curve)[1]
