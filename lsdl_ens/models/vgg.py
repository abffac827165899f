"""A small VGG-style CIFAR net: stages of 3x3 conv [+ BN] + ReLU, max-pool between stages, global pool, head.

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015
(the stage structure), with BatchNorm after each conv (Ioffe & Szegedy 2015) when ``bn=True``.

Default: widths 16-32-64-128, one conv per stage, BN on: about 99k parameters, the "VGG-style" row of the
course's CPU budget (~2,500 train img/s on 2 cores).

``stage_outputs`` keys, in order (one entry per stage, taken after the stage's last ReLU and before the next
max-pool; for the default 4 stages and a [B, 3, 32, 32] input):
    ``stage1`` [B, 16, 32, 32], ``stage2`` [B, 32, 16, 16], ``stage3`` [B, 64, 8, 8], ``stage4`` [B, 128, 4, 4],
    ``pool`` [B, 128] (= ``features``).

Deliberate deviations from the original VGG:
    * Far fewer and narrower layers; no fully connected hidden layers; global average pooling, then one linear
      head, so ``features`` is the pooled last stage (the original flattens a 7x7 map into 4096-wide FC layers).
    * No dropout.
    * ``bn=False`` gives a net with no normalisation at all (convs then carry biases), for methods that must
      avoid BatchNorm statistics (e.g. curve finding / subspace methods without BN recomputation).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from .base import ContractModel, init_weights

__all__ = ["VGG"]


class VGG(ContractModel):
    """VGG-style CIFAR network.

    Args:
        widths: output channels of each stage; a 2x2 max-pool precedes every stage but the first.
        convs: 3x3 convs per stage, an int (same for every stage) or one int per stage.
        bn: BatchNorm after every conv (conv biases off); ``False`` removes all normalisation (biases on).
        num_classes: size of the linear head.
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128), convs: int | Sequence[int] = 1,
                 bn: bool = True, num_classes: int = 10):
        super().__init__()
        widths = tuple(checks.positive_int(f"widths[{i}]", w, "every stage needs at least one channel")
                       for i, w in enumerate(checks.non_empty("widths", widths)))
        per_stage = (convs,) * len(widths) if isinstance(convs, int) else tuple(convs)
        per_stage = tuple(checks.positive_int("convs", c) for c in per_stage)
        num_classes = checks.positive_int("num_classes", num_classes, "pass the number of classes, e.g. 10")

        if not widths or len(per_stage) != len(widths) or min(per_stage) < 1:
            raise ValueError(f"need >= 1 stage and one positive conv count per stage, got widths={widths}, "
                             f"convs={convs}")
        if len(widths) > 6:
            raise ValueError("at most 6 stages: a 32x32 input is pooled to 1x1 after 5 max-pools")
        self.widths, self.convs, self.bn = widths, per_stage, bn
        self.num_features, self.num_classes = widths[-1], num_classes

        self.stage_names = tuple(f"stage{i + 1}" for i in range(len(widths)))
        in_ch = 3
        for i, (name, width, n_conv) in enumerate(zip(self.stage_names, widths, per_stage)):
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if i > 0 else []
            for _ in range(n_conv):
                layers.append(nn.Conv2d(in_ch, width, kernel_size=3, padding=1, bias=not bn))
                if bn:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU(inplace=True))
                in_ch = width
            setattr(self, name, nn.Sequential(*layers))
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(widths[-1], num_classes)
        init_weights(self)

    def stage_outputs(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Activations after each stage and the pooled features (see module docstring)."""
        out = OrderedDict()
        for name in (*self.stage_names, "pool"):
            x = getattr(self, name)(x)
            out[name] = x
        return out
