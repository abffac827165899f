"""Typed training recipes: `Recipe` (everything that determines a trained network) and its `DataSpec`.

Both are frozen dataclasses, checked when built: a bad field raises ``TypeError`` / ``ValueError`` naming it.
``recipe.replace(epochs=3, data={"n_train": 500})`` returns a changed copy and refuses unknown fields with a
``ValueError`` naming them; the constructors are in `lsdl_ens.recipes` (``standard_recipe(profile, seed)``, ...).

Cache key (`Recipe.key`): the sha256 of the recipe's canonical JSON (`as_dict`: every field, nested recipes and the
data spec included, keys sorted; see `lsdl_ens.cache.recipe_key`), so the same recipe has the same key in every
process and on every machine, and changing any field changes it. The data spec names its ``source``, the kind of
CIFAR-10 copy the images come from (`lsdl_ens.data.cifar10_source_kind`): the course's JPEG archive (or its
extracted tree) holds JPEG-compressed images, torchvision's ``cifar-10-batches-py`` the raw pixels, so their
runs never share cache entries. ``source="synthetic"`` replaces CIFAR-10 by coloured-blob images made in memory
(`lsdl_ens.data.synthetic`: a few seconds of training, e.g. to exercise a cached run), cached under keys of their own.

Training precision and memory format (``precision``: ``"fp32"`` or ``"bf16"`` autocast; ``channels_last``) are
recipe fields because they change the weights: a bf16 run and an fp32 run never share a cache entry. Deliberate:
`Recipe.as_dict` leaves both out at their defaults (``"fp32"``, ``False``), so an fp32 recipe keeps the key it had
before these fields existed and its cached weights stay valid.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from . import checks

__all__ = ["DataSpec", "Init", "Recipe", "TypedRecipe", "DATA_NAMES", "DATA_SOURCES", "replace_fields", "check_recipe"]

DATA_NAMES = ("cifar10", "source", "target")
#: kinds of CIFAR-10 copies (`lsdl_ens.data.cifar10_source_kind`), and "synthetic": coloured-blob images made in
#: memory instead of CIFAR-10 (`lsdl_ens.data.synthetic`)
DATA_SOURCES = ("cifar10-jpeg", "torchvision", "synthetic")


def replace_fields(obj, what: str, changes: dict):
    """``dataclasses.replace(obj, **changes)`` refusing unknown fields with a ValueError naming them."""
    valid = [f.name for f in dataclasses.fields(obj)]
    unknown = sorted(set(changes) - set(valid))
    if unknown:
        raise ValueError(f"unknown {what} field(s) {unknown}; valid: {sorted(valid)}")
    return dataclasses.replace(obj, **changes)


class TypedRecipe:
    """Mixin of the frozen recipe dataclasses of the method families (e.g. `lsdl_ens.simplex.SPRORecipe`):
    ``replace`` refusing unknown fields, ``as_dict`` (plain JSON values; nested recipes and data specs as their
    ``as_dict``) and ``key`` (the checkpoint-cache key of `lsdl_ens.cache.recipe_key`)."""

    def replace(self, **changes):
        return replace_fields(self, "recipe", changes)

    def as_dict(self) -> dict:
        return {f.name: _plain_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def key(self) -> str:
        from .cache import recipe_key

        return recipe_key(self)

    def check_base(self, field: str = "base") -> None:
        """Raise TypeError unless the field ``field`` holds a `Recipe` (the standard run a typed recipe builds on)."""
        value = getattr(self, field)
        if not isinstance(value, Recipe):
            raise TypeError(f"{field} must be a Recipe (e.g. standard_recipe(profile, seed)), "
                            f"got {type(value).__name__}")


def _plain_value(value):
    if callable(getattr(value, "as_dict", None)):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class DataSpec:
    """The training data of a recipe: the 10-class CIFAR-10 split (``name="cifar10"``: ``n_train`` images drawn
    class-balanced from the 45k train split, ``n_val`` held out, ``n_test``) or one side of the transfer split
    (``"source"`` / ``"target"``: ``n_source``, ``n_target``, ``n_target_val``, ``n_test``); None means all images.
    ``seed`` fixes the subsets, ``source`` the kind of CIFAR-10 copy (see the module docstring), or
    ``"synthetic"`` for blob images instead of CIFAR-10 (the same splits and sizes, cut from the 5,000 + 2,000
    images of `lsdl_ens.data.synthetic_cifar10`)."""

    name: str = "cifar10"
    source: str = "cifar10-jpeg"
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    n_source: int | None = None
    n_target: int | None = None
    n_target_val: int | None = None
    seed: int = 0

    def __post_init__(self):
        if self.name not in DATA_NAMES:
            raise ValueError(f"data.name must be one of {', '.join(DATA_NAMES)}, got {self.name!r}")
        if self.source not in DATA_SOURCES:
            raise ValueError(f"data.source must be one of {', '.join(DATA_SOURCES)}, got {self.source!r}")
        for f in ("n_train", "n_val", "n_test", "n_source", "n_target", "n_target_val"):
            if getattr(self, f) is not None:
                checks.positive_int(f"data.{f}", getattr(self, f))
        checks.nonneg_int("data.seed", self.seed)
        if self.name == "cifar10" and self.n_val is None:
            raise ValueError("data.n_val must be an int >= 1 for the cifar10 split, got None")
        if self.name != "cifar10" and (self.n_target is None or self.n_target_val is None):
            raise ValueError(f"data.n_target and data.n_target_val must be ints >= 1 for the {self.name!r} side of "
                             f"the transfer split, got {self.n_target!r} and {self.n_target_val!r}")

    def replace(self, **changes) -> DataSpec:
        return replace_fields(self, "data", changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Init:
    """Start from the trained network of ``recipe`` with a new head: ``"linear_probe"`` (logistic regression on its
    frozen features) or ``"random"``."""

    recipe: Recipe
    head: str = "linear_probe"

    def __post_init__(self):
        if not isinstance(self.recipe, Recipe):
            raise TypeError(f"init.recipe must be a Recipe, got {type(self.recipe).__name__}")
        if self.head not in ("linear_probe", "random"):
            raise ValueError(f"init.head must be 'linear_probe' or 'random', got {self.head!r}")

    def as_dict(self) -> dict:
        return {"recipe": self.recipe.as_dict(), "head": self.head}


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained network: architecture (`lsdl_ens.models.build_model` name and keyword
    arguments), classes, data, epochs, optimizer (``"sgd"``: SGD-Nesterov, or ``"adam"``), peak LR and schedule
    (`lsdl_ens.schedules.make_schedule` name and keyword arguments), weight decay, batch size, label smoothing,
    augmentation (a bool or a strength of `lsdl_ens.data.AUGMENT_STRENGTHS`), seed, an optional `Init`, and how
    `lsdl_ens.train.fit` computes: ``precision`` (``"fp32"``, or ``"bf16"`` autocast of the forward pass and the
    loss) and ``channels_last`` (model and images in channels_last memory format); the run profile chooses both
    (`lsdl_ens.recipes.standard_recipe`)."""

    model: str
    num_classes: int
    data: DataSpec
    epochs: int
    lr: float
    weight_decay: float
    batch_size: int
    schedule: str = "cosine"
    schedule_kw: dict = field(default_factory=dict)
    optimizer: str = "sgd"
    label_smoothing: float = 0.0
    augment: bool | str = True
    seed: int = 0
    init: Init | None = None
    model_kw: dict = field(default_factory=dict)
    precision: str = "fp32"
    channels_last: bool = False

    def __post_init__(self):
        if not isinstance(self.data, DataSpec):
            raise TypeError(f"data must be a DataSpec, got {self.data!r}")
        if self.init is not None and not isinstance(self.init, Init):
            raise TypeError(f"init must be an Init or None, got {self.init!r}")
        for name in ("schedule_kw", "model_kw"):  # private copies: the recipe cannot change behind its back
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise TypeError(f"recipe field {name} must be a dict of keyword arguments, got {value!r}")
            object.__setattr__(self, name, copy.deepcopy(value))
        check_recipe({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                      if f.name not in ("data", "init")})

    def replace(self, **changes) -> Recipe:
        """A copy with `changes`; ``data`` may be a `DataSpec` or a dict of the fields to change in it.

        Raises:
            ValueError: an unknown field (named), or a field out of range.
        """
        if isinstance(changes.get("data"), dict):
            changes = {**changes, "data": self.data.replace(**changes["data"])}
        return replace_fields(self, "recipe", changes)

    def as_dict(self) -> dict:
        """Plain JSON values: what the cache key hashes and stores."""
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["data"] = self.data.as_dict()
        out["init"] = self.init.as_dict() if self.init is not None else None
        for name, default in _LEFT_OUT_AT_DEFAULT.items():  # fp32 recipes keep their keys (module docstring)
            if out[name] == default and type(out[name]) is type(default):
                del out[name]
        return out

    def key(self) -> str:
        """The checkpoint-cache key of this recipe (see the module docstring)."""
        from .cache import recipe_key

        return recipe_key(self)

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        """The recipe of `as_dict` output (e.g. a recipe stored in a cache file)."""
        d = dict(d)
        d["data"] = DataSpec(**d["data"])
        if d.get("init") is not None:
            d["init"] = Init(cls.from_dict(d["init"]["recipe"]), d["init"]["head"])
        return cls(**d)


_LR_FIX = "pass a positive learning rate such as 0.05"
#: fields `Recipe.as_dict` leaves out when they hold these values (see the module docstring)
_LEFT_OUT_AT_DEFAULT = {"precision": "fp32", "channels_last": False}


def check_recipe(recipe: dict | Recipe) -> dict | Recipe:
    """Check the standard fields of a training recipe (those present in a dict; a `Recipe` was checked when it was
    built), so that a bad override fails where the recipe is made, not epochs later; returns ``recipe``. Schedules
    are checked by building them once.

    Raises:
        TypeError, ValueError: naming the field, the value and the fix.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a Recipe (e.g. standard_recipe(profile)) or a dict of recipe fields, got "
                        f"{type(recipe).__name__}")
    r = recipe
    if "model" in r:
        from .models import MODEL_NAMES

        if r["model"] not in MODEL_NAMES:
            raise ValueError(f"recipe field model must be one of {', '.join(MODEL_NAMES)}, got {r['model']!r}")
    for name in ("model_kw", "schedule_kw"):
        if name in r and not isinstance(r[name], dict):
            raise TypeError(f"recipe field {name} must be a dict of keyword arguments, got {r[name]!r}")
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
    if "precision" in r:
        checks.one_of("precision", r["precision"], checks.PRECISIONS)
    if "channels_last" in r:
        checks.flag("channels_last", r["channels_last"])
    if "augment" in r:
        from .data.course_sets import augmentation_kwargs

        augmentation_kwargs(r["augment"])
    if "schedule" in r and "epochs" in r and "lr" in r:
        from .schedules import make_schedule

        make_schedule(r["schedule"], epochs=r["epochs"], lr=r["lr"], **r.get("schedule_kw", {}))
    return recipe
