"""Lookaround: d heads take turns on d augmented views of the same batch; all heads are averaged every k rounds.

Update (Zhang et al. 2023), heads theta^1..theta^d starting equal, momentum buffers m^j kept per head:
    "around" step for head j on view j of batch b:  m^j <- mu m^j + (g^j + lambda theta^j),
    theta^j <- theta^j - lr * m^j   (Nesterov: - lr * (g^j + lambda theta^j + mu m^j));
    "average" step after every k rounds (k d optimizer steps):  theta^j <- (1/d) sum_i theta^i for all j.
The model's parameters always hold the live head r = (steps taken) mod d; `step()` updates it, stores it, and
loads the next head. With d = 1 this is exactly SGD with momentum.

References:
    J. Zhang, S. Liu, J. Song, T. Zhu, Z. Xu, M. Song, "Lookaround Optimizer: k steps around, 1 step average",
    NeurIPS 2023, https://arxiv.org/abs/2306.07684. Reference implementation: Ardcy/Lookaround: lookaround.py
    (``head_num``, ``frequence``, per-head ``momentum_buffer``), train.py (one loader per augmentation).

Note (deliberate choices, see METHODS-2 A5):
    * Per-head momentum persists across averages (neither reset nor averaged), as in the reference.
    * Heads are stored in the optimizer state (``state[p]["heads"]``, shape [d, *p.shape]) and momentum in
      ``state[p]["momentum_buffer"]`` (same shape, zero-initialised, which equals torch's first-step clone
      without dampening); ``state_dict()`` round-trips everything, including the step counter.
    * BatchNorm policy: running statistics are buffers, **shared** by all heads (neither swapped nor averaged), as
      in the reference; they mix all heads and views. After training, ``lsdl_ens.bn.update_bn`` on the averaged
      weights gives statistics that match them (the principled choice for final evaluation).
    * Data: the reference draws d loaders with different orders; here head j steps on view j of the *same*
      batch (``BatchLoader(..., augment=True, views=d)`` and `multiview_step`), the paper's intent.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.optim import Optimizer

from .. import checks

__all__ = ["Lookaround", "multiview_step"]


class Lookaround(Optimizer):
    """SGD with d heads averaged every k rounds.

    Args:
        params: parameters (or param groups) of the model.
        lr: learning rate (``fit`` and LR schedulers set ``group["lr"]``).
        n_heads: d, the number of heads (= augmented views per batch).
        k: rounds (steps per head) between two averages.
        momentum, weight_decay, nesterov: of each head's SGD update.
    """

    def __init__(self, params, lr: float, n_heads: int = 3, k: int = 5, momentum: float = 0.9,
                 weight_decay: float = 0.0, nesterov: bool = False):
        lr = checks.nonneg_float("lr", lr, "pass a positive learning rate such as 0.05")
        n_heads = checks.positive_int("n_heads", n_heads, "pass the number of augmented views per batch, e.g. 3")
        k = checks.positive_int("k", k, "pass the rounds between averages, e.g. 5")
        momentum = checks.nonneg_float("momentum", momentum, "pass e.g. 0.9")
        weight_decay = checks.nonneg_float("weight_decay", weight_decay, "pass 0 or a small value such as 5e-4")
        if lr < 0:
            raise ValueError(f"lr must be >= 0; got {lr}")
        if int(n_heads) != n_heads or n_heads < 1:
            raise ValueError(f"n_heads must be an integer >= 1; got {n_heads}")
        if int(k) != k or k < 1:
            raise ValueError(f"k must be an integer >= 1 (rounds between averages); got {k}")
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0; got {momentum}, {weight_decay}")
        if nesterov and momentum <= 0:
            raise ValueError("nesterov=True needs momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))
        self.n_heads, self.k = int(n_heads), int(k)
        self.step_count = 0
        for p in self._params():
            self._init_state(p)

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _init_state(self, p: torch.Tensor) -> None:
        state = self.state[p]
        if "heads" not in state:
            state["heads"] = p.detach().clone().unsqueeze(0).repeat(self.n_heads, *([1] * p.dim()))
            state["momentum_buffer"] = torch.zeros_like(state["heads"])

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        if hasattr(self, "n_heads"):
            for p in self.param_groups[-1]["params"]:
                self._init_state(p)

    @property
    def head_index(self) -> int:
        """The head the model's parameters hold now (the one the next `step` updates)."""
        return self.step_count % self.n_heads

    @torch.no_grad()
    def step(self, closure=None):
        """Update the live head with its own momentum, store it, average every k*d steps, load the next head."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        r = self.head_index
        for group in self.param_groups:
            lr, mu, wd, nesterov = group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                state = self.state[p]
                if p.grad is not None:
                    grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                    if mu != 0:
                        buf = state["momentum_buffer"][r]
                        buf.mul_(mu).add_(grad)
                        grad = grad.add(buf, alpha=mu) if nesterov else buf
                    p.add_(grad, alpha=-lr)
                state["heads"][r].copy_(p)
        self.step_count += 1
        if self.step_count % (self.k * self.n_heads) == 0:
            self._average()
        nxt = self.head_index
        for p in self._params():
            p.copy_(self.state[p]["heads"][nxt])
        return loss

    @torch.no_grad()
    def average_now(self) -> None:
        """Set every head, and the model's parameters, to the uniform mean of the heads (the "average step")."""
        for p in self._params():
            self.state[p]["heads"][self.head_index].copy_(p)  # the live head may have been changed outside step()
        self._average()
        for p in self._params():
            p.copy_(self.state[p]["heads"][0])

    @torch.no_grad()
    def _average(self) -> None:
        for p in self._params():
            heads = self.state[p]["heads"]
            heads.copy_(heads.mean(0, keepdim=True).expand_as(heads))

    @contextlib.contextmanager
    @torch.no_grad()
    def swap_to_average(self):
        """Context manager: the model holds the mean of the heads inside, the live head again on exit."""
        params = self._params()
        backup = [p.detach().clone() for p in params]
        r = self.head_index
        for p in params:
            heads = self.state[p]["heads"].clone()
            heads[r] = p
            p.copy_(heads.mean(0))
        try:
            yield self
        finally:
            for p, b in zip(params, backup):
                p.copy_(b)

    def state_dict(self) -> dict:
        out = super().state_dict()
        out["lookaround"] = {"step_count": self.step_count, "n_heads": self.n_heads, "k": self.k}
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop("lookaround", None)
        if extra is None:
            raise ValueError("state_dict is not a Lookaround state dict (key 'lookaround' missing)")
        if extra["n_heads"] != self.n_heads:
            raise ValueError(f"state_dict has {extra['n_heads']} heads but this optimizer has {self.n_heads}")
        super().load_state_dict(state_dict)
        self.step_count, self.k = int(extra["step_count"]), int(extra["k"])


def multiview_step(model, batch, optimizer, step=None):
    """A `lsdl_ens.train.fit` train step for multi-view batches: one optimizer step per view, in view order.

    With `Lookaround(n_heads=d)` and ``BatchLoader(..., augment=True, views=d)``, head j steps on view j of the
    same images. With any other optimizer it is the matched-compute baseline of the Lookaround paper (d steps per
    batch, one on each view). Returns (mean loss over views, correct predictions over all views, d * batch size).
    """
    xs, y = batch
    if torch.is_tensor(xs):
        xs = (xs,)
    n_heads = getattr(optimizer, "n_heads", None)
    if n_heads is not None and n_heads != len(xs):
        raise ValueError(f"the batch has {len(xs)} views but the Lookaround optimizer has {n_heads} heads; build "
                         f"the loader with views={n_heads}")
    loss_sum, correct = 0.0, 0
    for x in xs:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum = loss_sum + loss.detach()
        correct = correct + (logits.argmax(1) == y).sum()
    return loss_sum / len(xs), correct, len(xs) * len(y)
