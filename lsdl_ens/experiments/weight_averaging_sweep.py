"""A hyper-parameter sweep of fine-tunings of one pre-trained backbone: the ingredients of model soups (chapter 03).

Every run starts from the same point, the pre-trained backbone (``recipes.pretrain_recipe(profile,
backbone_seed)``) with a linear-probe head on the target classes, and is fine-tuned with
``recipes.finetune_recipe``; runs differ in learning rate, weight decay, augmentation, label smoothing and seed.
Each run is cached (``recipes.train``), so a sweep trains only what is missing.

Sweep per profile (its ``sweep`` section): a grid over ``lrs`` x ``n_seeds`` seeds; for each run, weight decay,
augmentation strength (none, weak, standard, strong: crop padding 0/2/4/8 with flips, ``data.AUGMENT_STRENGTHS``)
and label smoothing are drawn from ``WEIGHT_DECAYS``, ``AUGMENTS``, ``LABEL_SMOOTHINGS`` by a
generator seeded with ``sweep_seed`` (the model-soups paper's random search, on a small grid).

Reference: Wortsman et al., ICML 2022 (72 CLIP fine-tunings from one LP initialisation; hparam_info.json).
Deviation: the paper's augmentation strengths are RandAugment magnitudes; ours are crop paddings (no RandAugment).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import finetune_recipe, pretrain_recipe, train
from .runs import CachedRun

__all__ = ["WEIGHT_DECAYS", "AUGMENTS", "LABEL_SMOOTHINGS", "Ingredient", "sweep_configs", "sweep_recipes",
           "linear_probe_recipe", "finetune_sweep", "linear_probe_state", "sweep_runs"]

WEIGHT_DECAYS = (1e-4, 5e-4, 1e-3)
AUGMENTS = ("none", "weak", "standard", "strong")
LABEL_SMOOTHINGS = (0.0, 0.1)


@dataclass
class Ingredient:
    """One fine-tuned model of the sweep: its hyper-parameters, recipe and state dict."""

    hparams: dict
    recipe: Recipe
    state: dict


def sweep_configs(profile: Profile | str | None = None, *, lrs=None, n_seeds: int | None = None,
                  sweep_seed: int = 0) -> list[dict]:
    """The sweep's hyper-parameters: one dict (lr, weight_decay, augment, label_smoothing, seed) per run,
    ordered by lr then seed. ``lrs`` / ``n_seeds`` default to the profile's ``sweep`` section."""
    p = get_profile(profile)
    lrs = tuple(p.sweep.lrs if lrs is None else lrs)
    n_seeds = p.sweep.n_seeds if n_seeds is None else int(n_seeds)
    if not lrs or n_seeds < 1:
        raise ValueError(f"need at least one lr and n_seeds >= 1; got lrs={lrs}, n_seeds={n_seeds}")
    g = torch.Generator().manual_seed(sweep_seed)
    configs = []
    for lr in lrs:
        for seed in range(n_seeds):
            pick = torch.randint(0, 1000, (3,), generator=g).tolist()
            configs.append({"lr": float(lr), "weight_decay": WEIGHT_DECAYS[pick[0] % len(WEIGHT_DECAYS)],
                            "augment": AUGMENTS[pick[1] % len(AUGMENTS)],
                            "label_smoothing": LABEL_SMOOTHINGS[pick[2] % len(LABEL_SMOOTHINGS)], "seed": seed})
    return configs


def sweep_recipes(profile: Profile, configs, backbone_seed: int = 0) -> list[Recipe]:
    """The fine-tuning recipe of each config (`recipes.finetune_recipe` with its hyper-parameters)."""
    return [finetune_recipe(profile, backbone_seed, seed=hp["seed"], lr=hp["lr"], weight_decay=hp["weight_decay"],
                            augment=hp["augment"], label_smoothing=hp["label_smoothing"]) for hp in configs]


def linear_probe_recipe(profile: Profile, backbone_seed: int = 0) -> Recipe:
    """The 0-epoch fine-tuning whose result is the backbone with its linear-probe head."""
    return finetune_recipe(profile, backbone_seed, seed=0, epochs=0, schedule="constant")


def linear_probe_state(profile: Profile | str | None = None, backbone_seed: int = 0, *, device=None,
                       progress: bool | None = None) -> dict:
    """The common starting point: the pre-trained backbone with its linear-probe head (a 0-epoch fine-tuning,
    cached), the theta_0 of WiSE-FT and of the soup landscape."""
    model, _ = train(linear_probe_recipe(get_profile(profile), backbone_seed), device=device, progress=progress)
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def finetune_sweep(profile: Profile | str | None = None, backbone_seed: int = 0, *, configs=None,
                   device=None, progress: bool | None = None) -> list[Ingredient]:
    """Fine-tune (or load from the cache) one model per config of ``sweep_configs(profile)``.

    Args:
        profile: run profile (sizes, epochs).
        backbone_seed: which pre-trained checkpoint all runs start from.
        configs: the hyper-parameter dicts (default ``sweep_configs(profile)``).

    Returns:
        One ``Ingredient`` per config, in order.
    """
    p = get_profile(profile)
    configs = sweep_configs(p) if configs is None else list(configs)
    out = []
    for hp, recipe in zip(configs, sweep_recipes(p, configs, backbone_seed)):
        model, _ = train(recipe, device=device, progress=progress)
        out.append(Ingredient(dict(hp), recipe, {k: v.detach().cpu() for k, v in model.state_dict().items()}))
    return out


def sweep_runs(profile: Profile, backbone_seed: int = 0) -> list[CachedRun]:
    """The pre-trained backbone, its linear probe and every fine-tuning of the sweep, parents first."""
    parents = [CachedRun("train", pretrain_recipe(profile, backbone_seed), train, label="pre-trained backbone"),
               CachedRun("train", linear_probe_recipe(profile, backbone_seed), train, label="linear probe")]
    configs = sweep_configs(profile)
    return parents + [CachedRun("train", r, train, label=f"fine-tuning lr {hp['lr']:g} seed {hp['seed']}")
                      for hp, r in zip(configs, sweep_recipes(profile, configs, backbone_seed))]
