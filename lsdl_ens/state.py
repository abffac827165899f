"""Weight-space algebra on state dicts (name -> tensor): interpolation, averaging, flat vectors, distances.

A *state* is a model's ``state_dict()``. Every function here is pure: it reads states and returns new tensors,
never touching a model, so SWA, soups, WiSE-FT, mode connectivity and the loss-landscape plots all share it.
Models appear only at the edges (``parameter_keys(model)`` picks the parameters out of a state).

Rules shared by all functions:

* Floating-point entries are combined; non-floating entries (e.g. BatchNorm's integer ``num_batches_tracked``)
  are copied from the first state, never averaged.
* States must have the same keys, shapes and dtypes; otherwise a ``ValueError`` names the offending key.
* Nothing here recomputes BatchNorm statistics. An averaged or interpolated state carries averaged running
  means/variances, which do not match its weights: call ``lsdl_ens.bn.update_bn`` before evaluating a BN model
  built from such a state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from . import checks

StateDict = dict[str, Tensor]

__all__ = [
    "StateDict", "interpolate", "average", "check_compatible", "add", "subtract", "scale", "float_keys",
    "parameter_keys", "flatten", "unflatten", "distance", "cosine",
]


def _is_float(t: Tensor) -> bool:
    return torch.is_tensor(t) and t.is_floating_point()


def check_compatible(states: Sequence[StateDict], names: Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` unless all states have the same keys, and equal shapes, dtypes and devices per key
    (``TypeError`` if one is not a state dict, e.g. a model).

    Args:
        states: the states to compare with the first one.
        names: how to call each state in messages (default ``states[0]``, ``states[1]``, ...).
    """
    names = list(names) if names is not None else [f"states[{i}]" for i in range(len(states))]
    for state, name in zip(states, names):
        checks.state_dict_like(name, state)
    checks.same_keys(states, names)


def interpolate(state_a: StateDict, state_b: StateDict, alpha: float) -> StateDict:
    """Linear interpolation of two states: w(alpha) = (1 - alpha) * w_a + alpha * w_b on floating entries.

    ``alpha = 0`` returns (a copy of) ``state_a`` and ``alpha = 1`` the floating entries of ``state_b``; other
    values outside [0, 1] extrapolate. Non-floating entries are copied from ``state_a``. BN statistics are not
    recomputed: call ``lsdl_ens.bn.update_bn`` before evaluating a BN model built from the result.

    References:
        Frankle et al., "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020,
        https://arxiv.org/abs/1912.05671.

    Raises:
        ValueError: the states differ in a key, shape, dtype or device (the message names the key and the state
            lacking it), or ``alpha`` is not finite.
        TypeError: a model instead of a state dict (pass ``model.state_dict()``), or ``alpha`` is not a number.
    """
    alpha = checks.finite("alpha", alpha, "pass a number such as 0.5 (0 gives state_a, 1 gives state_b)")
    check_compatible([state_a, state_b], ["state_a", "state_b"])
    out = {}
    for key, a in state_a.items():
        b = state_b[key]
        out[key] = ((1.0 - alpha) * a + alpha * b).detach() if _is_float(a) else a.detach().clone()
    return out


def _check_weights(weights, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    if isinstance(weights, (str, dict)) or not hasattr(weights, "__iter__"):
        raise TypeError(f"weights must be a list of numbers (one per state), got {weights!r}")
    weights = [checks.number(f"weights[{i}]", w, allow_inf=True) if not isinstance(w, float) else w
               for i, w in enumerate(weights)]
    if len(weights) != n:
        raise ValueError(f"weights has {len(weights)} entries but there are {n} states")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError(f"weights must be finite and non-negative; got {weights}")
    if abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"weights must sum to 1; they sum to {sum(weights):.6g}")
    return weights


def average(states: Sequence[StateDict], weights: Sequence[float] | None = None) -> StateDict:
    """Weighted mean of states: w = sum_i lambda_i * w_i, with lambda_i >= 0 and sum_i lambda_i = 1.

    Used by SWA (uniform weights over snapshots) and model soups. Floating entries are accumulated in float64
    and cast back, so the average of identical copies is the copy. Non-floating entries are copied from
    ``states[0]``. BN statistics are not recomputed: call ``lsdl_ens.bn.update_bn`` before evaluating a BN
    model built from the result.

    References:
        Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018,
        https://arxiv.org/abs/1803.05407; Wortsman et al., "Model soups", ICML 2022,
        https://arxiv.org/abs/2203.05482.

    Args:
        states: at least one state.
        weights: one non-negative weight per state, summing to 1; default uniform.

    Raises:
        ValueError: empty ``states``, bad ``weights``, or states differing in a key, shape, dtype or device.
        TypeError: ``states`` is a single state dict or model instead of a list of state dicts.
    """
    states = checks.non_empty("states", states, "pass [state_a, state_b, ...]", what="a non-empty list of state dicts")
    weights = _check_weights(weights, len(states))
    check_compatible(states)
    out = {}
    for key, first in states[0].items():
        if not _is_float(first):
            out[key] = first.detach().clone()
            continue
        total = torch.zeros(first.shape, dtype=torch.float64, device=first.device)
        for w, state in zip(weights, states):
            total += w * state[key].detach().double()
        out[key] = total.to(first.dtype)
    return out


def add(state_a: StateDict, state_b: StateDict) -> StateDict:
    """w_a + w_b on floating entries (non-floating from ``state_a``); e.g. init + task vector."""
    check_compatible([state_a, state_b], ["state_a", "state_b"])
    return {k: (a + state_b[k]).detach() if _is_float(a) else a.detach().clone() for k, a in state_a.items()}


def subtract(state_a: StateDict, state_b: StateDict) -> StateDict:
    """w_a - w_b on floating entries (non-floating from ``state_a``); e.g. a task vector or a direction."""
    check_compatible([state_a, state_b], ["state_a", "state_b"])
    return {k: (a - state_b[k]).detach() if _is_float(a) else a.detach().clone() for k, a in state_a.items()}


def scale(state: StateDict, factor: float) -> StateDict:
    """factor * w on floating entries (non-floating entries copied)."""
    checks.state_dict_like("state", state)
    factor = checks.finite("factor", factor)
    return {k: (factor * v).detach() if _is_float(v) else v.detach().clone() for k, v in state.items()}


def float_keys(state: StateDict) -> list[str]:
    """Names of the floating-point entries of ``state``, in state order (parameters and float buffers)."""
    return [k for k, v in state.items() if _is_float(v)]


def parameter_keys(model: nn.Module) -> list[str]:
    """Names of ``model``'s parameters as they appear in its ``state_dict()``: excludes BN running statistics
    and other buffers. Pass them as ``keys=`` to measure or flatten parameters only."""
    return [name for name, _ in model.named_parameters()]


def _select(state: StateDict, keys: Iterable[str] | None, name: str) -> list[str]:
    checks.state_dict_like(name, state)
    keys = float_keys(state) if keys is None else list(keys)
    for key in keys:
        if key not in state:
            raise ValueError(f"key {key!r} of keys is missing from {name}")
    return keys


def flatten(state: StateDict, keys: Iterable[str] | None = None) -> Tensor:
    """Concatenate the selected entries of ``state`` into one 1-D tensor, in the order of ``keys``.

    Args:
        state: a state.
        keys: entries to include; default all floating entries (use ``parameter_keys(model)`` for parameters
            only, excluding BN buffers).
    """
    keys = _select(state, keys, "state")
    if not keys:
        raise ValueError("keys selects no entries; nothing to flatten")
    return torch.cat([state[k].detach().reshape(-1) for k in keys])


def unflatten(flat: Tensor, like_state: StateDict, keys: Iterable[str] | None = None) -> StateDict:
    """Inverse of ``flatten``: a full state shaped like ``like_state`` whose selected entries come from ``flat``.

    Entries not in ``keys`` are copied from ``like_state`` (so the result loads into the model directly).
    Values are cast to each entry's dtype and device.

    Raises:
        ValueError: ``flat`` is not 1-D or its length differs from the number of selected elements.
    """
    keys = _select(like_state, keys, "like_state")
    if not isinstance(flat, Tensor):
        raise TypeError(f"flat must be a 1-D tensor, got {type(flat).__name__}; use flatten(state)")
    total = sum(like_state[k].numel() for k in keys)
    if flat.dim() != 1 or flat.numel() != total:
        raise ValueError(f"flat must be 1-D with {total} elements (the selected entries of like_state); "
                         f"got shape {tuple(flat.shape)}")
    out = {k: v.detach().clone() for k, v in like_state.items()}
    offset = 0
    for key in keys:
        ref = like_state[key]
        piece = flat[offset:offset + ref.numel()].detach().reshape(ref.shape)
        out[key] = piece.to(device=ref.device, dtype=ref.dtype, copy=True)
        offset += ref.numel()
    return out


def distance(state_a: StateDict, state_b: StateDict, keys: Iterable[str] | None = None) -> float:
    """Euclidean distance ||w_a - w_b||_2 over the selected entries (default: all floating entries)."""
    checks.state_dict_like("state_b", state_b)
    keys = _select(state_a, keys, "state_a")
    check_compatible([{k: state_a[k] for k in keys}, {k: state_b[k] for k in keys if k in state_b}],
                     ["state_a", "state_b"])
    return (flatten(state_a, keys).double() - flatten(state_b, keys).double()).norm().item()


def cosine(state_a: StateDict, state_b: StateDict, keys: Iterable[str] | None = None) -> float:
    """Cosine similarity <w_a, w_b> / (||w_a|| ||w_b||) of the flattened selected entries.

    Typically applied to directions, e.g. ``cosine(subtract(a, init), subtract(b, init))``.

    Raises:
        ValueError: one of the vectors is zero (the angle is undefined).
    """
    checks.state_dict_like("state_b", state_b)
    keys = _select(state_a, keys, "state_a")
    check_compatible([{k: state_a[k] for k in keys}, {k: state_b[k] for k in keys if k in state_b}],
                     ["state_a", "state_b"])
    a, b = flatten(state_a, keys).double(), flatten(state_b, keys).double()
    norm_a, norm_b = a.norm(), b.norm()
    if norm_a == 0 or norm_b == 0:
        raise ValueError("cosine is undefined for a zero vector (state_a or state_b is all zeros on keys)")
    return (a @ b / (norm_a * norm_b)).item()
