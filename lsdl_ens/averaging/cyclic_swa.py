"""SWA with a cyclical learning rate: the schedule (the cached run is in `lsdl_ens.experiments.weight_averaging`).

Cyclical schedule (Izmailov et al. 2018, eq. 2): within each cycle of ``c`` iterations
alpha(i) = (1 - t(i)) alpha_1 + t(i) alpha_2 with t(i) = (mod(i - 1, c) + 1) / c, so the rate falls linearly from
alpha_1 to alpha_2 and the iterate is averaged at the end of each cycle, where the rate is alpha_2. Before the first
cycle the rate follows `lsdl_ens.schedules.swa_lr` (constant, then a linear ramp) down to alpha_1.

The SWA talk's picture: on the plane through three iterates, the iterates of SGD with
a constant or a cyclical rate stay near the border of the low-error region and their average lies inside it
(`lsdl_ens.landscape.trajectory_plane` draws that plane from the iterates of an SWA run).

References:
    Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018, eq. 2,
    Fig. 2, https://arxiv.org/abs/1803.05407; timgaripov/swa@411b2fc: train.py (averaging at epoch ends).

Deliberate deviation: one cycle is one epoch (the reference averages at epoch ends; the paper's cycle lengths are
in iterations).
"""

from __future__ import annotations

from ..schedules import swa_lr
from ..train import TrainStep

__all__ = ["cyclic_swa_lr"]


def cyclic_swa_lr(step: TrainStep, lr_init: float, lr_1: float, lr_2: float, swa_start: int) -> float:
    """The cyclical SWA rate at ``step``: one cycle per epoch from epoch ``swa_start`` (1-based, the first averaged
    epoch) on, falling linearly from ``lr_1`` to ``lr_2`` (reached at the epoch's last iteration); before it,
    ``swa_lr(epoch, lr_init, lr_1, swa_start - 1)`` (``lr_1`` throughout when ``swa_start`` is 1)."""
    first = swa_start - 1  # 0-based epoch of the first cycle
    if step.epoch < first:
        return swa_lr(step.epoch_float, lr_init, lr_1, first)
    t = (step.batch + 1) / step.iterations_per_epoch
    return (1 - t) * lr_1 + t * lr_2
