"""Cached runs of the mode-connectivity chapter in transfer learning (Neyshabur, Sedghi, Zhang, "What is being
transferred in transfer learning?", NeurIPS 2020): a network pre-trained on the five source classes (P), networks
fine-tuned from it on the five target classes (P-T), networks trained on the same target images from random
initialisation (RI-T); linear paths between pairs, per-stage similarity, and feature distances per target domain.

Target domains for the feature-distance table: the transfer split's target classes as they are (``"target"``), and
the same images under each corruption of the profile's ``landscape.domains`` at ``landscape.domain_severity``
(training and test images alike; the four kinds of networks are trained again on each). Deliberate deviation: the
paper's domains are different data sets (CHEXPERT, DomainNet real / clipart / quickdraw).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..cache import default_cache
from ..data import ImageSet, balanced_subset, corrupt, profile_transfer
from ..landscape import stage_similarity
from ..models import replace_head
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import (build_from_recipe, finetune_recipe, fit_linear_probe, load_state, pretrain_recipe,
                       standard_recipe, train, training_loader)
from ..schedules import make_schedule
from ..train import default_device, fit
from .mode_connectivity_protocol import PathRun, path_results

__all__ = ["PAIRS", "TRANSFER_KINDS", "random_init_recipe", "transfer_recipes", "transfer_models", "transfer_runs",
           "transfer_lmc", "similarity_tables", "domain_sets", "DomainModelRun", "domain_model", "domain_runs",
           "domain_models", "domain_feature_distances"]

#: the pairs of the feature-distance table, in its row order
PAIRS = ("P-T & P-T", "RI-T & RI-T", "P-T & P", "RI-T & P")
TRANSFER_KINDS = ("P-T", "RI-T")


def random_init_recipe(p: Profile, seed: int) -> Recipe:
    """Training from random init on the labelled target classes (same data as fine-tuning, ``landscape.ri_epochs``)."""
    target = finetune_recipe(p).data
    return standard_recipe(p, seed, num_classes=5, data=target, epochs=p.landscape.ri_epochs)


def transfer_recipes(p: Profile, seeds=(0, 1), backbone_seed: int = 0) -> dict:
    """``{"P": pre-training, "P-T": [fine-tuning with `seeds`], "RI-T": [random init with `seeds`]}``."""
    return {"P": pretrain_recipe(p, backbone_seed),
            "P-T": [finetune_recipe(p, backbone_seed=backbone_seed, seed=s) for s in seeds],
            "RI-T": [random_init_recipe(p, s) for s in seeds]}


def transfer_models(profile=None, seeds=(0, 1), backbone_seed: int = 0) -> dict:
    """The trained models of `transfer_recipes` (cached): ``{"P", "P-T": [...], "RI-T": [...], "recipes"}``."""
    recipes = transfer_recipes(get_profile(profile), seeds, backbone_seed)
    return {"P": train(recipes["P"])[0], "P-T": [train(r)[0] for r in recipes["P-T"]],
            "RI-T": [train(r)[0] for r in recipes["RI-T"]], "recipes": recipes}


def transfer_runs(p: Profile, seeds=(0, 1), n_alphas: int | None = None) -> dict:
    """``{"P-T": PathRun, "RI-T": PathRun}``: the segments on the target task between the two networks of each
    kind trained with `seeds` (BN recomputed on target training batches)."""
    recipes = transfer_recipes(p, seeds)
    n_alphas = n_alphas or p.landscape.n_alphas
    return {kind: PathRun(p, recipes[kind][0], recipes[kind][1], n_alphas, domain="target")
            for kind in TRANSFER_KINDS}


def transfer_lmc(profile=None, seeds=(0, 1), n_alphas: int | None = None) -> dict:
    """Linear paths on the target task between two fine-tuned models (P-T & P-T) and between two randomly
    initialised ones (RI-T & RI-T) (Neyshabur et al. 2020, Fig. 5).

    Returns:
        ``{"P-T": path, "RI-T": path}`` with ``alphas``, test ``loss``/``error``, ``train_loss``/``train_error``.
    """
    return {kind: path_results(run) for kind, run in transfer_runs(get_profile(profile), seeds, n_alphas).items()}


def similarity_tables(profile=None, seeds=(0, 1)) -> dict:
    """Per-stage linear CKA and feature L2 distance on ``landscape.n_similarity`` target test images for the pairs
    of Neyshabur et al. (Table 2 / Fig. 4): P-T & P, P-T & P-T, P-T & RI-T, RI-T & RI-T, RI-T & P.

    Returns:
        ``{"stages": [...], "cka": {pair: np.ndarray}, "l2": {pair: np.ndarray}}``.
    """
    p = get_profile(profile)
    models = transfer_models(p, seeds)
    data = balanced_subset(profile_transfer(p).target_test, p.landscape.n_similarity, seed=13)
    pairs = {"P-T & P": (models["P-T"][0], models["P"]), "P-T & P-T": tuple(models["P-T"]),
             "P-T & RI-T": (models["P-T"][0], models["RI-T"][0]), "RI-T & RI-T": tuple(models["RI-T"]),
             "RI-T & P": (models["RI-T"][0], models["P"])}
    out = {"stages": None, "cka": {}, "l2": {}}
    for name, (a, b) in pairs.items():
        result = stage_similarity(a, b, data)
        out["stages"] = result["stages"]
        out["cka"][name], out["l2"][name] = result["cka"], result["l2"]
    return out


# ----------------------------------------------------------------------------------------------- domains
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


@dataclass(frozen=True)
class DomainModelRun:
    """The network of `recipe` (a P-T or RI-T recipe, ``kind``) trained on the training images of a corrupted
    target ``domain`` of ``profile`` instead of the recipe's own images (kind ``"domain_model"``, key `key()`)."""

    profile: Profile
    recipe: Recipe
    kind: str
    domain: str

    def __post_init__(self):
        if self.kind not in TRANSFER_KINDS:
            raise ValueError(f"kind must be 'P-T' or 'RI-T'; got {self.kind!r}")
        if self.domain == "target":
            raise ValueError("domain must be a corruption name; the clean target models are transfer_models")

    def key(self) -> dict:
        return {"recipe": self.recipe, "domain": self.domain, "severity": self.profile.landscape.domain_severity}


def domain_model(run: DomainModelRun) -> torch.nn.Module:
    """The trained network of `run` (cached)."""
    recipe, device = run.recipe, default_device()

    def build():
        data = domain_sets(run.profile, run.domain)[0]
        if run.kind == "P-T":
            model, _ = train(recipe.init.recipe, device=device)
            replace_head(model, recipe.num_classes, seed=recipe.seed)
            fit_linear_probe(model, data, device=device)
        else:
            model = build_from_recipe(recipe).to(device)
        fit(model, training_loader(recipe, images=data), epochs=recipe.epochs, optimizer=recipe.optimizer,
            lr_schedule=make_schedule(recipe.schedule, epochs=recipe.epochs, lr=recipe.lr, **recipe.schedule_kw),
            weight_decay=recipe.weight_decay, seed=recipe.seed, label_smoothing=recipe.label_smoothing,
            device=device, desc=f"{run.kind} on {run.domain}", precision=recipe.precision,
            channels_last=recipe.channels_last)
        return model.state_dict(), {}

    state, _ = default_cache().get_or_create("domain_model", run.key(), build)
    return load_state(recipe, state).to(device)


def domain_runs(p: Profile, domain: str, seeds=(0, 1)) -> list:
    """The `DomainModelRun` of each P-T and RI-T network of `seeds` on a corrupted `domain`."""
    recipes = transfer_recipes(p, seeds)
    return [DomainModelRun(p, r, kind, domain) for kind in TRANSFER_KINDS for r in recipes[kind]]


def domain_models(profile: Profile | str | None = None, domain: str = "target", seeds=(0, 1)) -> dict:
    """``{"P": pre-trained, "P-T": [fine-tuned], "RI-T": [from random init]}`` for one target domain (the
    `transfer_models` for ``"target"``, cached retrainings on the corrupted images otherwise)."""
    p = get_profile(profile)
    if domain == "target":
        return transfer_models(p, seeds)
    out = {"P": train(pretrain_recipe(p))[0], "P-T": [], "RI-T": []}
    for run in domain_runs(p, domain, seeds):
        out[run.kind].append(domain_model(run))
    return out


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
