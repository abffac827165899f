"""Named model configurations and :func:`build_model`.

The table below is the single place where the course's standard models are defined. Parameter counts are for
``num_classes=10`` (2 for ``mlp``); throughput is training images/s at batch 128 on 2 CPU cores.

======================  ===========================================  ==========  ========================
name                    architecture                                 parameters  note
======================  ===========================================  ==========  ========================
``resnet8``             ResNet, depth 8, width 16, basic blocks      78,042      ~740 img/s, CPU default
``resnet20``            ResNet, depth 20, width 16, basic blocks     272,474     He et al.'s ResNet-20
``preresnet8``          ResNet, depth 8, width 16, pre-activation    77,850
``preresnet20``         ResNet, depth 20, width 16, pre-activation   272,282
``vgg``                 VGG 16-32-64-128, one conv/stage, BN         98,970      ~2,500 img/s, CPU default
``vgg_nobn``            same, no BatchNorm (conv biases)             98,730      for BN-free methods
``wrn10_2``             WideResNet-10-2, pre-activation              303,706
``wrn16_4``             WideResNet-16-4, pre-activation              2,748,890   GPU-sized
``mlp``                 MLP 2 -> 32 -> 32 -> 2, no BN                1,218       toy 2-D tasks
======================  ===========================================  ==========  ========================

Keyword arguments override a name's defaults, e.g. ``build_model("resnet8", width=32)`` (309k parameters).
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from torch import nn

from .. import checks
from .mlp import MLP
from .resnet import ResNet
from .vgg import VGG
from .wide_resnet import WideResNet

__all__ = ["MODEL_TABLE", "MODEL_NAMES", "build_model"]


class ModelSpec(NamedTuple):
    """A registry row: the class, its default keyword arguments, and the default ``num_classes``."""

    cls: type[nn.Module]
    defaults: dict
    num_classes: int = 10


MODEL_TABLE: dict[str, ModelSpec] = {
    "resnet8": ModelSpec(ResNet, dict(depth=8, width=16, preact=False)),
    "resnet20": ModelSpec(ResNet, dict(depth=20, width=16, preact=False)),
    "preresnet8": ModelSpec(ResNet, dict(depth=8, width=16, preact=True)),
    "preresnet20": ModelSpec(ResNet, dict(depth=20, width=16, preact=True)),
    "vgg": ModelSpec(VGG, dict(widths=(16, 32, 64, 128), convs=1, bn=True)),
    "vgg_nobn": ModelSpec(VGG, dict(widths=(16, 32, 64, 128), convs=1, bn=False)),
    "wrn10_2": ModelSpec(WideResNet, dict(depth=10, widen=2, dropout=0.0)),
    "wrn16_4": ModelSpec(WideResNet, dict(depth=16, widen=4, dropout=0.0)),
    "mlp": ModelSpec(MLP, dict(in_features=2, hidden=(32, 32), bn=False), num_classes=2),
}

MODEL_NAMES: tuple[str, ...] = tuple(MODEL_TABLE)


def _accepted_kwargs(cls: type) -> tuple[str, ...]:
    params = inspect.signature(cls.__init__).parameters
    return tuple(p for p in params if p not in ("self", "num_classes"))


def build_model(name: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Build a registered model; the caller seeds torch's RNG beforehand for a reproducible init.

    Args:
        name: one of :data:`MODEL_NAMES`.
        num_classes: head size; ``None`` means the name's default (10 for the CIFAR nets, 2 for ``mlp``).
        **kwargs: override the name's default constructor arguments (see the table above).

    Returns:
        A freshly initialised model in training mode.

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names).
        TypeError: a keyword the model's constructor does not accept (the message names it and the valid ones).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a model name (str), got {type(name).__name__}; valid names: "
                        f"{', '.join(MODEL_NAMES)}")
    if num_classes is not None:
        num_classes = checks.positive_int("num_classes", num_classes, "pass the number of classes, e.g. 10")
    if name not in MODEL_TABLE:
        raise ValueError(f"unknown model name {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    spec = MODEL_TABLE[name]
    accepted = _accepted_kwargs(spec.cls)
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise TypeError(f"build_model({name!r}): unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
                        f"{spec.cls.__name__} accepts: num_classes, {', '.join(accepted)}")
    config = {**spec.defaults, **kwargs}
    return spec.cls(num_classes=spec.num_classes if num_classes is None else num_classes, **config)
