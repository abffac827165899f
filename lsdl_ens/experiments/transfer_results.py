"""What chapter 06 computes from its cached runs, in one call: `results(profile)`.

Accuracies are fractions; ``ens_probs`` holds the test-set ensemble probabilities ([N, C], the mean of the members'
probabilities) of every compared ensemble, so that claims can resample the test images (paired bootstrap).
"""

from __future__ import annotations

import torch

from ..profiles import Profile, get_profile
from ..transfer import ensemble_curve, member_diversity, ood_accuracy, pretrain_cost, select_settings, soup_recipe
from .transfer_eval import (SEVERITIES, barrier_of, consecutive_paths, member_plane, ood_labels, ood_probs, run_grid,
                            run_soup_grid)
from .transfer_members import labels, member_probs, method_recipes, stack_probs
from .transfer_replicates import replicate_measures

__all__ = ["results", "accuracy_of"]

_METHODS = ("sse", "starsse")


def accuracy_of(probs: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy (a fraction) of [N, C] probabilities."""
    return float((probs.argmax(-1) == y).double().mean())


def results(profile: Profile | str | None = None) -> dict:
    """Everything chapter 06 shows, computed from cached runs (each trained on a miss).

    Keys: ``recipes`` (name -> member recipes), ``curves`` (name -> test accuracy of the first k members),
    ``costs``, ``grid`` / ``soup_grid`` (`run_grid` / `run_soup_grid` per method), ``chosen`` (ensemble cells per
    method), ``soup_best``, ``paths`` (SSE chains per selection), ``barriers``, ``member_test`` / ``member_train``
    (semi-local, local and optimal SSE members), ``final`` (full-ensemble test accuracy), ``ens_probs`` (test
    probabilities of each final ensemble and soup, and of model 1), ``member_probs`` ([M, N, C] of Local DE and
    optimal StarSSE), ``diversity``, ``soup_acc``, ``ens_acc``, ``model1``, ``ood_ens``, ``ood_soup``,
    ``ood_model1`` (accuracy per severity), ``ood_probs``, ``ood_labels``, ``severities``, ``planes``, ``labels``,
    ``replicates`` (`replicate_measures` of replicates 0 .. ``profile.claim_seeds - 1`` at the chosen cells; what
    the claims compare).
    """
    p = get_profile(profile)
    y = labels(p)
    local, glob = method_recipes("local_de", p), method_recipes("global_de", p)

    def probs(recipes):
        return stack_probs(recipes, p, "test")

    def curve(recipes):
        return ensemble_curve(probs(recipes), y["test"])

    out = {"labels": y, "costs": {"Local DE": pretrain_cost(local), "Global DE": pretrain_cost(glob),
                                  "Local DE, Global DE size": pretrain_cost(local[:len(glob)])}}
    grid = {m: run_grid(m, p) for m in _METHODS}
    chosen = {m: select_settings(grid[m]) for m in _METHODS}
    sse = {name: method_recipes("sse", p, cell) for name, cell in chosen["sse"].items()}
    star = {name: method_recipes("starsse", p, cell) for name, cell in chosen["starsse"].items()}
    recipes = {"Local DE": local, "Global DE": glob, "SSE local": sse["local"], "SSE optimal": sse["optimal"],
               "SSE semi-local": sse["semi-local"], "StarSSE optimal": star["optimal"],
               "StarSSE semi-local": star["semi-local"]}
    out.update(grid=grid, chosen=chosen, recipes=recipes, curves={name: curve(rs) for name, rs in recipes.items()})
    out["final"] = {name: c[-1] for name, c in out["curves"].items()}
    out["ens_probs"] = {name: probs(rs).mean(0) for name, rs in recipes.items()}
    out["ens_probs"]["model 1"] = member_probs(local[0], p)["test"]
    out["ens_probs"]["Local DE, Global DE size"] = probs(local[:len(glob)]).mean(0)

    paths = {name: consecutive_paths(sse[name], p) for name in chosen["sse"]}
    out.update(paths=paths, barriers={name: max(barrier_of(q) for q in paths[name]) for name in paths})
    out["member_test"] = {name: [accuracy_of(q, y["test"]) for q in probs(sse[name])] for name in paths}
    out["member_train"] = {name: [1 - float(paths[name][0]["train_error"][0])]
                           + [1 - float(q["train_error"][-1]) for q in paths[name]] for name in paths}
    out["member_probs"] = {name: probs(recipes[name]) for name in ("Local DE", "StarSSE optimal")}
    out["diversity"] = {name: member_diversity(probs(rs), y["test"]) for name, rs in recipes.items()
                        if name != "SSE local"}

    soup_grid = {m: run_soup_grid(m, p) for m in _METHODS}
    soup_best = {m: select_settings(soup_grid[m])["optimal"] for m in _METHODS}
    soup_members = {"Local DE": local, "SSE": method_recipes("sse", p, soup_best["sse"]),
                    "StarSSE": method_recipes("starsse", p, soup_best["starsse"]), "Global DE": glob}
    soup_probs = {name: member_probs(soup_recipe(rs), p)["test"] for name, rs in soup_members.items()}
    out.update(soup_grid=soup_grid, soup_best=soup_best, soup_members=soup_members,
               soup_acc={name: accuracy_of(q, y["test"]) for name, q in soup_probs.items()},
               ens_acc={name: curve(rs)[-1] for name, rs in soup_members.items()},
               model1=accuracy_of(out["ens_probs"]["model 1"], y["test"]))
    out["ens_probs"].update({f"{name} soup": q for name, q in soup_probs.items()})

    oy = ood_labels(p)
    ood = {"Local DE": local, "SSE optimal": sse["optimal"], "StarSSE optimal": star["optimal"], "Global DE": glob}
    out["ood_ens"] = {name: ood_accuracy([ood_probs(r, p) for r in rs], oy) for name, rs in ood.items()}
    out["ood_soup"] = {name: ood_accuracy([ood_probs(soup_recipe(rs), p)], oy)
                       for name, rs in soup_members.items() if name != "Global DE"}
    out["ood_model1"] = ood_accuracy([ood_probs(local[0], p)], oy)
    out["ood_probs"] = {name: torch.stack([ood_probs(r, p) for r in rs]).mean(0) for name, rs in ood.items()}
    out["ood_probs"].update({f"{name} soup": ood_probs(soup_recipe(rs), p)
                             for name, rs in soup_members.items() if name != "Global DE"})
    out["ood_labels"], out["severities"] = oy, SEVERITIES

    three = {"SSE": method_recipes("sse", p, chosen["sse"]["optimal"], n_members=3),
             "StarSSE": method_recipes("starsse", p, chosen["starsse"]["optimal"], n_members=3)}
    out["planes"] = {name: member_plane(rs, p) for name, rs in three.items()}
    chosen_cells = {"ensemble": chosen, "soup": soup_best}
    out["replicates"] = [replicate_measures(p, chosen_cells, r) for r in range(p.claim_seeds)]
    return out
