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
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .. import checks
from ..train import progress_enabled
from .kfac_layers import GradCapture, input_rows, modelled_layers, penultimate_features, weight_matrix

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
        model = self._model_ref
        layers = modelled_layers(model, self.subset)
        self._map = {name: weight_matrix(m).clone() for name, m in layers.items()}
        sums_a = {n: 0.0 for n in layers}
        sums_g = {n: 0.0 for n in layers}
        n_loc = {}
        handles = []

        def make_hook(name, module):
            def grad_hook(grad):
                g = grad.detach()
                g = g.transpose(1, -1).reshape(-1, g.shape[1]) if g.dim() > 2 else g
                sums_g[name] = sums_g[name] + (g.T @ g).double()  # float32 product per batch, float64 sum

            def forward_hook(mod, inputs, output):
                rows, n_loc[name] = input_rows(mod, inputs[0].detach())
                sums_a[name] = sums_a[name] + (rows.T @ rows).double()
                # an identity node sees the gradient of this output even if a later op (ReLU(inplace=True))
                # overwrites the tensor; a tensor hook on `output` would not
                return GradCapture.apply(output, grad_hook)
            return forward_hook

        for name, m in layers.items():
            handles.append(m.register_forward_hook(make_hook(name, m)))
        was_training = model.training
        model.eval()
        requires = {p: p.requires_grad for p in model.parameters()}
        gen = torch.Generator().manual_seed(seed)
        n_seen = 0
        try:
            for p in model.parameters():  # gradients flow to the modelled layers' outputs only
                p.requires_grad_(False)
            for m in layers.values():
                for p in m.parameters():
                    p.requires_grad_(True)
            for batch in tqdm(batches, desc="KFAC factors", disable=not progress_enabled(progress), leave=False):
                x, y = batch[0], batch[1]
                x = x.to(self._device)
                y = y.to(self._device)
                logits = model(x)
                n_seen += len(x)
                self._backward(logits, y, gen)
        finally:
            for h in handles:
                h.remove()
            for p, r in requires.items():
                p.requires_grad_(r)
                p.grad = None
            model.train(was_training)
        if n_seen == 0:
            raise ValueError("batches yielded no batch; nothing to fit")
        self.n_fitted = n_seen
        self._factors = {n: ((sums_a[n] / n_seen).float(), (sums_g[n] / (n_seen * n_loc[n])).float())
                         for n in layers}
        self._decompose()
        return self

    def _backward(self, logits: Tensor, y: Tensor, gen: torch.Generator) -> None:
        """Backward passes whose output gradients are per-example loss gradients (sum reduction)."""
        if self.fisher == "empirical":
            F.cross_entropy(logits, y, reduction="sum").backward()
        elif self.fisher == "mc":
            with torch.no_grad():
                y_s = torch.multinomial(logits.float().softmax(-1).cpu(), 1, generator=gen).flatten()
            F.cross_entropy(logits, y_s.to(logits.device), reduction="sum").backward()
        else:  # exact: sum_c s_c s_c^T = diag(p) - p p^T with s_c = sqrt(p_c) (e_c - p)
            with torch.no_grad():
                p = logits.softmax(-1)
                eye = torch.eye(p.shape[1], dtype=p.dtype, device=p.device)
                roots = p.sqrt().unsqueeze(2) * (eye.unsqueeze(0) - p.unsqueeze(1))   # [n, c, C]: row c = s_c
            for c in range(p.shape[1]):
                logits.backward(roots[:, c], retain_graph=c < p.shape[1] - 1)

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
    @torch.no_grad()
    def predict(self, data, *, n_samples: int = 30, scale: float = 1.0, seed: int = 0, return_all: bool = False,
                features: Tensor | None = None) -> Tensor:
        """Monte Carlo predictive: mean over samples of softmax(f(x; W_s)), eval mode, BN at MAP.

        With ``subset="last_layer"`` the penultimate features are computed once (or passed as ``features``) and
        only the head is resampled. The model is left holding the MAP weights.
        """
        from ..train import predict_probs

        model = self._model_ref
        if not self._factors:
            raise ValueError("KFACLaplace is not fitted; call fit(batches) before predict")
        checks.positive_int("n_samples", n_samples, "pass the number of posterior samples, e.g. 30")
        checks.nonneg_float("scale", scale, "pass 1.0 for the posterior, smaller to shrink it")
        gen = torch.Generator().manual_seed(seed)
        outs = []
        if self.subset == "last_layer":
            feats = features if features is not None else penultimate_features(model, data)
            head = model.head
            for _ in range(n_samples):
                w = (self._map["head"].double() + math.sqrt(scale) * self._noise("head", gen)).float().cpu()
                logits = feats @ w[:, :head.in_features].T + (w[:, -1] if head.bias is not None else 0)
                outs.append(logits.softmax(-1))
        else:
            try:
                for _ in range(n_samples):
                    self.sample(model, scale, gen)
                    outs.append(predict_probs(model, data))
            finally:
                self.load_map(model)
        probs = torch.stack(outs)
        return probs if return_all else probs.mean(0)
