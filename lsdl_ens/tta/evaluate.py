"""Accuracy of test-time adaptation on (corrupted) CIFAR-10 test images, batch by batch, cached.

Sizes: the profile's ``tta`` section (`lsdl_ens.profiles.sections.TTASizes`): test images per corruption (a
class-balanced subset of the profile's test split, first n), the adaptation batch, WATT's L and M, TENT's steps
per batch, steps per template of the averaging-strategy comparison (L x M = this; the paper uses 10) and the
corruptions of the per-corruption table (severity 5). The cpu profile uses M = 1 instead of the reference's 5 / 50
rounds to fit the CPU budget.
"""

from __future__ import annotations

import time

import torch

from ..cache import default_cache
from ..data import CIFAR10_CLASSES, BatchLoader, profile_data
from ..profiles import BENCHMARK_CORRUPTIONS, Profile, get_profile
from .pretrain import clip_recipe, pretrained_clip

__all__ = ["BENCHMARK_CORRUPTIONS", "tta_accuracy", "evaluate_tta", "make_adapter",
           "test_images", "strategy_settings"]

def test_images(profile: Profile | str | None = None, corruption: str | None = None, severity: int = 5,
                n_images: int | None = None):
    """(normalised float images [N, 3, 32, 32], labels [N]) of the profile's test split, optionally corrupted."""
    from ..data import corrupt

    p = get_profile(profile)
    n = n_images or p.tta.n_images
    _, _, test = profile_data(p)
    g = torch.Generator().manual_seed(7)
    idx = torch.randperm(len(test), generator=g)[:n]
    images, labels = test.images[idx], test.labels[idx]
    if corruption is not None:
        images = corrupt(images, corruption, severity, seed=0)
    loader = BatchLoader(test, 1)  # only for its normalisation
    return loader.normalize(images), labels


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


def evaluate_tta(method: str, corruption: str | None = None, severity: int = 5, *, profile=None,
                 clip: dict | None = None, cache=None, device=None, **method_kw) -> dict:
    """Cached accuracy of `method` ("none", "tent", "sequential", "parallel", "text", "output") on the profile's
    test images under `corruption` (None: clean). Defaults: WATT's L and M and TENT's steps from the profile's
    ``tta`` section.

    Returns {"accuracy", "seconds", "recipe"}.
    """
    p = get_profile(profile)
    sizes = p.tta
    clip = clip or clip_recipe(p)
    kw = dict(method_kw)
    if method in ("sequential", "parallel", "text", "output"):
        kw.setdefault("n_iters", sizes.n_iters)
        kw.setdefault("n_rounds", sizes.n_rounds)
    elif method == "tent":
        kw.setdefault("n_steps", sizes.tent_steps)
    recipe = {"clip": clip, "method": method, "kw": kw, "corruption": corruption, "severity": severity,
              "n_images": sizes.n_images, "batch_size": sizes.batch_size, "profile": p.name}
    cache = cache or default_cache()

    def build():
        model, _ = pretrained_clip(clip, cache=cache, device=device)
        images, labels = test_images(p, corruption, severity, sizes.n_images)
        adapter = make_adapter(model, method, **kw)
        out = tta_accuracy(model, adapter, images, labels, sizes.batch_size)
        return {"correct": out["correct"]}, {"accuracy": out["accuracy"], "seconds": out["seconds"]}

    _, extra = cache.get_or_create("tta_eval", recipe, build)
    return {**extra, "recipe": recipe}


def strategy_settings(steps: int) -> dict:
    """The averaging strategies of the WATT ablation at `steps` gradient steps per template:
    {label: (method, kw)}: text average, output average, and weight average after steps x 1, 1 x steps and
    (steps / 2) x 2 (L x M) iterations (10x1, 1x10, 2x5 in the paper when steps = 10; 2x5 needs steps = 10)."""
    out = {"text average": ("text", {"n_iters": steps, "n_rounds": 1}),
           "output average": ("output", {"n_iters": steps, "n_rounds": 1}),
           f"weight average {steps}x1": ("parallel", {"n_iters": steps, "n_rounds": 1}),
           f"weight average 1x{steps}": ("parallel", {"n_iters": 1, "n_rounds": steps})}
    if steps % 2 == 0 and steps > 2:
        L = 2 if steps == 10 else steps // 2
        out[f"weight average {L}x{steps // L}"] = ("parallel", {"n_iters": L, "n_rounds": steps // L})
    return out
