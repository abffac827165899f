"""The cached runs of the chapter "Sampling a basin" (KFAC-Laplace, SWAG, SPRO) and the list of every run it reads.

Two kinds of cached run are trained here:

* **SWAG** (Maddox et al. 2019): one run on the SWA schedule that collects the SWAG moments along the way
  (`lsdl_ens.ensembles.swag_posterior`: ``SWAG``, ``SWAGCallback``); stored under its `SWAGRecipe`.
* **SPRO** (Benton et al. 2021): a simplex grown vertex by vertex from a trained standard network
  (`lsdl_ens.simplex.training.train_vertex`); stored under its `SPRORecipe`.

The algorithms stay in their families; this module only sizes the runs from the profile (``swag`` and ``spro``
sections), trains them through the checkpoint cache and lists them in ``runs(profile)``, parents first.

References:
    Maddox et al., "A Simple Baseline for Bayesian Uncertainty in Deep Learning", NeurIPS 2019; reference
    implementation wjmaddox/swa_gaussian@61a918f: experiments/uncertainty/uncertainty.py (training with
    ``swag_model.collect_model``).
    Benton et al., "Loss Surface Simplexes for Mode Connecting Volumes and Fast Ensembling", ICML 2021; reference
    implementation g-benton/loss-surface-simplexes@0f55807: experiments/vgg-cifar10/simplex_trainer.py.
"""

from __future__ import annotations

import torch

from ..cache import default_cache
from .ensembles import (csgld_recipe, fge_recipe, sse_recipe, train_csgld, train_fge, train_sse, train_trajectory,
                        trajectory_recipe)
from ..ensembles.swag_posterior import SWAG, SWAGCallback
from ..ensembles.swag import SWAGRecipe
from ..profiles import get_profile
from ..recipes import build_from_recipe, load_state, standard_recipe, train, training_loader
from ..schedules import make_schedule
from ..simplex.model import SimplexModel
from ..simplex.training import SPRORecipe, train_vertex
from ..train import History, default_device, fit
from .runs import CachedRun

__all__ = ["swag_recipe", "train_swag", "spro_recipe", "train_spro", "EQUAL_BUDGET", "runs"]

#: the budget (in standard runs) at which the chapter compares every method
EQUAL_BUDGET = 2


def swag_recipe(profile=None, seed: int = 0, **sizes) -> SWAGRecipe:
    """The recipe of a SWAG run: the profile's standard recipe on the SWA schedule (the profile's ``swag`` section;
    `sizes` override its fields), collecting once per epoch after ``swa_start`` (``collections_per_epoch`` times
    when that field is above 1)."""
    p = get_profile(profile, swag=sizes) if sizes else get_profile(profile)
    cfg = p.swag
    base = standard_recipe(p, seed, epochs=cfg.epochs, schedule="swa",
                           schedule_kw={"swa_lr": cfg.swa_lr, "swa_start": cfg.swa_start})
    return SWAGRecipe(train=base, swa_start=cfg.swa_start, max_rank=cfg.max_rank,
                      collections_per_epoch=cfg.collections_per_epoch)


def train_swag(recipe: SWAGRecipe, *, cache=None, device=None, progress: bool | None = None):
    """Run (or load from the checkpoint cache) a SWAG recipe. Returns ``(swag, model, history)``: the moments, the
    last SGD iterate (its own BN statistics) and the training history."""
    if not isinstance(recipe, SWAGRecipe):
        raise TypeError(f"recipe must be a SWAGRecipe (from swag_recipe(profile)), got {type(recipe).__name__}")
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    r = recipe.train

    def build():
        model = build_from_recipe(r).to(device)
        swag = SWAG(model, max_rank=recipe.max_rank)
        history = fit(model, training_loader(r), epochs=r.epochs, optimizer=r.optimizer,
                      lr_schedule=make_schedule(r.schedule, epochs=r.epochs, lr=r.lr, **r.schedule_kw),
                      weight_decay=r.weight_decay, seed=r.seed, batch_size=r.batch_size,
                      callbacks=[SWAGCallback(swag, recipe.swa_start, recipe.collections_per_epoch)],
                      device=device, progress=progress, desc=f"SWAG seed {r.seed}", precision=r.precision,
                      channels_last=r.channels_last)
        state = {f"model.{k}": v for k, v in model.state_dict().items()}
        state.update({f"swag.{k}": v for k, v in swag.state_dict().items()})
        return state, {"history": history.as_dict()}

    state, extra = cache.get_or_create("swag", recipe, build)
    model = load_state(r, {k[6:]: v for k, v in state.items() if k.startswith("model.")}).to(device)
    swag = SWAG(model, max_rank=recipe.max_rank).load_state_dict(
        {k[5:]: v for k, v in state.items() if k.startswith("swag.")})
    return swag, model, History.from_dict(extra["history"])


def spro_recipe(profile=None, seed: int = 0, **sizes) -> SPRORecipe:
    """Recipe of a SPRO simplex grown from the profile's standard model of ``seed`` (sizes: the profile's ``spro``
    section; `sizes` override its fields)."""
    p = get_profile(profile, spro=sizes) if sizes else get_profile(profile)
    cfg = p.spro
    return SPRORecipe(base=standard_recipe(p, seed), n_vertices=cfg.n_vertices, epochs=cfg.epochs,
                      n_samples=cfg.n_samples, lr=cfg.lr, lam=cfg.lam, weight_decay=p.weight_decay, reduce="sum",
                      batch_size=p.batch_size, seed=seed)


def train_spro(recipe: SPRORecipe, *, cache=None, device=None, progress: bool | None = None):
    """Grow (or load from the checkpoint cache) the simplex of a ``spro_recipe``.

    Returns ``(simplex, info)`` with ``info = {"log_volume": [log Vol^2 after each vertex], "histories": [...]}``;
    the base network v_0 comes from ``lsdl_ens.recipes.train(recipe.base)``.
    """
    if not isinstance(recipe, SPRORecipe):
        raise TypeError(f"recipe must be a SPRORecipe (from spro_recipe(profile)), got {type(recipe).__name__}")
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    base_model, _ = train(recipe.base, cache=cache, device=device, progress=progress)

    def build():
        simplex = SimplexModel(base_model, seed=recipe.seed).to(device)
        histories, volumes = [], []
        loader = training_loader(recipe.base)
        for k in range(1, recipe.n_vertices):
            simplex.add_vertex("centroid")
            h = train_vertex(simplex, loader, epochs=recipe.epochs, lr=recipe.lr,
                             weight_decay=recipe.weight_decay, lam=recipe.lam, n_samples=recipe.n_samples,
                             reduce=recipe.reduce, seed=recipe.seed * 1000 + k, device=device,
                             progress=progress)
            histories.append(h.as_dict())
            volumes.append(float(simplex.volume(log=True).detach()))
        state = {f"v{j}.{name}": t.detach().cpu() for j in range(1, simplex.n_vertices)
                 for name, t in simplex.vertex(j).items()}
        return state, {"histories": histories, "log_volume": volumes}

    state, extra = cache.get_or_create("spro", recipe, build)
    simplex = SimplexModel(base_model, seed=recipe.seed).to(device)
    for j in range(1, recipe.n_vertices):
        simplex.add_vertex("centroid")
        with torch.no_grad():
            for name, p in simplex.vertex(j).items():
                p.copy_(state[f"v{j}.{name}"].to(p.device))
    for p in simplex.vertices.parameters():
        p.requires_grad_(False)
    return simplex, extra


def runs(profile) -> list[CachedRun]:
    """Every cached run the chapter reads, parents first.

    * the standard networks of seeds 0 .. ``ensemble_size - 1`` (the MAP networks of KFAC-Laplace and SPRO, and the
      deep-ensemble members of the equal-budget table; at least ``claim_seeds`` of them);
    * per claim seed: a SWAG run and a SPRO simplex grown from that seed's standard network;
    * the snapshot runs of the ensembles chapter at the equal budget (SSE, FGE, cSGLD, seed 0).
    """
    p = get_profile(profile)
    n_standard = max(p.ensemble_size, p.claim_seeds)
    out = [CachedRun("train", standard_recipe(p, seed=s), train, label=f"standard seed {s}")
           for s in range(n_standard)]
    for s in range(p.claim_seeds):
        out.append(CachedRun("swag", swag_recipe(p, seed=s), train_swag, label=f"SWAG seed {s}"))
        out.append(CachedRun("spro", spro_recipe(p, seed=s), train_spro, label=f"SPRO seed {s}"))
    out += [CachedRun("sse", sse_recipe(p, budget=EQUAL_BUDGET), train_sse, label="SSE"),
            CachedRun("trajectory", trajectory_recipe(p), train_trajectory, label="FGE pre-training"),
            CachedRun("fge", fge_recipe(p, budget=EQUAL_BUDGET), train_fge, label="FGE"),
            CachedRun("csgld", csgld_recipe(p, budget=EQUAL_BUDGET), train_csgld, label="cSGLD")]
    return out
