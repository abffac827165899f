"""Predictions and evaluation of one model or a list of models: `predict_logits`, `predict_probs`, `evaluate`.

One pass over `data` in eval mode (restoring the model's train/eval mode afterwards), results on the CPU. An
ensemble's prediction is the mean of its members' probabilities (Lakshminarayanan et al., NeurIPS 2017); its
`loss` is the NLL of that mean, not the mean of the members' losses. All three are also importable
from `lsdl_ens.train`.
"""

from __future__ import annotations

import torch

from . import checks
from .data import BatchLoader, as_loader
from .metrics import accuracy, nll

__all__ = ["predict_logits", "predict_probs", "evaluate"]


@torch.no_grad()
def _logits_and_labels(model, data, device, batch_size) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pass in eval mode: logits [N, C] on CPU and the labels of the same batches (None if unlabelled)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    loader = as_loader(data, batch_size, device)
    was_training = model.training
    model.eval()
    logits, labels = [], []
    for batch in loader:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        logits.append(model(x.to(device)).float().cpu())
        if isinstance(batch, (list, tuple)) and len(batch) > 1:
            labels.append(batch[1].cpu())
    model.train(was_training)
    if not logits:
        raise ValueError("data yielded no batches")
    return torch.cat(logits), (torch.cat(labels) if labels else None)


def predict_logits(models, data, *, device=None, batch_size: int = 512) -> torch.Tensor:
    """Logits of one model [N, C], or of a list of models [M, N, C], on `data` (eval mode, CPU result).

    `data` is an `ImageSet`, a loader, or any iterable of `(x, y)` / `x` batches (not augmented). A shuffled
    loader gives a different order on each pass: use an `ImageSet` or an unshuffled loader for several models.
    """
    checks.positive_int("batch_size", batch_size, "pass a whole number such as 512")
    checks.device("device", device)
    if isinstance(models, (list, tuple)):
        if not models:
            raise ValueError("models is an empty list; pass at least one model")
        for i, m in enumerate(models):
            checks.module(f"models[{i}]", m)
        return torch.stack([predict_logits(m, data, device=device, batch_size=batch_size) for m in models])
    checks.module("models", models, "pass a model or a list of models")
    return _logits_and_labels(models, data, device, batch_size)[0]


def predict_probs(models, data, **kw) -> torch.Tensor:
    """Softmax probabilities of one model [N, C] or a list [M, N, C] (see `predict_logits`)."""
    return predict_logits(models, data, **kw).softmax(-1)


def evaluate(model_or_models, data, *, device=None, batch_size: int = 512) -> dict:
    """Mean cross-entropy `loss` (= NLL), `accuracy` and `error` of a model, or of the probability-averaged
    ensemble of a list of models, on `data` (labels are taken from the same batches as the predictions)."""
    models = model_or_models if isinstance(model_or_models, (list, tuple)) else [model_or_models]
    if not models:
        raise ValueError("models is an empty list; pass at least one model")
    for i, m in enumerate(models):
        checks.module("model_or_models" if len(models) == 1 else f"model_or_models[{i}]", m,
                      "pass a model or a list of models (load a state dict with model.load_state_dict first)")
    checks.positive_int("batch_size", batch_size, "pass a whole number such as 512")
    checks.device("device", device)
    if isinstance(data, BatchLoader) and data.shuffle and len(models) > 1:
        raise ValueError("data is a shuffled BatchLoader; an ensemble needs the same order for every member: "
                         "pass the ImageSet or an unshuffled loader")
    probs, labels = None, None
    for m in models:
        logits, labels = _logits_and_labels(m, data, device, batch_size)
        p = logits.softmax(-1)
        probs = p if probs is None else probs + p
    if labels is None:
        raise ValueError("data has no labels; evaluate needs (x, y) batches or an ImageSet")
    probs = probs / len(models)
    acc = accuracy(probs, labels)
    return {"loss": nll(probs, labels), "accuracy": acc, "error": 1.0 - acc}
