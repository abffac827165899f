"""A multilayer perceptron for toy low-dimensional tasks (2-D spirals, moons, ...), with the CIFAR nets' contract.

Architecture: ``len(hidden)`` layers of Linear [+ BatchNorm1d] + ReLU, then a linear head. Input ``[B, in_features]``.

``stage_outputs`` keys, in order: ``hidden1`` ... ``hiddenL`` (each ``[B, hidden[i]]``, after the ReLU); the last
one is ``features``.

Deliberate choices: Linear layers keep PyTorch's default initialisation (there are no convs to Kaiming-init);
with ``bn=True`` the hidden Linear layers drop their (redundant) bias.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from .base import ContractModel, init_weights

__all__ = ["MLP"]


class MLP(ContractModel):
    """Fully connected ReLU network.

    Args:
        in_features: input dimension (2 for the toy 2-D tasks).
        hidden: width of each hidden layer; at least one layer.
        num_classes: size of the linear head.
        bn: BatchNorm1d after every hidden Linear.
    """

    def __init__(self, in_features: int = 2, hidden: Sequence[int] = (32, 32), num_classes: int = 2,
                 bn: bool = False):
        super().__init__()
        in_features = checks.positive_int("in_features", in_features, "pass the input dimension, e.g. 2")
        hidden = tuple(checks.positive_int(f"hidden[{i}]", h, "every hidden layer needs at least one unit")
                       for i, h in enumerate(checks.non_empty("hidden", hidden)))
        num_classes = checks.positive_int("num_classes", num_classes, "pass the number of classes, e.g. 10")

        if not hidden or min(hidden) < 1 or in_features < 1:
            raise ValueError(f"need in_features >= 1 and >= 1 positive hidden widths, got {in_features}, {hidden}")
        self.in_features, self.hidden, self.bn = in_features, hidden, bn
        self.num_features, self.num_classes = hidden[-1], num_classes

        self.stage_names = tuple(f"hidden{i + 1}" for i in range(len(hidden)))
        prev = in_features
        for name, width in zip(self.stage_names, hidden):
            layers: list[nn.Module] = [nn.Linear(prev, width, bias=not bn)]
            if bn:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            setattr(self, name, nn.Sequential(*layers))
            prev = width
        self.head = nn.Linear(prev, num_classes)
        init_weights(self)

    def stage_outputs(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Activations after each hidden layer; the last one is ``features``."""
        out = OrderedDict()
        for name in self.stage_names:
            x = getattr(self, name)(x)
            out[name] = x
        return out
