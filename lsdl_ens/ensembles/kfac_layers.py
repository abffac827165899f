"""The layers KFAC-Laplace models and their Kronecker-factor inputs (see `kfac_laplace.py` for the formulas).

* `modelled_layers`: the Linear and Conv2d layers of a network (or only ``model.head``);
* `input_rows`: the rows a~ of the A factor (unfolded patches for convolutions, with a 1 for the bias);
* `weight_matrix`: W~ = [W | b] with the convolution kernel flattened in `F.unfold`'s order;
* `GradCapture`: an identity whose backward hands the output gradient g (rows of the G factor) to a callback;
* `penultimate_features`: ``model.features`` over a dataset, for the last-layer predictive;
* `kronecker_factors`: the factors A and G of every modelled layer, accumulated with hooks over a data pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..train import progress_enabled

__all__ = ["modelled_layers", "input_rows", "weight_matrix", "GradCapture", "penultimate_features", "kronecker_factors"]


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


def kronecker_factors(model: nn.Module, layers: dict[str, nn.Module], batches, fisher: str, *, seed: int = 0,
                      device=None, progress: bool | None = None) -> tuple[dict[str, tuple[Tensor, Tensor]], int]:
    """A and G (formulas in `kfac_laplace.py`) of every layer of ``layers`` over ``batches`` ((x, y) pairs, moved to
    ``device``) in eval mode, and the number of examples seen. ``fisher`` chooses the output gradients g: "mc",
    "empirical" or "exact"; ``seed`` drives the "mc" labels. The model's modes and requires_grad flags are restored."""
    sums_a = {n: 0.0 for n in layers}
    sums_g = {n: 0.0 for n in layers}
    n_loc = {}
    handles = []

    def make_hook(name, module):
        def grad_hook(grad):
            g = grad.detach()
            g = g.transpose(1, -1).reshape(-1, g.shape[1]) if g.dim() > 2 else g
            sums_g[name] = sums_g[name] + (g.T @ g).double()  # float32 product per batch, float64 sum

        def forward_hook(mod, inputs, output):
            rows, n_loc[name] = input_rows(mod, inputs[0].detach())
            sums_a[name] = sums_a[name] + (rows.T @ rows).double()
            # an identity node sees the gradient of this output even if a later op (ReLU(inplace=True))
            # overwrites the tensor; a tensor hook on `output` would not
            return GradCapture.apply(output, grad_hook)
        return forward_hook

    for name, m in layers.items():
        handles.append(m.register_forward_hook(make_hook(name, m)))
    was_training = model.training
    model.eval()
    requires = {p: p.requires_grad for p in model.parameters()}
    gen = torch.Generator().manual_seed(seed)
    n_seen = 0
    try:
        for p in model.parameters():  # gradients flow to the modelled layers' outputs only
            p.requires_grad_(False)
        for m in layers.values():
            for p in m.parameters():
                p.requires_grad_(True)
        for batch in tqdm(batches, desc="KFAC factors", disable=not progress_enabled(progress), leave=False):
            x, y = batch[0], batch[1]
            x = x.to(device)
            y = y.to(device)
            logits = model(x)
            n_seen += len(x)
            _backward(logits, y, fisher, gen)
    finally:
        for h in handles:
            h.remove()
        for p, r in requires.items():
            p.requires_grad_(r)
            p.grad = None
        model.train(was_training)
    if n_seen == 0:
        raise ValueError("batches yielded no batch; nothing to fit")
    factors = {n: ((sums_a[n] / n_seen).float(), (sums_g[n] / (n_seen * n_loc[n])).float()) for n in layers}
    return factors, n_seen


def _backward(logits: Tensor, y: Tensor, fisher: str, gen: torch.Generator) -> None:
    """Backward passes whose output gradients are per-example loss gradients (sum reduction)."""
    if fisher == "empirical":
        F.cross_entropy(logits, y, reduction="sum").backward()
    elif fisher == "mc":
        with torch.no_grad():
            y_s = torch.multinomial(logits.float().softmax(-1).cpu(), 1, generator=gen).flatten()
        F.cross_entropy(logits, y_s.to(logits.device), reduction="sum").backward()
    else:  # exact: sum_c s_c s_c^T = diag(p) - p p^T with s_c = sqrt(p_c) (e_c - p)
        with torch.no_grad():
            p = logits.softmax(-1)
            eye = torch.eye(p.shape[1], dtype=p.dtype, device=p.device)
            roots = p.sqrt().unsqueeze(2) * (eye.unsqueeze(0) - p.unsqueeze(1))   # [n, c, C]: row c = s_c
        for c in range(p.shape[1]):
            logits.backward(roots[:, c], retain_graph=c < p.shape[1] - 1)
