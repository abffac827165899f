"""Argument checks shared by the public functions: one clear error at the call, before any work starts.

Every check raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value of the right kind
outside its range, with a message that names the argument, shows the value and says how to fix it, e.g.

    lr must be a finite number > 0, got -0.05; pass a positive learning rate such as 0.05

and returns the value converted to its plain Python type (``int``, ``float``, ``list`` ...), so callers write
``epochs = checks.nonneg_int("epochs", epochs)``.

Conventions (deliberate):

* Booleans are not numbers here: ``True`` is rejected where an int or float is expected.
* Integers: Python and numpy integers, and floats holding a whole number (``3.0`` -> 3); ``2.5`` or ``"3"``
  raise ``TypeError`` (a batch size of 2.5 is a mistake, not something to round).
* Floats: any real number (ints included); NaN and infinities are rejected unless ``allow_inf=True``.

Core module: imports only torch, numpy and the standard library.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "integer", "positive_int", "nonneg_int", "number", "real", "finite", "positive_float", "nonneg_float",
    "probability", "one_of", "non_empty", "callable_", "tensor", "finite_tensor", "labels_in_range", "module",
    "state_dict_like", "same_keys", "device", "device_of", "num_classes_of",
]


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    if isinstance(value, nn.Module):
        return f"a model ({type(value).__name__})"
    text = repr(value)
    return text if len(text) <= 80 else f"a {type(value).__name__} ({text[:60]}...)"


def _message(name: str, requirement: str, value: Any, fix: str | None) -> str:
    text = f"{name} must be {requirement}, got {_show(value)}"
    return f"{text}; {fix}" if fix else text


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
            fix: str | None = None) -> int:
    """``value`` as an int in [minimum, maximum] (either bound optional); TypeError for non-integers."""
    bounds = (f" >= {minimum}" if minimum is not None else "") + (f" <= {maximum}" if maximum is not None else "")
    requirement = f"an integer{bounds}"
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        value = value.item()
    if not _is_real(value) or (not isinstance(value, numbers.Integral)
                               and not (math.isfinite(value) and float(value).is_integer())):
        raise TypeError(_message(name, requirement, value, fix or "pass a whole number"))
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(_message(name, requirement, value, fix))
    return value


def positive_int(name: str, value: Any, fix: str | None = None) -> int:
    """An int >= 1 (sizes, epochs of a schedule, counts)."""
    return integer(name, value, minimum=1, fix=fix)


def nonneg_int(name: str, value: Any, fix: str | None = None) -> int:
    """An int >= 0 (epochs of a training run, seeds, ranks)."""
    return integer(name, value, minimum=0, fix=fix)


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, allow_inf: bool = False, fix: str | None = None) -> float:
    """``value`` as a float in the interval given by ``low``/``high`` (open ends with ``*_open``); never NaN."""
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    requirement = ("a number" if allow_inf else "a finite number") + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    if not _is_real(value):
        raise TypeError(_message(name, requirement, value, fix))
    value = float(value)
    if math.isnan(value) or (not allow_inf and math.isinf(value)):
        raise ValueError(_message(name, requirement, value, fix))
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(_message(name, requirement, value, fix))
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(_message(name, requirement, value, fix))
    return value


def real(name: str, value: Any, fix: str | None = None) -> float:
    """``value`` as a float, checking only its type (NaN and infinities pass; range checks come after)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    if not _is_real(value):
        raise TypeError(_message(name, "a real number", value, fix))
    return float(value)


def finite(name: str, value: Any, fix: str | None = None) -> float:
    """Any finite real number."""
    return number(name, value, fix=fix)


def positive_float(name: str, value: Any, fix: str | None = None) -> float:
    """A finite number > 0 (learning rates, temperatures, precisions)."""
    return number(name, value, low=0.0, low_open=True, fix=fix)


def nonneg_float(name: str, value: Any, fix: str | None = None) -> float:
    """A finite number >= 0 (weight decay, momentum, noise scales)."""
    return number(name, value, low=0.0, fix=fix)


def probability(name: str, value: Any, fix: str | None = None) -> float:
    """A number in [0, 1]."""
    return number(name, value, low=0.0, high=1.0, fix=fix)


def one_of(name: str, value: Any, choices: Sequence) -> Any:
    """``value`` if it is one of ``choices`` (ValueError listing them otherwise)."""
    try:
        ok = value in choices
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(_message(name, "one of " + ", ".join(map(repr, choices)), value, None))
    return value


#: the training precisions of `lsdl_ens.train.fit` (``"bf16"``: autocast of the forward pass and the loss)
PRECISIONS = ("fp32", "bf16")


def flag(name: str, value: Any) -> bool:
    """A bool (not 0/1: a switch such as ``channels_last``)."""
    if not isinstance(value, bool):
        raise TypeError(_message(name, "a bool", value, "pass True or False"))
    return value


def non_empty(name: str, value: Any, fix: str | None = None, *, what: str = "a non-empty list") -> list:
    """``value`` as a list with at least one element (TypeError for strings, tensors, dicts, non-iterables)."""
    if isinstance(value, (str, bytes, Mapping, torch.Tensor, nn.Module)) or not hasattr(value, "__iter__"):
        raise TypeError(_message(name, what, value, fix))
    items = list(value)
    if not items:
        raise ValueError(_message(name, what, value, fix))
    return items


def callable_(name: str, value: Any, fix: str | None = None) -> Callable:
    """``value`` if it can be called."""
    if not callable(value):
        raise TypeError(_message(name, "callable", value, fix))
    return value


def tensor(name: str, value: Any, *, dim: int | None = None, floating: bool = False) -> torch.Tensor:
    """``value`` as a tensor (``torch.as_tensor``) with ``dim`` dimensions and, optionally, a floating dtype."""
    if isinstance(value, (str, bytes, Mapping, nn.Module)) or value is None:
        raise TypeError(_message(name, "a tensor", value, None))
    try:
        t = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(_message(name, "a tensor", value, None)) from exc
    if dim is not None and t.dim() != dim:
        raise ValueError(_message(name, f"a {dim}-D tensor", t, None))
    if floating and not t.is_floating_point():
        raise TypeError(_message(name, "a floating-point tensor", t, "convert it with .float()"))
    return t


def finite_tensor(name: str, value: Any, fix: str | None = None) -> torch.Tensor:
    """A floating tensor without NaN or infinity (the message counts the bad entries)."""
    t = tensor(name, value)
    if t.is_floating_point() or t.is_complex():
        bad = (~torch.isfinite(t)).sum().item()
        if bad:
            raise ValueError(f"{name} must be finite, got {bad} NaN/inf entr{'y' if bad == 1 else 'ies'} of "
                             f"{t.numel()}" + (f"; {fix}" if fix else ""))
    return t


def labels_in_range(name: str, labels: Any, num_classes: int | None = None, fix: str | None = None) -> torch.Tensor:
    """A 1-D integer tensor of class indices in [0, num_classes) (``None``: only >= 0)."""
    t = tensor(name, labels)
    if t.dim() != 1:
        raise ValueError(_message(name, "a 1-D vector of class indices", t, None))
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(_message(name, "integer class indices", t, fix or "use .long(), or argmax(dim=1) on "
                                                                         "probabilities"))
    if t.numel():
        low, high = int(t.min()), int(t.max())
        upper = "" if num_classes is None else f" and < {num_classes} (the number of classes)"
        if low < 0 or (num_classes is not None and high >= num_classes):
            raise ValueError(f"{name} must hold class indices >= 0{upper}, got values in [{low}, {high}]"
                             + (f"; {fix}" if fix else ""))
    return t.long()


def module(name: str, value: Any, fix: str | None = None) -> nn.Module:
    """``value`` if it is a ``torch.nn.Module``."""
    if not isinstance(value, nn.Module):
        hint = fix or ("pass the model itself, not its state dict" if isinstance(value, Mapping) else None)
        raise TypeError(_message(name, "a torch.nn.Module", value, hint))
    return value


def state_dict_like(name: str, value: Any) -> Mapping:
    """``value`` if it maps names to tensors (a ``state_dict()``); a model or a list gets a hint."""
    if isinstance(value, nn.Module):
        raise TypeError(_message(name, "a state dict (name -> tensor)", value, f"pass {name}.state_dict() instead "
                                                                              "of the model"))
    if not isinstance(value, Mapping):
        raise TypeError(_message(name, "a state dict (name -> tensor)", value, "pass model.state_dict()"))
    for key, entry in value.items():
        if not isinstance(entry, torch.Tensor):
            raise TypeError(f"{name}[{key!r}] must be a tensor, got {type(entry).__name__}; a state dict maps names "
                            "to tensors (model.state_dict())")
    return value


def same_keys(states: Sequence[Mapping], names: Sequence[str]) -> None:
    """ValueError unless every state has the first one's keys, and per key the same shape, dtype and device."""
    if not states:
        return
    first, first_name = states[0], names[0]
    for state, name in zip(states[1:], names[1:]):
        missing = [k for k in first if k not in state]
        if missing:
            raise ValueError(f"key {missing[0]!r} is in {first_name} but {name} lacks it; the states must come "
                             "from the same architecture")
        extra = [k for k in state if k not in first]
        if extra:
            raise ValueError(f"key {extra[0]!r} is in {name} but {first_name} lacks it; the states must come "
                             "from the same architecture")
        for key, ref in first.items():
            other = state[key]
            for what in ("shape", "dtype", "device"):
                a, b = getattr(ref, what), getattr(other, what)
                if a != b:
                    shown = (tuple(a), tuple(b)) if what == "shape" else (a, b)
                    fix = "move both to one device, e.g. {k: v.cpu() for k, v in state.items()}" \
                        if what == "device" else "the states must come from the same architecture"
                    raise ValueError(f"key {key!r} has {what} {shown[0]} in {first_name} but {shown[1]} in {name}; "
                                     f"{fix}")


def device(name: str, value: Any) -> torch.device | None:
    """``value`` as a ``torch.device`` (None stays None); ValueError for an unknown or unavailable device."""
    if value is None:
        return None
    if not isinstance(value, (str, torch.device)):
        raise TypeError(_message(name, "a device ('cpu', 'cuda', 'cuda:0', a torch.device) or None", value, None))
    try:
        dev = torch.device(value)
    except RuntimeError:
        raise ValueError(_message(name, "a device such as 'cpu' or 'cuda'", value, None)) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(_message(name, "an available device", value, "CUDA is not available here: pass "
                                                                       "device='cpu' or None"))
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(_message(name, f"one of the {torch.cuda.device_count()} CUDA devices", value, None))
    return dev


def device_of(name: str, model: Any) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); CPU for a model without either."""
    module(name, model)
    for tensor_ in model.parameters():
        return tensor_.device
    for tensor_ in model.buffers():
        return tensor_.device
    return torch.device("cpu")


def num_classes_of(model: nn.Module) -> int | None:
    """The size of a classifier's output: ``model.head.out_features`` (the lsdl_ens model contract), else an integer
    ``model.num_classes``; None when neither is there (then labels are not checked against the head)."""
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        return head.out_features
    n = getattr(model, "num_classes", None)
    return int(n) if isinstance(n, numbers.Integral) and not isinstance(n, bool) else None
