"""Wide Residual Networks WRN-d-k for CIFAR (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016).

Architecture (depth d = 6n + 4, widen factor k): a 3x3 conv stem with 16 channels, three stages of ``n``
pre-activation blocks (BN-ReLU-conv-BN-ReLU-[dropout]-conv) with 16k, 32k, 64k channels at 32x32, 16x16, 8x8,
final BN + ReLU, global average pooling, linear head. WRN-16-4 has about 2.75M parameters, WRN-10-2 about 0.3M.

``stage_outputs`` keys, in order (for a [B, 3, 32, 32] input):
    ``stem`` [B, 16, 32, 32], ``stage1`` [B, 16k, 32, 32], ``stage2`` [B, 32k, 16, 16], ``stage3`` [B, 64k, 8, 8],
    ``pool`` [B, 64k] (= ``features``; the final BN + ReLU is applied inside ``pool``).
Stage entries are the raw residual stream (no BN/ReLU after the sum).

Deliberate deviations / choices:
    * When a block changes shape, the shortcut is a bare 1x1 conv applied to the block's pre-activated input (as
      in the authors' code); the identity is used otherwise.
    * Dropout (``dropout``, default 0) sits between the two convs of each block, as in the paper.
    * Convs use Kaiming-normal fan-in init (the authors used fan-out); see :mod:`lsdl_ens.models.base`.
"""

from __future__ import annotations


from torch import nn

from .. import checks
from .base import ContractModel, init_weights
from .resnet import PreActBlock, make_stage

__all__ = ["WideResNet"]


class WideResNet(ContractModel):
    """WRN-depth-widen, pre-activation, optional dropout.

    Args:
        depth: total depth 6n + 4 (10, 16, 22, 28, 40 ...).
        widen: widen factor k; stages have 16k, 32k, 64k channels.
        dropout: dropout probability between the two convs of every block (0 disables it).
        num_classes: size of the linear head.
    """

    stage_sequence = ("stem", "stage1", "stage2", "stage3", "pool")

    def __init__(self, depth: int = 16, widen: int = 4, dropout: float = 0.0, num_classes: int = 10):
        super().__init__()
        depth = checks.integer("depth", depth, fix="WideResNet depth is 6n+4: 10, 16, 22, 28 ...")
        widen = checks.positive_int("widen", widen, "pass the widening factor, e.g. 2")
        dropout = checks.number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        num_classes = checks.positive_int("num_classes", num_classes, "pass the number of classes, e.g. 10")
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n+4 with n >= 1 (10, 16, 22, 28 ...), got {depth}")
        if widen < 1:
            raise ValueError(f"widen must be >= 1, got {widen}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        n = (depth - 4) // 6
        widths = (16 * widen, 32 * widen, 64 * widen)
        self.depth, self.widen, self.dropout = depth, widen, dropout
        self.num_features, self.num_classes = widths[-1], num_classes

        self.stem = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        kw = dict(shortcut="B", dropout=dropout)
        self.stage1 = make_stage(PreActBlock, 16, widths[0], n, 1, **kw)
        self.stage2 = make_stage(PreActBlock, widths[0], widths[1], n, 2, **kw)
        self.stage3 = make_stage(PreActBlock, widths[1], widths[2], n, 2, **kw)
        self.pool = nn.Sequential(nn.BatchNorm2d(widths[2]), nn.ReLU(inplace=True),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(widths[2], num_classes)
        init_weights(self)
