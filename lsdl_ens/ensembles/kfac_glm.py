"""The linearised (GLM) predictive of a last-layer KFAC-Laplace posterior (see `kfac_laplace.py` for the posterior).

The network is linearised in the modelled weights around the MAP: f(x; theta) ~ f(x; theta*) + J(x)(theta - theta*).
Under the Gaussian posterior N(theta*, Sigma) the logits are then Gaussian, N(f*(x), J(x) Sigma J(x)^T). For the last
layer the logits W~ a~ are linear in W~ = [W | b] (a~ = [phi(x); 1], phi the penultimate features), so the
linearisation is exact and J = a~^T (x) I_C. With the posterior precision of `KFACLaplace` the logit covariance has a
closed form per example, without forming J:

* ``damping="exact"``: Sigma = (N A (x) G + tau I)^-1 = (Q_A (x) Q_G) diag(1 / (N lambda_A lambda_G + tau)) (...)^T,
  so  cov(x) = Q_G diag(v) Q_G^T,  v_i = sum_j (q_A,j^T a~)^2 / (N lambda_G,i lambda_A,j + tau);
* ``damping="ritter"``: Sigma = V (x) U (a matrix normal), so  cov(x) = (a~^T V a~) U.

``scale`` multiplies the covariance, as in sampling. The class probabilities are the expectation of softmax(f) under
N(f*, cov), approximated by

* ``link="probit"`` (MacKay 1992): softmax(f* / sqrt(1 + pi/8 diag(cov))), deterministic;
* ``link="mc"``: the mean of softmax(f* + R z) over ``n_samples`` draws z ~ N(0, I), cov = R R^T.

The probit link reads only diag(cov), as laplace-torch's does. Part of that variance lies along the all-ones
direction (a common shift of every logit): the softmax ignores it and the likelihood leaves it unconstrained (G has
1 in its null space), so only the prior limits it, and a small tau flattens the probit probabilities more than the
exact expectation (the MC link) does: the two links tune to different values of tau.

References:
    Immer, Korzepa, Bauer, "Improving predictions of Bayesian neural nets via local linearization", AISTATS 2021;
    Daxberger et al., "Laplace Redux", NeurIPS 2021; MacKay, "The evidence framework applied to classification
    networks", Neural Computation 1992. Reference implementation: aleximmer/Laplace@44ea62a:
    laplace/baselaplace.py (``_glm_forward_call``: ``link_approx`` "probit" and "mc"), laplace/lllaplace.py.

Deliberate deviations:
    * Only the last layer: the covariance of all-weights logits needs per-example Jacobians over every weight (C
      backward passes per example and, per layer, a rotation of each Jacobian into the Kronecker eigenbases),
      far beyond the course's CPU budget; `KFACLaplace.predict` refuses ``predictive="glm"`` with ``subset="all"``.
    * The bias shares the head's Kronecker block (as in the posterior), so the logit covariance has weight-bias cross
      terms that laplace-torch's separate bias block does not have.
    * ``link="mc"`` draws with a seeded CPU generator through the structured square root R (no Cholesky).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["augmented_features", "logit_distribution", "probit_probs", "mc_probs"]


def augmented_features(features: Tensor, has_bias: bool) -> Tensor:
    """a~ = [phi; 1] per row (float64), or phi alone for a head without bias."""
    feats = features.double()
    return torch.cat([feats, feats.new_ones(len(feats), 1)], 1) if has_bias else feats


def logit_distribution(features: Tensor, w_map: Tensor, decomposed: tuple, damping: str, scale: float = 1.0
                       ) -> tuple[Tensor, Tensor]:
    """Mean [n, C] and square root R [n, C, C] (cov = R R^T) of the linearised logits, float64 on features' device.

    Args:
        features: a~ rows [n, in(+1)] from `augmented_features`.
        w_map: W~* [C, in(+1)].
        decomposed: the posterior's factorisation of the head: (Q_G, std, Q_A) with std_ij = (N lambda_G,i
            lambda_A,j + tau)^-1/2 for exact damping, (L_U, L_V) Cholesky factors of the precisions U^-1, V^-1 for
            Ritter damping.
        damping: "exact" or "ritter".
        scale: covariance multiplier.
    """
    dev = features.device
    mean = features @ w_map.to(dev, torch.float64).T
    if damping == "exact":
        qg, std, qa = (t.to(dev, torch.float64) for t in decomposed)
        v = (features @ qa).square() @ std.square().T * scale             # [n, C]: variances in the Q_G basis
        root = qg.unsqueeze(0) * v.sqrt().unsqueeze(1)                    # Q_G diag(sqrt v)
    else:
        lu, lv = (t.to(dev, torch.float64) for t in decomposed)
        w = torch.linalg.solve_triangular(lv, features.T, upper=False)    # L_V^-1 a~: |w|^2 = a~^T V a~
        s = w.square().sum(0) * scale                                     # [n]
        u_root = torch.linalg.solve_triangular(lu.T, torch.eye(len(lu), dtype=lu.dtype, device=dev), upper=True)
        root = s.sqrt()[:, None, None] * u_root.unsqueeze(0)             # L_U^-T: U = L_U^-T L_U^-1
    return mean, root


def probit_probs(mean: Tensor, root: Tensor) -> Tensor:
    """softmax(f* / sqrt(1 + pi/8 * diag(R R^T))) [n, C], float32."""
    var = root.square().sum(-1)
    return (mean / (1 + math.pi / 8 * var).sqrt()).softmax(-1).float()


def mc_probs(mean: Tensor, root: Tensor, n_samples: int, generator: torch.Generator) -> Tensor:
    """softmax(f* + R z) for ``n_samples`` draws z ~ N(0, I) from ``generator`` (moved to mean's device),
    [n_samples, n, C] float32."""
    out = []
    for _ in range(n_samples):
        z = torch.randn(mean.shape, generator=generator, dtype=torch.float64,
                        device=generator.device).to(mean.device)
        out.append((mean + (root @ z.unsqueeze(-1)).squeeze(-1)).softmax(-1).float())
    return torch.stack(out)
