"""Feature distances between transfer models per target domain (the lecture's table after Neyshabur et al. 2020).

For each target domain the same four kinds of pairs are compared on that domain's test images: two networks
fine-tuned from the pre-trained one (P-T & P-T), two trained from random initialisation (RI-T & RI-T), a fine-tuned
one and the pre-trained one (P-T & P), a randomly initialised one and the pre-trained one (RI-T & P). The distance
is `feature_l2`: the mean over images of the Euclidean distance between two networks' activations at a stage.

The domains: the transfer split's target classes as they are (``"target"``; the models of
`experiments.transfer_models`), and the same images under each corruption of the profile's ``landscape.domains``
at severity ``landscape.domain_severity`` (training and test images alike): the further a domain is from the source
images, the more fine-tuning has to move the features.

Reference: Neyshabur, Sedghi, Zhang, "What is being transferred in transfer learning?", NeurIPS 2020, Table 2
(feature l2 distance per domain: CHEXPERT and DomainNet real / clipart / quickdraw). Deliberate deviation: our
domains are corrupted versions of the target classes (the paper's are different data sets).
"""

from __future__ import annotations

import torch

from ..cache import default_cache
from ..data import ImageSet, balanced_subset, corrupt, profile_transfer
from ..models import replace_head
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import (build_from_recipe, finetune_recipe, fit_linear_probe, load_state, pretrain_recipe,
                       standard_recipe, train, training_loader)
from ..schedules import make_schedule
from ..train import default_device, fit
from .experiments import transfer_models
from .similarity import stage_similarity

__all__ = ["PAIRS", "domain_sets", "domain_models", "domain_feature_distances"]

#: the pairs of the table, in its row order
PAIRS = ("P-T & P-T", "RI-T & RI-T", "P-T & P", "RI-T & P")


def domain_sets(profile: Profile | str | None = None, domain: str = "target") -> tuple[ImageSet, ImageSet]:
    """(training set, evaluation subset of ``landscape.n_similarity`` test images) of a target domain: ``"target"``
    or a corruption name (applied at ``landscape.domain_severity``)."""
    p = get_profile(profile)
    split = profile_transfer(p)
    train_set, test_set = split.target_train, balanced_subset(split.target_test, p.landscape.n_similarity, seed=13)
    if domain == "target":
        return train_set, test_set
    severity = p.landscape.domain_severity
    return tuple(ImageSet(corrupt(d.images, domain, severity, seed=seed), d.labels, d.classes)
                 for d, seed in ((train_set, 1), (test_set, 2)))


def _recipes(p: Profile, seeds) -> dict:
    target = finetune_recipe(p).data  # the random-init models learn the same target data, longer
    return {"P-T": [finetune_recipe(p, seed=s) for s in seeds],
            "RI-T": [standard_recipe(p, s, num_classes=5, data=target, epochs=p.landscape.ri_epochs) for s in seeds]}


def _train_on(recipe: Recipe, kind: str, domain: str, p: Profile, data: ImageSet) -> torch.nn.Module:
    """The model of `recipe` trained on `data` (the domain's images) instead of the recipe's own data, cached."""
    device = default_device()
    key = {"recipe": recipe, "domain": domain, "severity": p.landscape.domain_severity}

    def build():
        if kind == "P-T":
            model, _ = train(recipe.init.recipe, device=device)
            replace_head(model, recipe.num_classes, seed=recipe.seed)
            fit_linear_probe(model, data, device=device)
        else:
            model = build_from_recipe(recipe).to(device)
        loader = training_loader(recipe, images=data)
        fit(model, loader, epochs=recipe.epochs, optimizer=recipe.optimizer,
            lr_schedule=make_schedule(recipe.schedule, epochs=recipe.epochs, lr=recipe.lr, **recipe.schedule_kw),
            weight_decay=recipe.weight_decay, seed=recipe.seed, label_smoothing=recipe.label_smoothing,
            device=device, desc=f"{kind} on {domain}", precision=recipe.precision,
            channels_last=recipe.channels_last)
        return model.state_dict(), {}

    state, _ = default_cache().get_or_create("domain_model", key, build)
    return load_state(recipe, state).to(device)


def domain_models(profile: Profile | str | None = None, domain: str = "target", seeds=(0, 1)) -> dict:
    """``{"P": pre-trained, "P-T": [two fine-tuned], "RI-T": [two from random init]}`` for one target domain (the
    models of `experiments.transfer_models` for ``"target"``, cached retrainings on the corrupted images otherwise)."""
    p = get_profile(profile)
    if domain == "target":
        return transfer_models(p, seeds)
    data = domain_sets(p, domain)[0]
    recipes = _recipes(p, seeds)
    return {"P": train(pretrain_recipe(p))[0],
            **{kind: [_train_on(r, kind, domain, p, data) for r in rs] for kind, rs in recipes.items()}}


def domain_feature_distances(profile: Profile | str | None = None, seeds=(0, 1)) -> dict:
    """Feature l2 distance of each pair of `PAIRS` on each domain (``"target"`` and ``landscape.domains``).

    Returns:
        ``{"domains": [...], "stages": [...], "l2": {domain: {pair: [per stage]}}}``; the last stage is the pooled
        features that the head reads.
    """
    p = get_profile(profile)
    domains = ("target", *p.landscape.domains)
    out = {"domains": list(domains), "stages": None, "l2": {}}
    for domain in domains:
        models = domain_models(p, domain, seeds)
        pairs = {"P-T & P-T": tuple(models["P-T"]), "RI-T & RI-T": tuple(models["RI-T"]),
                 "P-T & P": (models["P-T"][0], models["P"]), "RI-T & P": (models["RI-T"][0], models["P"])}
        data = domain_sets(p, domain)[1]
        out["l2"][domain] = {}
        for name in PAIRS:
            result = stage_similarity(*pairs[name], data)
            out["stages"] = list(result["stages"])
            out["l2"][domain][name] = [float(v) for v in result["l2"]]
    return out
