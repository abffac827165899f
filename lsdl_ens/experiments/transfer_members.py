"""Chapter 06's members as cached runs: profile-sized recipes of Local DE, Global DE, SSE and StarSSE, the training
of cycle members, soups and the cached predictions of any member on the target validation and test sets.

* Every member is fine-tuned with `transfer_finetune_recipe`: the course's `finetune_recipe` with the chapter's
  epochs and LR (the profile's ``transfer.finetune_epochs`` / ``finetune_lr``, longer than the profile's on cpu so
  that model 1 is converged, as the paper assumes). Member 0 of Local DE, Global DE, SSE and StarSSE is the same run
  (`transfer_finetune_recipe(profile, backbone_seed=0, seed=0)`).
* Replicates: ``replicate=r`` repeats a method with new seeds (`replicate_seeds`): pre-training seeds from 100 r,
  fine-tuning seeds from 1,000 r (cycle seeds follow from model 1's seed). Replicate 0 is the chapter's main run;
  the claims that training decides average over replicates 0 .. ``profile.claim_seeds - 1``.
* A cycle member (a `lsdl_ens.transfer.CycleMemberRecipe`) is trained by one `lsdl_ens.train.fit` run of the
  cycle's schedule (`lsdl_ens.transfer.cycle_schedule`) from its start member (model 1 for StarSSE and the first SSE
  cycle, SSE member k - 1 otherwise), through `lsdl_ens.transfer.run_cycles`; cached under kind "transfer_cycle".
* A soup (`lsdl_ens.transfer.soup_recipe`) is `lsdl_ens.transfer.soup_model` of its trained members.
* `member_probs`: softmax probabilities of a member or soup on the target validation and test sets (cached, kind
  "transfer_probs"; trains the member on a miss).

Reference: Sadrtdinov et al., NeurIPS 2023, https://arxiv.org/abs/2303.03374; isadrtdinov/ens-for-transfer@8984ccc.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..cache import default_cache
from ..data import profile_transfer
from ..profiles import Profile, get_profile
from ..recipes import finetune_recipe, load_state, train, training_loader
from ..train import default_device, fit, predict_probs
from ..transfer import (CycleMemberRecipe, SoupRecipe, base_recipe, cycle_recipes, cycle_schedule, run_cycles,
                        soup_model)

__all__ = ["transfer_finetune_recipe", "replicate_seeds", "local_de_recipes", "global_de_recipes", "grid_settings",
           "method_recipes", "train_cycle_member", "load_member", "load_soup", "member_histories", "member_probs",
           "probs_key", "labels", "stack_probs"]


# ----------------------------------------------------------------------------------------------- recipes
def transfer_finetune_recipe(profile: Profile | str | None = None, backbone_seed: int = 0, seed: int = 0,
                             **overrides):
    """`finetune_recipe` with the transfer chapter's fine-tuning epochs and LR (``profile.transfer``; where those are
    None, the profile's). `overrides` win over both."""
    p = get_profile(profile)
    s = p.transfer
    chapter = {k: v for k, v in (("epochs", s.finetune_epochs), ("lr", s.finetune_lr)) if v is not None}
    return finetune_recipe(p, backbone_seed=backbone_seed, seed=seed, **{**chapter, **overrides})


def replicate_seeds(replicate: int) -> tuple[int, int]:
    """(first pre-training seed, first fine-tuning seed) of replicate `replicate`: (100 r, 1000 r).

    Replicate r's model 1 is fine-tuned from backbone 100 r with seed 1000 r; its Local DE takes fine-tuning seeds
    1000 r .. 1000 r + M - 1 on that backbone, its Global DE backbones 100 r .. 100 r + M - 1 with fine-tuning seed
    1000 r. Different replicates share no pre-training and no fine-tuning seed (for M <= 100)."""
    r = checks.nonneg_int("replicate", replicate, "pass 0 for the chapter's main run, 1, 2, ... for repeats")
    return 100 * r, 1000 * r


def local_de_recipes(profile: Profile | str | None = None, n_members: int | None = None, *, backbone_seed: int = 0,
                     replicate: int = 0, **overrides) -> list:
    """Fine-tuning recipes of a Local DE: one backbone, fine-tuning seeds 0 .. M - 1 (M: profile.ensemble_size),
    both offset by `replicate_seeds`."""
    p = get_profile(profile)
    n = p.ensemble_size if n_members is None else n_members
    if n < 1:
        raise ValueError(f"n_members must be >= 1; got {n}")
    backbone, seed = replicate_seeds(replicate)
    return [transfer_finetune_recipe(p, backbone_seed=backbone + backbone_seed, seed=seed + s, **overrides)
            for s in range(n)]


def global_de_recipes(profile: Profile | str | None = None, n_members: int | None = None, *, replicate: int = 0,
                      **overrides) -> list:
    """Fine-tuning recipes of a Global DE: backbone (pre-training) seeds 0 .. M - 1, fine-tuning seed 0 each (both
    offset by `replicate_seeds`)."""
    p = get_profile(profile)
    n = p.ensemble_size if n_members is None else n_members
    if n < 1:
        raise ValueError(f"n_members must be >= 1; got {n}")
    backbone, seed = replicate_seeds(replicate)
    return [transfer_finetune_recipe(p, backbone_seed=backbone + b, seed=seed, **overrides) for b in range(n)]


def grid_settings(profile: Profile | str | None = None) -> list[tuple[float, float]]:
    """All (lr_mult, epoch_mult) cells of the profile's grid (``profile.transfer.lr_mults`` x ``epoch_mults``)."""
    s = get_profile(profile).transfer
    return [(lr, ep) for lr in s.lr_mults for ep in s.epoch_mults]


def method_recipes(method: str, profile: Profile | str | None = None, setting: tuple[float, float] | None = None,
                   n_members: int | None = None, *, replicate: int = 0) -> list:
    """Member recipes of "local_de", "global_de", "sse" or "starsse" (cycle methods need `setting`) in replicate
    `replicate` (see `replicate_seeds`; 0 is the chapter's main run).

    Default sizes: profile.ensemble_size, except Global DE: the profile's ``transfer.n_global`` (one pre-training per
    member)."""
    p = get_profile(profile)
    n = p.ensemble_size if n_members is None else n_members
    if method == "local_de":
        return local_de_recipes(p, n, replicate=replicate)
    if method == "global_de":
        return global_de_recipes(p, p.transfer.n_global if n_members is None else n_members, replicate=replicate)
    if method in ("sse", "starsse"):
        if setting is None:
            raise ValueError(f"method {method!r} needs setting=(lr_mult, epoch_mult)")
        backbone, seed = replicate_seeds(replicate)
        return cycle_recipes(transfer_finetune_recipe(p, backbone_seed=backbone, seed=seed), method, n,
                             lr_mult=setting[0], epoch_mult=setting[1])
    raise ValueError(f"method must be local_de, global_de, sse or starsse; got {method!r}")


# ----------------------------------------------------------------------------------------------- training
def _start_recipe(recipe: CycleMemberRecipe):
    cycle = recipe.cycle
    if cycle.method == "starsse" or cycle.index == 1:
        return recipe.first
    return recipe.replace(cycle=cycle.replace(index=cycle.index - 1, seed=cycle.seed - 1))


def train_cycle_member(recipe: CycleMemberRecipe, *, cache=None, device=None,
                       progress: bool | None = None) -> tuple[dict, dict]:
    """(state, extra) of one cycle member (cached, kind "transfer_cycle"); trains its start member if needed.

    extra: ``{"history": ...}`` of the cycle's `fit`.
    """
    if not isinstance(recipe, CycleMemberRecipe):
        raise TypeError(f"recipe must be a CycleMemberRecipe (from lsdl_ens.transfer.cycle_recipes), got "
                        f"{type(recipe).__name__}")
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    cycle, first = recipe.cycle, recipe.first

    def build():
        start_model = load_member(_start_recipe(recipe), cache=cache, device=device, progress=progress)
        history = {}

        def train_cycle(model, _k):
            h = fit(model, training_loader(first, cycle.seed), epochs=cycle.epochs, optimizer=first.optimizer,
                    lr_schedule=cycle_schedule(cycle.lr, cycle.per), weight_decay=first.weight_decay,
                    seed=cycle.seed, label_smoothing=first.label_smoothing, device=device, progress=progress,
                    desc=f"{cycle.method} cycle {cycle.index}", precision=first.precision,
                    channels_last=first.channels_last)
            history.update(h.as_dict())

        states = run_cycles(start_model.state_dict(), lambda: load_state(first, start_model.state_dict()).to(device),
                            train_cycle, 2, star=True)
        return states[1], {"history": history}

    return cache.get_or_create("transfer_cycle", recipe, build)


def load_member(recipe, *, cache=None, device=None, progress: bool | None = None) -> nn.Module:
    """The trained model of any member recipe: a `recipes.train` recipe, a `CycleMemberRecipe` or a `SoupRecipe`
    (trained on a miss)."""
    device = torch.device(device) if device is not None else default_device()
    if isinstance(recipe, SoupRecipe):
        return load_soup(recipe, cache=cache, device=device, progress=progress)
    if isinstance(recipe, CycleMemberRecipe):
        state, _ = train_cycle_member(recipe, cache=cache, device=device, progress=progress)
        return load_state(recipe.first, state).to(device)
    model, _ = train(recipe, cache=cache, device=device, progress=progress)
    return model


def load_soup(recipe: SoupRecipe, *, cache=None, device=None, progress=None) -> nn.Module:
    """`lsdl_ens.transfer.soup_model` of the trained members of a `soup_recipe` (BN recomputed)."""
    device = torch.device(device) if device is not None else default_device()
    states = [load_member(r, cache=cache, device=device, progress=progress).state_dict() for r in recipe.members]
    return soup_model(states, base_recipe(recipe.members[0]), bn_seed=recipe.bn_seed, device=device)


def member_histories(recipes: Sequence, *, cache=None) -> list:
    """The `fit` history of each cycle member (None for non-cycle members)."""
    return [train_cycle_member(r, cache=cache)[1]["history"] if isinstance(r, CycleMemberRecipe) else None
            for r in recipes]


# ----------------------------------------------------------------------------------------------- predictions
def probs_key(recipe, profile: Profile) -> dict:
    """The cache key of `member_probs` (kind "transfer_probs")."""
    p = profile
    return {"member": recipe, "eval": {"profile": p.name, "n_source": p.n_source, "n_target": p.n_target,
                                       "n_test": p.n_test}}


def member_probs(recipe, profile: Profile | str | None = None, *, cache=None, device=None,
                 progress: bool | None = None) -> dict:
    """Softmax probabilities of one member on the target validation and test sets: ``{"val", "test"}`` (cached,
    kind "transfer_probs"; trains the member on a miss)."""
    p = get_profile(profile)
    cache = cache or default_cache()

    def build():
        split = profile_transfer(p)
        model = load_member(recipe, cache=cache, device=device, progress=progress)
        return {"val": predict_probs(model, split.target_val, device=device),
                "test": predict_probs(model, split.target_test, device=device)}, {}

    state, _ = cache.get_or_create("transfer_probs", probs_key(recipe, p), build)
    return {k: v.float() for k, v in state.items()}


def labels(profile: Profile | str | None = None) -> dict:
    """``{"val", "test"}`` labels of the target sets of `profile`."""
    split = profile_transfer(get_profile(profile))
    return {"val": split.target_val.labels, "test": split.target_test.labels}


def stack_probs(recipes, profile=None, which: str = "test", **kw) -> torch.Tensor:
    """[M, N, C] probabilities of several members on the target ``which`` set ("val" or "test")."""
    return torch.stack([member_probs(r, profile, **kw)[which] for r in recipes])
