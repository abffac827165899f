"""Loss-surface simplexes (Benton et al. 2021): SPRO grows a simplex of low-loss weights around one trained
network, one vertex at a time; ESPRO ensembles several such simplexes.

| name | module |
|---|---|
| `cayley_menger_volume`, `dirichlet_weights`, `barycentric_grid` | `volume.py` |
| `SimplexModel` | `model.py` |
| `SPRORecipe`, `train_vertex` | `training.py` |

The cached SPRO runs (``spro_recipe``, ``train_spro``) are in ``lsdl_ens.experiments.basin_sampling``.
| `simplex_predict`, `espro_predict`, `simplex_grid` | `evaluation.py` |
"""

from .evaluation import espro_predict, simplex_grid, simplex_predict
from .model import SimplexModel
from .training import SPRORecipe, train_vertex
from .volume import barycentric_grid, cayley_menger_volume, dirichlet_weights

__all__ = ["SPRORecipe", "SimplexModel", "barycentric_grid", "cayley_menger_volume", "dirichlet_weights",
           "espro_predict", "simplex_grid", "simplex_predict", "train_vertex"]
