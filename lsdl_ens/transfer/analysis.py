"""Analysis of transfer ensembles: accuracy vs size, diversity, paths between consecutive members, planes.

Every landscape point recomputes BatchNorm statistics (`lsdl_ens.bn.update_bn`) on augmented batches of
the target training set, as the reference's ``utils/batch_norm.py`` does before evaluating averaged weights.
Expensive results (paths, planes) are cached through `lsdl_ens.cache.default_cache().get_or_create` under their
full recipe.

References: Sadrtdinov et al., NeurIPS 2023 (https://arxiv.org/abs/2303.03374): diversity (talk slide "Comparison
metrics"), soups of StarSSE members, interpolation between consecutive SSE members, the plane through three members;
Wortsman et al., ICML 2022 (uniform soup).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from .. import checks
from ..cache import default_cache
from ..data import balanced_subset, profile_transfer
from ..landscape import barrier, linear_path, plane_basis, plane_grid
from ..metrics import accuracy, diversity, ensemble_probs, nll
from ..profiles import Profile, get_profile
from ..state import parameter_keys
from .runs import base_recipe, bn_loader, load_member

__all__ = ["ensemble_curve", "member_diversity", "barrier_of", "consecutive_paths", "member_plane"]


def ensemble_curve(probs: torch.Tensor, labels: torch.Tensor, metric: str = "accuracy") -> list[float]:
    """Metric of the ensemble of the first k members for k = 1 .. M; `probs` is [M, N, C] (probability average)."""
    probs = torch.stack(list(probs)) if isinstance(probs, (list, tuple)) and probs else checks.tensor("probs", probs)
    if probs.dim() != 3:
        raise ValueError(f"probs must be [M, N, C]; got shape {tuple(probs.shape)}")
    fn = {"accuracy": accuracy, "nll": nll}.get(metric)
    if fn is None:
        raise ValueError(f"metric must be 'accuracy' or 'nll'; got {metric!r}")
    return [fn(ensemble_probs(list(probs[:k])), labels) for k in range(1, len(probs) + 1)]


def member_diversity(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """`lsdl_ens.metrics.diversity` of the members' arg-max predictions; `probs` is [M, N, C], M >= 2."""
    probs = torch.stack(list(probs)) if isinstance(probs, (list, tuple)) and probs else checks.tensor("probs", probs)
    if probs.dim() != 3 or len(probs) < 2:
        raise ValueError(f"probs must be [M, N, C] with M >= 2; got shape {tuple(probs.shape)}")
    return diversity([p.argmax(-1) for p in probs], labels)


def barrier_of(path: dict, key: str = "error") -> float:
    """`lsdl_ens.landscape.barrier` (linear reference) of one `consecutive_paths` entry: the bump of `key` above the
    straight line between the endpoint values. A clear bump means the two members lie in different basins."""
    if not isinstance(path, dict) or key not in path or "alphas" not in path:
        keys = sorted(path) if isinstance(path, dict) else type(path).__name__
        raise ValueError(f"path must be a consecutive_paths entry holding 'alphas' and key={key!r}; it has {keys}")
    return barrier(path[key], path["alphas"], reference="linear")


# ----------------------------------------------------------------------------------------------- landscapes
@lru_cache(maxsize=4)
def _landscape_test(p: Profile, n: int):
    test = profile_transfer(p).target_test
    return test if n >= len(test) else balanced_subset(test, n, seed=5)


def consecutive_paths(member_recipes: Sequence[dict], profile: Profile | str | None = None, *, cache=None,
                      device=None, progress=None) -> list[dict]:
    """Test and train error/loss along w(alpha) = (1 - alpha) w_k + alpha w_{k+1} for consecutive members.

    BN is recomputed at every alpha (`lsdl_ens.landscape.linear_path`). Cached per pair (kind "transfer_path").
    Returns one dict per pair with numpy arrays ``alphas, loss, error, train_loss, train_error``.
    """
    p = get_profile(profile)
    sizes = p.transfer
    cache = cache or default_cache()
    out = []
    for a, b in zip(member_recipes[:-1], member_recipes[1:]):
        key = {"a": a, "b": b, "profile": p.name, "n_alphas": sizes.n_alphas, "n_test": sizes.n_landscape}

        def build(a=a, b=b):
            ma = load_member(a, cache=cache, device=device, progress=progress)
            mb = load_member(b, cache=cache, device=device, progress=progress)
            base = base_recipe(a)
            res = linear_path(ma, ma.state_dict(), mb.state_dict(), _landscape_test(p, sizes.n_landscape),
                              bn_data=bn_loader(base), train_data=profile_transfer(p).target_train,
                              alphas=np.linspace(0, 1, sizes.n_alphas), progress=progress)
            return {k: torch.as_tensor(v) for k, v in res.items()}, {}

        state, _ = cache.get_or_create("transfer_path", key, build)
        out.append({k: v.numpy() for k, v in state.items()})
    return out


def member_plane(member_recipes: Sequence[dict], profile: Profile | str | None = None, *, cache=None, device=None,
                 progress=None) -> dict:
    """Train and test loss/error on the plane through three members (BN recomputed at every point; cached, kind
    "transfer_plane"). Returns `lsdl_ens.landscape.plane_grid`'s dict (numpy arrays)."""
    if len(member_recipes) != 3:
        raise ValueError(f"member_recipes must name exactly 3 members; got {len(member_recipes)}")
    p = get_profile(profile)
    sizes = p.transfer
    cache = cache or default_cache()
    key = {"members": list(member_recipes), "profile": p.name, "grid": sizes.plane_grid, "n_test": sizes.n_landscape}

    def build():
        models = [load_member(r, cache=cache, device=device, progress=progress) for r in member_recipes]
        basis = plane_basis(*[m.state_dict() for m in models], keys=parameter_keys(models[0]))
        res = plane_grid(models[0], basis, _landscape_test(p, sizes.n_landscape),
                         bn_data=bn_loader(base_recipe(member_recipes[0])),
                         train_data=profile_transfer(p).target_train,
                         grid=sizes.plane_grid, progress=progress)
        return {k: torch.as_tensor(v) for k, v in res.items()}, {}

    state, _ = cache.get_or_create("transfer_plane", key, build)
    return {k: v.numpy() for k, v in state.items()}
