"""Cached training recipes: the course's standard CIFAR-10 run, pre-training on the source classes, fine-tuning.

A recipe is a frozen `lsdl_ens.recipe_types.Recipe` naming everything that determines the trained weights (its data
as a `DataSpec`, including the kind of CIFAR-10 copy); `train` looks it up in the checkpoint cache
(`lsdl_ens.cache`, keyed by `Recipe.key`) and trains only on a miss, on the batches of `training_loader`. Chapters
call

    model, history = train(standard_recipe(profile, seed=1))

so a second run of a notebook, or another chapter using the same model, costs a file read.

Transfer learning without outside data: `pretrain_recipe` trains on the five source classes of CIFAR-10 (one
"pre-trained checkpoint" per seed, so local and global ensembles can be built), `finetune_recipe` fine-tunes such a
backbone on the five target classes with a new head, optionally initialised by a linear probe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .cache import default_cache
from .data import ImageSet, augmentation_kwargs, training_set
from .models import build_model, replace_head
from .profiles import Profile, get_profile
from .recipe_types import DataSpec, Init, Recipe, check_recipe  # noqa: F401  (check_recipe: public here too)
from .schedules import make_schedule
from .train import History, default_device, fit


# ----------------------------------------------------------------------------------------------- data specs
def data_source(profile: Profile) -> str:
    """The `DataSpec.source` of a profile's recipes: the kind of CIFAR-10 copy found now, or ``"synthetic"`` for a
    profile with ``data_source="synthetic"``."""
    from .data import cifar10_source_kind

    return "synthetic" if profile.data_source == "synthetic" else cifar10_source_kind()


def cifar10_data(profile: Profile, **changes) -> DataSpec:
    """The `DataSpec` of the profile's 10-class split, on the CIFAR-10 copy found now (or synthetic images)."""
    spec = DataSpec("cifar10", data_source(profile), n_train=profile.n_train, n_val=profile.n_val,
                    n_test=profile.n_test)
    return spec.replace(**changes) if changes else spec


def transfer_data_spec(profile: Profile, name: str) -> DataSpec:
    """The `DataSpec` of one side (``"source"`` or ``"target"``) of the profile's transfer split (target
    validation set as large as the labelled target set)."""
    return DataSpec(name, data_source(profile), n_source=profile.n_source, n_target=profile.n_target,
                    n_target_val=profile.n_target, n_test=profile.n_test)


def training_loader(recipe: Recipe, seed: int | None = None, *, device=None, loader_class=None, images=None,
                    **loader_kw):
    """The loader a recipe trains on: its training set, shuffled with `seed` (default: the recipe's), in batches of
    its batch size with its augmentation, the last incomplete batch dropped (kept if it is the only one).

    ``images`` (an `ImageSet`) replaces the recipe's training set, e.g. by a corrupted copy of it.
    ``loader_class`` (a `BatchLoader` subclass) and ``loader_kw`` (more or other `BatchLoader` arguments, e.g.
    ``drop_last=False`` for BN statistics) serve variants, e.g. a loader continuing another run's epoch numbering.
    This is the only place a recipe becomes batches."""
    from .data import BatchLoader

    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe (e.g. standard_recipe(profile)), got {type(recipe).__name__}")
    data = training_set(recipe.data) if images is None else images
    kw = {"shuffle": True, **augmentation_kwargs(recipe.augment), "drop_last": len(data) > recipe.batch_size,
          "seed": recipe.seed if seed is None else seed, "device": device, **loader_kw}
    return (loader_class or BatchLoader)(data, recipe.batch_size, **kw)


# ----------------------------------------------------------------------------------------------- recipes
def standard_recipe(profile: Profile | str | None = None, seed: int = 0, **overrides) -> Recipe:
    """The profile's standard CIFAR-10 run: its model, SGD-Nesterov, cosine schedule, the profile's augmentation
    (``profile.augment``), training precision and memory format (``profile.precision``,
    ``profile.channels_last``). `overrides` replace fields (`Recipe.replace`; unknown fields raise ValueError)."""
    p = get_profile(profile)
    recipe = Recipe(model=p.model, num_classes=10, data=cifar10_data(p), epochs=p.epochs, lr=p.lr,
                    weight_decay=p.weight_decay, batch_size=p.batch_size, seed=seed, precision=p.precision,
                    channels_last=p.channels_last, augment=p.augment)
    return recipe.replace(**overrides) if overrides else recipe


def pretrain_recipe(profile: Profile | str | None = None, seed: int = 0, **overrides) -> Recipe:
    """Pre-training on the five source classes; each seed is an independent "pre-trained checkpoint"."""
    p = get_profile(profile)
    recipe = standard_recipe(p, seed, num_classes=5, epochs=p.pretrain_epochs, data=transfer_data_spec(p, "source"),
                             augment=True)
    return recipe.replace(**overrides) if overrides else recipe


def finetune_recipe(profile: Profile | str | None = None, backbone_seed: int = 0, seed: int = 0,
                    head: str = "linear_probe", **overrides) -> Recipe:
    """Fine-tuning a source backbone (`pretrain_recipe(profile, backbone_seed)`) on the target classes.

    Args:
        head: "linear_probe" (head initialised by logistic regression on frozen features, as in LP-FT and the
            model-soups recipe) or "random".
        overrides: any recipe field, e.g. lr, epochs, weight_decay, label_smoothing, augment (a bool or a
            strength of `lsdl_ens.data.AUGMENT_STRENGTHS`).
    """
    p = get_profile(profile)
    if head not in ("linear_probe", "random"):
        raise ValueError(f"head must be 'linear_probe' or 'random'; got {head!r}")
    recipe = standard_recipe(p, seed, num_classes=5, epochs=p.finetune_epochs, lr=p.finetune_lr,
                             data=transfer_data_spec(p, "target"), init=Init(pretrain_recipe(p, backbone_seed), head),
                             augment=True)
    return recipe.replace(**overrides) if overrides else recipe


# ----------------------------------------------------------------------------------------------- training
def build_from_recipe(recipe: Recipe) -> torch.nn.Module:
    """A freshly initialised (seeded) model of the recipe's architecture."""
    torch.manual_seed(recipe.seed)
    return build_model(recipe.model, recipe.num_classes, **recipe.model_kw)


def load_state(recipe: Recipe, state: dict) -> torch.nn.Module:
    """A model of the recipe's architecture holding `state`."""
    model = build_model(recipe.model, recipe.num_classes, **recipe.model_kw)
    model.load_state_dict(state)
    return model


def train(recipe: Recipe, *, cache=None, device=None, progress: bool | None = None) -> tuple[torch.nn.Module, History]:
    """The trained model of `recipe` (from the cache when present) and its training history."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe (e.g. standard_recipe(profile)), got {type(recipe).__name__}")
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()

    def build():
        model = initial_model(recipe, cache=cache, device=device, progress=progress)
        history = fit(model, training_loader(recipe), epochs=recipe.epochs, optimizer=recipe.optimizer,
                      lr_schedule=make_schedule(recipe.schedule, epochs=recipe.epochs, lr=recipe.lr,
                                                **recipe.schedule_kw),
                      weight_decay=recipe.weight_decay, seed=recipe.seed, batch_size=recipe.batch_size,
                      label_smoothing=recipe.label_smoothing, device=device, progress=progress,
                      desc=f"{recipe.model} seed {recipe.seed}", precision=recipe.precision,
                      channels_last=recipe.channels_last)
        return model.state_dict(), {"history": history.as_dict()}

    state, extra = cache.get_or_create("train", recipe, build)
    return load_state(recipe, state).to(device), History.from_dict(extra["history"])


def initial_model(recipe: Recipe, *, cache=None, device=None, progress: bool | None = None) -> torch.nn.Module:
    """The model a recipe starts training from: freshly initialised (seeded), or the trained network of its
    `Init` with a new head (random, or fitted by a linear probe on the recipe's training set)."""
    device = torch.device(device) if device is not None else default_device()
    if recipe.init is None:
        return build_from_recipe(recipe).to(device)
    parent, _ = train(recipe.init.recipe, cache=cache, device=device, progress=progress)
    replace_head(parent, recipe.num_classes, seed=recipe.seed)
    if recipe.init.head == "linear_probe":
        fit_linear_probe(parent, training_set(recipe.data), device=device)
    return parent.to(device)


def fit_linear_probe(model: torch.nn.Module, data: ImageSet, *, l2: float = 1e-3, max_iter: int = 200,
                     device=None) -> torch.nn.Module:
    """Set `model.head` to the multinomial logistic regression on frozen features of `data` (no augmentation):
    min_W,b mean CE(W f(x) + b, y) + l2/2 ||W||^2, solved with L-BFGS in float64 (deterministic)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    feats = _features(model, data, device).double()
    labels = data.labels.to(device)
    head = model.head
    w = torch.zeros(head.out_features, head.in_features, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.zeros(head.out_features, dtype=torch.float64, device=device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(feats @ w.T + b, labels) + 0.5 * l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        head.weight.copy_(w.float())
        head.bias.copy_(b.float())
    return model


@torch.no_grad()
def _features(model, data: ImageSet, device) -> torch.Tensor:
    from .data import BatchLoader

    was = model.training
    model.eval().to(device)
    out = torch.cat([model.features(x) for x, _ in BatchLoader(data, 512, device=device)])
    model.train(was)
    return out
