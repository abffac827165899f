"""The model contract shared by every network in :mod:`lsdl_ens.models`.

Every model splits into a *body* and a linear *head*:

* ``stage_outputs(x)`` returns an ordered ``dict`` of the activations after each stage of the body (used for
  per-stage CKA and feature distances). Its **last** entry is always the penultimate feature vector.
* ``features(x)`` returns that last entry, shape ``[B, D]`` with ``D == model.num_features``.
* ``forward(x)`` is exactly ``self.head(self.features(x))``; ``self.head`` is an ``nn.Linear(D, num_classes)``,
  so transfer learning only has to swap it (:func:`replace_head`).

Initialisation follows He et al. 2015 ("Delving deep into rectifiers"): Kaiming-normal convolutions with the
fan-in of the forward pass, zero conv biases, BatchNorm weight 1 and bias 0. Linear layers (hidden MLP layers and
the head) keep PyTorch's default initialisation. All randomness comes from torch's global RNG, so
``torch.manual_seed(s)`` before construction makes a model reproducible.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .. import checks

__all__ = ["ContractModel", "init_weights", "replace_head", "count_parameters", "model_device"]


def model_device(model: nn.Module, device=None) -> torch.device:
    """``device`` if given, else the device of the model's first parameter or buffer (CPU for a model without
    tensors): where inputs must go before ``model(x)``."""
    if device is not None:
        return torch.device(device)
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def init_weights(module: nn.Module) -> None:
    """Apply the library's standard initialisation to every submodule of ``module`` in place.

    Convolutions: ``kaiming_normal_(mode="fan_in", nonlinearity="relu")`` (He et al. 2015, std sqrt(2 / fan_in));
    conv biases 0. BatchNorm: weight 1, bias 0. Linear layers are left at PyTorch's default init.

    Args:
        module: the model (or any submodule) to initialise.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def replace_head(model: nn.Module, num_classes: int, seed: int | None = None) -> nn.Module:
    """Swap ``model.head`` for a freshly initialised ``nn.Linear(D, num_classes)``; the body is untouched.

    The new head has PyTorch's default Linear init and sits on the old head's device and dtype.

    Args:
        model: a model following the contract (it has a ``head`` attribute that is an ``nn.Linear``).
        num_classes: output size of the new head.
        seed: if given, the head is drawn from ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng``, so the
            caller's global RNG state is left unchanged; if ``None``, the global RNG is used (and advanced).

    Returns:
        ``model`` itself (modified in place), for chaining.
    """
    checks.module("model", model)
    num_classes = checks.positive_int("num_classes", num_classes, "pass the new number of classes")
    old = getattr(model, "head", None)
    if not isinstance(old, nn.Linear):
        raise TypeError(f"model.head must be nn.Linear, got {type(old).__name__}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")

    def make() -> nn.Linear:
        return nn.Linear(old.in_features, num_classes, bias=old.bias is not None,
                         device=old.weight.device, dtype=old.weight.dtype)

    if seed is None:
        model.head = make()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model.head = make()
    if hasattr(model, "num_classes"):
        model.num_classes = num_classes
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (buffers such as BN running statistics are not counted).

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class ContractModel(nn.Module):
    """Base class: subclasses build ``self.head`` and implement :meth:`stage_outputs`; the rest follows.

    Attributes:
        num_features: dimension D of :meth:`features`.
        num_classes: output dimension of the head.
    """

    num_features: int
    num_classes: int
    head: nn.Linear

    #: submodules run in order by the default :meth:`stage_outputs` (the last one yields the features)
    stage_sequence: tuple[str, ...] = ()

    def stage_outputs(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Ordered activations after each stage; the last entry is the pooled feature vector ``[B, D]``.

        The default runs the submodules named in ``stage_sequence`` one after the other."""
        if not self.stage_sequence:
            raise NotImplementedError("set stage_sequence or override stage_outputs")
        out = OrderedDict()
        for name in self.stage_sequence:
            x = getattr(self, name)(x)
            out[name] = x
        return out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[B, D]``: the last entry of :meth:`stage_outputs`."""
        return next(reversed(self.stage_outputs(x).values()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]``, exactly ``self.head(self.features(x))``."""
        return self.head(self.features(x))

    def replace_head(self, num_classes: int, seed: int | None = None) -> ContractModel:
        """Method form of :func:`replace_head`."""
        return replace_head(self, num_classes, seed=seed)
