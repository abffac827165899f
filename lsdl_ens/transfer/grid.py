"""The SSE / StarSSE hyperparameter grid: cycle max LR and cycle length relative to the fine-tuning recipe.

The reference multiplies the fine-tuning LR by {0.25, 0.5, 1, 2, 4} and the fine-tuning epochs by {0.5, 1, 2, 4}
(isadrtdinov/ens-for-transfer@8984ccc: ``scripts/*/*sse*.py``); our per-profile multipliers are in
`lsdl_ens.transfer.sizes`. Each cell is scored by the accuracy of its full ensemble on the target *validation* set,
and three cells are named as in the paper:

* ``"optimal"``: the best validation ensemble accuracy;
* ``"local"``: the smallest hyperparameters (lowest lr_mult x epoch_mult, then lowest LR);
* ``"semi-local"``: the largest hyperparameters (highest lr_mult x epoch_mult, then highest LR).

Soups are scored separately (`run_soup_grid`): the uniform soup of each cell's members on the validation set. The
paper selects ensembles and soups separately, since soups need linearly connected members and prefer smaller
cycle LRs than ensembles; `select_settings` works on either result.

Deliberate simplification: "local" and "semi-local" are the corners of the grid rather than judged from each
cell's behaviour; the chapter checks their behaviour (interpolation barrier, member accuracy) afterwards.
"""

from __future__ import annotations

from ..profiles import Profile, get_profile
from .analysis import ensemble_curve
from .cycles import cycle_recipes
from .members import labels, member_probs, stack_probs, transfer_finetune_recipe
from .runs import soup_recipe

__all__ = ["grid_settings", "method_recipes", "run_grid", "run_soup_grid", "select_settings"]


def grid_settings(profile: Profile | str | None = None) -> list[tuple[float, float]]:
    """All (lr_mult, epoch_mult) cells of the profile's grid."""
    s = get_profile(profile).transfer
    return [(lr, ep) for lr in s.lr_mults for ep in s.epoch_mults]


def method_recipes(method: str, profile: Profile | str | None = None, setting: tuple[float, float] | None = None,
                   n_members: int | None = None) -> list[dict]:
    """Member recipes of "local_de", "global_de", "sse" or "starsse" (cycle methods need `setting`).

    Default sizes: profile.ensemble_size, except Global DE: the profile's ``transfer.n_global`` (one pre-training per
    member)."""
    from .members import global_de_recipes, local_de_recipes

    p = get_profile(profile)
    n = p.ensemble_size if n_members is None else n_members
    if method == "local_de":
        return local_de_recipes(p, n)
    if method == "global_de":
        return global_de_recipes(p, p.transfer.n_global if n_members is None else n_members)
    if method in ("sse", "starsse"):
        if setting is None:
            raise ValueError(f"method {method!r} needs setting=(lr_mult, epoch_mult)")
        return cycle_recipes(transfer_finetune_recipe(p, backbone_seed=0, seed=0), method, n,
                             lr_mult=setting[0], epoch_mult=setting[1])
    raise ValueError(f"method must be local_de, global_de, sse or starsse; got {method!r}")


def run_grid(method: str, profile: Profile | str | None = None, **kw) -> dict:
    """Train (cached) every grid cell of `method` ("sse" or "starsse") and score it.

    Returns ``{(lr_mult, epoch_mult): {"val_curve", "test_curve", "val_acc", "members_test_acc"}}``: the ensemble
    accuracy vs size on the validation and test sets, the full ensemble's validation accuracy, and each member's
    test accuracy.
    """
    p = get_profile(profile)
    y = labels(p)
    out = {}
    for setting in grid_settings(p):
        recipes = method_recipes(method, p, setting)
        val, test = stack_probs(recipes, p, "val", **kw), stack_probs(recipes, p, "test", **kw)
        val_curve, test_curve = ensemble_curve(val, y["val"]), ensemble_curve(test, y["test"])
        out[setting] = {"val_curve": val_curve, "test_curve": test_curve, "val_acc": val_curve[-1],
                        "members_test_acc": [float((t.argmax(-1) == y["test"]).double().mean()) for t in test]}
    return out


def run_soup_grid(method: str, profile: Profile | str | None = None, **kw) -> dict:
    """Uniform soups (BN recomputed, `soup_recipe`) of every grid cell of `method` ("sse" or "starsse"), cached.

    Returns ``{(lr_mult, epoch_mult): {"val_acc", "test_acc"}}``: the soup's accuracy on the target validation and
    test sets (select with `select_settings`, which reads "val_acc").
    """
    p = get_profile(profile)
    y = labels(p)
    out = {}
    for setting in grid_settings(p):
        probs = member_probs(soup_recipe(method_recipes(method, p, setting)), p, **kw)
        out[setting] = {k + "_acc": float((probs[k].argmax(-1) == y[k]).double().mean()) for k in ("val", "test")}
    return out


def select_settings(results: dict) -> dict:
    """``{"local", "optimal", "semi-local"}`` -> (lr_mult, epoch_mult) from `run_grid` or `run_soup_grid` results
    (see module doc)."""
    if not results:
        raise ValueError("results is empty; run run_grid first")
    cells = list(results)
    return {"local": min(cells, key=lambda c: (c[0] * c[1], c[0])),
            "optimal": max(cells, key=lambda c: (results[c]["val_acc"], -c[0] * c[1])),
            "semi-local": max(cells, key=lambda c: (c[0] * c[1], c[0]))}
