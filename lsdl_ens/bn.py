"""Recompute BatchNorm running statistics for a given set of weights.

Any network whose weights did not come out of its own training run (an SWA average, a soup, a point on a curve or
a line between two nets, a SWAG sample) carries running means/variances that belong to *other* weights. Before it
is evaluated, its BN statistics must be re-estimated from training batches: ``update_bn`` does that with the
semantics of ``torch.optim.swa_utils.update_bn``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from . import checks
from .data import ImageSet, as_loader
from .models import model_device

__all__ = ["has_bn", "update_bn"]

_BatchNorm = nn.modules.batchnorm._BatchNorm


def has_bn(model: nn.Module) -> bool:
    """True if ``model`` contains a BatchNorm layer (BatchNorm1d/2d/3d, SyncBatchNorm, lazy variants)."""
    return any(isinstance(m, _BatchNorm) for m in model.modules())


@torch.no_grad()
def update_bn(model: nn.Module, batches: Iterable, device=None, num_batches: int | None = None,
              forward_fn: Callable[[nn.Module, torch.Tensor], Any] | None = None) -> None:
    """Re-estimate every BN layer's running mean and variance as a cumulative average over ``batches``.

    Formula: after K batches, running_mean = (1/K) sum_k mean_k and running_var = (1/K) sum_k var_k (unbiased
    per-batch variance), i.e. ``momentum=None`` in PyTorch; every batch counts equally.

    Steps: reset the running statistics (``num_batches_tracked`` too), set ``momentum=None``, forward each batch
    in train mode under ``no_grad``, then restore each BN's momentum and the train/eval flag of every submodule.
    Does nothing (and reads no batch) if the model has no BN.

    References:
        Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018,
        https://arxiv.org/abs/1803.05407. Reference implementation: pytorch/pytorch@03481fc:
        torch/optim/swa_utils.py (``update_bn``); timgaripov/swa@411b2fc: utils.py (``bn_update``).

    Args:
        model: the network, updated in place.
        batches: an iterable of ``(x, y, ...)`` tuples/lists (the first element is the input) or of bare input
            tensors, e.g. an (augmented) training ``BatchLoader``. An ``ImageSet`` is batched unaugmented, 128 at a
            time.
        device: where inputs are moved; default the device of the model's parameters.
        num_batches: use only the first ``num_batches`` batches (default: all).
        forward_fn: ``forward_fn(model, x)`` replaces ``model(x)`` (e.g. a curve model at a fixed t).

    Raises:
        ValueError: ``batches`` yields nothing (the old statistics are then put back), or ``num_batches < 1``.

    Note:
        Deviations from ``torch.optim.swa_utils.update_bn``: inputs go to the model's device by default (torch
        leaves them where they are); each submodule's own train/eval flag is restored (torch calls
        ``model.train(was_training)``, which overwrites per-module flags); ``num_batches`` and ``forward_fn``
        are extras. The reference repo weights examples equally (momentum b / (n + b)); with a short last
        batch the two differ slightly.
    """
    checks.module("model", model, "pass the model itself; load a state first with model.load_state_dict(state)")
    if num_batches is not None:
        checks.integer("num_batches", num_batches, fix="pass None (all batches) or a count >= 1")
    if num_batches is not None and num_batches < 1:
        raise ValueError(f"num_batches must be >= 1 or None; got {num_batches}")
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not bns:
        return
    if isinstance(batches, ImageSet):
        batches = as_loader(batches, batch_size=128)
    device = model_device(model, device)
    saved = [{k: v.clone() for k, v in bn.state_dict().items()} for bn in bns]
    momenta = [bn.momentum for bn in bns]
    modes = [(m, m.training) for m in model.modules()]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    seen = 0
    try:
        for batch in batches:
            if num_batches is not None and seen >= num_batches:
                break
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            x = x.to(device)
            if forward_fn is None:
                model(x)
            else:
                forward_fn(model, x)
            seen += 1
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        for module, training in modes:
            module.training = training
    if seen == 0:
        for bn, state in zip(bns, saved):
            bn.load_state_dict(state)
        raise ValueError("batches yielded no batch; BN statistics were left unchanged")
