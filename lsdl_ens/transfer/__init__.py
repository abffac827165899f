"""Ensembles in transfer learning: Local vs Global Deep Ensembles, SSE and StarSSE from a fine-tuned model, their
soups, the cycle hyperparameter grid, interpolation between members and OOD evaluation.

| name | module |
|---|---|
| `transfer_finetune_recipe`, `local_de_recipes`, `global_de_recipes`, `backbone_of`, `member_probs`,
  `pretrain_cost` | `members.py` |
| `cycle_lr`, `cycle_schedule`, `run_cycles`, `cycle_recipes` | `cycles.py` |
| `train_cycle_member`, `load_member`, `member_histories`, `soup_recipe`, `load_soup`, `bn_loader`, `base_recipe` |
  `runs.py` |
| `grid_settings`, `method_recipes`, `run_grid`, `run_soup_grid`, `select_settings` | `grid.py` |
| `ensemble_curve`, `member_diversity`, `barrier_of`, `consecutive_paths`, `member_plane` | `analysis.py` |
| `SEVERITIES`, `ood_sets`, `ood_probs`, `ood_accuracy` | `ood.py` |
| `Cycle`, `CycleMemberRecipe`, `SoupRecipe` (typed member recipes) | `member_recipes.py` |

The chapter's sizes are the profile's ``transfer`` section (`lsdl_ens.profiles.sections.TransferSizes`).

Reference: Sadrtdinov, Pozdeev, Vetrov, Lobacheva, "To Stay or Not to Stay in the Pre-train Basin: Insights on
Ensembling in Transfer Learning", NeurIPS 2023, https://arxiv.org/abs/2303.03374;
isadrtdinov/ens-for-transfer@8984ccc.
"""

from .analysis import barrier_of, consecutive_paths, ensemble_curve, member_diversity, member_plane
from .cycles import CYCLE_METHODS, cycle_lr, cycle_recipes, cycle_schedule, run_cycles
from .grid import grid_settings, method_recipes, run_grid, run_soup_grid, select_settings
from .member_recipes import Cycle, CycleMemberRecipe, SoupRecipe
from .members import (backbone_of, global_de_recipes, labels, local_de_recipes, member_probs, pretrain_cost,
                      stack_probs, transfer_finetune_recipe)
from .ood import SEVERITIES, ood_accuracy, ood_labels, ood_probs, ood_sets
from .runs import base_recipe, bn_loader, load_member, load_soup, member_histories, soup_recipe, train_cycle_member

__all__ = [
    "transfer_finetune_recipe", "local_de_recipes", "global_de_recipes", "backbone_of", "member_probs", "stack_probs",
    "labels", "pretrain_cost",
    "Cycle", "CycleMemberRecipe", "SoupRecipe",
    "CYCLE_METHODS", "cycle_lr", "cycle_schedule", "run_cycles", "cycle_recipes", "train_cycle_member",
    "load_member", "member_histories", "bn_loader", "base_recipe",
    "grid_settings", "method_recipes", "run_grid", "run_soup_grid", "select_settings",
    "ensemble_curve", "member_diversity", "barrier_of", "soup_recipe", "load_soup", "consecutive_paths", "member_plane",
    "SEVERITIES", "ood_sets", "ood_probs", "ood_accuracy", "ood_labels",
]
