"""Plain-data wire format between the grading kernel and the sandboxed student process (no pickle).

Values travel as JSON. Allowed: None, bool, int, float (NaN and infinities kept), str, list, tuple, dict (any
encodable keys), torch tensors and numpy arrays as ``{dtype, shape, base64 bytes}``, and small `torch.nn` models
built from a fixed set of layer types (structure + state dict). Callables become numbered callbacks: the other
side gets a stub that asks the owner to run the function on plain data. Everything else (tensor subclasses,
lazy objects, generators, ...) is refused with `WireError` by the sender; the student side first converts what it
safely can (a tensor subclass becomes a plain tensor copy of its data).

This file is also executed, as source, inside the sandbox: it imports nothing from the course package.
"""

import base64
import json
import math

TENSOR, ARRAY, TUPLE, DICT, MODULE, CALLBACK, FLOAT = "~t", "~a", "~tuple", "~dict", "~module", "~cb", "~f"
_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
           "complex64", "complex128")
_LAYERS = {  # layer type -> constructor arguments read from the instance
    "Sequential": (), "ReLU": (), "Tanh": (), "GELU": (), "Sigmoid": (), "Identity": (), "Flatten": (),
    "Linear": ("in_features", "out_features", "bias"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"),
    "AdaptiveAvgPool2d": ("output_size",), "MaxPool2d": ("kernel_size", "stride", "padding"),
    "AvgPool2d": ("kernel_size", "stride", "padding"), "Dropout": ("p",),
}
MAX_DEPTH = 20
MAX_MODEL_PARAMETERS = 50_000_000  # a model sent by the student may not make the grader allocate more


class WireError(TypeError):
    """A value that cannot be sent between the grading kernel and the sandbox."""


def _tensor_payload(t):
    import torch

    t = t.detach().cpu().contiguous()
    name = str(t.dtype).replace("torch.", "")
    if name not in _DTYPES:
        raise WireError(f"tensors of dtype {t.dtype} cannot be sent; use float64, float32 or an integer dtype")
    raw = t.view(torch.int16) if name == "bfloat16" else t
    data = raw.numpy().tobytes() if t.numel() else b""
    return {TENSOR: name, "shape": list(t.shape), "data": base64.b64encode(data).decode("ascii")}


def _module_spec(m, depth):
    kind = type(m).__name__
    if kind not in _LAYERS or type(m).__module__.split(".")[0] != "torch":
        raise WireError(f"models with layers of type {type(m).__name__} cannot be sent")
    args = {}
    for name in _LAYERS[kind]:
        value = getattr(m, name)
        args[name] = value is not None if name == "bias" else (list(value) if isinstance(value, tuple) else value)
    children = [[n, _module_spec(c, depth + 1)] for n, c in m.named_children()]
    return {"kind": kind, "args": args, "training": bool(m.training), "children": children,
            "state": {k: _tensor_payload(v) for k, v in m.state_dict(keep_vars=False).items()} if depth == 0 else None}


def encode(value, callbacks=None, depth=0):
    """`value` as JSON-ready data; callables are registered in `callbacks` (a list) when given."""
    if depth > MAX_DEPTH:
        raise WireError("value is nested too deeply to be sent")
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is float:
        return value if math.isfinite(value) else {FLOAT: repr(value)}
    if t in (list, tuple):
        items = [encode(v, callbacks, depth + 1) for v in value]
        return items if t is list else {TUPLE: items}
    if t is dict or (t.__module__ == "collections" and t.__name__ == "OrderedDict"):  # state_dict() is ordered
        return {DICT: [[encode(k, callbacks, depth + 1), encode(v, callbacks, depth + 1)] for k, v in value.items()]}
    mod = t.__module__.split(".")[0]
    if mod == "torch" and t.__name__ in ("Tensor", "Parameter"):
        return _tensor_payload(value)
    if mod == "numpy" and t.__name__ == "ndarray":
        import torch

        return {ARRAY: _tensor_payload(torch.from_numpy(value.copy()))}
    if mod == "numpy" and hasattr(value, "item") and getattr(value, "shape", None) == ():
        return encode(value.item(), callbacks, depth)
    if mod == "torch" and t.__name__ in ("dtype",):
        return {"~dtype": str(value)}
    if mod == "torch" and t.__name__ in _LAYERS:
        return {MODULE: _module_spec(value, 0)}
    if callbacks is not None and callable(value):
        callbacks.append(value)
        return {CALLBACK: len(callbacks) - 1}
    raise WireError(f"a value of type {t.__module__}.{t.__qualname__} cannot be sent: use numbers, strings, lists, "
                    "tuples, dicts and plain tensors")


def _tensor(d):
    import torch

    dtype = getattr(torch, d[TENSOR])
    raw = base64.b64decode(d["data"])
    store = torch.int16 if dtype == torch.bfloat16 else dtype
    t = torch.frombuffer(bytearray(raw), dtype=store) if raw else torch.empty(0, dtype=store)
    t = t.reshape(d["shape"]).clone()
    return t.view(torch.bfloat16) if dtype == torch.bfloat16 else t


def _module(spec):
    import torch

    kind = spec["kind"]
    if kind not in _LAYERS:
        raise WireError(f"unknown layer type {kind!r}")
    cls = getattr(torch.nn, kind)
    sizes = [v for k, v in spec["args"].items() if k != "bias" and type(v) is int]
    if any(v < 0 or v > 10**6 for v in sizes) or math.prod(sizes[:2] or [0]) > MAX_MODEL_PARAMETERS:
        raise WireError(f"model layer {kind} with sizes {sizes} is too large to be sent")
    if kind == "Sequential":
        m = cls()
    else:
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["args"].items()}
        m = cls(**args)
    for name, child in spec["children"]:
        if kind == "Sequential":
            m.add_module(name, _module(child))
    m.train(spec["training"])
    if spec["state"] is not None:
        load_state(m, spec["state"])
    return m


def load_state(module, payload):
    """Copy an encoded state dict (and nothing else) into `module`'s tensors, in place."""
    import torch

    state = {k: _tensor(v) for k, v in payload.items()}
    with torch.no_grad():
        for k, v in module.state_dict(keep_vars=True).items():
            if k in state:
                if v.shape != state[k].shape:
                    raise WireError(f"model entry {k!r} changed shape from {tuple(v.shape)} to {tuple(state[k].shape)}")
                v.copy_(state[k])


def module_update(module):
    """What the other side needs to mirror in-place changes of `module`: its state and training flags."""
    return {"state": {k: _tensor_payload(v) for k, v in module.state_dict().items()},
            "training": [bool(m.training) for m in module.modules()],
            "momentum": [getattr(m, "momentum", None) for m in module.modules()]}


def apply_module_update(module, update):
    load_state(module, update["state"])
    for m, flag, momentum in zip(module.modules(), update["training"], update["momentum"]):
        m.training = flag
        if hasattr(m, "momentum") and (momentum is None or type(momentum) in (int, float)):
            m.momentum = momentum


def decode(data, make_callback=None):
    """Inverse of `encode`; callback markers become `make_callback(index)`."""
    if isinstance(data, list):
        return [decode(v, make_callback) for v in data]
    if not isinstance(data, dict):
        return data
    if TENSOR in data:
        return _tensor(data)
    if ARRAY in data:
        return _tensor(data[ARRAY]).numpy()
    if FLOAT in data:
        return float(data[FLOAT])
    if TUPLE in data:
        return tuple(decode(v, make_callback) for v in data[TUPLE])
    if DICT in data:
        return {_hashable(decode(k, make_callback)): decode(v, make_callback) for k, v in data[DICT]}
    if MODULE in data:
        return _module(data[MODULE])
    if "~dtype" in data:
        import torch

        return getattr(torch, data["~dtype"].replace("torch.", ""))
    if CALLBACK in data:
        if make_callback is None:
            raise WireError("callbacks cannot be sent in this direction")
        return make_callback(int(data[CALLBACK]))
    raise WireError(f"unknown wire value with keys {sorted(data)[:5]}")


def _hashable(k):
    return tuple(k) if isinstance(k, list) else k


def dumps(message) -> str:
    return json.dumps(message, allow_nan=False, separators=(",", ":"))


def loads(line: str):
    return json.loads(line)
