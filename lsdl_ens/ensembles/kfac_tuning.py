"""Choosing the prior precision of a KFAC-Laplace posterior on validation data (the Laplace-Redux recipe).

The evaluation sizes the chapter uses (samples, tuning grid) are the profile's ``kfac`` section.

Reference: Daxberger et al., "Laplace Redux", NeurIPS 2021 (post-hoc prior-precision tuning);
aleximmer/Laplace@44ea62a: laplace/baselaplace.py (``optimize_prior_precision``, method "gridsearch").
Here the score of a grid value is the validation NLL of the predictive that is later used for testing: the Monte Carlo
weight-sampling predictive (``predictive="nn"``) or the linearised one (``predictive="glm"``, last layer, probit or
Monte Carlo link; `kfac_glm`). The probit GLM predictive is deterministic, so its score has no Monte Carlo bias: the
NLL of an average of a few samples overstates the loss of a wide posterior and pushes the choice towards the MAP.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .. import checks
from ..train import progress_enabled
from .kfac_laplace import KFACLaplace
from .kfac_layers import penultimate_features

__all__ = ["tune_prior_precision"]

def tune_prior_precision(la: KFACLaplace, val_data, grid=None, *, n_samples: int = 10, seed: int = 0,
                         progress: bool | None = None, predictive: str = "nn", link: str | None = None
                         ) -> tuple[float, dict]:
    """Choose tau on validation data: the grid value with the lowest validation NLL of ``la.predict(val_data,
    predictive=predictive, link=link, n_samples=n_samples, seed=seed)``.

    Returns ``(best_tau, {tau: nll})``; ``la`` is left at ``best_tau``. Default grid: 10^linspace(-1, 4, 11)
    (i.e. 0.1 .. 1e4). Predict with the same ``predictive``/``link``/``n_samples`` as when tuning.
    """
    from ..metrics import nll

    if not isinstance(la, KFACLaplace):
        raise TypeError(f"la must be a fitted KFACLaplace, got {type(la).__name__}")
    la.factors  # noqa: B018  (raises "call fit(batches) first" if not fitted)
    checks.positive_int("n_samples", n_samples, "pass the posterior samples per grid value, e.g. 10")
    checks.one_of("predictive", predictive, ("nn", "glm"))
    checks.one_of("link", link, (None, "probit", "mc"))
    if predictive == "glm" and la.subset != "last_layer":
        raise ValueError("predictive='glm' needs a KFACLaplace with subset='last_layer'; pass predictive='nn' or "
                         "fit KFACLaplace(..., subset='last_layer')")
    if predictive == "nn" and link == "probit":
        raise ValueError("link='probit' needs predictive='glm'; the weight-sampling predictive is Monte Carlo")
    if grid is not None:
        grid = [checks.positive_float(f"grid[{i}]", t) for i, t in enumerate(checks.non_empty("grid", grid))]
    grid = [float(t) for t in (grid if grid is not None else torch.logspace(-1, 4, 11).tolist())]
    labels = val_data.labels if hasattr(val_data, "labels") else torch.cat([b[1] for b in val_data]).cpu()
    feats = penultimate_features(la._model_ref, val_data) if la.subset == "last_layer" else None
    scores = {}
    for tau in tqdm(grid, desc="prior precision", disable=not progress_enabled(progress), leave=False):
        la.set_prior_precision(tau)
        scores[tau] = nll(la.predict(val_data, n_samples=n_samples, seed=seed, features=feats,
                                     predictive=predictive, link=link), labels)
    best = min(scores, key=scores.get)
    la.set_prior_precision(best)
    return best, scores
