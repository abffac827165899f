"""Local and Global Deep Ensembles in transfer learning, and cached predictions of any member.

* **Local DE**: M fine-tunings of *one* pre-trained backbone (`pretrain_recipe(profile, backbone_seed)`) that differ
  only in the fine-tuning seed (data order, augmentation; the head comes from the linear probe, as in
  `finetune_recipe`). Cheap: one pre-training.
* **Global DE**: one fine-tuning per *independently pre-trained* backbone (pre-training seeds 0 .. M - 1). Costs M
  pre-trainings, and its members sit in different pre-train basins, so they are more diverse.

Member 0 of both is the same run (`transfer_finetune_recipe(profile, backbone_seed=0, seed=0)`), which is also
model 1 of SSE/StarSSE (`lsdl_ens.transfer.cycles`). Members of every kind are trained or read back by
`lsdl_ens.transfer.runs.load_member`.

Every member is fine-tuned with `transfer_finetune_recipe`: the course's `finetune_recipe` with the chapter's
epochs and LR (the profile's ``transfer.finetune_epochs`` / ``finetune_lr``, longer than the profile's on cpu so that
model 1 is converged, as the paper assumes).

Reference: Sadrtdinov et al., NeurIPS 2023, https://arxiv.org/abs/2303.03374; isadrtdinov/ens-for-transfer
@8984ccc: ``scripts/*_baseline.py`` (5 checkpoints x 5 seeds give both ensembles).
"""

from __future__ import annotations

import torch

from ..cache import default_cache
from ..data import profile_transfer
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import finetune_recipe
from .member_recipes import CycleMemberRecipe, first_of
from ..train import predict_probs
from .runs import load_member

__all__ = ["transfer_finetune_recipe", "local_de_recipes", "global_de_recipes", "backbone_of", "member_probs",
           "pretrain_cost"]


def transfer_finetune_recipe(profile: Profile | str | None = None, backbone_seed: int = 0, seed: int = 0,
                             **overrides) -> dict:
    """`finetune_recipe` with the transfer chapter's fine-tuning epochs and LR (``profile.transfer``; where those are
    None, the profile's). `overrides` win over both."""
    p = get_profile(profile)
    s = p.transfer
    chapter = {k: v for k, v in (("epochs", s.finetune_epochs), ("lr", s.finetune_lr)) if v is not None}
    return finetune_recipe(p, backbone_seed=backbone_seed, seed=seed, **{**chapter, **overrides})


def local_de_recipes(profile: Profile | str | None = None, n_members: int | None = None, *, backbone_seed: int = 0,
                     **overrides) -> list[dict]:
    """Fine-tuning recipes of a Local DE: one backbone, fine-tuning seeds 0 .. M - 1 (M: profile.ensemble_size)."""
    p = get_profile(profile)
    n = p.ensemble_size if n_members is None else n_members
    if n < 1:
        raise ValueError(f"n_members must be >= 1; got {n}")
    return [transfer_finetune_recipe(p, backbone_seed=backbone_seed, seed=s, **overrides) for s in range(n)]


def global_de_recipes(profile: Profile | str | None = None, n_members: int | None = None, **overrides) -> list[dict]:
    """Fine-tuning recipes of a Global DE: backbone (pre-training) seeds 0 .. M - 1, fine-tuning seed 0 each."""
    p = get_profile(profile)
    n = p.ensemble_size if n_members is None else n_members
    if n < 1:
        raise ValueError(f"n_members must be >= 1; got {n}")
    return [transfer_finetune_recipe(p, backbone_seed=b, seed=0, **overrides) for b in range(n)]


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


def member_probs(recipe: dict, profile: Profile | str | None = None, *, cache=None, device=None,
                 progress: bool | None = None) -> dict:
    """Softmax probabilities of one member on the target validation and test sets: ``{"val", "test"}`` (cached,
    kind "transfer_probs"; trains the member on a miss)."""
    p = get_profile(profile)
    cache = cache or default_cache()
    key = {"member": recipe, "eval": {"profile": p.name, "n_source": p.n_source, "n_target": p.n_target,
                                      "n_test": p.n_test}}

    def build():
        split = profile_transfer(p)
        model = load_member(recipe, cache=cache, device=device, progress=progress)
        return {"val": predict_probs(model, split.target_val, device=device),
                "test": predict_probs(model, split.target_test, device=device)}, {}

    state, _ = cache.get_or_create("transfer_probs", key, build)
    return {k: v.float() for k, v in state.items()}


def labels(profile: Profile | str | None = None) -> dict:
    """``{"val", "test"}`` labels of the target sets of `profile`."""
    split = profile_transfer(get_profile(profile))
    return {"val": split.target_val.labels, "test": split.target_test.labels}


def stack_probs(recipes, profile=None, which: str = "test", **kw) -> torch.Tensor:
    """[M, N, C] probabilities of several members."""
    return torch.stack([member_probs(r, profile, **kw)[which] for r in recipes])
