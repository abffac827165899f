"""Read one file of torchvision's ``cifar-10-batches-py`` folder without running code from it.

Those files are Python pickles, and `pickle.load` executes whatever a pickle names (``os.system``, ...), so a
planted file could run code. `load_batch_file` unpickles with a restricted `pickle.Unpickler` that resolves only
the few globals the format needs: numpy's array and scalar reconstructors (``numpy.core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray.scalar``, ``numpy.core.numeric._frombuffer``, under
either numpy 1's ``numpy.core`` or numpy 2's ``numpy._core`` name) and ``_codecs.encode`` for latin-1 text (how
Python 3 writes bytes at protocol 2). Dicts, lists, tuples, str, bytes and numbers need no global. Anything else
is refused before it is called. The result is then checked: a dict with ``data`` (uint8 [N, 3072]) and ``labels``
(N ints in 0..9).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


class UnsafePickleError(pickle.UnpicklingError):
    """A batch file names a global outside the CIFAR-10 batch format."""


def _latin1_encode(text, encoding="utf-8"):
    if encoding != "latin1" or not isinstance(text, str):
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} is not part of the batch format")
    return text.encode("latin1")


_ALLOWED = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): _latin1_encode}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _multiarray.scalar
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _numeric._frombuffer


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"it names {module}.{name}, which a CIFAR-10 batch never holds") from None


def load_batch_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] from one batch file, unpickled with only the globals the
    format needs (module docstring).

    Raises:
        ValueError: the file refers to anything else (it is not executed), is damaged, or does not hold a batch;
            the message names the file and the fix.
    """
    path = Path(path)
    fix = ("Delete the cifar-10-batches-py folder and let torchvision download CIFAR-10 again, or point LSDL_DATA "
           "at the course's cifar10-jpeg.tar.gz")
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="latin1").load()
    except UnsafePickleError as exc:
        raise ValueError(f"{path} was refused and not loaded: {exc}. This is not a torchvision CIFAR-10 batch "
                         f"file (it may have been tampered with). {fix}.") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError) as exc:
        raise ValueError(f"{path} is damaged or not a CIFAR-10 batch ({type(exc).__name__}: {exc}). {fix}.") \
            from exc
    data = batch.get("data") if isinstance(batch, dict) else None
    labels = batch.get("labels") if isinstance(batch, dict) else None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        raise ValueError(f"{path} does not hold CIFAR-10 images: expected a dict whose 'data' is a uint8 array "
                         f"[N, 3072] (32x32 RGB); got {type(batch).__name__} with data "
                         f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}. {fix}.")
    try:
        labels = np.asarray(labels)
    except (ValueError, TypeError):  # ragged or exotic objects
        labels = np.asarray([])
    if labels.dtype.kind not in "iu" or labels.shape != (len(data),) or (len(labels) and
                                                                      (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"{path} does not hold CIFAR-10 labels: expected 'labels' to be {len(data)} integers in "
                         f"0..9 (one per image); got {labels.dtype} {labels.shape}. {fix}.")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32)), labels.astype(np.int64)
