"""Mode connectivity curves: a Bezier curve or polygonal chain of weights joining two trained networks.

The curve is w(t) = sum_k c_k(t) w_k over control points w_0 (start), w_1..w_{n-2} (bends), w_{n-1} (end). Training
minimises E_{t ~ U(0,1)} [ L(w(t)) + wd/2 ||w(t)||^2 ] over the bends, one t per mini-batch; afterwards the loss
stays low along the whole curve although the straight segment between the ends crosses a high-loss barrier.

References:
    Garipov et al., "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs", NeurIPS 2018,
    https://arxiv.org/abs/1802.10026. Reference implementation: timgaripov/dnn-mode-connectivity@f0bf253:
    curves.py (``Bezier``, ``PolyChain``, ``CurveNet``), train.py (``learning_rate_schedule``, ``l2_regularizer``),
    eval_curve.py.

Deliberate deviations from the reference:
    * No hand-written curve layers: the base network is called with ``torch.func.functional_call`` on the
      parameters w(t), so any architecture works; control points are stored per parameter *name*, not by position.
    * Only parameters lie on the curve; BN running statistics are recomputed per t by ``lsdl_ens.bn.update_bn``
      (momentum None, batches weighted equally; the reference weights examples equally).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from tqdm.auto import tqdm

from .. import checks
from ..data import BatchLoader, ImageSet
from ..schedules import swa_lr
from ..state import check_compatible, parameter_keys
from ..train import progress_enabled
from ..evaluation import check_bn_data, evaluate_point, preserved, replayable, stack_results
from ..models import model_device

__all__ = ["bezier_coeffs", "polychain_coeffs", "CurveModel", "curve_lr", "train_curve", "evaluate_curve"]


def _as_t(t) -> Tensor:
    t = torch.as_tensor(t)
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if t.dim() != 0 or not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must be a scalar in [0, 1]; got {t.tolist()}")
    return t


def bezier_coeffs(t, n_points: int) -> Tensor:
    """Bernstein weights of a Bezier curve: c_k(t) = C(n-1, k) t^k (1-t)^(n-1-k), k = 0..n-1.

    They are non-negative and sum to 1; with n = 3, w(t) = (1-t)^2 w_0 + 2t(1-t) w_1 + t^2 w_2, and the bend w_1
    is not on the curve. Returns a tensor [n_points] with t's dtype (default dtype for Python numbers).
    """
    n_points = checks.integer("n_points", n_points, minimum=2, fix="a curve needs at least its start and end")
    t = _as_t(t)
    k = torch.arange(n_points, dtype=t.dtype)
    binom = torch.tensor([math.comb(n_points - 1, i) for i in range(n_points)], dtype=t.dtype)
    return binom * t.pow(k) * (1 - t).pow(n_points - 1 - k)


def polychain_coeffs(t, n_points: int) -> Tensor:
    """Weights of a polygonal chain: c_k(t) = max(0, 1 - |t (n-1) - k|), k = 0..n-1.

    Piecewise linear; at t = k / (n-1) the curve passes through control point k (the bend at t = 0.5 for n = 3).
    """
    n_points = checks.integer("n_points", n_points, minimum=2, fix="a curve needs at least its start and end")
    t = _as_t(t)
    k = torch.arange(n_points, dtype=t.dtype)
    return (1 - (t * (n_points - 1) - k).abs()).clamp(min=0)


_COEFFS = {"bezier": bezier_coeffs, "polychain": polychain_coeffs}


class CurveModel(nn.Module):
    """A curve of networks w(t), t in [0, 1], between two trained states of one architecture.

    Control points are trainable tensors keyed by parameter name (``control_point(k)``); point 0 is the start,
    point n-1 the end, and the ``n_bends`` points between start on the segment, at k / (n-1) ("linear" init of
    the reference, the midpoint for one bend). Buffers (BN statistics) are not on the curve: the model keeps
    those of ``state_start``; recompute them per t with ``lsdl_ens.bn.update_bn`` before evaluating.

    Args:
        base_model: the architecture; a deep copy with frozen parameters is kept (``curve.base``), the argument
            itself is not modified.
        state_start, state_end: the endpoints' ``state_dict()``.
        kind: ``"bezier"`` or ``"polychain"``.
        n_bends: number of interior control points (the reference's ``num_bends`` counts all points: 3 = 1 bend).
        fix_ends: endpoints do not train (the reference's ``--fix_start --fix_end``).
        seed: seeds the generator ``forward`` draws t from when none is given.
    """

    def __init__(self, base_model: nn.Module, state_start: dict, state_end: dict, kind: str = "bezier",
                 n_bends: int = 1, fix_ends: bool = True, seed: int = 0):
        super().__init__()
        checks.module("base_model", base_model, "pass the architecture (a model); the endpoints are state dicts")
        if kind not in _COEFFS:
            raise ValueError(f"kind must be 'bezier' or 'polychain'; got {kind!r}")
        if int(n_bends) != n_bends or n_bends < 0:
            raise ValueError(f"n_bends must be an integer >= 0; got {n_bends}")
        self.kind, self.n_bends, self.n_points = kind, int(n_bends), int(n_bends) + 2
        self.base = copy.deepcopy(base_model)
        reference = self.base.state_dict()
        check_compatible([reference, state_start, state_end], ["base_model", "state_start", "state_end"])
        self.base.load_state_dict(state_start)
        self.base.requires_grad_(False)
        self.param_names = parameter_keys(self.base)
        self.control_points = nn.ModuleList()
        for k in range(self.n_points):
            s = k / (self.n_points - 1)
            trainable = not (fix_ends and k in (0, self.n_points - 1))
            tensors = []
            for name in self.param_names:
                if k == 0 or k == self.n_points - 1:
                    value = (state_start if k == 0 else state_end)[name].detach().clone()
                else:
                    value = ((1 - s) * state_start[name] + s * state_end[name]).detach()
                value = value.to(device=reference[name].device, dtype=reference[name].dtype)
                tensors.append(nn.Parameter(value, requires_grad=trainable))
            self.control_points.append(nn.ParameterList(tensors))
        self.generator = torch.Generator().manual_seed(seed)

    def control_point(self, k: int) -> dict[str, Tensor]:
        """Control point k as {parameter name: tensor} (0 = start, n_points - 1 = end)."""
        return dict(zip(self.param_names, self.control_points[k]))

    def coeffs(self, t) -> Tensor:
        """The curve weights c_k(t) [n_points]."""
        return _COEFFS[self.kind](t, self.n_points)

    def params_at(self, t) -> dict[str, Tensor]:
        """w(t) = sum_k c_k(t) w_k for every parameter name (differentiable w.r.t. the control points)."""
        first = self.control_points[0][0]
        c = self.coeffs(t).to(device=first.device, dtype=first.dtype)
        params = {}
        for i, name in enumerate(self.param_names):
            value = c[0] * self.control_points[0][i]
            for k in range(1, self.n_points):
                value = value + c[k] * self.control_points[k][i]
            params[name] = value
        return params

    def forward_with_params(self, x: Tensor, t) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits of the network w(t) on ``x`` (one t for the whole batch), and w(t) itself."""
        params = self.params_at(t)
        return functional_call(self.base, params, (x,)), params

    def forward(self, x: Tensor, t=None) -> Tensor:
        """Logits of w(t); when ``t`` is None, one t ~ U(0, 1) is drawn from ``self.generator`` for the batch."""
        if t is None:
            t = torch.rand((), generator=self.generator).item()
        return self.forward_with_params(x, t)[0]

    @torch.no_grad()
    def state_at(self, t) -> dict[str, Tensor]:
        """A full state dict for the base architecture: parameters w(t), buffers of ``self.base``.

        The buffers are not those of w(t): call ``lsdl_ens.bn.update_bn`` after loading it into a BN model.
        """
        state = {k: v.detach().clone() for k, v in self.base.state_dict().items()}
        state.update({k: v.detach().clone() for k, v in self.params_at(t).items()})
        return state


def curve_lr(epoch: int, epochs: int, lr: float) -> float:
    """The reference's curve schedule: lr for the first 50% of epochs, linear to 0.01 lr by 90%, then 0.01 lr.

    The SWA schedule shape, ``lsdl_ens.schedules.swa_lr(epoch, lr, 0.01 * lr, epochs)``, set once per epoch.
    """
    checks.positive_float("epochs", epochs, "pass the curve's training epochs (>= 1)")
    checks.positive_float("lr", lr, "pass a positive learning rate such as 0.05")
    return swa_lr(epoch, lr, 0.01 * lr, epochs)


def _epoch_batches(data, seed: int, batch_size: int):
    if isinstance(data, ImageSet):
        data = BatchLoader(data, batch_size, shuffle=True, augment=True, seed=seed)
    if isinstance(data, BatchLoader):
        return (lambda epoch: data.iterate(epoch=epoch, seed=seed)), len(data)
    batches = replayable(data, "data")
    return (lambda epoch: batches()), (len(data) if hasattr(data, "__len__") else None)


def train_curve(curve: CurveModel, data, *, epochs: int, lr: float, weight_decay: float, momentum: float = 0.9,
                seed: int = 0, batch_size: int = 128, device=None, progress: bool | None = None) -> dict:
    """Train the curve's free control points by SGD on E_t [CE(w(t)) + wd/2 ||w(t)||^2], one t ~ U(0,1) per batch.

    Weight decay acts on the curve point w(t) (all parameters, BN affine included), not on the control points,
    so SGD runs with ``weight_decay=0``. The learning rate follows ``curve_lr`` per epoch.

    Args:
        curve: the ``CurveModel``, trained in place (in train mode: BN uses batch statistics).
        data: an ``ImageSet`` (then shuffled, augmented batches of ``batch_size``), a ``BatchLoader`` or a list of
            ``(x, y)`` batches.
        epochs, lr, weight_decay, momentum: as in the reference (e.g. CIFAR VGG16: 600 epochs, lr 0.015, wd 5e-4;
            PreResNet164: 200, 0.03, 3e-4).
        seed: seeds the draws of t, the data order/augmentation and torch's global RNG (dropout).

    Returns:
        ``{"epoch", "lr", "loss", "error"}`` lists per epoch; ``loss`` is the training objective (CE + L2 term).
    """
    if not isinstance(curve, CurveModel):
        raise TypeError(f"curve must be a CurveModel, got {type(curve).__name__}; build one with CurveModel(model, "
                        "state_start, state_end)")
    checks.nonneg_int("epochs", epochs)
    checks.positive_float("lr", lr, "pass a positive learning rate such as 0.05")
    checks.nonneg_float("weight_decay", weight_decay, "pass 0 or a small value such as 5e-4")
    checks.nonneg_float("momentum", momentum, "pass e.g. 0.9")
    checks.positive_int("batch_size", batch_size, "pass a whole number such as 128")
    params = [p for p in curve.control_points.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the curve has no trainable control point (fix_ends=True and n_bends=0)")
    device = model_device(curve, device)
    torch.manual_seed(seed)
    batches_of, n_batches = _epoch_batches(data, seed, batch_size)
    t_generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=0.0)
    history = {"epoch": [], "lr": [], "loss": [], "error": []}
    bar = tqdm(total=None if n_batches is None else epochs * n_batches, desc="train curve",
               disable=not progress_enabled(progress), leave=False)
    curve.train()
    for epoch in range(epochs):
        lr_now = curve_lr(epoch, epochs, lr)
        for group in optimizer.param_groups:
            group["lr"] = lr_now
        # summed on the device (float64, as Python floats would be): no wait for the device within an epoch
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        wrong = torch.zeros((), dtype=torch.long, device=device)
        seen = 0
        for batch in batches_of(epoch):
            x, y = batch[0].to(device), batch[1].to(device)
            t = torch.rand((), generator=t_generator).item()
            logits, w_t = curve.forward_with_params(x, t)
            loss = F.cross_entropy(logits, y)
            if weight_decay:
                loss = loss + 0.5 * weight_decay * sum(p.pow(2).sum() for p in w_t.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().double() * len(y)
            wrong += (logits.argmax(1) != y).sum()
            seen += len(y)
            bar.update(1)
        history["epoch"].append(epoch + 1)
        history["lr"].append(lr_now)
        history["loss"].append(float(loss_sum) / max(seen, 1))
        history["error"].append(int(wrong) / max(seen, 1))
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
    bar.close()
    return history


def evaluate_curve(curve: CurveModel, model: nn.Module | None, eval_data, *, bn_data=None, ts=None,
                   train_data=None, weight_decay: float = 0.0, recompute_bn: bool = True, device=None,
                   progress: bool | None = None) -> dict:
    """Loss and error of the network w(t) at each t, recomputing BN statistics at every t when the model has BN.

    Args:
        curve: a trained ``CurveModel``.
        model: a network of the base architecture to load w(t) into (state and flags restored on return);
            None uses a copy of ``curve.base``.
        eval_data: ``ImageSet``, ``BatchLoader`` (replayed at epoch 0) or list of ``(x, y)`` batches.
        bn_data: training batches for ``update_bn`` (the reference: augmented training images); required with BN
            unless ``recompute_bn=False``.
        ts: default ``linspace(0, 1, 61)`` as in the reference's eval_curve.py.
        train_data: also report ``train_loss`` / ``train_error``; with ``weight_decay`` the train loss includes
            wd/2 ||w(t)||^2 like the reference.

    Returns:
        ``{"ts", "loss", "error"[, "train_loss", "train_error"], "segment_length"}`` (numpy arrays);
        ``segment_length[i] = ||w(t_i) - w(t_{i-1})||`` over parameters (0 at i = 0).
    """
    ts = np.linspace(0.0, 1.0, 61) if ts is None else np.asarray(ts, dtype=np.float64).reshape(-1)
    if ts.size == 0:
        raise ValueError("ts is empty; pass at least one curve position")
    model = copy.deepcopy(curve.base) if model is None else model
    recompute = check_bn_data(model, bn_data, recompute_bn)
    device = model_device(model, device)
    eval_batches = replayable(eval_data, "eval_data")
    bn_batches = replayable(bn_data, "bn_data", batch_size=128) if recompute else None
    train_batches = replayable(train_data, "train_data")
    rows, previous = [], None
    with preserved(model):
        for t in tqdm(ts, desc="evaluate curve", disable=not progress_enabled(progress), leave=False):
            state = curve.state_at(float(t))
            row = evaluate_point(model, state, eval_batches, bn_batches=bn_batches, train_batches=train_batches,
                                 device=device)
            flat = torch.cat([state[k].reshape(-1).double() for k in curve.param_names])
            if train_batches is not None and weight_decay:
                row["train_loss"] += 0.5 * weight_decay * flat.pow(2).sum().item()
            row["segment_length"] = 0.0 if previous is None else (flat - previous).norm().item()
            previous = flat
            rows.append(row)
    return {"ts": ts.copy(), **stack_results(rows)}
