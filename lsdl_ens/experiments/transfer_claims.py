"""Chapter 06's claims, measured with their noise: `claims(results, profile)`.

Every claim compares fixed predictors on the same images, so its 95% interval is a paired bootstrap over the images
(`lsdl_ens.claims.paired_bootstrap`): over the target test images for clean accuracy and diversity, and over the
clean images behind the corrupted sets (each resampled image keeps all its corruptions and severities) for accuracy
under corruption. The interval covers the noise of the test set, not that of training: the members are one run
each (one seed per recipe). An interpolation barrier is measured on the landscape's test images only, so its
interval is the normal approximation of the binomial error at the barrier's point,
``± 1.96 sqrt(e (1 - e) / n)``.

The paper's side is the ordering stated on the slides of the authors' talk ("To Stay or Not to Stay in the
Pre-train Basin", Sadrtdinov, Pozdeev, Vetrov, Lobacheva, NeurIPS 2023; ResNet-50 with BYOL pre-training,
fine-tuned on CIFAR-100): the slides give the orderings, not the numbers behind them.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..claims import Estimate, make_claim, paired_bootstrap
from ..metrics import accuracy, diversity
from ..profiles import Profile, get_profile

__all__ = ["claims", "barrier_estimate", "TALK"]

TALK = 'Sadrtdinov et al., NeurIPS 2023, talk "To Stay or Not to Stay in the Pre-train Basin", slide'
_SETUP = "ResNet-50, CIFAR-100, BYOL pre-training"
_STAR = "Optimal StarSSE outperforms both optimal SSE and Local DE"
_SOUP = "Optimal StarSSE soup outperforms both optimal SSE soup and Local DE soup"


def _source(slide: str, setup: str = _SETUP) -> str:
    return f'{TALK} "{slide}"; {setup}'


def _packed(probs: torch.Tensor) -> torch.Tensor:
    """[G, n, C] predictions of G groups (members, or corruptions x severities) on n images as [n, G * C], so that
    a bootstrap resamples images and keeps every group of each image."""
    g, n, c = probs.shape
    return probs.permute(1, 0, 2).reshape(n, g * c)


def _groups(packed: torch.Tensor, n_classes: int) -> torch.Tensor:
    return packed.reshape(len(packed), -1, n_classes).permute(1, 0, 2)


def _mean_accuracy(n_classes: int):
    """Accuracy averaged over the groups of packed predictions: every group has the same images, so this is the share
    of correct (image, group) pairs, computed in one tensor operation (a bootstrap calls it thousands of times)."""
    def metric(packed, labels):
        predicted = packed.reshape(len(packed), -1, n_classes).argmax(-1)
        return float((predicted == labels[:, None]).double().mean())
    return metric


def _diversity(n_classes: int):
    def metric(packed, labels):
        return diversity([p.argmax(-1) for p in _groups(packed, n_classes)], labels)
    return metric


def barrier_estimate(path: dict, n_images: int) -> Estimate:
    """The test-error barrier of one path (the largest bump of the error above the straight line between its ends,
    as `lsdl_ens.experiments.transfer.barrier_of`) in points, with the normal-approximation interval of the error
    at that point on `n_images` images."""
    alphas, error = np.asarray(path["alphas"], float), np.asarray(path["error"], float)
    bump = error - (error[0] + alphas * (error[-1] - error[0]))
    i = int(bump.argmax())
    half = 1.96 * math.sqrt(max(error[i] * (1 - error[i]), 0.0) / n_images)
    return Estimate(100 * bump[i], 100 * (bump[i] - half), 100 * (bump[i] + half),
                    f"normal approximation of the error on {n_images} test images, 95%")


def _max_barrier(paths: list, n_images: int) -> Estimate:
    return max((barrier_estimate(p, n_images) for p in paths), key=lambda e: e.value)


def claims(results: dict, profile: Profile | str | None = None, *, n_boot: int = 1000, seed: int = 0) -> list:
    """The chapter's claims from `lsdl_ens.experiments.transfer.results` (see the module doc)."""
    p = get_profile(profile)
    y, probs = results["labels"]["test"], results["ens_probs"]
    n_classes = probs["model 1"].shape[-1]

    def gap(a, b, table=probs, labels=y, metric=accuracy):
        return paired_bootstrap(metric, table[a], table[b], labels, n_boot=n_boot, seed=seed).scaled(100)

    def claim(id, text, slide, estimate, *, paper, expect="greater", setup=_SETUP, tolerance=None, what=None):
        return make_claim(id, text, paper=paper,
                          paper_source=_source(slide, setup), estimate=estimate, expect=expect,
                          tolerance=tolerance, unit="points", what=what or "difference")

    out = [
        claim("global_vs_local_de", "Global DE beats Local DE of the same size",
              "Ensembles in transfer learning: Global DE", gap("Global DE", "Local DE, Global DE size"),
              paper="Global DE: diverse networks, higher quality"),
        claim("starsse_vs_sse", "Optimal StarSSE beats optimal SSE", "StarSSE results: ensembles",
              gap("StarSSE optimal", "SSE optimal"), paper=_STAR),
        claim("starsse_vs_local_de", "Optimal StarSSE beats Local DE", "StarSSE results: ensembles",
              gap("StarSSE optimal", "Local DE"), paper=_STAR),
        claim("sse_vs_local_de", "Optimal SSE is comparable to Local DE (within 1 point)", "SSE results",
              gap("SSE optimal", "Local DE"), expect="near", tolerance=1.0,
              paper="Optimal SSE: quality comparable to Local DE"),
        claim("semi_local_sse_degrades", "Semi-local SSE ensembles are worse than optimal SSE", "SSE results",
              gap("SSE optimal", "SSE semi-local"), paper="More semi-local SSE: low quality of ensembles"),
        claim("semi_local_starsse_vs_sse", "Semi-local StarSSE degrades less than semi-local SSE",
              "StarSSE results: ensembles", gap("StarSSE semi-local", "SSE semi-local"),
              paper="Semi-local StarSSE quality degrades less than semi-local SSE"),
    ]
    n_path = min(p.transfer.n_landscape, len(y))
    out += [
        claim("semi_local_sse_barrier", "Semi-local SSE members lie in different basins (a test-error barrier)",
              "SSE analysis", _max_barrier(results["paths"]["semi-local"], n_path), expect="greater",
              paper="accuracy drop in the middle, different basins", what="barrier"),
        claim("optimal_sse_no_barrier", "Optimal SSE members share a basin (no barrier above 1 point)",
              "SSE analysis", _max_barrier(results["paths"]["optimal"], n_path), expect="near", tolerance=1.0,
              paper="no accuracy drop in the middle, same basin", what="barrier"),
    ]
    members = {k: _packed(v) for k, v in results["member_probs"].items()}
    div = paired_bootstrap(_diversity(n_classes), members["StarSSE optimal"], members["Local DE"], y,
                           n_boot=n_boot, seed=seed)
    out.append(make_claim("starsse_diversity", "StarSSE members are more diverse than Local DE members",
                          paper="more diverse than Local DE", paper_source=_source("StarSSE results: model soups"),
                          estimate=div, expect="greater", what="difference of diversity"))
    out += [
        claim("soup_starsse_vs_sse", "The optimal StarSSE soup beats the optimal SSE soup",
              "StarSSE results: model soups", gap("StarSSE soup", "SSE soup"), paper=_SOUP),
        claim("soup_starsse_vs_local_de", "The optimal StarSSE soup beats the Local DE soup",
              "StarSSE results: model soups", gap("StarSSE soup", "Local DE soup"), paper=_SOUP),
    ]
    ood = {k: _packed(v.reshape(-1, *v.shape[-2:])) for k, v in results["ood_probs"].items()}
    oy, ood_metric = results["ood_labels"], _mean_accuracy(n_classes)
    ood_setup = "ResNet-50, CIFAR-100-C, BYOL pre-training"
    out += [
        claim("ood_local_de_vs_starsse", "Under corruption, Local DE beats optimal StarSSE",
              "StarSSE results: OOD ensembles", gap("Local DE", "StarSSE optimal", ood, oy, ood_metric),
              setup=ood_setup, paper="Optimal StarSSE and optimal SSE become inferior to Local DE"),
        claim("ood_local_de_vs_sse", "Under corruption, Local DE beats optimal SSE",
              "StarSSE results: OOD ensembles", gap("Local DE", "SSE optimal", ood, oy, ood_metric),
              setup=ood_setup, paper="Optimal StarSSE and optimal SSE become inferior to Local DE"),
        claim("ood_soup_starsse_vs_sse", "Under corruption, the StarSSE soup beats the SSE soup",
              "StarSSE results: OOD soups", gap("StarSSE soup", "SSE soup", ood, oy, ood_metric),
              setup=ood_setup, paper="Optimal StarSSE soup has the best OOD performance"),
        claim("ood_soup_starsse_vs_local_de", "Under corruption, the StarSSE soup beats the Local DE soup",
              "StarSSE results: OOD soups", gap("StarSSE soup", "Local DE soup", ood, oy, ood_metric),
              setup=ood_setup, paper="Optimal StarSSE soup has the best OOD performance"),
    ]
    return out
