"""What the chapter "Sampling a basin" computes: test predictions of every method, per seed, on one test set.

``chapter_results(profile)`` trains what is missing (through the cached runs of `basin_sampling.runs`) and returns
plain data: the test labels and, for every claim seed s, the test probabilities of the MAP network of seed s and of
the methods grown from it (KFAC-Laplace, SWAG, SPRO); for seed 0 also the details the figures draw; and the
equal-budget table at seed 0 with the deep ensemble and the snapshot methods of the ensembles chapter. Every
prediction is on the same test split (the profile's ``n_test`` images), so all rows compare like with like.

Methods (sizes from the profile's ``kfac``, ``swag`` and ``spro`` sections):

* KFAC-Laplace, last layer: exact-Fisher Kronecker factors of the head, the linearised (GLM) predictive with the
  probit link, prior precision tau chosen on the validation split from ``kfac.grid`` x wd N
  (`lsdl_ens.ensembles.kfac_glm`, `kfac_tuning`); all weights (seed 0 only): MC Fisher, weight sampling, at
  tau = wd N and at the tuned tau.
* SWAG: BMA of ``swag.n_samples`` samples at scale 0.5 (SWAG-Diag at scale 1, seed 0), BN recomputed per sample;
  SWA is the SWAG mean with recomputed BN.
* SPRO: the average of ``spro.n_points`` Dirichlet(1) points of the simplex, BN recomputed per point; seed 0 also
  maps the test loss over a barycentric grid of resolution ``spro.grid``.
"""

from __future__ import annotations

import copy

import torch

from ..bn import update_bn
from ..data import BatchLoader, profile_data
from ..ensembles.dee import dee
from ..ensembles.dee_curves import deep_ensemble_curve, ensemble_cnll, method_dee
from ..ensembles.kfac_laplace import KFACLaplace
from ..ensembles.kfac_tuning import tune_prior_precision
from ..ensembles.swag_posterior import bma_predict
from ..metrics import nll
from ..profiles import get_profile
from ..recipes import standard_recipe, train
from ..simplex.evaluation import simplex_grid, simplex_predict
from ..train import predict_logits
from .basin_sampling import EQUAL_BUDGET, runs, spro_recipe, swag_recipe, train_spro, train_swag

__all__ = ["chapter_data", "kfac_results", "swag_results", "spro_results", "seed_results", "equal_budget",
           "chapter_results"]


def chapter_data(profile) -> dict:
    """The profile's train / validation / test sets and the BN loader (training batches, the training run's
    augmentation) every BN recompute of the chapter uses."""
    p = get_profile(profile)
    train_set, val_set, test_set = profile_data(p)
    bn_loader = BatchLoader(train_set, p.batch_size, shuffle=True, augment=p.augment, seed=0)
    return {"train": train_set, "val": val_set, "test": test_set, "bn": bn_loader, "bn_batches": p.n_bn_batches}


def _probs(model, data) -> torch.Tensor:
    return predict_logits(model, data).softmax(-1)


def kfac_results(profile, map_model, data, *, all_weights: bool = False) -> dict:
    """KFAC-Laplace around ``map_model``: last layer with the probit GLM predictive (tau tuned on validation);
    with ``all_weights`` also the all-weights posterior at tau = wd N and at the tuned tau (MC over weights)."""
    p = get_profile(profile)
    n_data = len(data["train"])
    tau_wd = p.weight_decay * n_data
    grid = [g * tau_wd for g in p.kfac.grid]
    fit_batches = BatchLoader(data["train"], 256)
    la_ll = KFACLaplace(map_model, tau_wd, n_data, subset="last_layer", fisher="exact").fit(fit_batches)
    tau_ll, val_ll = tune_prior_precision(la_ll, data["val"], grid, predictive="glm", link="probit")
    out = {"tau_wd": tau_wd, "grid": grid, "tau_ll": tau_ll, "val_ll": val_ll,
           "last_layer": la_ll.predict(data["test"], predictive="glm", link="probit"),
           "val_map": nll(_probs(map_model, data["val"]), data["val"].labels)}
    if all_weights:
        la_all = KFACLaplace(map_model, tau_wd, n_data, subset="all", fisher="mc").fit(fit_batches)
        out["all_wd"] = la_all.predict(data["test"], n_samples=p.kfac.n_samples, seed=1)
        out["tau_all"], out["val_all"] = tune_prior_precision(la_all, data["val"], grid, n_samples=p.kfac.tune_samples)
        out["all_samples"] = la_all.predict(data["test"], n_samples=p.kfac.n_samples, seed=1, return_all=True)
        out["all_tuned"] = out["all_samples"].mean(0)
    return out


def swag_results(profile, seed: int, data, *, diag: bool = False) -> dict:
    """SWA, SWAG (per-sample probabilities) and the last SGD iterate of the SWAG run of ``seed``; with ``diag`` also
    SWAG-Diag."""
    p = get_profile(profile)
    bn, n_bn = data["bn"], data["bn_batches"]
    recipe = swag_recipe(p, seed=seed)
    swag, last_iterate, _ = train_swag(recipe)
    swa_net = swag.load_sample(copy.deepcopy(last_iterate), swag.mean)
    update_bn(swa_net, bn, num_batches=n_bn)
    out = {"swa": _probs(swa_net, data["test"]), "last": _probs(last_iterate, data["test"]),
           "samples": bma_predict(swag, copy.deepcopy(last_iterate), data["test"], bn, n_samples=p.swag.n_samples,
                                  scale=0.5, bn_batches=n_bn, seed=1, return_all=True),
           "n_models": swag.n_models, "rank": swag.rank, "swa_start": recipe.swa_start, "epochs": recipe.train.epochs}
    if diag:
        out["diag_samples"] = bma_predict(swag, copy.deepcopy(last_iterate), data["test"], bn,
                                          n_samples=p.swag.n_samples, scale=1.0, diag_only=True, bn_batches=n_bn,
                                          seed=2, return_all=True)
    return out


def spro_results(profile, seed: int, data, *, grid: bool = False) -> dict:
    """The SPRO simplex of ``seed``: per-point test probabilities of ``spro.n_points`` random points; with ``grid``
    the test loss and error over the barycentric grid (same test set), the log volumes and the edge lengths."""
    p = get_profile(profile)
    simplex, info = train_spro(spro_recipe(p, seed=seed))
    out = {"points": simplex_predict(simplex, data["test"], data["bn"], n_points=p.spro.n_points,
                                     bn_batches=data["bn_batches"], seed=3, return_all=True)}
    if grid:
        flat = simplex.flat_vertices().detach().double()
        out["grid"] = simplex_grid(simplex, data["test"], data["bn"], resolution=p.spro.grid,
                                   bn_batches=data["bn_batches"])
        out["log_volume"] = list(info["log_volume"])
        out["edges"] = {(i, j): float((flat[i] - flat[j]).norm()) for i in range(len(flat)) for j in range(i)}
    return out


def seed_results(profile, seed: int, data, *, details: bool = False) -> dict:
    """The MAP network of ``seed`` and the methods grown from it: ``{"probs": {row: [n, C]}, "details": ...}``."""
    p = get_profile(profile)
    map_model, _ = train(standard_recipe(p, seed=seed))
    kfac = kfac_results(p, map_model, data, all_weights=details)
    swag = swag_results(p, seed, data, diag=details)
    spro = spro_results(p, seed, data, grid=details)
    probs = {"MAP": _probs(map_model, data["test"]), "KFAC-L last layer": kfac["last_layer"],
             "SWA": swag["swa"], "SWAG": swag["samples"].mean(0), "SGD 2B last iterate": swag["last"],
             "SPRO": spro["points"].mean(0)}
    out = {"probs": probs, "point_nll": [nll(q, data["test"].labels) for q in spro["points"]]}
    if details:
        out["details"] = {"kfac": kfac, "swag": swag, "spro": spro}
    return out


def equal_budget(profile, data, seed0: dict) -> dict:
    """Every method at (about) ``EQUAL_BUDGET`` standard runs, seed 0: ``{row: (budget in B, probs [k, n, C])}``
    (k members averaged; a Bayesian model average as k = 1), plus the deep-ensemble members of seeds
    0 .. ensemble_size - 1 ``[M, n, C]``."""
    p = get_profile(profile)
    test = data["test"]
    members = torch.stack([_probs(train(standard_recipe(p, seed=s))[0], test) for s in range(p.ensemble_size)])
    snapshot_runs = {r.label: r for r in runs(p) if r.kind in ("sse", "fge", "csgld")}
    rows = {"SGD (1B)": (1.0, members[:1]), "Deep ensemble of 2": (2.0, members[:2])}
    for name, run in snapshot_runs.items():
        result = run.train()
        kept = result.within(EQUAL_BUDGET)
        rows[f"{name} ({len(kept)} snapshots)"] = (float(EQUAL_BUDGET),
                                                   torch.stack([_probs(m, test) for m in result.models(kept)]))
    d, pr = seed0["details"], seed0["probs"]
    kfac_cost = 1.0 + 1.0 / p.epochs  # one standard run and one pass for the factors
    rows.update({"SWA": (2.0, pr["SWA"][None]), "SWAG": (2.0, pr["SWAG"][None]),
                 "SWAG-Diag": (2.0, d["swag"]["diag_samples"].mean(0)[None]),
                 "KFAC-L all weights": (kfac_cost, d["kfac"]["all_tuned"][None]),
                 "KFAC-L last layer": (kfac_cost, pr["KFAC-L last layer"][None]),
                 "SPRO": (2.0, pr["SPRO"][None])})
    return {"rows": rows, "members": members}


def chapter_results(profile=None) -> dict:
    """Everything the chapter shows: ``{"labels", "seeds": [seed_results for s < claim_seeds] (seed 0 with details),
    "equal_budget": {"rows", "members"}, "de_curve": {l: CNLL}, "dee": {row: DEE at seed 0},
    "seed_dee": {method: [DEE per seed]}, "cnll": {row: CNLL}}``."""
    p = get_profile(profile)
    data = chapter_data(p)
    labels = data["test"].labels
    seeds = [seed_results(p, s, data, details=(s == 0)) for s in range(p.claim_seeds)]
    table = equal_budget(p, data, seeds[0])
    curve = deep_ensemble_curve(table["members"], labels)
    cnll = {name: ensemble_cnll(probs, labels) for name, (_, probs) in table["rows"].items()}
    seed_dee = {m: [method_dee(s["probs"][m][None], curve, labels) for s in seeds]
                for m in ("KFAC-L last layer", "SWAG", "SPRO")}
    return {"labels": labels, "seeds": seeds, "equal_budget": table, "de_curve": curve, "cnll": cnll,
            "dee": {name: dee({1: value}, curve)[1] for name, value in cnll.items()},
            "seed_dee": seed_dee, "profile": p.name}
