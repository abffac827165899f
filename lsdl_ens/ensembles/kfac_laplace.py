"""KFAC-Laplace: a Gaussian around one trained network with a Kronecker-factored precision (Ritter et al. 2018).

For a Linear layer with weight W [out, in] and bias b, write W~ = [W | b] and a~ = [a; 1] (the bias is an extra input
column). For a Conv2d layer, a~ is one unfolded input patch (``F.unfold``, order C_in x kh x kw, then the 1) and
the output gradient at one location; the layer's L locations are summed. With per-example loss gradients g with
respect to the layer's pre-activations (outputs):

    A = (1/n) sum_n sum_l a~_nl a~_nl^T,      G = (1/(n L)) sum_n sum_l g_nl g_nl^T      (n = examples fitted)

and the log-likelihood Hessian block of the layer is approximated by N * A (x) G (N = ``n_data``, the training set
size, so fitting on a subset keeps the scale of the full likelihood). The posterior precision adds the isotropic
prior tau = ``prior_precision``:

* ``damping="exact"`` (default, as laplace-torch): P = N A (x) G + tau I, sampled exactly through the eigenbases
  A = Q_A diag(lambda_A) Q_A^T, G = Q_G diag(lambda_G) Q_G^T:
  W~ = W~* + sqrt(scale) Q_G [Z / sqrt(N lambda_G lambda_A^T + tau)] Q_A^T,  Z ~ N(0, 1) [out, in + 1].
* ``damping="ritter"``: P = (sqrt(N) A + pi sqrt(tau) I) (x) (sqrt(N) G + sqrt(tau)/pi I), pi^2 =
  (tr A / dim A) / (tr G / dim G): the matrix normal MN(W~*, U, V), U = (sqrt(N) G + ...)^-1, V = (sqrt(N) A + ...)^-1,
  sampled as W~ = W~* + sqrt(scale) L_U Z L_V^T.

``fisher`` chooses g: "mc" (one label drawn from the model's predictive per example: the Fisher, one backward pass),
"empirical" (true labels), "exact" (the GGN/Fisher in expectation: C backward passes of the columns of a square
root of diag(p) - p p^T, as laplace-torch's default Kron backend).

The fit runs in eval mode (BN uses its running statistics, dropout off). Only Linear and Conv2d weights are modelled:
BatchNorm affine parameters and running statistics stay at their MAP values in every sample (so no ``update_bn``
is needed or wanted here). ``subset="last_layer"`` models only ``model.head``.

Predictives (``predict``): ``"nn"`` samples weights and averages softmax(f(x; W_s)); ``"glm"`` (last layer only)
linearises the network in the modelled weights, giving Gaussian logits N(f*, J Sigma J^T) pushed through the softmax
by the probit approximation or Monte Carlo (`kfac_glm`; Immer et al. 2021). For the last layer the linearisation is
exact, so "glm" with ``link="mc"`` is the "nn" predictive drawn in logit space; ``link="probit"`` is deterministic and
cheap, which makes prior tuning on validation NLL free of Monte Carlo noise (a few-sample average's NLL is biased
upwards, and the more so the wider the posterior, so tuning on it drifts towards the MAP network).

References:
    Ritter, Botev, Barber, "A Scalable Laplace Approximation for Neural Networks", ICLR 2018; Grosse & Martens,
    "A Kronecker-factored approximate Fisher matrix for convolution layers", ICML 2016; Daxberger et al., "Laplace
    Redux", NeurIPS 2021. Reference implementations: aleximmer/Laplace@44ea62a: laplace/baselaplace.py
    (``KronLaplace``), laplace/utils/matrix.py (``KronDecomposed``); bayesgroup/pytorch-ensembles@76b71c9:
    kfacl/laplace.py.

Deliberate deviations:
    * The bias shares the layer's Kronecker block (Ritter / pytorch-ensembles); laplace-torch keeps a separate
      G-only block for the bias, so the weight-bias cross terms differ (the diagonal blocks agree).
    * ``scale`` multiplies the posterior covariance (noise x sqrt(scale)), as SWAG's ``scale``; pytorch-ensembles
      tunes a noise scale instead of the prior precision. Here the prior precision is tuned on validation data
      (``kfac_tuning.tune_prior_precision``), the Laplace-Redux recipe; a post-hoc tuned prior is not the
      MAP-consistent one.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import checks
from . import kfac_glm
from .kfac_layers import kronecker_factors, modelled_layers, penultimate_features, weight_matrix

__all__ = ["KFACLaplace"]

_FISHERS = ("mc", "empirical", "exact")

_DAMPINGS = ("exact", "ritter")


class KFACLaplace:
    """Kronecker-factored Laplace approximation (see the module docstring for the formulas).

    Args:
        model: the trained (MAP) network; its weights are read at ``fit`` and restored by ``load_map``.
        prior_precision: tau > 0 (weight decay wd of a mean-loss objective corresponds to tau = wd * N).
        n_data: N, the number of training examples of the likelihood.
        subset: "all" (every Linear and Conv2d layer) or "last_layer" (``model.head``).
        fisher: "mc", "empirical" or "exact" (see the module docstring).
        damping: "exact" or "ritter".
    """

    def __init__(self, model: nn.Module, prior_precision: float, n_data: int, *, subset: str = "all",
                 fisher: str = "mc", damping: str = "exact"):
        checks.module("model", model, "pass the trained network (not its state dict)")
        checks.positive_float("prior_precision", prior_precision, "pass tau > 0, e.g. weight_decay * n_data")
        checks.positive_int("n_data", n_data, "pass the number of training examples")
        checks.one_of("subset", subset, ("all", "last_layer"))
        if fisher not in _FISHERS:
            raise ValueError(f"fisher must be one of {_FISHERS}; got {fisher!r}")
        if damping not in _DAMPINGS:
            raise ValueError(f"damping must be one of {_DAMPINGS}; got {damping!r}")
        self.prior_precision, self.n_data = float(prior_precision), int(n_data)
        self.subset, self.fisher, self.damping = subset, fisher, damping
        self._model = model
        self.layer_names = list(modelled_layers(model, subset))
        self._map = {name: weight_matrix(m).clone() for name, m in modelled_layers(model, subset).items()}
        self._factors: dict[str, tuple[Tensor, Tensor]] = {}
        self._decomposed: dict = {}
        self.n_fitted = 0

    # ------------------------------------------------------------------ fitting
    def fit(self, batches, *, seed: int = 0, progress: bool | None = None) -> KFACLaplace:
        """Accumulate A and G over ``batches`` ((x, y) pairs, e.g. an unaugmented training loader) in eval mode.

        Reads the current weights of the model given at construction as the MAP (``self._map`` is refreshed).
        """
        layers = modelled_layers(self._model_ref, self.subset)
        self._map = {name: weight_matrix(m).clone() for name, m in layers.items()}
        self._factors, self.n_fitted = kronecker_factors(self._model_ref, layers, batches, self.fisher, seed=seed,
                                                         device=self._device, progress=progress)
        self._decompose()
        return self

    # ------------------------------------------------------------------ posterior
    @property
    def factors(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Per layer name: (A [in+1, in+1], G [out, out]) as defined in the module docstring."""
        if not self._factors:
            raise ValueError("KFACLaplace is not fitted; call fit(batches) first")
        return self._factors

    def _decompose(self) -> None:
        self._decomposed = {}
        n, tau = self.n_data, self.prior_precision
        for name, (a, g) in self._factors.items():
            a, g = a.double(), g.double()
            if self.damping == "exact":
                la, qa = torch.linalg.eigh(a)
                lg, qg = torch.linalg.eigh(g)
                std = (n * lg.clamp_min(0).unsqueeze(1) * la.clamp_min(0).unsqueeze(0) + tau).rsqrt()
                self._decomposed[name] = (qg, std, qa)
            else:
                pi = math.sqrt((a.trace() / a.shape[0]) / (g.trace() / g.shape[0])) if g.trace() > 0 else 1.0
                ia = torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
                ig = torch.eye(g.shape[0], dtype=g.dtype, device=g.device)
                v_prec = math.sqrt(n) * a + pi * math.sqrt(tau) * ia
                u_prec = math.sqrt(n) * g + math.sqrt(tau) / pi * ig
                # a square root of U = u_prec^-1: with u_prec = L L^T, L^-T z has covariance U
                self._decomposed[name] = (torch.linalg.cholesky(u_prec), torch.linalg.cholesky(v_prec))

    def set_prior_precision(self, prior_precision: float) -> KFACLaplace:
        """Change tau without refitting the factors."""
        if not prior_precision > 0:
            raise ValueError(f"prior_precision must be > 0; got {prior_precision}")
        self.prior_precision = float(prior_precision)
        if self._factors:
            self._decompose()
        return self

    def posterior_precision(self, name: str) -> Tensor:
        """Dense precision of one layer over vec(W~) (column-major: the output index runs fastest), float64.
        For tests and tiny layers only."""
        a, g = (f.double() for f in self.factors[name])
        n, tau = self.n_data, self.prior_precision
        if self.damping == "exact":
            return n * torch.kron(a, g) + tau * torch.eye(a.shape[0] * g.shape[0], dtype=torch.float64,
                                                          device=a.device)
        lu, lv = self._decomposed[name]
        return torch.kron(lv @ lv.T, lu @ lu.T)

    def _noise(self, name: str, generator) -> Tensor:
        w = self._map[name]
        # Z is drawn where the generator lives (the CPU by default: the same samples on every device), then moved
        z = torch.randn(w.shape, generator=generator, dtype=torch.float64,
                        device=generator.device if generator is not None else "cpu").to(w.device)
        if self.damping == "exact":
            qg, std, qa = self._decomposed[name]
            return qg @ (z * std) @ qa.T
        lu, lv = self._decomposed[name]
        # U = (L_u L_u^T)^-1 -> L_u^-T z has covariance U; same for V on the right
        left = torch.linalg.solve_triangular(lu.T, z, upper=True)
        return torch.linalg.solve_triangular(lv.T, left.T, upper=True).T

    def sample(self, model: nn.Module, scale: float = 1.0, generator: torch.Generator | None = None) -> nn.Module:
        """Write one posterior sample W~ = W~* + sqrt(scale) * noise into ``model``'s modelled layers (in place).
        Other parameters and all BN statistics keep their MAP values."""
        self.factors  # noqa: B018  (raises if not fitted)
        checks.module("model", model)
        checks.nonneg_float("scale", scale, "pass 1.0 for the posterior, smaller to shrink it")
        self._write(model, {n: self._map[n].double() + math.sqrt(scale) * self._noise(n, generator)
                            for n in self.layer_names})
        return model

    def load_map(self, model: nn.Module) -> nn.Module:
        """Put the MAP weights back into ``model``."""
        self._write(model, {n: self._map[n] for n in self.layer_names})
        return model

    def _write(self, model: nn.Module, mats: dict[str, Tensor]) -> None:
        layers = modelled_layers(model, self.subset)
        if list(layers) != self.layer_names:
            raise ValueError("model's layers differ from the ones this KFACLaplace was fitted on")
        with torch.no_grad():
            for name, m in layers.items():
                mat = mats[name].to(m.weight.device, m.weight.dtype)
                n_w = m.weight[0].numel()
                m.weight.copy_(mat[:, :n_w].reshape(m.weight.shape))
                if m.bias is not None:
                    m.bias.copy_(mat[:, n_w])

    @property
    def _model_ref(self) -> nn.Module:
        return self._model

    @property
    def _device(self) -> torch.device:
        return next(self._model_ref.parameters()).device

    # ------------------------------------------------------------------ prediction
    def logit_distribution(self, features: Tensor, scale: float = 1.0) -> tuple[Tensor, Tensor]:
        """Linearised last-layer logits N(mean, R R^T) for penultimate ``features`` [n, in] (``model.features``):
        (mean [n, C], R [n, C, C]), float64 (formulas in `kfac_glm`). Needs ``subset="last_layer"`` and a fit."""
        self._check_glm()
        head = self._model_ref.head
        features = checks.tensor("features", features, dim=2, floating=True)
        if features.shape[1] != head.in_features:
            raise ValueError(f"features must have shape [n, {head.in_features}] (model.features(x)), "
                             f"got {tuple(features.shape)}")
        feats = kfac_glm.augmented_features(features, head.bias is not None)
        return kfac_glm.logit_distribution(feats, self._map["head"], self._decomposed["head"], self.damping, scale)

    def _check_glm(self) -> None:
        self.factors  # noqa: B018  (raises if not fitted)
        if self.subset != "last_layer":
            raise ValueError("predictive='glm' needs subset='last_layer' (the all-weights GLM needs per-example "
                             "Jacobians over every weight); build KFACLaplace(..., subset='last_layer')")

    @torch.no_grad()
    def predict(self, data, *, n_samples: int = 30, scale: float = 1.0, seed: int = 0, return_all: bool = False,
                features: Tensor | None = None, predictive: str = "nn", link: str | None = None) -> Tensor:
        """Class probabilities of the posterior predictive [n, C] (``return_all``: per sample [S, n, C]), eval mode,
        BN at MAP; the model is left holding the MAP weights. With ``subset="last_layer"`` the penultimate features
        are computed once (or passed as ``features``) and only the head is random.

        * ``predictive="nn"`` (default): Monte Carlo over weights, the mean of softmax(f(x; W_s)); ``link`` None/"mc".
        * ``predictive="glm"`` (``subset="last_layer"`` only): the linearised predictive N(f*, J Sigma J^T) on the
          logits (`kfac_glm`) through the softmax by ``link="probit"`` (default; deterministic, ignores
          ``n_samples`` and ``seed``) or ``link="mc"`` (``n_samples`` logit draws): laplace-torch's
          ``pred_type="glm"``, ``link_approx="probit"`` / ``"mc"``.
        """
        from ..train import predict_probs

        model = self._model_ref
        if not self._factors:
            raise ValueError("KFACLaplace is not fitted; call fit(batches) before predict")
        checks.positive_int("n_samples", n_samples, "pass the number of posterior samples, e.g. 30")
        checks.nonneg_float("scale", scale, "pass 1.0 for the posterior, smaller to shrink it")
        checks.one_of("predictive", predictive, ("nn", "glm"))
        checks.one_of("link", link, (None, "probit", "mc"))
        if predictive == "nn" and link == "probit":
            raise ValueError("link='probit' needs predictive='glm'; the weight-sampling predictive is Monte Carlo")
        if predictive == "glm" and link != "mc" and return_all:
            raise ValueError("return_all=True needs samples: pass link='mc' with predictive='glm'")
        gen = torch.Generator().manual_seed(seed)
        if predictive == "glm":
            self._check_glm()  # before the features pass
            mean, root = self.logit_distribution(
                features if features is not None else penultimate_features(model, data), scale)
            if link != "mc":
                return kfac_glm.probit_probs(mean, root)
            probs = kfac_glm.mc_probs(mean, root, n_samples, gen)
            return probs if return_all else probs.mean(0)
        outs = []
        if self.subset == "last_layer":
            feats = features if features is not None else penultimate_features(model, data)
            head = model.head
            for _ in range(n_samples):
                w = (self._map["head"].double() + math.sqrt(scale) * self._noise("head", gen)).float().cpu()
                outs.append((feats @ w[:, :head.in_features].T + (w[:, -1] if head.bias is not None else 0)
                             ).softmax(-1))
        else:
            try:
                for _ in range(n_samples):
                    self.sample(model, scale, gen)
                    outs.append(predict_probs(model, data))
            finally:
                self.load_map(model)
        probs = torch.stack(outs)
        return probs if return_all else probs.mean(0)
