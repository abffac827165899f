"""CIFAR ResNets: basic blocks (He et al. 2016a) and pre-activation blocks (He et al. 2016b).

References:
    He, Zhang, Ren, Sun. "Deep Residual Learning for Image Recognition", CVPR 2016 (section 4.2, CIFAR-10).
    He, Zhang, Ren, Sun. "Identity Mappings in Deep Residual Networks", ECCV 2016 (pre-activation unit).

Architecture (depth = 6n + 2): a 3x3 conv stem with ``width`` channels, three stages of ``n`` blocks with
``width, 2 * width, 4 * width`` channels at 32x32, 16x16, 8x8 (the first block of stages 2 and 3 has stride 2),
global average pooling, linear head. Each block holds two 3x3 convs, so depth counts 6n convs + stem + head.

``stage_outputs`` keys, in order (for a [B, 3, 32, 32] input, width w):
    ``stem`` [B, w, 32, 32], ``stage1`` [B, w, 32, 32], ``stage2`` [B, 2w, 16, 16], ``stage3`` [B, 4w, 8, 8],
    ``pool`` [B, 4w] (= ``features``).
For ``preact=True`` the stem and stage entries are the raw residual stream (no BN/ReLU after the sum); the final
BN + ReLU of the pre-activation design is applied inside ``pool``.

Deliberate deviations / choices:
    * Shortcut when the shape changes: option B by default (``shortcut="B"``), i.e. a 1x1 strided conv followed
      by BN for basic blocks. The paper's CIFAR nets use option A (parameter-free: subsample and zero-pad the
      channels), available as ``shortcut="A"``. Option B adds a few parameters (ResNet-20: 272k vs 270k).
    * Pre-activation blocks project the *pre-activated* input with a bare 1x1 conv (no BN: the next block's BN
      follows), as in the pre-activation paper's CIFAR code; option A pads the raw input instead.
    * The pre-activation stem is a bare conv (its BN + ReLU is the first block's pre-activation).
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from .base import ContractModel, init_weights

__all__ = ["ResNet", "BasicBlock", "PreActBlock", "make_stage"]


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: take every ``stride``-th pixel and append zero channels up to ``out_ch``."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        if out_ch < in_ch:
            raise ValueError("option A shortcut cannot reduce channels")
        self.extra, self.stride = out_ch - in_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


def _shortcut(in_ch: int, out_ch: int, stride: int, kind: str, bn: bool) -> nn.Module | None:
    """``None`` for the identity; otherwise the option A or B module mapping in_ch -> out_ch at ``stride``."""
    if in_ch == out_ch and stride == 1:
        return None
    if kind == "A":
        return ZeroPadShortcut(in_ch, out_ch, stride)
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(out_ch)) if bn else conv


class BasicBlock(nn.Module):
    """Post-activation basic block: relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, shortcut: str = "B"):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch)
        self.conv2, self.bn2 = _conv3x3(out_ch, out_ch), nn.BatchNorm2d(out_ch)
        self.shortcut = _shortcut(in_ch, out_ch, stride, shortcut, bn=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + skip)


class PreActBlock(nn.Module):
    """Pre-activation block: conv(dropout(relu(BN(conv(relu(BN(x))))))) + shortcut.

    ``dropout`` (between the two convs) is used by WideResNet; 0 disables it.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, shortcut: str = "B", dropout: float = 0.0):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(in_ch), _conv3x3(in_ch, out_ch, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(out_ch), _conv3x3(out_ch, out_ch)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = _shortcut(in_ch, out_ch, stride, shortcut, bn=False)
        self.kind = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        if self.shortcut is None:
            skip = x
        else:  # option B projects the pre-activated input; option A pads the raw stream
            skip = self.shortcut(pre if self.kind == "B" else x)
        out = self.conv1(pre)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + skip


def make_stage(block: type[nn.Module], in_ch: int, out_ch: int, n_blocks: int, stride: int,
               **block_kw) -> nn.Sequential:
    """``n_blocks`` blocks; the first maps in_ch -> out_ch with ``stride``, the rest keep the shape."""
    blocks = [block(in_ch, out_ch, stride, **block_kw)]
    blocks += [block(out_ch, out_ch, 1, **block_kw) for _ in range(n_blocks - 1)]
    return nn.Sequential(*blocks)


class ResNet(ContractModel):
    """CIFAR ResNet of depth 6n + 2 (8, 14, 20, 32, 56, 110 ...), basic or pre-activation blocks.

    Args:
        depth: total depth 6n + 2 (n blocks per stage).
        width: channels of the stem and the first stage; stages use width, 2 * width, 4 * width.
        num_classes: size of the linear head.
        preact: use pre-activation blocks (He et al. 2016b) instead of post-activation basic blocks.
        shortcut: "B" (1x1 conv projection, default) or "A" (parameter-free zero padding).
    """

    stage_sequence = ("stem", "stage1", "stage2", "stage3", "pool")

    def __init__(self, depth: int = 20, width: int = 16, num_classes: int = 10, preact: bool = False,
                 shortcut: str = "B"):
        super().__init__()
        depth = checks.integer("depth", depth, fix="ResNet depth is 6n+2: 8, 14, 20, 32, 56 ...")
        width = checks.positive_int("width", width, "pass the first stage's channels, e.g. 16")
        num_classes = checks.positive_int("num_classes", num_classes, "pass the number of classes, e.g. 10")
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 56 ...), got {depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
        n = (depth - 2) // 6
        widths = (width, 2 * width, 4 * width)
        self.depth, self.width, self.preact, self.shortcut = depth, width, preact, shortcut
        self.num_features, self.num_classes = widths[-1], num_classes

        if preact:
            self.stem = _conv3x3(3, width)
        else:
            self.stem = nn.Sequential(_conv3x3(3, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        block = PreActBlock if preact else BasicBlock
        self.stage1 = make_stage(block, width, widths[0], n, 1, shortcut=shortcut)
        self.stage2 = make_stage(block, widths[0], widths[1], n, 2, shortcut=shortcut)
        self.stage3 = make_stage(block, widths[1], widths[2], n, 2, shortcut=shortcut)
        final = [nn.BatchNorm2d(widths[2]), nn.ReLU(inplace=True)] if preact else []
        self.pool = nn.Sequential(*final, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(widths[2], num_classes)
        init_weights(self)
