"""Chapter 06's replicates: every compared method trained again with new seeds, so that each claim the training
decides is a spread over ``profile.claim_seeds`` independent runs, not one run judged on its test images.

Replicate r (`lsdl_ens.experiments.transfer_members.replicate_seeds`) pre-trains new backbones and fine-tunes with
new seeds: its model 1, Local DE, Global DE, and the SSE and StarSSE members started from its model 1. Replicate 0 is
the chapter's main run (its figures). The grid is trained once: every replicate uses the cells chosen on replicate
0's validation scores (the optimal ensemble cells and the best validation soup cells; the semi-local cell is the
grid's corner), so the spread covers training, not the choice of the cell.

`replicate_measures` reduces one replicate to the numbers the claims compare (test accuracy of each ensemble and
soup, mean accuracy over every corruption and severity, the largest barrier along each SSE chain, the members'
diversity); `lsdl_ens.experiments.transfer_claims` takes per-replicate differences and their Student-t interval.
"""

from __future__ import annotations

import torch

from ..metrics import accuracy as accuracy_of
from ..profiles import Profile, get_profile
from ..transfer import member_diversity, soup_recipe
from .transfer_eval import barrier_of, consecutive_paths, ood_labels, ood_probs
from .transfer_members import labels, member_probs, method_recipes, stack_probs

__all__ = ["ENSEMBLES", "SOUPS", "OOD", "replicate_recipes", "replicate_measures", "mean_ood_accuracy"]

ENSEMBLES = ("Local DE", "Global DE", "Local DE, Global DE size", "SSE optimal", "SSE semi-local",
             "StarSSE optimal", "StarSSE semi-local")
SOUPS = ("Local DE soup", "SSE soup", "StarSSE soup")
OOD = ("Local DE", "SSE optimal", "StarSSE optimal") + SOUPS
_NAMES = {"sse": "SSE", "starsse": "StarSSE"}


def _check_chosen(chosen: dict) -> dict:
    try:
        for m in _NAMES:
            chosen["ensemble"][m]["optimal"], chosen["ensemble"][m]["semi-local"], chosen["soup"][m]
    except (KeyError, TypeError):
        raise ValueError("chosen must be {'ensemble': {method: select_settings(...)}, 'soup': {method: cell}} for "
                         "methods 'sse' and 'starsse', as lsdl_ens.experiments.transfer.train_selection returns; "
                         f"got {chosen!r}") from None
    return chosen


def replicate_recipes(profile: Profile | str | None, chosen: dict, replicate: int) -> dict:
    """Member recipes of every compared ensemble (`ENSEMBLES`) and soup (`SOUPS`) in replicate `replicate`, at the
    cells of `chosen` (the format of `lsdl_ens.experiments.transfer.train_selection`)."""
    p = get_profile(profile)
    chosen = _check_chosen(chosen)
    local = method_recipes("local_de", p, replicate=replicate)
    glob = method_recipes("global_de", p, replicate=replicate)
    out = {"Local DE": local, "Global DE": glob, "Local DE, Global DE size": local[:len(glob)],
           "Local DE soup": local}
    for m, name in _NAMES.items():
        for where in ("optimal", "semi-local"):
            out[f"{name} {where}"] = method_recipes(m, p, chosen["ensemble"][m][where], replicate=replicate)
        out[f"{name} soup"] = method_recipes(m, p, chosen["soup"][m], replicate=replicate)
    return out


def mean_ood_accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of [S, K, n, C] probabilities averaged over all S severities and K corruptions (every set has the
    same n images, so this is the share of correct (image, set) pairs)."""
    if probs.dim() != 4 or probs.shape[2] != len(labels):
        raise ValueError(f"probs must be [severities, corruptions, n, C] with n = len(labels) = {len(labels)}; got "
                         f"shape {tuple(probs.shape)}")
    return float((probs.argmax(-1) == labels).double().mean())


def replicate_measures(profile: Profile | str | None, chosen: dict, replicate: int) -> dict:
    """What the claims compare in one replicate (trains on a miss), as fractions:

    ``{"accuracy": {name: test accuracy}`` of each ensemble (mean of the members' probabilities) and soup,
    ``"ood": {name: mean_ood_accuracy}`` of `OOD`, ``"barrier": {"optimal", "semi-local": the largest test-error
    barrier between consecutive SSE members}``, ``"diversity": {"StarSSE optimal", "Local DE": member_diversity}}``
    (diversity on its own 0-100 scale).
    """
    p = get_profile(profile)
    recipes = replicate_recipes(p, chosen, replicate)
    y, oy = labels(p)["test"], ood_labels(p)
    test = {name: stack_probs(recipes[name], p, "test") for name in ENSEMBLES}
    soups = {name: soup_recipe(recipes[name]) for name in SOUPS}
    accuracy = {name: accuracy_of(q.mean(0), y) for name, q in test.items()}
    accuracy.update({name: accuracy_of(member_probs(s, p)["test"], y) for name, s in soups.items()})
    ood = {name: mean_ood_accuracy(torch.stack([ood_probs(r, p) for r in recipes[name]]).mean(0), oy)
           for name in OOD if name not in SOUPS}
    ood.update({name: mean_ood_accuracy(ood_probs(soups[name], p), oy) for name in SOUPS})
    barrier = {where: max(barrier_of(q) for q in consecutive_paths(recipes[f"SSE {where}"], p))
               for where in ("optimal", "semi-local")}
    diversity = {name: member_diversity(test[name], y) for name in ("StarSSE optimal", "Local DE")}
    return {"accuracy": accuracy, "ood": ood, "barrier": barrier, "diversity": diversity}
