"""Ensembles and posterior approximations: deep ensembles, snapshot methods (SSE, FGE, cSGLD), SWAG,
KFAC-Laplace and the deep-ensemble equivalent (DEE).

The cached, profile-sized runs of these methods (deep-ensemble members, SSE, FGE and cSGLD runs) are in
`lsdl_ens.experiments.ensembles`.

Names are imported from their submodules on first use, so each method lives in a file of its own:

| name | module |
|---|---|
| `dee` | `dee.py` |
| `DeepEnsemble` | `deep_ensemble.py` |
| `SnapshotCollector` | `snapshots.py` |
| `CyclicalSGLD` | `csgld.py` |
| `SWAG` | `swag.py` |
| `KFACLaplace` | `kfac_laplace.py` |
"""

from importlib import import_module

from .dee import dee as dee  # eager: the function shadows its module name

_LOCATIONS = {
    "DeepEnsemble": "deep_ensemble",
    "SnapshotCollector": "snapshots",
    "CyclicalSGLD": "csgld",
    "SWAG": "swag",
    "KFACLaplace": "kfac_laplace",
}

__all__ = sorted([*_LOCATIONS, "dee"])


def __getattr__(name):
    if name in _LOCATIONS:
        return getattr(import_module(f".{_LOCATIONS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
