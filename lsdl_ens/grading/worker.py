"""The sandboxed student process: runs notebook cells and function calls sent by the grading kernel.

Executed as source (``python -I -c``) after the source of `wire.py`, inside the sandbox built by `sandbox.py`; it
imports nothing from the course package (which the sandbox hides). One JSON message per line on the private
channel (a duplicate of the original stdout); the student's own prints are captured and sent back as text.

Requests: ``{"op": "cell", "source"}`` runs a cell in the notebook namespace and answers with the names it defined;
``{"op": "call", "name", "args", "kwargs"}`` calls a function of the namespace. While a call runs, the worker may
send ``{"op": "callback", "id", "args"}`` and waits for its ``{"op": "return"}``: that is how a test's helper
(a gradient function, an evaluation function, a model factory) runs in the grading kernel on plain data.
"""

# ruff: noqa: F821 - encode, decode, dumps, loads, ... come from wire.py, executed just before this file
import contextlib
import io
import os
import traceback

_CHANNEL_IN = os.fdopen(os.dup(0), "r")
_CHANNEL_OUT = os.fdopen(os.dup(1), "w")
_devnull = os.open(os.devnull, os.O_RDWR)
for _fd in (0, 1, 2):
    os.dup2(_devnull, _fd)
MAX_PRINT = 5000


def _send(message):
    _CHANNEL_OUT.write(dumps(message) + "\n")
    _CHANNEL_OUT.flush()


def _receive():
    line = _CHANNEL_IN.readline()
    if not line:
        os._exit(0)  # the grading kernel went away
    return loads(line)


def _plain(value, depth=0):
    """Convert what the student returned into values `encode` accepts (tensor subclasses -> plain copies)."""
    import torch

    if depth > MAX_DEPTH:
        return value
    if isinstance(value, torch.Tensor) and type(value) not in (torch.Tensor, torch.nn.Parameter):
        with torch._C.DisableTorchFunctionSubclass():
            return torch.Tensor._make_subclass(torch.Tensor, value.detach().clone(), False)
    if type(value) in (list, tuple):
        return type(value)(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return value


def _callback(index):
    def call_grader(*args, **kwargs):
        models = [a for a in args if _is_module(a)]
        _send({"op": "callback", "id": index, "args": encode(list(args)), "kwargs": encode(kwargs)})
        reply = _receive()
        if reply.get("op") != "return":
            raise RuntimeError("the grading kernel did not answer the callback")
        if reply.get("error"):
            raise RuntimeError(reply["error"])
        for model, update in zip(models, reply.get("updates") or []):
            apply_module_update(model, update)
        return decode(reply["value"])
    return call_grader


def _is_module(value):
    import torch

    return isinstance(value, torch.nn.Module)


def _run(namespace, request):
    out = io.StringIO()
    before = {k: id(v) for k, v in namespace.items()}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            if request["op"] == "cell":
                exec(compile(request["source"], "<cell>", "exec"), namespace)  # noqa: S102 - the sandbox's job
                result = None
            else:
                args = decode(request["args"], _callback)
                kwargs = decode(request["kwargs"], _callback)
                models = [a for a in list(args) + list(kwargs.values()) if _is_module(a)]
                result = namespace[request["name"]](*args, **kwargs)
        if request["op"] == "cell":
            names = sorted(k for k, v in namespace.items() if not k.startswith("__") and before.get(k) != id(v))
            reply = {"op": "done", "defined": {k: callable(namespace[k]) for k in names}}
        else:
            reply = {"op": "done", "value": encode(_plain(result)), "updates": [module_update(m) for m in models]}
    except BaseException as exc:  # noqa: BLE001 - the student's error, reported in the grading kernel
        if isinstance(exc, SystemExit):
            exc = RuntimeError("your code called exit()")
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        reply = {"op": "done", "error": f"{type(exc).__name__}: {exc}"[:2000], "traceback": "".join(tb)[-4000:]}
    reply["printed"] = out.getvalue()[-MAX_PRINT:]
    _send(reply)


def main():
    namespace = {"__name__": "__main__"}
    _send({"op": "ready"})
    while True:
        request = _receive()
        try:
            _run(namespace, request)
        except BaseException as exc:  # noqa: BLE001 - e.g. a reply that cannot be encoded
            _send({"op": "done", "error": f"{type(exc).__name__}: {exc}"[:2000], "printed": ""})


main()
