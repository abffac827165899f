"""Checks of `lsdl_ens.train.fit`'s arguments before training, of the learning rate at every step, and of the
weights after the last step: bad input fails at the call with a message naming the argument, the value and the fix.

Core module (imports only core modules); `fit` calls these, nothing else needs them.
"""

from __future__ import annotations

import math
import numbers

import torch

from . import checks
from .data import ImageSet

PRECISIONS = checks.PRECISIONS
_LR_FIX = "pass a positive learning rate such as 0.05"
_HOOKS = ("on_train_begin", "on_step_end", "on_epoch_end", "on_train_end")


def scheduled_lr(schedule, step) -> float:
    """The schedule's learning rate at ``step``, refused unless it is a finite number >= 0."""
    lr = schedule(step)
    value = lr.item() if isinstance(lr, torch.Tensor) and lr.numel() == 1 else lr
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"lr_schedule returned {lr!r} at epoch {step.epoch}, batch {step.batch} (iteration "
                         f"{step.iteration}); a learning rate must be a finite number >= 0: {_LR_FIX}")
    return float(value)


def check_finite_loss(loss_sum: float, epoch: int, batch: int, log_every: int) -> None:
    """At each loss read-back (every `log_every` steps): a NaN/inf loss stops training, naming the batches."""
    if not math.isfinite(loss_sum):
        first = batch - (batch % log_every)
        raise FloatingPointError(f"training loss became {loss_sum} in epoch {epoch}, batches {first}-{batch}; "
                                 "lower the learning rate and check the inputs for NaN/inf")


def check_finite_weights(model, epochs: int) -> None:
    """After training: NaN/inf weights (e.g. a huge learning rate on one batch) stop here, naming the tensor."""
    params = list(model.named_parameters())
    if not params or bool(torch.stack([torch.isfinite(p).all() for _, p in params]).all()):  # one device sync
        return
    for name, p in params:
        if not torch.isfinite(p).all():
            raise FloatingPointError(f"parameter {name!r} holds NaN/inf after {epochs} epoch(s) of training; lower "
                                     "the learning rate and check the inputs for NaN/inf")


def _data_labels(data):
    """The labels of an ``ImageSet`` or of the one a ``BatchLoader`` reads, else None."""
    if isinstance(data, ImageSet):
        return data.labels
    inner = getattr(data, "data", None)
    return inner.labels if isinstance(inner, ImageSet) else None


def check_fit_arguments(model, data, epochs, lr_schedule, weight_decay, callbacks, seed, batch_size,
                        label_smoothing, train_step, eval_data, device, log_every, precision) -> None:
    """Every argument of ``fit`` that can be checked before training (see ``fit``'s Raises section)."""
    checks.module("model", model)
    checks.device("device", device)
    checks.positive_int("log_every", log_every, "pass how many steps between loss checks, e.g. 50")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if precision != "fp32" and train_step is not None:
        raise ValueError(f"precision={precision!r} applies to the default train step; a custom train_step "
                         "handles its own autocast")
    checks.nonneg_int("epochs", epochs, "pass the number of passes over the data, e.g. 10")
    checks.positive_int("batch_size", batch_size, "pass a whole number such as 128")
    checks.nonneg_int("seed", seed)
    if not callable(lr_schedule):
        checks.nonneg_float("lr_schedule", lr_schedule, _LR_FIX + ", or a function step -> lr")
    checks.nonneg_float("weight_decay", weight_decay, "pass 0 or a small value such as 5e-4")
    checks.number("label_smoothing", label_smoothing, low=0.0, high=1.0, high_open=True,
                  fix="pass 0 (none) or a small value such as 0.1")
    if train_step is not None:
        checks.callable_("train_step", train_step, "pass a function (model, batch, optimizer, step) -> "
                                                   "(loss, n_correct, n), or None")
    if any(hasattr(callbacks, hook) for hook in _HOOKS) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be a list of Callback objects, got {type(callbacks).__name__}; wrap a "
                        "single one in a list: callbacks=[cb]")
    for i, cb in enumerate(callbacks):
        missing = [hook for hook in _HOOKS if not callable(getattr(cb, hook, None))]
        if missing:
            raise TypeError(f"callbacks[{i}] must be a lsdl_ens.train.Callback (subclass it), got "
                            f"{type(cb).__name__} without {', '.join(missing)}")
    n_classes = checks.num_classes_of(model)
    if n_classes is not None and train_step is None:
        for name, d in (("data", data), ("eval_data", eval_data)):
            labels = _data_labels(d)
            if labels is not None and labels.numel():
                checks.labels_in_range(f"{name}.labels", labels, n_classes,
                                       f"the model's head has {n_classes} outputs: build it with num_classes="
                                       f"{int(labels.max()) + 1} or remap the labels")
