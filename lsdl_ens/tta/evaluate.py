"""Accuracy of test-time adaptation on given test images, batch by batch (episodic: adapt on a batch, predict it).

The cached runs of chapter 07 (which images, which corruptions, the profile's sizes) are in
`lsdl_ens.experiments.optimizers_tta`.
"""

from __future__ import annotations

import time

import torch

from ..data import CIFAR10_CLASSES

__all__ = ["tta_accuracy", "make_adapter"]


def make_adapter(model, method: str, class_names=CIFAR10_CLASSES, **kw):
    """None for "none" (zero-shot), `TENT` for "tent", else `WATT(mode=method)` for sequential / parallel /
    text / output."""
    from .tent import TENT
    from .watt import WATT

    if method == "none":
        return None
    if method == "tent":
        return TENT(model, class_names, **kw)
    return WATT(model, class_names, mode=method, **kw)


def tta_accuracy(model, adapter, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 128) -> dict:
    """Adapt-then-predict batch by batch (a last batch of 1 image joins the previous one); `adapter=None`
    predicts zero-shot with the WATT templates. Returns {"accuracy", "correct" [N] bool, "seconds"}."""
    from .watt import WATT_TEMPLATES, text_ensemble

    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 for test-time adaptation; got {batch_size}")
    device = next(model.parameters()).device
    starts = list(range(0, len(labels), batch_size))
    if len(starts) > 1 and len(labels) - starts[-1] == 1:
        starts.pop()
    bounds = list(zip(starts, starts[1:] + [len(labels)]))
    text = None if adapter is not None else text_ensemble(model, CIFAR10_CLASSES, WATT_TEMPLATES)
    t0 = time.perf_counter()
    preds = []
    for a, b in bounds:
        x = images[a:b].to(device)
        if adapter is None:
            with torch.no_grad():
                feats = torch.nn.functional.normalize(model.encode_image(x).float(), dim=-1)
                preds.append((feats @ text.T).argmax(1).cpu())
        else:
            preds.append(adapter.adapt_predict(x).cpu())
    correct = torch.cat(preds) == labels
    return {"accuracy": float(correct.float().mean()), "correct": correct, "seconds": time.perf_counter() - t0}
