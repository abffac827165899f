"""Cached training recipes: the course's standard CIFAR-10 run, pre-training on the source classes, fine-tuning.

A recipe is a plain dict (JSON values only) naming everything that determines the trained weights; `train`
looks it up in the checkpoint cache (`lsdl_ens.cache`) and trains only on a miss. Chapters call

    model, history = train(standard_recipe(profile, seed=1))

so a second run of a notebook, or another chapter using the same model, costs a file read.

Transfer learning without outside data: `pretrain_recipe` trains on the five source classes of CIFAR-10 (one
"pre-trained checkpoint" per seed, so local and global ensembles can be built), `finetune_recipe` fine-tunes such a
backbone on the five target classes with a new head, optionally initialised by a linear probe.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from . import checks
from .cache import default_cache
from .data import ImageSet, augmentation_kwargs, training_set
from .models import build_model, replace_head
from .profiles import Profile, get_profile
from .schedules import make_schedule
from .train import History, default_device, fit


# ----------------------------------------------------------------------------------------------- recipes
def standard_recipe(profile: Profile | str | None = None, seed: int = 0, **overrides) -> dict:
    """The profile's standard CIFAR-10 run: its model, SGD-Nesterov, cosine schedule, crop+flip."""
    p = get_profile(profile)
    recipe = {
        "model": p.model, "model_kw": {}, "num_classes": 10,
        "data": {"name": "cifar10", "n_train": p.n_train, "n_val": p.n_val, "n_test": p.n_test, "seed": 0},
        "epochs": p.epochs, "lr": p.lr, "weight_decay": p.weight_decay, "batch_size": p.batch_size,
        "schedule": "cosine", "schedule_kw": {}, "optimizer": "sgd", "label_smoothing": 0.0, "augment": True,
        "seed": seed, "init": None,
    }
    return _override(recipe, overrides)


def pretrain_recipe(profile: Profile | str | None = None, seed: int = 0, **overrides) -> dict:
    """Pre-training on the five source classes; each seed is an independent "pre-trained checkpoint"."""
    p = get_profile(profile)
    recipe = standard_recipe(p, seed, num_classes=5, epochs=p.pretrain_epochs,
                             data=_transfer_data_entry(p, "source"))
    return _override(recipe, overrides)


def finetune_recipe(profile: Profile | str | None = None, backbone_seed: int = 0, seed: int = 0,
                    head: str = "linear_probe", **overrides) -> dict:
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
                             data=_transfer_data_entry(p, "target"),
                             init={"recipe": pretrain_recipe(p, backbone_seed), "head": head})
    return _override(recipe, overrides)


def _transfer_data_entry(p: Profile, name: str) -> dict:
    return {"name": name, "n_source": p.n_source, "n_target": p.n_target, "n_target_val": p.n_target,
            "n_test": p.n_test, "seed": 0}


def _override(recipe: dict, overrides: dict) -> dict:
    unknown = sorted(set(overrides) - set(recipe))
    if unknown:
        raise ValueError(f"unknown recipe field(s) {unknown}; valid: {sorted(recipe)}")
    out = copy.deepcopy(recipe)
    out.update(copy.deepcopy(overrides))
    check_recipe(out)
    return out


_LR_FIX = "pass a positive learning rate such as 0.05"


def check_recipe(recipe: dict) -> dict:
    """Check the standard fields of a training recipe (those present), so that a bad override fails where the
    recipe is made, not epochs later; returns ``recipe``. Schedules are checked by building them once.

    Raises:
        TypeError, ValueError: naming the field, the value and the fix.
    """
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict (e.g. standard_recipe(profile)), got {type(recipe).__name__}")
    r = recipe
    if "model" in r:
        from .models import MODEL_NAMES
        if r["model"] not in MODEL_NAMES:
            raise ValueError(f"recipe field model must be one of {', '.join(MODEL_NAMES)}, got {r['model']!r}")
    for field in ("model_kw", "schedule_kw"):
        if field in r and not isinstance(r[field], dict):
            raise TypeError(f"recipe field {field} must be a dict of keyword arguments, got {r[field]!r}")
    if "num_classes" in r:
        checks.positive_int("num_classes", r["num_classes"])
    if "epochs" in r:
        checks.nonneg_int("epochs", r["epochs"])
    if "batch_size" in r:
        checks.positive_int("batch_size", r["batch_size"], "pass a whole number such as 128")
    if "seed" in r:
        checks.nonneg_int("seed", r["seed"])
    if "lr" in r:
        checks.positive_float("lr", r["lr"], _LR_FIX)
    if "weight_decay" in r:
        checks.nonneg_float("weight_decay", r["weight_decay"], "pass 0 or a small value such as 5e-4")
    if "label_smoothing" in r:
        checks.number("label_smoothing", r["label_smoothing"], low=0.0, high=1.0, high_open=True)
    if "optimizer" in r and r["optimizer"] not in ("sgd", "adam"):
        raise ValueError(f"recipe field optimizer must be 'sgd' or 'adam' (recipes are JSON), got {r['optimizer']!r}")
    if "augment" in r:
        augmentation_kwargs(r["augment"])
    if "schedule" in r and "epochs" in r and "lr" in r:
        make_schedule(r["schedule"], epochs=r["epochs"], lr=r["lr"], **r.get("schedule_kw", {}))
    return recipe


# ----------------------------------------------------------------------------------------------- training
def build_from_recipe(recipe: dict) -> torch.nn.Module:
    """A freshly initialised (seeded) model of the recipe's architecture."""
    torch.manual_seed(recipe["seed"])
    return build_model(recipe["model"], recipe["num_classes"], **recipe["model_kw"])


def load_state(recipe: dict, state: dict) -> torch.nn.Module:
    """A model of the recipe's architecture holding `state`."""
    model = build_model(recipe["model"], recipe["num_classes"], **recipe["model_kw"])
    model.load_state_dict(state)
    return model


def train(recipe: dict, *, cache=None, device=None, progress: bool | None = None) -> tuple[torch.nn.Module, History]:
    """The trained model of `recipe` (from the cache when present) and its training history."""
    check_recipe(recipe)
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()

    def build():
        model = _initial_model(recipe, cache, device, progress)
        history = fit(model, training_loader(recipe), epochs=recipe["epochs"], optimizer=recipe["optimizer"],
                      lr_schedule=make_schedule(recipe["schedule"], epochs=recipe["epochs"], lr=recipe["lr"],
                                                **recipe["schedule_kw"]),
                      weight_decay=recipe["weight_decay"], seed=recipe["seed"], batch_size=recipe["batch_size"],
                      label_smoothing=recipe["label_smoothing"], device=device, progress=progress,
                      desc=f"{recipe['model']} seed {recipe['seed']}")
        return model.state_dict(), {"history": history.as_dict()}

    state, extra = cache.get_or_create("train", recipe, build)
    return load_state(recipe, state).to(device), History.from_dict(extra["history"])


def training_loader(recipe: dict):
    """The shuffled, augmented `BatchLoader` a recipe trains on: its training set, batch size, augmentation
    (`lsdl_ens.data.augmentation_kwargs`) and data-order seed; the last short batch is dropped when there is more
    than one batch."""
    from .data import BatchLoader

    data = training_set(recipe["data"])
    return BatchLoader(data, recipe["batch_size"], shuffle=True, **augmentation_kwargs(recipe["augment"]),
                       drop_last=len(data) > recipe["batch_size"], seed=recipe["seed"])


def _initial_model(recipe: dict, cache, device, progress) -> torch.nn.Module:
    if recipe["init"] is None:
        return build_from_recipe(recipe).to(device)
    parent, _ = train(recipe["init"]["recipe"], cache=cache, device=device, progress=progress)
    replace_head(parent, recipe["num_classes"], seed=recipe["seed"])
    if recipe["init"]["head"] == "linear_probe":
        fit_linear_probe(parent, training_set(recipe["data"]), device=device)
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
