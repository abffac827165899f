"""Lookahead: k fast steps of an inner optimizer, then pull the slow weights part of the way towards them.

Update (Zhang et al. 2019), with slow weights phi and fast weights theta, every outer iteration t:
    theta_0 = phi_t;  theta_k = k steps of the inner optimizer from theta_0;
    phi_{t+1} = phi_t + alpha (theta_k - phi_t);  theta <- phi_{t+1}.
alpha = 1 recovers the inner optimizer exactly.

References:
    M. Zhang, J. Lucas, G. Hinton, J. Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019,
    https://arxiv.org/abs/1907.08610. Reference implementation: michaelrzhang/lookahead:
    lookahead_pytorch.py (slow copy taken at construction, ``pullback_momentum``); alphadl/lookahead.pytorch:
    lookahead.py (used by the Lookaround repo).

Note (deliberate choices, see METHODS-2 A4):
    * The slow copy is taken at construction (before the first step) and a sync fires after inner steps
      k, 2k, 3k, ... (the paper's timing; alphadl's version syncs one step early, after steps 1, k+1, ...).
    * ``state_dict()`` holds the slow weights (by parameter index), the step counter and the inner optimizer's
      state, so a checkpoint resumes exactly (the reference implementations drop the slow weights).
    * BatchNorm policy: only parameters have slow copies. Running statistics are buffers; they follow the fast
      weights, as in both reference implementations. Evaluating inside ``swap_to_slow()`` therefore uses
      fast-weight statistics (a small mismatch between syncs); call ``lsdl_ens.bn.update_bn`` inside the
      context for exact statistics.
    * ``param_groups`` is the inner optimizer's list itself, so LR schedulers and ``lsdl_ens.train.fit`` (which
      sets ``group["lr"]`` every iteration) drive the inner optimizer directly.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import torch
from torch.optim import Optimizer

from .. import checks

__all__ = ["Lookahead"]

_MOMENTUM_MODES = ("none", "reset", "pullback")


class Lookahead(Optimizer):
    """Wrap `base_optimizer` with Lookahead's slow weights.

    Args:
        base_optimizer: the inner optimizer (any ``torch.optim.Optimizer``, built with all its param groups).
        k: inner steps per outer iteration (>= 1).
        alpha: slow-weight step size in (0, 1]; 1 gives the inner optimizer.
        momentum: what happens to the inner optimizer's ``momentum_buffer`` at a sync: "none" (kept),
            "reset" (zeroed) or "pullback" (interpolated like the weights, with its own slow copy).

    Example:
        >>> opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), k=5, alpha=0.5)
        >>> with opt.swap_to_slow():
        ...     evaluate(model, test_set)
    """

    def __init__(self, base_optimizer: Optimizer, k: int = 5, alpha: float = 0.5, momentum: str = "none"):
        if not isinstance(base_optimizer, Optimizer):
            raise ValueError(f"base_optimizer must be a torch.optim.Optimizer; got {type(base_optimizer).__name__}")
        if isinstance(base_optimizer, Lookahead):
            raise ValueError("base_optimizer is already a Lookahead; wrap the inner optimizer once")
        k = checks.positive_int("k", k, "pass the inner steps per sync, e.g. 5")
        alpha = checks.number("alpha", alpha, low=0.0, high=1.0, low_open=True,
                              fix="pass e.g. 0.5 (1 means no lookahead)")
        if int(k) != k or k < 1:
            raise ValueError(f"k must be an integer >= 1 (inner steps per sync); got {k}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1] (1 = no lookahead); got {alpha}")
        if momentum not in _MOMENTUM_MODES:
            raise ValueError(f"momentum must be one of {_MOMENTUM_MODES}; got {momentum!r}")
        self.base_optimizer = None  # tells add_param_group that Optimizer.__init__ is running
        super().__init__(base_optimizer.param_groups, {})
        self.base_optimizer = base_optimizer
        self.param_groups = base_optimizer.param_groups  # shared list: schedulers and fit() set lr here
        self.defaults = base_optimizer.defaults
        self.k, self.alpha, self.momentum = int(k), float(alpha), momentum
        self.state = defaultdict(dict)
        self.since_sync = 0  # inner steps since the last sync
        for group in self.param_groups:
            self._init_slow(group)

    # ------------------------------------------------------------------ bookkeeping
    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _init_slow(self, group: dict) -> None:
        for p in group["params"]:
            state = self.state[p]
            if "slow_param" not in state:
                state["slow_param"] = p.detach().clone()
                if self.momentum == "pullback":
                    state["slow_momentum"] = torch.zeros_like(p)

    def add_param_group(self, param_group: dict) -> None:
        if self.base_optimizer is None:  # during Optimizer.__init__
            return super().add_param_group(param_group)
        self.base_optimizer.add_param_group(param_group)
        self._init_slow(self.param_groups[-1])

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    # ------------------------------------------------------------------ the update
    @torch.no_grad()
    def sync(self) -> None:
        """Outer update now: phi <- phi + alpha (theta - phi), theta <- phi (momentum handled per `momentum`).

        `step` calls this after every k inner steps; calling it by hand starts a new cycle of k steps.
        """
        for p in self._params():
            state = self.state[p]
            slow = state["slow_param"]
            slow.lerp_(p.detach(), self.alpha)  # exact at alpha = 1
            p.copy_(slow)
            inner = self.base_optimizer.state.get(p, {})
            if self.momentum == "reset" and "momentum_buffer" in inner:
                inner["momentum_buffer"] = torch.zeros_like(p)
            elif self.momentum == "pullback":
                buf = inner.get("momentum_buffer")
                if buf is None:
                    buf = inner.setdefault("momentum_buffer", torch.zeros_like(p))
                slow_m = state["slow_momentum"]
                slow_m.lerp_(buf, self.alpha)
                buf.copy_(slow_m)
        self.since_sync = 0

    def step(self, closure=None):
        """One inner step; after every k-th inner step, the outer (slow-weight) update."""
        loss = self.base_optimizer.step(closure)
        self.since_sync += 1
        if self.since_sync >= self.k:
            self.sync()
        return loss

    # ------------------------------------------------------------------ evaluation
    def slow_state(self) -> dict:
        """The slow weights as {parameter index: tensor} (clones), in param-group order."""
        return {i: self.state[p]["slow_param"].clone() for i, p in enumerate(self._params())}

    @contextlib.contextmanager
    @torch.no_grad()
    def swap_to_slow(self):
        """Context manager: the model holds the slow weights inside, its fast weights again on exit."""
        backup = [p.detach().clone() for p in self._params()]
        for p in self._params():
            p.copy_(self.state[p]["slow_param"])
        try:
            yield self
        finally:
            for p, b in zip(self._params(), backup):
                p.copy_(b)

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Inner optimizer state, slow weights (by parameter index), steps since the last sync and hyperparameters."""
        per_param = {i: {key: value.clone() for key, value in self.state[p].items()}
                     for i, p in enumerate(self._params())}
        return {"base": self.base_optimizer.state_dict(), "lookahead": per_param,
                "since_sync": self.since_sync, "k": self.k, "alpha": self.alpha, "momentum": self.momentum}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a `state_dict()` (same parameters in the same order)."""
        params = self._params()
        saved = state_dict.get("lookahead")
        if saved is None or "base" not in state_dict:
            raise ValueError("state_dict is not a Lookahead state dict (keys 'base' and 'lookahead' missing); "
                             "pass Lookahead.state_dict(), not the inner optimizer's")
        if len(saved) != len(params):
            raise ValueError(f"state_dict holds slow weights of {len(saved)} parameters but this optimizer has "
                             f"{len(params)}")
        self.base_optimizer.load_state_dict(state_dict["base"])
        self.state = defaultdict(dict)
        for i, p in enumerate(params):
            self.state[p] = {key: value.to(device=p.device, dtype=p.dtype).clone()
                             for key, value in saved[i].items()}
        self.since_sync = int(state_dict["since_sync"])
        self.k, self.alpha, self.momentum = int(state_dict["k"]), float(state_dict["alpha"]), state_dict["momentum"]
