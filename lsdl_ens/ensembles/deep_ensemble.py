"""Deep ensembles: M networks trained independently (own initialisation and data order), predictions averaged in
probability space.

Formula: p(y | x) = (1/M) sum_m softmax(f_m(x)).

Members are trained one at a time by index, each through the checkpoint cache, so a cluster job array or several
GPUs can train them in parallel and a later `train_deep_ensemble` only reads them:

    python -m lsdl_ens.ensembles.deep_ensemble --profile gpu --member $SLURM_ARRAY_TASK_ID

References:
    Lakshminarayanan et al., "Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles",
    NeurIPS 2017, https://arxiv.org/abs/1612.01474 (no official code). Reference implementations:
    bayesgroup/pytorch-ensembles@76b71c9 (members trained by independent runs of ``train/cifar/...``,
    ``ens/ens-de.py``) and torch-uncertainty ``models/wrappers/deep_ensembles.py`` (probabilities averaged).

Note:
    Member i of a recipe uses seed ``recipe.seed + i`` (of a profile: seed i), so members 0 and 1 of the
    profile are exactly the two standard runs of the first chapter. Adversarial training (optional in the paper) is
    left out.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..profiles import Profile
from ..recipe_types import Recipe
from ..recipes import standard_recipe, train
from ..train import evaluate, predict_logits

__all__ = ["DeepEnsemble", "member_recipe", "train_member", "train_deep_ensemble"]


class DeepEnsemble(nn.Module):
    """A list of member networks whose probabilities are averaged.

    ``forward(x)`` returns the members' logits stacked as ``[M, B, C]`` (so nothing is lost);
    ``predict_probs(data)`` returns the ensemble's averaged probabilities ``[N, C]``.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if isinstance(members, nn.Module) or len(members) == 0:
            raise ValueError("members must be a non-empty list of networks")
        for i, m in enumerate(members):
            checks.module(f"members[{i}]", m, "pass trained models (load each state with model.load_state_dict)")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members])

    def member_logits(self, data, **kw) -> torch.Tensor:
        """Logits of every member ``[M, N, C]`` on `data` (eval mode; see `lsdl_ens.train.predict_logits`)."""
        return predict_logits(list(self.members), data, **kw)

    def predict_probs(self, data, size: int | None = None, **kw) -> torch.Tensor:
        """Averaged probabilities ``[N, C]`` of the first `size` members (default all)."""
        size = len(self) if size is None else size
        if not 1 <= size <= len(self):
            raise ValueError(f"size must be between 1 and {len(self)}; got {size}")
        return self.member_logits(data, **kw)[:size].softmax(-1).mean(0)

    def evaluate(self, data, **kw) -> dict:
        """`lsdl_ens.train.evaluate` of the probability-averaged ensemble (loss = NLL, accuracy, error)."""
        return evaluate(list(self.members), data, **kw)


def member_recipe(profile_or_recipe: Profile | str | Recipe | None, index: int) -> Recipe:
    """The recipe of member `index`: the profile's standard recipe with seed `index`, or `recipe` with seed
    ``recipe.seed + index``."""
    index = checks.nonneg_int("index", index, "pass the member number (0, 1, ...)")
    if isinstance(profile_or_recipe, dict):
        raise TypeError("profile_or_recipe is a dict; pass a Recipe (e.g. lsdl_ens.recipes.standard_recipe(profile)) "
                        "or a profile")
    if isinstance(profile_or_recipe, Recipe):
        return profile_or_recipe.replace(seed=profile_or_recipe.seed + index)
    return standard_recipe(profile_or_recipe, seed=index)


def train_member(profile_or_recipe: Profile | str | Recipe | None, index: int, *, device=None,
                 progress: bool | None = None) -> nn.Module:
    """Train (or read from the cache) member `index` of a deep ensemble; returns the network.

    Args:
        profile_or_recipe: a profile (object or name; None = the current one) for its standard recipe, or a
            `Recipe` from `lsdl_ens.recipes`.
        index: member number, from 0; it sets the seed (initialisation, data order, augmentation).
    """
    model, _ = train(member_recipe(profile_or_recipe, index), device=device, progress=progress)
    return model


def train_deep_ensemble(profile_or_recipe: Profile | str | Recipe | None = None, n_members: int | None = None, *,
                        device=None, progress: bool | None = None) -> DeepEnsemble:
    """A `DeepEnsemble` of members 0 .. n_members-1 (default: the profile's ``ensemble_size``), each trained with
    `train_member` (cached, so members trained elsewhere are only read)."""
    if n_members is None:
        from ..profiles import get_profile

        if isinstance(profile_or_recipe, Recipe):
            raise ValueError("n_members is required when a recipe is given")
        p = profile_or_recipe if isinstance(profile_or_recipe, Profile) else get_profile(profile_or_recipe)
        n_members = p.ensemble_size
    n_members = checks.positive_int("n_members", n_members, "pass the number of members, e.g. 5")
    return DeepEnsemble([train_member(profile_or_recipe, i, device=device, progress=progress)
                         for i in range(n_members)])


def main(argv: list[str] | None = None) -> int:
    """Command line: train one member (for job arrays) or all of them."""
    parser = argparse.ArgumentParser(description="train deep-ensemble members into the checkpoint cache")
    parser.add_argument("--profile", default=None, choices=["smoke", "cpu", "gpu"])
    parser.add_argument("--member", type=int, action="append", help="member index (repeatable); default all")
    args = parser.parse_args(argv)
    from ..profiles import get_profile

    profile = get_profile(args.profile)
    for index in args.member if args.member is not None else range(profile.ensemble_size):
        train_member(profile, index)
        print(f"member {index} of profile {profile.name}: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
