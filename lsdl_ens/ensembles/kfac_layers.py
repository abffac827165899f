"""The layers KFAC-Laplace models and their Kronecker-factor inputs (see `kfac_laplace.py` for the formulas).

* `modelled_layers`: the Linear and Conv2d layers of a network (or only ``model.head``);
* `input_rows`: the rows a~ of the A factor (unfolded patches for convolutions, with a 1 for the bias);
* `weight_matrix`: W~ = [W | b] with the convolution kernel flattened in `F.unfold`'s order;
* `GradCapture`: an identity whose backward hands the output gradient g (rows of the G factor) to a callback;
* `penultimate_features`: ``model.features`` over a dataset, for the last-layer predictive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["modelled_layers", "input_rows", "weight_matrix", "GradCapture", "penultimate_features"]


def modelled_layers(model: nn.Module, subset: str) -> dict[str, nn.Module]:
    """Name -> layer of the layers modelled: ``subset="all"`` every Linear and Conv2d, ``"last_layer"`` model.head."""
    if subset == "last_layer":
        head = getattr(model, "head", None)
        if not isinstance(head, nn.Linear):
            raise ValueError("subset='last_layer' needs model.head to be an nn.Linear (the lsdl_ens model contract)")
        return {"head": head}
    if subset != "all":
        raise ValueError(f"subset must be 'all' or 'last_layer'; got {subset!r}")
    layers = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            if m.groups != 1:
                raise ValueError(f"layer {name!r}: grouped convolutions are not supported (groups={m.groups})")
            layers[name] = m
        elif isinstance(m, nn.Linear):
            layers[name] = m
    if not layers:
        raise ValueError("model has no Linear or Conv2d layer to model")
    return layers


def input_rows(module: nn.Module, x: Tensor) -> tuple[Tensor, int]:
    """Rows a~ [n*L, in(+1)] and L (locations per example)."""
    if isinstance(module, nn.Conv2d):
        cols = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=module.padding,
                        stride=module.stride)                         # [n, C kh kw, L]
        n_loc = cols.shape[-1]
        rows = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    else:
        rows, n_loc = x.reshape(-1, x.shape[-1]), 1
    if module.bias is not None:
        rows = torch.cat([rows, rows.new_ones(rows.shape[0], 1)], 1)
    return rows, n_loc


def weight_matrix(module: nn.Module) -> Tensor:
    w = module.weight.detach().reshape(module.weight.shape[0], -1)
    if module.bias is not None:
        w = torch.cat([w, module.bias.detach().reshape(-1, 1)], 1)
    return w


class GradCapture(torch.autograd.Function):
    """Identity whose backward hands the incoming gradient to a callback."""

    @staticmethod
    def forward(ctx, x, callback):
        ctx.callback = callback
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        ctx.callback(grad)
        return grad, None


def penultimate_features(model: nn.Module, data) -> Tensor:
    """``model.features(x)`` for every image of `data`, in eval mode, on the CPU [n, features]."""
    from ..data import as_loader

    was = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        out = torch.cat([model.features((b[0] if isinstance(b, (list, tuple)) else b).to(device)).float().cpu()
                         for b in as_loader(data, 512, device)])
    model.train(was)
    return out
