"""Local and Global Deep Ensembles in transfer learning: where a member comes from and what an ensemble costs.

* **Local DE**: M fine-tunings of *one* pre-trained backbone that differ only in the fine-tuning seed (data order,
  augmentation). Cheap: one pre-training.
* **Global DE**: one fine-tuning per *independently pre-trained* backbone (pre-training seeds 0 .. M - 1). Costs M
  pre-trainings, and its members sit in different pre-train basins, so they are more diverse.

The profile-sized recipes of both (and their cached training) are in `lsdl_ens.experiments.transfer`.

Reference: Sadrtdinov et al., NeurIPS 2023, https://arxiv.org/abs/2303.03374; isadrtdinov/ens-for-transfer
@8984ccc: ``scripts/*_baseline.py`` (5 checkpoints x 5 seeds give both ensembles).
"""

from __future__ import annotations

from ..recipe_types import Recipe
from .member_recipes import CycleMemberRecipe, first_of

__all__ = ["backbone_of", "pretrain_cost"]


def backbone_of(recipe) -> Recipe | None:
    """The pre-training recipe a member descends from (follows cycle members back to model 1)."""
    recipe = first_of(recipe)
    return recipe.init.recipe if recipe.init is not None else None


def pretrain_cost(recipes) -> dict:
    """Training cost of an ensemble in images seen: distinct pre-trainings plus fine-tunings/cycles."""
    backbones, pre, fine = set(), 0, 0
    for r in recipes:
        bb = backbone_of(r)
        key = bb.key() if bb else None
        if bb and key not in backbones:
            backbones.add(key)
            pre += bb.epochs * (bb.data.n_source or 25_000)
        if isinstance(r, CycleMemberRecipe):
            fine += r.cycle.epochs * r.first.data.n_target
        else:
            fine += r.epochs * r.data.n_target
    return {"pretrain_images": pre, "finetune_images": fine, "n_backbones": len(backbones)}
