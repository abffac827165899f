"""Evaluate a network at a point of weight space: load a state dict, recompute BatchNorm statistics, measure.

A point is any set of weights that did not come out of its own training run: a step on a line between two
networks, a t on a curve, a cell of a plane, a ray from a solution, a soup. Its BN running statistics belong to
other weights, so every point is evaluated the same way:

    load the state into a template model -> ``lsdl_ens.bn.update_bn`` on training batches (if the model has BN)
    -> mean cross-entropy and error rate (or accuracy) on held-out data.

Data are replayed identically at every point (``replayable``), so differences between points come from the
weights alone. ``preserved`` puts the template's state back when a sweep ends.

Entry points: ``evaluate_point`` (the loss/error dict of one state), ``evaluate_states`` (a sweep over many states,
e.g. a line or a ray) and ``state_evaluator`` (an ``evaluate(state) -> float`` for selection loops such as
``lsdl_ens.soups.greedy_soup``). Loss is the mean cross-entropy (natural log), error the fraction misclassified.

References: Garipov et al., "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs", NeurIPS 2018
(BN statistics recomputed at every point of a curve or plane); Izmailov et al., UAI 2018 (the same for SWA's
average); Wortsman et al., ICML 2022 (held-out scores of soups). Nothing here recomputes BN unless given
training batches: a BN model without them is refused (``check_bn_data``), never evaluated with stale buffers.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import checks
from .bn import has_bn, update_bn
from .data import BatchLoader, ImageSet
from .models import model_device
from .state import StateDict
from .train import evaluate as evaluate_model
from .train import progress_enabled

__all__ = ["Batches", "replayable", "check_bn_data", "loss_and_error", "evaluate_point", "evaluate_states",
           "stack_results", "preserved", "state_evaluator"]

#: a zero-argument function returning a fresh iterator over the same (x, y) batches each time
Batches = Callable[[], Iterator]


def replayable(data, name: str, batch_size: int = 512) -> Batches | None:
    """A zero-argument function returning a fresh iterator over the same batches each time (None for None).

    An ``ImageSet`` is batched unaugmented in order (``batch_size`` at a time); a ``BatchLoader`` is replayed at its
    epoch 0 (so with augmentation every point sees the same augmented batches); a list or other re-iterable is
    iterated again.

    Raises:
        ValueError: ``data`` is not iterable, or is a one-shot iterator (a generator), naming ``name``.
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


def check_bn_data(model: nn.Module, bn_data, recompute_bn: bool = True) -> bool:
    """Whether BN must be recomputed at every point (``recompute_bn`` and the model has BN).

    Raises:
        ValueError: it must, but no ``bn_data`` was given.
    """
    if not recompute_bn or not has_bn(model):
        return False
    if bn_data is None:
        raise ValueError("the model has BatchNorm: pass bn_data (training batches) so BN statistics can be "
                         "recomputed at every point (or recompute_bn=False to keep the loaded buffers)")
    return True


@torch.no_grad()
def loss_and_error(model: nn.Module, batches: Iterator, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy (natural log) and error rate of ``model`` in eval mode over ``batches``.

    Summed on the device in float64 and read back once; the model's train/eval flag is restored.

    Raises:
        ValueError: ``batches`` yields no batch.
    """
    was_training = model.training
    model.eval()
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


def evaluate_point(model: nn.Module, state: dict, eval_batches: Batches, *, bn_batches: Batches | None = None,
                   train_batches: Batches | None = None, device: torch.device) -> dict:
    """Load ``state`` into ``model``, recompute BN on ``bn_batches`` if given, and return
    ``{"loss", "error"}`` on ``eval_batches`` (plus ``"train_loss", "train_error"`` on ``train_batches``).

    ``model`` is overwritten: wrap a sweep in ``preserved(model)``. The ``*_batches`` come from ``replayable``.
    """
    model.load_state_dict(state)
    if bn_batches is not None:
        update_bn(model, bn_batches(), device=device)
    out = dict(zip(("loss", "error"), loss_and_error(model, eval_batches(), device)))
    if train_batches is not None:
        out.update(zip(("train_loss", "train_error"), loss_and_error(model, train_batches(), device)))
    return out


def evaluate_states(model: nn.Module, states: Iterable[dict], eval_data, *, bn_data=None, train_data=None,
                    recompute_bn: bool = True, device=None, progress: bool | None = None, desc: str = "points",
                    total: int | None = None) -> dict:
    """``evaluate_point`` at each of ``states`` in turn, with the same data at every point.

    Args:
        model: a template of the architecture; its state and train/eval flags are restored on return.
        states: the points (state dicts; may be a generator, read once).
        eval_data, train_data: ``ImageSet``, ``BatchLoader`` (replayed at epoch 0) or list of ``(x, y)`` batches;
            ``train_data`` (optional) adds ``train_loss`` / ``train_error``.
        bn_data: training batches for the BN recompute (an ``ImageSet`` is batched 128 at a time); required when
            the model has BN, unless ``recompute_bn=False`` (keep the loaded running statistics).
        device: default the model's device.
        progress, desc, total: the tqdm bar (default on unless ``LSDL_PROGRESS=0``).

    Returns:
        ``{"loss", "error"[, "train_loss", "train_error"]}``: numpy float64 arrays, one entry per state.

    Raises:
        ValueError: a BN model without ``bn_data``, one-shot data, or no state at all.
    """
    recompute = check_bn_data(model, bn_data, recompute_bn)
    device = model_device(model, device)
    eval_batches = replayable(eval_data, "eval_data")
    bn_batches = replayable(bn_data, "bn_data", batch_size=128) if recompute else None
    train_batches = replayable(train_data, "train_data")
    rows = []
    with preserved(model):
        for state in tqdm(states, desc=desc, total=total, disable=not progress_enabled(progress), leave=False):
            rows.append(evaluate_point(model, state, eval_batches, bn_batches=bn_batches,
                                       train_batches=train_batches, device=device))
    if not rows:
        raise ValueError("states is empty; pass at least one state dict to evaluate")
    return stack_results(rows)


def stack_results(rows: list[dict]) -> dict:
    """[{metric: value}, ...] -> {metric: np.ndarray (float64)}, one entry per point."""
    return {key: np.array([row[key] for row in rows], dtype=np.float64) for key in rows[0]}


@contextlib.contextmanager
def preserved(model: nn.Module):
    """Put ``model``'s state and every submodule's train/eval flag back when the block ends (a sweep of
    ``evaluate_point`` overwrites them)."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield model
    finally:
        model.load_state_dict(saved)
        for module, training in modes:
            module.training = training


def state_evaluator(model: nn.Module, eval_data, *, bn_data=None, num_bn_batches: int | None = None,
                    metric: str = "accuracy", device=None) -> Callable[[StateDict], float]:
    """An ``evaluate(state) -> float`` for ``greedy_soup`` and ``wise_ft_sweep``: load the state into a copy of
    ``model``, recompute BN statistics on ``bn_data`` (``lsdl_ens.bn.update_bn``; the same batches every call),
    and return the accuracy (``metric="accuracy"``) or minus the mean cross-entropy (``"neg_loss"``) on
    ``eval_data`` (``lsdl_ens.train.evaluate``).

    Args:
        model: a template of the architecture (not modified).
        eval_data: held-out ``ImageSet`` or unshuffled loader.
        bn_data: training ``ImageSet`` (batched 128 at a time, unaugmented), ``BatchLoader`` (replayed at epoch 0)
            or list of batches; required when the model has BN.
        num_bn_batches: use only this many BN batches (default all).
        device: where the copy of ``model`` lives (default: where ``model`` is).

    Raises:
        TypeError: ``model`` is not a module (e.g. a state dict).
        ValueError: bad ``metric`` or ``num_bn_batches``; a BN model without ``bn_data``; one-shot ``bn_data``.
    """
    if metric not in ("accuracy", "neg_loss"):
        raise ValueError(f"metric must be 'accuracy' or 'neg_loss'; got {metric!r}")
    checks.module("model", model, "pass a template model of the architecture; states are loaded into a copy")
    if num_bn_batches is not None:
        checks.positive_int("num_bn_batches", num_bn_batches, "pass None (all batches) or a count >= 1")
    template = copy.deepcopy(model)
    if device is not None:
        template.to(device)
    if has_bn(template) and bn_data is None:
        raise ValueError("the model has BatchNorm: pass bn_data (training batches) so BN statistics of each "
                         "averaged state can be recomputed")
    batches = replayable(bn_data, "bn_data", batch_size=128) if has_bn(template) else None

    def evaluate(state: StateDict) -> float:
        template.load_state_dict(state)
        if batches is not None:
            update_bn(template, batches(), num_batches=num_bn_batches)
        result = evaluate_model(template, eval_data)
        return result["accuracy"] if metric == "accuracy" else -result["loss"]

    return evaluate
