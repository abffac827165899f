"""Weight averaging: the SWA collector (and its cyclical learning rate), width along random rays and the SGD-SWA
line, WiSE-FT interpolation (soups themselves: ``lsdl_ens.soups``). The cached runs of the weight-averaging chapter
(SWA runs, the fine-tuning sweep that provides soup ingredients) are in ``lsdl_ens.experiments.weight_averaging``."""

from .cyclic_swa import cyclic_swa_lr
from .swa import SWACollector, swa_model
from .width import random_directions, random_ray_width, sgd_swa_line
from .wise_ft import wise_ft, wise_ft_sweep

__all__ = [
    "SWACollector", "swa_model", "cyclic_swa_lr",
    "random_directions", "random_ray_width", "sgd_swa_line", "wise_ft", "wise_ft_sweep",
]
