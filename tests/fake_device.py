"""A fake accelerator for CPU-only machines: catches cross-device mistakes while computing real values.

Inside ``with fake_device() as mode:`` the ``meta`` device stands in for a GPU. Tensors put there
(``x.to("meta")``, ``model.to("meta")``, factories with ``device="meta"``, ``torch.tensor(..., device="meta")``)
become `DeviceTensor`s: they report ``device == meta`` but hold a CPU tensor and compute on it, so whole training
runs execute with real numbers and can be compared bit for bit with a CPU run. Every aten op is checked as CUDA
checks it:

* an op mixing a device tensor with a CPU tensor of one or more dimensions raises `CrossDeviceError` (0-dim CPU
  scalars are allowed, as on CUDA; so are copies, ``.to`` and CPU index tensors);
* a random factory whose generator lives on another device than its output raises (CUDA needs a CUDA generator);
  ``torch.Generator(device="meta")`` gives a CPU generator that reports ``meta``;
* host syncs of device tensors (``.item()``, ``float(t)``, ``bool(t)``, ``torch.equal``) are counted in
  ``mode.syncs``, copies of CPU tensors to the device in ``mode.host_to_device``;
* ``forbid_host_ops`` (aten op names, e.g. ``{"convolution"}``): running one on plain CPU tensors raises, which
  catches work that silently stayed on the host while a device was selected.

Coverage, honestly: only what a test executes is checked (a dynamic check, not a proof), and code that branches on
``device.type == "cuda"`` takes its non-CUDA branch here. Kernels are CPU kernels, so CUDA-only failures (out of
memory, cuDNN, kernel dtype support, non-determinism) and speed are not covered: tests/test_cuda.py covers those on
a machine with a GPU. Select the device in library code with ``LSDL_DEVICE=meta`` (`lsdl_ens.train.default_device`)
or ``device="meta"``.
"""

from __future__ import annotations

import contextlib
import warnings

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes
from torch.utils._pytree import tree_flatten, tree_map

DEVICE = torch.device("meta")
aten = torch.ops.aten

# ops that legitimately take tensors from two devices on CUDA
_CROSS_DEVICE_OK = {aten.copy_, aten._to_copy, aten.index, aten.index_put_, aten._index_put_impl_, aten.index_put,
                    aten.lift_fresh, aten._has_compatible_shallow_copy_type}
_INDEX_PUT = {aten.index_put_, aten._index_put_impl_, aten.index_put}
_SYNC = {aten._local_scalar_dense, aten.is_nonzero, aten.equal}


class CrossDeviceError(RuntimeError):
    """An op mixed device and CPU tensors, or ran on the host where the device was required."""


class DeviceTensor(torch.Tensor):
    """A tensor that reports the stand-in device and computes on its CPU tensor `inner`."""

    @staticmethod
    def __new__(cls, inner: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(
            cls, inner.shape, strides=inner.stride(), storage_offset=inner.storage_offset(), dtype=inner.dtype,
            layout=inner.layout, device=DEVICE, requires_grad=inner.requires_grad)

    def __init__(self, inner: torch.Tensor):
        self.inner = inner.detach() if inner.requires_grad else inner

    def __repr__(self):
        return f"DeviceTensor({self.inner!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        if not _ACTIVE:
            raise CrossDeviceError(f"a fake-device tensor was used outside fake_device() (op {func})")
        return _ACTIVE[-1].run(func, args, kwargs or {})


class _DeviceGenerator(torch.Generator):
    """A CPU generator that reports the stand-in device."""

    @property
    def device(self):
        return DEVICE

    def manual_seed(self, seed):
        super().manual_seed(seed)
        return self  # the base method returns a plain Generator object

    @staticmethod
    def reports_device(gen: torch.Generator) -> bool:
        """True for a `_DeviceGenerator` (also when the dispatcher handed over a plain object for it)."""
        return gen._cdata in _DEVICE_GENERATORS


_DEVICE_GENERATORS: dict[int, torch.Generator] = {}  # _cdata -> generator made by fake_device (kept alive)


_ACTIVE: list[FakeDeviceMode] = []


def _on_device(device) -> bool:
    return device is not None and torch.device(device).type == DEVICE.type


class FakeDeviceMode(TorchDispatchMode):
    """The dispatch mode behind `fake_device` (see the module docstring)."""

    def __init__(self, forbid_host_ops=()):
        super().__init__()
        self.forbid_host_ops = set(forbid_host_ops)
        self.syncs = 0
        self.host_to_device = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return self.run(func, args, kwargs or {})

    def run(self, func, args, kwargs):
        leaves, _ = tree_flatten((args, kwargs))
        tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
        on_dev = [t for t in tensors if isinstance(t, DeviceTensor)]
        name = func.overloadpacket.__name__
        checked = tensors
        if func.overloadpacket in _INDEX_PUT:  # CPU indices are fine, CPU values are not
            checked = [t for t in (args[0], args[2]) if isinstance(t, torch.Tensor)]
        if on_dev and (func.overloadpacket not in _CROSS_DEVICE_OK or func.overloadpacket in _INDEX_PUT):
            host = [t for t in checked if not isinstance(t, DeviceTensor) and t.dim() > 0]
            if host:
                raise CrossDeviceError(
                    f"Expected all tensors to be on the same device, but found at least two devices, {DEVICE} and "
                    f"cpu! (op {name}; a CPU tensor of shape {tuple(host[0].shape)})")
        if func.overloadpacket in _SYNC and on_dev:
            self.syncs += 1
        target = kwargs.get("device")
        if (func is aten._to_copy.default and not on_dev and _on_device(target)) or (
                func is aten.copy_.default and isinstance(args[0], DeviceTensor)
                and not isinstance(args[1], DeviceTensor)):
            self.host_to_device += 1
        gen = kwargs.get("generator")
        if gen is not None:
            out_device = target if target is not None else (DEVICE if on_dev else torch.device("cpu"))
            if (_on_device(gen.device) or _DeviceGenerator.reports_device(gen)) != _on_device(out_device):
                raise CrossDeviceError(f"Expected a '{torch.device(out_device).type}' device type for generator but "
                                       f"found '{gen.device.type}' (op {name})")
        if not on_dev and not _on_device(target) and name in self.forbid_host_ops:
            raise CrossDeviceError(f"{name} ran on the CPU while the device under test was selected")
        result_on_dev = _on_device(target) if target is not None else bool(on_dev)
        if _on_device(target):
            kwargs = dict(kwargs, device=torch.device("cpu"))
        if kwargs.get("pin_memory"):
            kwargs = dict(kwargs, pin_memory=False)
        wrapper_of = {id(t.inner): t for t in on_dev}
        inner_args, inner_kwargs = tree_map(lambda t: t.inner if isinstance(t, DeviceTensor) else t, (args, kwargs))
        _ACTIVE.pop()
        try:
            with _disable_current_modes():
                out = func(*inner_args, **inner_kwargs)
        finally:
            _ACTIVE.append(self)

        def wrap(t):
            if not isinstance(t, torch.Tensor):
                return t
            if id(t) in wrapper_of:          # an in-place op returns its input
                return wrapper_of[id(t)]
            return DeviceTensor(t) if result_on_dev else t

        return tree_map(wrap, out)


@contextlib.contextmanager
def fake_device(forbid_host_ops=()):
    """Run the block with ``meta`` standing in for a GPU (see the module docstring); yields the mode."""
    mode = FakeDeviceMode(forbid_host_ops)
    originals = {name: getattr(torch, name) for name in ("tensor", "as_tensor", "Generator")}

    def from_data(make):  # torch.tensor(data, device=meta) would keep no values: build on the CPU, then move
        def build(data, *args, device=None, **kw):
            if _on_device(device):
                return make(data, *args, **kw).to(DEVICE)
            return make(data, *args, device=device, **kw)
        return build

    class Generator(originals["Generator"]):  # a class, so annotations like `torch.Generator | None` still work
        def __new__(cls, device="cpu"):
            if not _on_device(device):
                return originals["Generator"](device=device)
            gen = _DeviceGenerator()
            _DEVICE_GENERATORS[gen._cdata] = gen
            return gen

    torch.tensor, torch.as_tensor = from_data(originals["tensor"]), from_data(originals["as_tensor"])
    torch.Generator = Generator
    _ACTIVE.append(mode)
    try:
        with mode, warnings.catch_warnings():
            # load_state_dict warns that copying into a meta parameter is a no-op; here the copy is real
            warnings.filterwarnings("ignore", message="for .*: copying from a non-meta parameter")
            yield mode
    finally:
        _ACTIVE.remove(mode)
        _DEVICE_GENERATORS.clear()
        for name, value in originals.items():
            setattr(torch, name, value)
