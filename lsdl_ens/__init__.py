"""lsdl_ens: ensembling and weight averaging of deep networks, a tested teaching library.

Submodules are imported on demand (``import lsdl_ens.metrics``); the names listed in
``../shared/reference/API.md`` live in the modules documented there.
"""

__version__ = "0.1.0"
