"""Learned soups: mixing coefficients optimised on held-out data (Wortsman et al. 2022, Sec. 3 and App. I).

With N ingredients and raw logits a (one vector a in R^N, or one row per parameter tensor, a in R^{L x N}), the
soup's parameter tensor j is theta_j = sum_i softmax(a_j)_i theta_{i,j}; the network is evaluated at these
weights with ``torch.func.functional_call`` (no copies of the model), its logits are multiplied by a learned
temperature beta, and a, beta minimise the cross-entropy on held-out batches with AdamW.

References:
    Wortsman et al., ICML 2022, https://arxiv.org/abs/2203.05482. Reference implementation:
    mlfoundations/model-soups@d5398f1: learned_bylayer.py (AdamW lr 0.05, wd 0, 5 epochs, softmax over models
    per tensor, a scalar logit scale).

Deliberate deviations: parameters are keyed by name (the reference pairs tensors by position); BatchNorm uses
batch statistics while the coefficients are learned (``model.train()``; the reference ViT has no BN), and the
running statistics of the returned state are the uniform average, so call ``lsdl_ens.bn.update_bn`` before
evaluating it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from tqdm.auto import tqdm

from .. import checks
from ..data import BatchLoader, ImageSet
from ..state import StateDict, average, check_compatible
from ..train import progress_enabled

__all__ = ["mix_states", "soup_logits", "learned_soup_step", "learned_soup"]


def _param_keys(model: nn.Module, states: Sequence[StateDict]) -> list[str]:
    keys = [name for name, _ in model.named_parameters()]
    for key in keys:
        if key not in states[0]:
            raise ValueError(f"key {key!r} is a parameter of model but states[0] lacks it")
    return keys


def _weights(logits: Tensor, n_keys: int) -> Tensor:
    """softmax over the model axis, broadcast to [L, N]."""
    w = logits.softmax(-1)
    return w.expand(n_keys, -1) if w.dim() == 1 else w


def mix_states(states: Sequence[StateDict], weights: Tensor, keys: Sequence[str]) -> dict[str, Tensor]:
    """theta_j = sum_i weights[j, i] * states[i][key_j] for each key (``weights`` [N] is shared by all keys).

    Differentiable in ``weights``; returns only the selected keys.
    """
    weights = weights if weights.dim() == 2 else weights.expand(len(keys), -1)
    if weights.shape != (len(keys), len(states)):
        raise ValueError(f"weights must be [N] or [L, N] = [{len(keys)}, {len(states)}]; got {tuple(weights.shape)}")
    out = {}
    for j, key in enumerate(keys):
        stacked = torch.stack([s[key].detach() for s in states])
        out[key] = torch.tensordot(weights[j].to(stacked.dtype), stacked, dims=1)
    return out


def soup_logits(model: nn.Module, states: Sequence[StateDict], logits: Tensor, x: Tensor,
                buffers: dict[str, Tensor] | None = None) -> Tensor:
    """Outputs of ``model`` at the soup with raw mixing logits ``logits`` ([N] or [L, N]) on inputs ``x``.

    Buffers default to the uniform average of the ingredients' (in train mode BN uses batch statistics).
    """
    keys = _param_keys(model, states)
    params = mix_states(states, _weights(logits, len(keys)), keys)
    if buffers is None:
        buffers = {k: v.detach().clone() for k, v in average(states).items() if k not in params}
    return functional_call(model, {**buffers, **params}, (x,))


def learned_soup_step(model: nn.Module, states: Sequence[StateDict], logits: Tensor, x: Tensor, y: Tensor,
                      lr: float) -> Tensor:
    """One plain gradient step on the raw mixing logits: a <- a - lr * d CE(f(x; theta(a)), y) / d a.

    The didactic unit of the learned soup (``learned_soup`` uses AdamW and a temperature). The model's current
    train/eval mode is used as is. Returns the new logits (a new tensor, same shape).
    """
    a = logits.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(soup_logits(model, states, a, x), y)
    (grad,) = torch.autograd.grad(loss, a)
    return (a - lr * grad).detach()


def learned_soup(model: nn.Module, states: Sequence[StateDict], data: ImageSet, *, per_layer: bool = False,
                 epochs: int = 5, lr: float = 0.05, batch_size: int = 128, learn_temperature: bool = True,
                 seed: int = 0, device=None, progress: bool | None = None) -> tuple[StateDict, Tensor]:
    """Learn softmax mixing coefficients of the ingredients on held-out data and return the soup.

    Args:
        model: a template of the architecture (its own weights are not used; its mode is set to train and put
            back).
        states: the ingredients.
        data: held-out labelled ``ImageSet`` (not the test set); batches are shuffled, not augmented.
        per_layer: one coefficient vector per parameter tensor ("learned soup by layer") instead of one global.
        epochs, lr, batch_size: AdamW (wd 0) on the logits, as in the reference (lr 0.05, 5 epochs).
        learn_temperature: also learn a scalar beta multiplying the outputs (initial value 1).
        seed: order of the batches.

    Returns:
        (soup state, mixing weights [N] or [L, N] with rows summing to 1). Parameters are mixed; float buffers are
        the uniform average and non-floating entries come from ``states[0]``: call ``update_bn`` before use.
    """
    checks.module("model", model, "pass a template model of the architecture")
    states = checks.non_empty("states", states, "pass the ingredients' state dicts",
                              what="a non-empty list of state dicts")
    check_compatible(states)
    checks.positive_int("epochs", epochs)
    checks.positive_float("lr", lr, "pass a positive learning rate such as 0.05")
    checks.positive_int("batch_size", batch_size, "pass a whole number such as 128")
    checks.device("device", device)
    if not isinstance(data, ImageSet):
        raise ValueError(f"data must be a held-out ImageSet; got {type(data).__name__}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device)
    states = [{k: v.to(device) for k, v in s.items()} for s in states]
    keys = _param_keys(model, states)
    n = len(states)
    logits = torch.zeros((len(keys), n) if per_layer else (n,), device=device, requires_grad=True)
    beta = torch.ones((), device=device, requires_grad=learn_temperature)
    opt = torch.optim.AdamW([logits, beta] if learn_temperature else [logits], lr=lr, weight_decay=0.0)
    mean_state = average(states)
    buffers = {k: v for k, v in mean_state.items() if k not in keys}
    stacked = {k: torch.stack([s[k] for s in states]) for k in keys}
    loader = BatchLoader(data, batch_size, shuffle=True, augment=False, seed=seed, device=device)
    was_training = model.training
    model.train()
    try:
        for epoch in tqdm(range(epochs), desc="learned soup", disable=not progress_enabled(progress), leave=False):
            for x, y in loader.iterate(epoch=epoch):
                w = _weights(logits, len(keys))
                params = {k: torch.tensordot(w[j], stacked[k], dims=1) for j, k in enumerate(keys)}
                run_buffers = {k: v.clone() for k, v in buffers.items()}  # BN may write running stats
                out = functional_call(model, {**run_buffers, **params}, (x,)) * beta
                loss = F.cross_entropy(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        model.train(was_training)
    with torch.no_grad():
        w = _weights(logits, len(keys))
        soup = dict(mean_state)
        soup.update({k: torch.tensordot(w[j], stacked[k], dims=1).detach().cpu() for j, k in enumerate(keys)})
        soup = {k: v.detach().cpu() for k, v in soup.items()}
    return soup, logits.detach().softmax(-1).cpu()
