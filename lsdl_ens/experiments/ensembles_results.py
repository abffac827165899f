"""Chapter 04's measurements from its cached runs: test probabilities of every member and snapshot, per-seed
errors at equal budget, the two budget conditions, and the measured quantities its claims judge.

`chapter_results(profile)` trains nothing that `lsdl_ens.experiments.ensembles.runs(profile)` does not list (each
run goes through its cached trainer, so a cold cache trains it once) and returns a dict of tensors, numbers and
`lsdl_ens.claims.Estimate`s; `lsdl_ens.experiments.ensembles_claims.claims` turns it into the chapter's claims.

Uncertainty: where training decides a comparison (SSE against one network, FGE against SSE, 1B against 2B) the
per-seed values over ``profile.claim_seeds`` seeds; where two fixed predictors are compared on the same test images
(an ensemble against its members, two correlations, a barrier) a bootstrap over the test examples
(`lsdl_ens.claims.bootstrap`, `paired_bootstrap`).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from .. import metrics
from ..bn import update_bn
from ..claims import Estimate, bootstrap, paired_bootstrap
from ..data import BatchLoader, profile_data
from ..ensembles import dee
from ..ensembles.dee_curves import deep_ensemble_curve, ensemble_cnll
from ..landscape import barrier, linear_path
from ..profiles import Profile
from ..recipes import load_state, standard_recipe, train
from ..state import interpolate
from ..train import predict_logits
from .budget import budget_conditions
from .ensembles_budget import budget_errors
from .ensembles_csgld import csgld_recipe, csgld_temperatures, train_csgld
from .ensembles_members import train_member
from .ensembles_snapshots import fge_recipe, sse_recipe, train_fge, train_sse, train_trajectory, trajectory_recipe

__all__ = ["long_recipe", "states_probs", "subset_curve", "mean_confidence", "mean_correlation",
           "correlation_gap", "path_barrier", "chapter_results", "equal_budget_scores", "dee_curves"]


def long_recipe(profile: Profile, seed: int):
    """The standard recipe of `seed` trained for 2B (twice the profile's epochs), for budget condition (a)/(b)."""
    return standard_recipe(profile, seed, epochs=2 * profile.epochs)


def states_probs(profile: Profile, states, data) -> torch.Tensor:
    """Softmax outputs ``[len(states), N, C]`` of the standard architecture holding each state, on `data`."""
    template = standard_recipe(profile)
    return torch.stack([predict_logits(load_state(template, s), data).softmax(-1) for s in states])


def mean_confidence(probs, labels=None) -> float:
    """Mean over examples of the largest class probability (``labels`` unused: a metric for `bootstrap`)."""
    return float(probs.max(-1).values.mean())


def subset_curve(probs: torch.Tensor, labels) -> dict:
    """``{k: {"accuracy", "NLL", "ECE": (mean, std)}}``: the probability-averaged ensemble of every k-subset of the
    members ``probs [M, N, C]``, its accuracy (%), NLL and ECE (%), mean and std over the subsets."""
    out = {}
    for k in range(1, len(probs) + 1):
        rows = [{"accuracy": 100 * metrics.accuracy(probs[list(s)].mean(0), labels),
                 "NLL": metrics.nll(probs[list(s)].mean(0), labels),
                 "ECE": 100 * metrics.ece(probs[list(s)].mean(0), labels)}
                for s in itertools.combinations(range(len(probs)), k)]
        out[k] = {name: (float(np.mean([r[name] for r in rows])), float(np.std([r[name] for r in rows])))
                  for name in rows[0]}
    return out


def mean_correlation(probs: torch.Tensor) -> float:
    """Mean off-diagonal Pearson correlation of the members' softmax outputs ``probs [M, N, C]`` (flattened over
    examples and classes), Huang et al.'s measure of how alike snapshots are."""
    corr = torch.corrcoef(probs.reshape(len(probs), -1).double())
    return float(corr[~torch.eye(len(corr), dtype=torch.bool)].mean())


def correlation_gap(probs_a: torch.Tensor, probs_b: torch.Tensor, *, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """mean_correlation(a) - mean_correlation(b) with a bootstrap over the shared test examples (both sets of
    members are resampled with the same indices)."""
    m, c = len(probs_a), probs_a.shape[-1]
    packed = torch.cat([probs_a, probs_b]).permute(1, 0, 2).reshape(probs_a.shape[1], -1)

    def gap(x, labels=None):
        both = x.reshape(len(x), -1, c).permute(1, 0, 2)
        return mean_correlation(both[:m]) - mean_correlation(both[m:])

    return bootstrap(gap, packed, torch.zeros(len(packed), dtype=torch.long), n_boot=n_boot, seed=seed)


def path_barrier(profile: Profile, state_a: dict, state_b: dict, test_set, bn_batches, *, n_alphas: int,
                 n_boot: int = 1000) -> dict:
    """Test error along w(alpha) = (1 - alpha) w_a + alpha w_b (BN recomputed at every point, `linear_path`) and the
    error barrier at its highest point with a bootstrap interval over test examples, in points.

    Barrier (Neyshabur et al. 2020): B = max_alpha [E(alpha) - ((1 - alpha) E(0) + alpha E(1))]. The interval
    resamples the test images at the alpha of the maximum (chosen on the full test set, so it is conditional on it).
    """
    alphas = np.linspace(0.0, 1.0, n_alphas)
    template = load_state(standard_recipe(profile), state_a)
    path = linear_path(template, state_a, state_b, test_set, bn_data=bn_batches, alphas=alphas)
    excess = path["error"] - ((1 - alphas) * path["error"][0] + alphas * path["error"][-1])
    peak = float(alphas[int(np.argmax(excess))])
    probs = []
    for alpha in (0.0, peak, 1.0):
        model = load_state(standard_recipe(profile), interpolate(state_a, state_b, alpha))
        update_bn(model, bn_batches)
        probs.append(predict_logits(model, test_set).softmax(-1))
    n, c = probs[0].shape
    packed = torch.stack(probs, 1).reshape(n, -1)

    def bump(x, labels):
        err = [100 * (1 - metrics.accuracy(p, labels)) for p in x.reshape(len(x), 3, c).unbind(1)]
        return err[1] - ((1 - peak) * err[0] + peak * err[2])

    labels = torch.as_tensor(test_set.labels)
    estimate = bootstrap(bump, packed, labels, n_boot=n_boot)
    return {"alphas": alphas, "error": 100 * path["error"], "peak": peak, "barrier": estimate,
            "barrier_full": 100 * barrier(path["error"], alphas)}


def chapter_results(profile: Profile, *, n_boot: int = 1000) -> dict:
    """Every measurement of chapter 04 under `profile` (runs from the cache, trained on a miss)."""
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a resolved Profile (get_profile(...)), got {type(profile).__name__}")
    train_set, _, test_set = profile_data(profile)
    labels = torch.as_tensor(test_set.labels)
    seeds = list(range(profile.claim_seeds))
    top = max(profile.cyclic.table_budgets)
    n_members = max(profile.ensemble_size, profile.claim_seeds)
    de_probs = states_probs(profile, [train_member(profile, i).state_dict() for i in range(n_members)], test_set)
    sse = {s: train_sse(sse_recipe(profile, s, budget=top)) for s in seeds}
    fge = {s: train_fge(fge_recipe(profile, s, budget=top)) for s in seeds}
    traj = train_trajectory(trajectory_recipe(profile, 0))
    csgld = train_csgld(csgld_recipe(profile, 0, budget=2))
    out = {"profile": profile.name, "labels": labels, "seeds": seeds, "top_budget": top, "sse": sse[0],
           "fge": fge[0], "csgld": csgld, "trajectory": traj, "de_probs": de_probs[:profile.ensemble_size],
           "n_train": len(train_set), "n_test": len(test_set)}
    out["sse_probs"] = states_probs(profile, [sse[0].states[i] for i in sse[0].within(2)], test_set)
    out["fge_probs"] = states_probs(profile, [fge[0].states[i] for i in fge[0].within(2)], test_set)
    out["csgld_probs"] = states_probs(profile, csgld.states, test_set)
    out["traj_probs"] = states_probs(profile, traj["checkpoints"], test_set)
    # equal budget, per seed: one network (Ind at 1B) against the 1B snapshots of that seed's SSE and FGE runs
    out["seed_errors"] = {"Ind": [100 * (1 - metrics.accuracy(de_probs[s], labels)) for s in seeds]}
    for name, runs in (("SSE", sse), ("FGE", fge)):
        out["seed_errors"][name] = []
        for s in seeds:
            p = states_probs(profile, [runs[s].states[i] for i in runs[s].within(1)], test_set).mean(0)
            out["seed_errors"][name].append(100 * (1 - metrics.accuracy(p, labels)))
    out["budget_table"] = budget_errors(profile, seeds=seeds)
    # deep ensemble against one network (fixed predictors: paired bootstrap over test examples)
    single, full = de_probs[0], out["de_probs"].mean(0)
    neg_nll = lambda p, y: -metrics.nll(p, y)  # noqa: E731
    out["de_vs_single"] = {
        "accuracy": paired_bootstrap(metrics.accuracy, full, single, labels, n_boot=n_boot).scaled(100),
        "nll_reduction": paired_bootstrap(neg_nll, full, single, labels, n_boot=n_boot),
        "ece": paired_bootstrap(metrics.ece, full, single, labels, n_boot=n_boot).scaled(100),
        "confidence": paired_bootstrap(mean_confidence, full, single, labels, n_boot=n_boot).scaled(100)}
    out["correlation"] = {"SSE": mean_correlation(out["sse_probs"]), "DE": mean_correlation(out["de_probs"]),
                          "gap": correlation_gap(out["sse_probs"], out["de_probs"], n_boot=n_boot)}
    # barriers: BN statistics from training batches (the reference's augmented batches)
    bn_batches = list(itertools.islice(BatchLoader(train_set, profile.batch_size, shuffle=True, augment=True,
                                                   seed=0).iterate(0), profile.n_bn_batches or 10 ** 9))
    n_alphas = profile.landscape.n_spawn_alphas
    s1, f1 = sse[0].within(1), fge[0].within(1)
    pairs = {"deep ensemble": (train_member(profile, 0).state_dict(), train_member(profile, 1).state_dict()),
             "SSE": (sse[0].states[s1[-2]], sse[0].states[s1[-1]]),
             "FGE": (fge[0].states[f1[0]], fge[0].states[f1[-1]])}
    out["paths"] = {name: path_barrier(profile, a, b, test_set, bn_batches, n_alphas=n_alphas, n_boot=n_boot)
                    for name, (a, b) in pairs.items()}
    # Huang et al. Fig. 5: from every earlier snapshot (checkpoint) of 1B to the last one, with and without cycles
    per_b = traj["iterations_per_budget"]
    ends = {"SSE": ([sse[0].states[i] for i in s1], [sse[0].costs[i] for i in s1]),
            "no cycles": (traj["checkpoints"], [(i + 1) / per_b for i in traj["checkpoint_iterations"]])}
    out["interpolations"] = {
        name: [{"from": cost, **path_barrier(profile, state, states[-1], test_set, bn_batches, n_alphas=n_alphas,
                                             n_boot=n_boot)} for state, cost in zip(states[:-1], costs[:-1])]
        for name, (states, costs) in ends.items()}
    out["bn_batches"] = bn_batches
    # cSGLD: the ensemble of its samples against its best sample and against two networks (2B each)
    sample_acc = [metrics.accuracy(p, labels) for p in out["csgld_probs"]]
    best = out["csgld_probs"][int(np.argmax(sample_acc))]
    ens = out["csgld_probs"].mean(0)
    out["csgld_vs_best"] = paired_bootstrap(metrics.accuracy, ens, best, labels, n_boot=n_boot).scaled(100)
    out["csgld_vs_two"] = paired_bootstrap(metrics.accuracy, ens, de_probs[:2].mean(0), labels,
                                           n_boot=n_boot).scaled(100)
    out["csgld_temperatures"] = csgld_temperatures(profile, budget=2)
    # the budget conditions: one network at 1B and 2B for every claim seed
    probs = {(len(train_set), profile.epochs, s): de_probs[s] for s in seeds}
    for s in seeds:
        model, _ = train(long_recipe(profile, s))
        probs[(len(train_set), 2 * profile.epochs, s)] = predict_logits(model, test_set).softmax(-1)
    out["budget_conditions"] = budget_conditions(probs, labels, n_boot=n_boot)[0]
    return out


def _scores(probs, labels) -> dict:
    return {"accuracy": 100 * metrics.accuracy(probs, labels), "NLL": metrics.nll(probs, labels),
            "ECE": 100 * metrics.ece(probs, labels)}


def equal_budget_scores(results: dict, budgets=(1, 2)) -> dict:
    """``{method: {budget: {"members", "accuracy", "NLL", "ECE"}}}`` of the first seed's runs: Ind at kB is the
    ensemble of members 0 .. k-1; SSE, FGE and cSGLD at kB the snapshots (samples) taken within kB."""
    labels, out = results["labels"], {"Ind": {}}
    for b in budgets:
        out["Ind"][b] = {**_scores(results["de_probs"][:b].mean(0), labels), "members": b}
    for name, run, probs in (("SSE", results["sse"], results["sse_probs"]), ("FGE", results["fge"],
                                                                            results["fge_probs"]),
                             ("cSGLD", results["csgld"], results["csgld_probs"])):
        out[name] = {}
        for b in budgets:
            chosen = probs[[i for i in run.within(b) if i < len(probs)]]
            out[name][b] = {**_scores(chosen.mean(0), labels), "members": len(chosen)}
    return out


def dee_curves(results: dict) -> dict:
    """Calibrated NLL of the deep ensemble (mean over the subsets of each size) and of the first k members of SSE,
    FGE (their 2B snapshots) and cSGLD, and each method's DEE(k) (`lsdl_ens.ensembles.dee`), computed by
    `lsdl_ens.ensembles.dee_curves` as in the chapter on sampling a basin.

    Returns ``{"de": {k: cnll}, "methods": {name: {k: cnll}}, "dee": {name: {k: DEE}}}``."""
    labels = results["labels"]
    de = deep_ensemble_curve(results["de_probs"], labels)
    methods = {"SSE": results["sse_probs"], "FGE": results["fge_probs"], "cSGLD": results["csgld_probs"]}
    curves = {name: {k: ensemble_cnll(p[:k], labels) for k in range(1, len(p) + 1)} for name, p in methods.items()}
    return {"de": de, "methods": curves, "dee": {name: dee(curve, de) for name, curve in curves.items()}}
