"""The equal-budget error table of Garipov et al.: independent networks (Ind), SSE and FGE at 1, 2, 3 budgets.

At ``k`` B, "Ind" is the ensemble of ``k`` independently trained standard networks (each costs 1 B); SSE and FGE use
the snapshots of one run taken within ``k`` B. The ensemble predicts the mean of its members' softmax outputs; its
test error is 100 * (1 - accuracy of the argmax). Ind depends on which ``k`` seeds are drawn, so it is reported as
the mean and standard deviation over every ``k``-subset of the profile's ``ensemble_size`` networks.

Reference: Garipov et al., "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs", NeurIPS 2018, Tables
1-2 (error at 1, 2, 3 budgets). Deliberate deviation: the paper reports Ind from one draw of seeds; here the spread
over seed subsets shows how much of a gap between methods that draw alone can explain.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from .. import checks
from ..data import profile_data
from ..profiles import Profile, get_profile
from ..recipes import load_state, standard_recipe
from ..train import predict_logits
from .ensembles_members import train_member
from .ensembles_snapshots import fge_recipe, sse_recipe, train_fge, train_sse

__all__ = ["ensemble_error", "ind_errors", "budget_errors"]


def ensemble_error(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Test error (%) of the ensemble whose members' class probabilities are ``probs`` [members, N, classes]:
    100 * mean(argmax_c mean_m probs[m, n, c] != labels[n])."""
    if probs.ndim != 3 or probs.shape[0] == 0:
        raise ValueError(f"probs must be [members >= 1, N, classes], got shape {tuple(probs.shape)}")
    if labels.shape != probs.shape[1:2]:
        raise ValueError(f"labels must have one entry per example ({probs.shape[1]}), got shape {tuple(labels.shape)}")
    return 100.0 * (probs.mean(0).argmax(-1) != labels).double().mean().item()


def ind_errors(member_probs: torch.Tensor, labels: torch.Tensor, sizes) -> dict:
    """Error of ensembles of ``k`` independent networks for each ``k`` in ``sizes``: mean and (population) standard
    deviation over every ``k``-subset of the members, and the number of subsets.

    Returns:
        ``{"mean": [..], "std": [..], "subsets": [..]}`` aligned with ``sizes``.
    """
    n = member_probs.shape[0]
    out = {"mean": [], "std": [], "subsets": []}
    for k in sizes:
        checks.positive_int("sizes[...]", k)
        if k > n:
            raise ValueError(f"an ensemble of {k} networks needs at least {k} members, got {n}; raise the profile's "
                             "ensemble_size or pass smaller sizes")
        errors = [ensemble_error(member_probs[list(c)], labels) for c in itertools.combinations(range(n), k)]
        out["mean"].append(float(np.mean(errors)))
        out["std"].append(float(np.std(errors)))
        out["subsets"].append(len(errors))
    return out


def budget_errors(profile: Profile | str | None = None, budgets=None, seeds=(0,)) -> dict:
    """Test error (%) of Ind, SSE and FGE at each budget of ``profile.cyclic.table_budgets`` (or ``budgets``).

    Trains (or loads from the cache) ``profile.ensemble_size`` standard networks and, for each seed of ``seeds``,
    one SSE and one FGE run of the largest budget; the SSE/FGE ensemble at ``b`` B holds the run's snapshots taken
    within ``b`` B. SSE and FGE are reported as the mean and (population) standard deviation over the seeds.

    Returns:
        ``{"budgets": [...], "Ind": {"mean", "std", "subsets"}, "SSE": [...], "FGE": [...] (means),
        "spread": {"SSE": [...], "FGE": [...]} (std over seeds), "per_seed": {"SSE": [[...] per seed], "FGE": ...},
        "members": {"SSE": [...], "FGE": [...]} (snapshots of the first seed within each budget)}``
        (errors in %, lists aligned with ``budgets``).
    """
    p = get_profile(profile)
    budgets = tuple(p.cyclic.table_budgets if budgets is None else budgets)
    for b in budgets:
        checks.positive_int("budgets[...]", b)
    seeds = [checks.nonneg_int("seeds[...]", s) for s in checks.non_empty("seeds", seeds, "pass e.g. (0,)")]
    top = max(budgets)
    if top > p.ensemble_size:
        raise ValueError(f"Ind at {top}B needs {top} networks but the profile's ensemble_size is {p.ensemble_size}; "
                         "pass budgets up to ensemble_size")
    test_set = profile_data(p)[2]
    labels = torch.as_tensor(test_set.labels)
    template = standard_recipe(p, 0)

    def probs_of(states) -> torch.Tensor:
        return torch.stack([predict_logits(load_state(template, s), test_set).softmax(-1) for s in states])

    members = probs_of([train_member(p, i).state_dict() for i in range(p.ensemble_size)])
    out = {"budgets": list(budgets), "Ind": ind_errors(members, labels, budgets), "members": {}, "spread": {},
           "per_seed": {}}
    for name, train_run, make_recipe in (("SSE", train_sse, sse_recipe), ("FGE", train_fge, fge_recipe)):
        rows = []
        for seed in seeds:
            run = train_run(make_recipe(p, seed, budget=top))
            probs = probs_of(run.states)
            rows.append([ensemble_error(probs[run.within(b)], labels) for b in budgets])
            if seed == seeds[0]:
                out["members"][name] = [len(run.within(b)) for b in budgets]
        out["per_seed"][name] = rows
        out[name] = [float(v) for v in np.mean(rows, axis=0)]
        out["spread"][name] = [float(v) for v in np.std(rows, axis=0)]
    return out
