"""Predicting with simplexes: ensembles of sampled points (SPRO), of several simplexes (ESPRO), and the loss over a
barycentric grid. Every point gets its own BN statistics (``update_bn`` on training batches) when the net has BN.

Reference: g-benton/loss-surface-simplexes@0f55807: experiments/vgg-cifar10/ensemble_trainer.py. The reference
draws one point per forward pass at test time; here each point is a whole network evaluated on all the data and the
probabilities are averaged, so the number of points is explicit.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..bn import has_bn, update_bn
from ..train import predict_probs, progress_enabled
from .model import SimplexModel
from .volume import barycentric_grid, dirichlet_weights

__all__ = ["point_model", "simplex_predict", "espro_predict", "simplex_grid"]


def point_model(simplex: SimplexModel, alpha, bn_data=None, *, model: nn.Module | None = None,
                bn_batches: int | None = None) -> nn.Module:
    """A network holding the simplex point alpha, with BN statistics recomputed on ``bn_data`` (required for BN)."""
    model = model if model is not None else copy.deepcopy(simplex.base)
    model.load_state_dict(simplex.state_at(alpha))
    if has_bn(model):
        if bn_data is None:
            raise ValueError("the network has BatchNorm: pass bn_data (training batches) so every simplex point gets "
                             "its own BN statistics")
        update_bn(model, bn_data, num_batches=bn_batches)
    return model


@torch.no_grad()
def simplex_predict(simplex: SimplexModel, data, bn_data=None, *, n_points: int = 10, seed: int = 0,
                    bn_batches: int | None = None, return_all: bool = False,
                    progress: bool | None = None) -> Tensor:
    """Probabilities averaged over ``n_points`` points alpha ~ Dirichlet(1) of the simplex (each with BN recomputed).

    Returns [N, C], or [n_points, N, C] with ``return_all``.
    """
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1; got {n_points}")
    gen = torch.Generator().manual_seed(seed)
    alphas = dirichlet_weights(simplex.n_vertices, n_points, generator=gen)
    model = copy.deepcopy(simplex.base)
    outs = [predict_probs(point_model(simplex, a, bn_data, model=model, bn_batches=bn_batches), data)
            for a in tqdm(alphas, desc="simplex points", disable=not progress_enabled(progress), leave=False)]
    probs = torch.stack(outs)
    return probs if return_all else probs.mean(0)


def espro_predict(simplexes, data, bn_data=None, *, samples_per_simplex: int = 5, seed: int = 0,
                  bn_batches: int | None = None, progress: bool | None = None) -> Tensor:
    """ESPRO: the mean of ``simplex_predict`` over several simplexes (equal weight per simplex)."""
    simplexes = list(simplexes)
    if not simplexes:
        raise ValueError("simplexes is empty; pass at least one SimplexModel")
    return torch.stack([simplex_predict(s, data, bn_data, n_points=samples_per_simplex, seed=seed + i,
                                        bn_batches=bn_batches, progress=progress)
                        for i, s in enumerate(simplexes)]).mean(0)


@torch.no_grad()
def simplex_grid(simplex: SimplexModel, data, bn_data=None, *, resolution: int = 6, bn_batches: int | None = None,
                 progress: bool | None = None) -> dict:
    """Test loss and error at every point of ``barycentric_grid(n_vertices, resolution)``.

    Returns ``{"alphas": [n, k], "loss": [n], "error": [n]}`` (numpy-free tensors, float64).
    """
    from ..metrics import accuracy, nll

    labels = data.labels if hasattr(data, "labels") else torch.cat([b[1] for b in data]).cpu()
    alphas = barycentric_grid(simplex.n_vertices, resolution)
    model = copy.deepcopy(simplex.base)
    losses, errors = [], []
    for a in tqdm(alphas, desc="simplex grid", disable=not progress_enabled(progress), leave=False):
        p = predict_probs(point_model(simplex, a, bn_data, model=model, bn_batches=bn_batches), data)
        losses.append(nll(p, labels))
        errors.append(1 - accuracy(p, labels))
    return {"alphas": alphas, "loss": torch.tensor(losses, dtype=torch.float64),
            "error": torch.tensor(errors, dtype=torch.float64)}
