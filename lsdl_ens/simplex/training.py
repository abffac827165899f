"""SPRO training: grow a simplex around a trained network, one vertex at a time.

The cached run that grows a whole simplex from the profile's standard network (``spro_recipe``, ``train_spro``) is
in ``lsdl_ens.experiments.basin_sampling``; this module holds the vertex training and the recipe type.

Each new vertex starts at the centroid of the existing (frozen) ones and is trained by SGD (momentum 0.9, weight
decay on the vertex, cosine learning rate) on

    loss = sum_{s=1..S} CE(phi_s(x), y) - lambda_k log(Vol^2 + 1e-4),     phi_s = sum_j alpha_sj v_j,
    alpha_s ~ Dirichlet(1),  lambda_k = max(lam / log(Vol^2_rand,k + 1e-4), 1e-8),

where Vol^2 is the Cayley-Menger squared volume of the current simplex and Vol^2_rand,k that of a simplex of
k randomly initialised networks of the same architecture. In train mode BN uses each point's batch statistics.

Reference: g-benton/loss-surface-simplexes@0f55807: simplex/utils.py (``train_epoch_volume``),
experiments/vgg-cifar10/simplex_trainer.py. The reference sums the S = 5 cross-entropies (its ``.div`` is not in
place), ``reduce="sum"`` reproduces that. Deviations: S and the epochs per vertex come from the run profile
(the profile's ``spro`` section); the reference's net is VGG16 without BN, ours may have BN (recomputed per point
at evaluation).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from ..models.base import init_weights
from ..recipe_types import Recipe, TypedRecipe
from ..schedules import cosine_lr
from .model import SimplexModel
from .volume import cayley_menger_volume

__all__ = ["SPRORecipe", "random_log_volume", "train_vertex"]



def random_log_volume(model: nn.Module, n_vertices: int, seed: int = 0) -> float:
    """log Vol^2 of a simplex of ``n_vertices`` freshly initialised copies of ``model``'s architecture."""
    flats = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(n_vertices):
            fresh = copy.deepcopy(model)
            for m in fresh.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
            init_weights(fresh)
            flats.append(torch.cat([p.detach().reshape(-1) for p in fresh.parameters()]))
    return float(cayley_menger_volume(torch.stack(flats), log=True))


def train_vertex(simplex: SimplexModel, data, *, epochs: int, lr: float = 0.01, weight_decay: float = 5e-4,
                 lam: float = 1e-6, n_samples: int = 5, reduce: str = "sum", seed: int = 0, batch_size: int = 128,
                 device=None, progress: bool | None = None):
    """Train the simplex's trainable vertex (the last one added) with the SPRO objective; returns the `History`.

    Args:
        data: an ``ImageSet`` (shuffled, augmented batches) or a ``BatchLoader``.
        lam: LMBD of the reference (1e-6 in its README for ESPRO); lambda_k = max(lam / log(Vol^2_rand + 1e-4), 1e-8).
        n_samples: points drawn per batch; ``reduce`` "sum" (reference) or "mean" over their cross-entropies.

    Deliberate: the vertices train in fp32 with contiguous weights (the SPRO objective is a custom step of
    `lsdl_ens.train.fit`), whatever the precision of the base network's recipe.
    """
    from ..train import fit

    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce must be 'sum' or 'mean'; got {reduce!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1; got {n_samples}")
    params = simplex.trainable_parameters()
    if not params:
        raise ValueError("the simplex has no trainable vertex; call simplex.add_vertex() first")
    log_rand = random_log_volume(simplex.base, simplex.n_vertices, seed)
    denom = math.log(math.exp(log_rand) + 1e-4) if log_rand < 700 else log_rand
    lam_k = max(lam / denom, 1e-8) if denom > 0 else 1e-8
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)

    def step_fn(model, batch, opt, step):
        x, y = batch
        losses, correct = [], 0
        for _ in range(n_samples):
            logits = model(x, model.sample_point(gen))
            losses.append(F.cross_entropy(logits, y))
            correct = correct + (logits.argmax(1) == y).sum()
        ce = torch.stack(losses).sum() if reduce == "sum" else torch.stack(losses).mean()
        loss = ce - lam_k * torch.log(model.volume() + 1e-4).to(ce.dtype)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return torch.stack(losses).mean().detach(), torch.div(correct, n_samples, rounding_mode="floor"), len(y)

    history = fit(simplex, data, epochs=epochs, optimizer=optimizer, seed=seed, batch_size=batch_size,
                  lr_schedule=lambda s: cosine_lr(s.epoch_float, epochs, lr), train_step=step_fn, device=device,
                  progress=progress, desc=f"SPRO vertex {simplex.n_vertices - 1}")
    for p in params:
        p.grad = None
    return history


@dataclass(frozen=True)
class SPRORecipe(TypedRecipe):
    """A SPRO simplex grown from the trained network of ``base``: vertices in total (v_0 included), epochs per new
    vertex, simplex points per batch, LR, volume regulariser ``lam``, weight decay, loss reduction over the points
    (``"sum"`` as the reference), batch size and seed. Checked when built; `replace` changes fields."""

    base: Recipe
    n_vertices: int
    epochs: int
    n_samples: int
    lr: float
    lam: float
    weight_decay: float
    reduce: str
    batch_size: int
    seed: int

    def __post_init__(self):
        self.check_base()
        checks.integer("n_vertices", self.n_vertices, minimum=2)
        for name in ("epochs", "n_samples", "batch_size"):
            checks.positive_int(name, getattr(self, name))
        checks.nonneg_int("seed", self.seed)
        checks.positive_float("lr", self.lr)
        checks.nonneg_float("lam", self.lam)
        checks.nonneg_float("weight_decay", self.weight_decay)
        if self.reduce not in ("sum", "mean"):
            raise ValueError(f"reduce must be 'sum' or 'mean', got {self.reduce!r}")
