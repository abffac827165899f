"""Shared machinery of the landscape tools: replayable data, loss/error of a state, BN recompute, restoring a model.

Every landscape point (a step on a line, a t on a curve, a cell of a plane) is evaluated the same way: load the
state into a template model, recompute BN statistics on training batches if the model has BN, then measure the
mean cross-entropy and the error rate. Data are replayed identically at every point, so differences between
points come from the weights alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..bn import has_bn, update_bn
from ..data import BatchLoader, ImageSet

__all__ = ["Batches", "replayable", "check_bn_data", "model_device", "loss_and_error", "evaluate_point",
           "stack_results", "preserved"]

Batches = Callable[[], Iterator]


def replayable(data, name: str, batch_size: int = 512) -> Batches | None:
    """A zero-argument function returning a fresh iterator over the same batches each time.

    An ``ImageSet`` is batched unaugmented in order; a ``BatchLoader`` is replayed at its epoch 0 (so with
    augmentation every point sees the same augmented batches); a list or other re-iterable is iterated again.
    """
    if data is None:
        return None
    if isinstance(data, ImageSet):
        loader = BatchLoader(data, batch_size, shuffle=False, augment=False)
        return lambda: loader.iterate(epoch=0)
    if isinstance(data, BatchLoader):
        return lambda: data.iterate(epoch=0)
    try:
        one_shot = iter(data) is data
    except TypeError as exc:
        raise ValueError(f"{name} must be an ImageSet, a BatchLoader or a list of (x, y) batches; "
                         f"got {type(data).__name__}") from exc
    if one_shot:
        raise ValueError(f"{name} is a one-shot iterator (e.g. a generator) but is read once per point; pass a "
                         "list of (x, y) batches, an ImageSet or a BatchLoader")
    return lambda: iter(data)


def check_bn_data(model: nn.Module, bn_data, recompute_bn: bool) -> bool:
    """Whether BN must be recomputed at every point; raises if it must but no ``bn_data`` was given."""
    if not recompute_bn or not has_bn(model):
        return False
    if bn_data is None:
        raise ValueError("the model has BatchNorm: pass bn_data (training batches) so BN statistics can be "
                         "recomputed at every point (or recompute_bn=False to keep the loaded buffers)")
    return True


def model_device(model: nn.Module, device=None) -> torch.device:
    if device is not None:
        return torch.device(device)
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def loss_and_error(model: nn.Module, batches: Iterator, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy (natural log) and error rate of ``model`` in eval mode over ``batches``."""
    was_training = model.training
    model.eval()
    # summed on the device in float64 (as Python floats would be), read back once
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    wrong = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for batch in batches:
        x, y = batch[0].to(device), batch[1].to(device)
        logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
        wrong += (logits.argmax(1) != y).sum()
        seen += len(y)
    model.train(was_training)
    if seen == 0:
        raise ValueError("the evaluation data yielded no batch")
    return float(loss_sum) / seen, int(wrong) / seen


def evaluate_point(model: nn.Module, state: dict, eval_batches: Batches, *, bn_batches: Batches | None,
                   train_batches: Batches | None, device: torch.device) -> dict:
    """Load ``state`` into ``model``, recompute BN on ``bn_batches`` if given, return loss/error (and train_*)."""
    model.load_state_dict(state)
    if bn_batches is not None:
        update_bn(model, bn_batches(), device=device)
    out = dict(zip(("loss", "error"), loss_and_error(model, eval_batches(), device)))
    if train_batches is not None:
        out.update(zip(("train_loss", "train_error"), loss_and_error(model, train_batches(), device)))
    return out


def stack_results(rows: list[dict]) -> dict:
    """[{metric: value}, ...] -> {metric: np.ndarray}."""
    return {key: np.array([row[key] for row in rows], dtype=np.float64) for key in rows[0]}


@contextlib.contextmanager
def preserved(model: nn.Module):
    """Put ``model``'s state and train/eval flags back when the block ends (the landscape tools overwrite them)."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield model
    finally:
        model.load_state_dict(saved)
        for module, training in modes:
            module.training = training
