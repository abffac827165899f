"""Weight averaging: SWA (collector, cached runs), width along random rays and the SGD-SWA line, WiSE-FT
interpolation, and the fine-tuning sweep that provides soup ingredients (soups themselves: ``lsdl_ens.soups``)."""

from .finetune_sweep import Ingredient, finetune_sweep, linear_probe_state, sweep_configs
from .swa import SWACollector, swa_model, swa_recipe, train_swa
from .width import random_directions, random_ray_width, sgd_swa_line
from .wise_ft import wise_ft, wise_ft_sweep

__all__ = [
    "SWACollector", "swa_model", "swa_recipe", "train_swa",
    "random_directions", "random_ray_width", "sgd_swa_line", "wise_ft", "wise_ft_sweep",
    "Ingredient", "finetune_sweep", "linear_probe_state", "sweep_configs",
]
