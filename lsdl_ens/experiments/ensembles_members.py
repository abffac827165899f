"""Deep-ensemble members of a profile: member i is the standard recipe with seed i, trained through the checkpoint
cache, one at a time by index, so a cluster job array or several GPUs can train them in parallel and a later
`train_deep_ensemble` only reads them:

    python -m lsdl_ens.experiments.ensembles_members --profile gpu --member $SLURM_ARRAY_TASK_ID

The ensemble itself (probabilities averaged) is `lsdl_ens.ensembles.DeepEnsemble`.

Note:
    Member i of a recipe uses seed ``recipe.seed + i`` (of a profile: seed i), so members 0 and 1 of the
    profile are exactly the two standard runs of the first chapter.
"""

from __future__ import annotations

import argparse

from torch import nn

from .. import checks
from ..ensembles.deep_ensemble import DeepEnsemble
from ..profiles import Profile
from ..recipe_types import Recipe
from ..recipes import standard_recipe, train

__all__ = ["member_recipe", "train_member", "train_deep_ensemble"]


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
