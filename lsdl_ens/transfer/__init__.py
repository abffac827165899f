"""Ensembles in transfer learning (algorithms): SSE and StarSSE cycles from a fine-tuned model, uniform soups of
members, the choice of cycle hyperparameters on a grid, ensemble curves, diversity and accuracy under corruption.

| name | module |
|---|---|
| `cycle_lr`, `cycle_schedule`, `run_cycles`, `cycle_recipes`, `CYCLE_METHODS` | `cycles.py` |
| `Cycle`, `CycleMemberRecipe`, `SoupRecipe`, `first_of` (typed member recipes) | `member_recipes.py` |
| `backbone_of`, `pretrain_cost` | `members.py` |
| `soup_recipe`, `base_recipe`, `bn_loader`, `soup_model` | `soups.py` |
| `grid_corners`, `select_settings` | `grid.py` |
| `ensemble_curve`, `member_diversity`, `ood_accuracy` | `analysis.py` |

The chapter's cached runs (profile-sized recipes, trained members, predictions, paths and planes between members)
are in `lsdl_ens.experiments.transfer`.

Reference: Sadrtdinov, Pozdeev, Vetrov, Lobacheva, "To Stay or Not to Stay in the Pre-train Basin: Insights on
Ensembling in Transfer Learning", NeurIPS 2023, https://arxiv.org/abs/2303.03374;
isadrtdinov/ens-for-transfer@8984ccc.
"""

from .analysis import ensemble_curve, member_diversity, ood_accuracy
from .cycles import CYCLE_METHODS, cycle_lr, cycle_recipes, cycle_schedule, run_cycles
from .grid import grid_corners, select_settings
from .member_recipes import Cycle, CycleMemberRecipe, SoupRecipe, first_of
from .members import backbone_of, pretrain_cost
from .soups import base_recipe, bn_loader, soup_model, soup_recipe

__all__ = [
    "CYCLE_METHODS", "cycle_lr", "cycle_schedule", "run_cycles", "cycle_recipes",
    "Cycle", "CycleMemberRecipe", "SoupRecipe", "first_of",
    "backbone_of", "pretrain_cost",
    "soup_recipe", "base_recipe", "bn_loader", "soup_model",
    "grid_corners", "select_settings",
    "ensemble_curve", "member_diversity", "ood_accuracy",
]
