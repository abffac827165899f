"""Input checks shared by the metrics: probabilities, logits, label vectors and lists of ensemble members.

Each function returns its input as a CPU tensor (float64 for scores, int64 for labels) or raises at the call:
``TypeError`` for a value of the wrong kind (not a tensor, labels that are not integers, an integer ``probs``),
``ValueError`` for the right kind with a bad value (wrong shape, empty, rows that are not probabilities,
labels outside [0, C), one label per example not met). Messages name the argument and say how to fix it; the
scalar checks come from ``lsdl_ens.checks``.
"""

import torch

from .. import checks

__all__ = ["as_probs", "as_labels", "as_logits", "stack_members", "SUM_TOLERANCE"]

#: rows of ``probs`` may miss 1 by at most this much (float32 softmax outputs do)
SUM_TOLERANCE = 1e-3

_NOT_A_CLASS = "a label of -1 (e.g. 'unlabelled') is not a class: drop those examples first"


def as_labels(labels, n=None, n_classes=None, name="labels"):
    """``labels`` as a 1-D int64 CPU vector of ``n`` class indices in [0, n_classes) (``None`` skips a check)."""
    t = checks.tensor(name, labels, dim=1)
    integral = not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)
    hint = _NOT_A_CLASS if integral and t.numel() and int(t.min()) < 0 else None
    t = checks.labels_in_range(name, t, n_classes, hint)
    if t.numel() == 0:
        raise ValueError(f"{name} is empty; pass at least one example")
    if n is not None and t.numel() != n:
        raise ValueError(f"{name} has {t.numel()} entries, expected {n} (one per example)")
    return t.detach().cpu()


def as_probs(probs, labels=None, name="probs"):
    """``probs`` (N x C probabilities) as float64 and, if given, ``labels`` checked against N and C.

    Returns:
        (probs, labels), labels None when not given.
    """
    t = checks.tensor(name, probs, dim=2, floating=True)
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one example and class")
    t = t.detach().cpu().double()
    row_sums = t.sum(dim=1)
    if not torch.isfinite(t).all() or (t < 0).any() or ((row_sums - 1).abs() > SUM_TOLERANCE).any():
        raise ValueError(f"{name} rows must be probabilities (non-negative, summing to 1 within "
                         f"{SUM_TOLERANCE}); if you have logits, apply softmax first (logits.softmax(dim=1))")
    if labels is None:
        return t, None
    return t, as_labels(labels, t.shape[0], t.shape[1])


def as_logits(logits, labels, name="logits"):
    """``logits`` (N x C, finite) as float64 and ``labels`` checked against N and C."""
    t = checks.tensor(name, logits, dim=2, floating=True)
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one example and class")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (no nan/inf); clamp log-probabilities first, "
                         f"e.g. {name}.clamp_min(math.log(1e-12)) as nll's eps does")
    t = t.detach().cpu().double()
    return t, as_labels(labels, t.shape[0], t.shape[1])


def stack_members(members, name):
    """A non-empty list of M floating (N, C) tensors of one shape, stacked into an M x N x C CPU tensor."""
    items = checks.non_empty(name, members, "pass a list of (N, C) tensors, one per member")
    tensors = [checks.tensor(f"{name}[{i}]", m, floating=True).detach().cpu() for i, m in enumerate(items)]
    for i, t in enumerate(tensors):
        if t.dim() != 2 or t.shape != tensors[0].shape:
            raise ValueError(f"{name}[{i}] has shape {tuple(t.shape)}; all members must share one (N, C) shape")
    return torch.stack(tensors)
