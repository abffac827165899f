"""SWAG: a Gaussian over weights fitted to the SGD iterates of an SWA run (Maddox et al. 2019).

Moments are collected once per epoch on the SWA learning-rate schedule (constant ``swa_lr`` after the anneal):

    mean  = (1/n) sum_i theta_i                         (the SWA solution)
    diag  = (1/n) sum_i theta_i^2 - mean^2               (Welford update in float64, clamped at ``var_clamp``)
    D     = [theta_i - mean_i]  for the last K epochs    (K x P deviation rows, mean_i = running mean after i)

and a sample is

    theta = mean + sqrt(scale) * (diag^(1/2) * z1 + D^T z2 / sqrt(K - 1)),   z1 ~ N(0, I_P), z2 ~ N(0, I_K),

i.e. covariance ``scale * (diag + D^T D / (K - 1))``; ``scale = 0.5`` gives the paper's Sigma = (Sigma_diag +
Sigma_lowrank) / 2. SWAG-Diag (``diag_only=True``) drops the z2 term; ``scale = 0`` is SWA. Neither the K x K nor
the P x P matrix is ever formed.

Only parameters are modelled (BN running statistics are buffers): after loading every sample into a BN network,
call ``lsdl_ens.bn.update_bn`` on training batches before predicting (``bma_predict`` does this).

References:
    Maddox et al., "A Simple Baseline for Bayesian Uncertainty in Deep Learning", NeurIPS 2019,
    https://arxiv.org/abs/1902.02476. Reference implementation: wjmaddox/swa_gaussian@61a918f:
    swag/posteriors/swag.py (``collect_model``, ``sample``, ``sample_fullrank``), swag/utils.py (``bn_update``),
    experiments/uncertainty/uncertainty.py.

Deliberate deviations from the reference:
    * The low-rank term divides by sqrt(K - 1) with K the number of deviation rows actually stored (the
      reference uses ``max_num_models`` even before K rows exist).
    * The diagonal uses Welford's update in ``moment_dtype`` (float64), not E[theta^2] - E[theta]^2 in float32.
    * Samples are drawn from an explicit ``generator`` on the moments' device (no hard-coded ``.cuda()``).

The recipe type of a SWAG run (``SWAGRecipe``) is in ``lsdl_ens.ensembles.swag``, which also re-exports every name of
this module; the cached runs the chapters call (``swag_recipe``, ``train_swag``) are in
``lsdl_ens.experiments.basin_sampling``.
"""

from __future__ import annotations

import math
from collections import deque

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .. import checks
from ..bn import has_bn, update_bn
from ..train import Callback, TrainStep, progress_enabled

__all__ = ["SWAG", "SWAGCallback", "bma_predict"]


class SWAG:
    """SWAG moments of a model's parameters (see the module docstring for the formulas).

    Args:
        model: the network whose parameters are modelled (only its parameter shapes are read here).
        max_rank: K, the number of most recent deviation rows kept for the low-rank term (0: diagonal only).
        var_clamp: lower bound of the diagonal variance.
        moment_dtype: dtype of the mean, the Welford sum of squares and the deviations.
    """

    def __init__(self, model: nn.Module, max_rank: int = 20, var_clamp: float = 1e-30,
                 moment_dtype: torch.dtype = torch.float64):
        checks.module("model", model, "pass the network whose weights SWAG collects")
        checks.nonneg_int("max_rank", max_rank, "pass the number of deviation columns to keep, e.g. 20")
        checks.number("var_clamp", var_clamp, low=0.0, low_open=True)
        self.max_rank = int(max_rank)
        self.var_clamp = float(var_clamp)
        self.moment_dtype = moment_dtype
        self.keys = [name for name, _ in model.named_parameters()]
        self.shapes = [p.shape for _, p in model.named_parameters()]
        self.num_params = sum(p.numel() for p in model.parameters())
        device = next(model.parameters()).device
        self.n_models = 0
        self._mean = torch.zeros(self.num_params, dtype=moment_dtype, device=device)
        self._m2 = torch.zeros(self.num_params, dtype=moment_dtype, device=device)
        self._dev: deque[Tensor] = deque(maxlen=max(self.max_rank, 1))

    # ------------------------------------------------------------------ collection
    def _flat(self, model: nn.Module) -> Tensor:
        keys = [name for name, _ in model.named_parameters()]
        if keys != self.keys:
            raise ValueError("model has other parameters than the one SWAG was built for; pass the same "
                             "architecture")
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).to(self._mean.device,
                                                                                  self.moment_dtype)

    def collect(self, model: nn.Module) -> None:
        """Add the model's current parameters: Welford update of mean and variance, then append theta - mean."""
        checks.module("model", model)
        theta = self._flat(model)
        self.n_models += 1
        delta = theta - self._mean
        self._mean += delta / self.n_models
        self._m2 += delta * (theta - self._mean)
        if self.max_rank > 0:
            self._dev.append(theta - self._mean)

    # ------------------------------------------------------------------ moments
    def _check_collected(self):
        if self.n_models == 0:
            raise ValueError("SWAG has no collected models; call collect(model) (e.g. via SWAGCallback) first")

    @property
    def mean(self) -> Tensor:
        """The SWA mean, a flat vector [P] in ``moment_dtype``."""
        self._check_collected()
        return self._mean.clone()

    @property
    def variance(self) -> Tensor:
        """Diagonal variance (1/n) sum (theta_i - mean)^2, clamped at ``var_clamp`` [P]."""
        self._check_collected()
        return (self._m2 / self.n_models).clamp_min(self.var_clamp)

    @property
    def deviations(self) -> Tensor:
        """The stored deviation rows D [K, P] (K = min(n_models, max_rank)); empty [0, P] if max_rank = 0."""
        self._check_collected()
        if self.max_rank == 0 or not self._dev:
            return self._mean.new_zeros(0, self.num_params)
        return torch.stack(list(self._dev))

    @property
    def rank(self) -> int:
        """K, the number of deviation rows stored."""
        return len(self._dev) if self.max_rank > 0 else 0

    # ------------------------------------------------------------------ sampling
    def sample(self, scale: float = 0.5, diag_only: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """One flat parameter vector theta = mean + sqrt(scale) (diag^1/2 z1 + D^T z2 / sqrt(K - 1)).

        The low-rank term needs K >= 2 stored rows; with fewer (or ``diag_only``) the sample is SWAG-Diag.
        Returned in ``moment_dtype`` on the moments' device; ``load_sample`` casts it into a model.
        """
        self._check_collected()
        checks.nonneg_float("scale", scale, "pass e.g. 0.5 (the SWAG paper's value)")
        mean = self._mean
        z1 = torch.randn(self.num_params, generator=generator, dtype=mean.dtype, device=mean.device)
        noise = self.variance.sqrt() * z1
        if not diag_only and self.rank >= 2:
            dev = self.deviations
            z2 = torch.randn(self.rank, generator=generator, dtype=mean.dtype, device=mean.device)
            noise = noise + dev.T @ z2 / math.sqrt(self.rank - 1)
        return mean + math.sqrt(scale) * noise

    def covariance(self, scale: float = 0.5, diag_only: bool = False) -> Tensor:
        """The dense covariance of ``sample`` [P, P]: scale (diag + D^T D / (K - 1)). Only for tiny models/tests."""
        cov = torch.diag(self.variance)
        if not diag_only and self.rank >= 2:
            dev = self.deviations
            cov = cov + dev.T @ dev / (self.rank - 1)
        return scale * cov

    def load_sample(self, model: nn.Module, flat: Tensor) -> nn.Module:
        """Write a flat parameter vector (``sample()``, ``mean``) into ``model``'s parameters, in place.

        BN running statistics are untouched: call ``lsdl_ens.bn.update_bn`` before evaluating a BN model.
        """
        if flat.dim() != 1 or flat.numel() != self.num_params:
            raise ValueError(f"flat must be a 1-D vector of {self.num_params} parameters; got {tuple(flat.shape)}")
        self._flat(model)  # checks the architecture
        with torch.no_grad():
            offset = 0
            for p in model.parameters():
                p.copy_(flat[offset:offset + p.numel()].view_as(p).to(p.dtype))
                offset += p.numel()
        return model

    def sample_into(self, model: nn.Module, scale: float = 0.5, diag_only: bool = False,
                    generator: torch.Generator | None = None) -> nn.Module:
        """``load_sample(model, sample(...))``; the caller then runs ``update_bn`` on a BN model."""
        return self.load_sample(model, self.sample(scale, diag_only, generator))

    # ------------------------------------------------------------------ persistence (checkpoint cache)
    def state_dict(self) -> dict:
        """Tensors for the checkpoint cache (mean, Welford sum of squares, deviation rows, count)."""
        dev = torch.stack(list(self._dev)) if self._dev else self._mean.new_zeros(0, self.num_params)
        return {"mean": self._mean.clone(), "m2": self._m2.clone(), "deviations": dev,
                "n_models": torch.tensor(self.n_models)}

    def load_state_dict(self, state: dict) -> SWAG:
        if state["mean"].numel() != self.num_params:
            raise ValueError(f"state holds {state['mean'].numel()} parameters; this SWAG models {self.num_params}")
        self._mean = state["mean"].to(self._mean.device, self.moment_dtype).clone()
        self._m2 = state["m2"].to(self._mean.device, self.moment_dtype).clone()
        self.n_models = int(state["n_models"])
        self._dev = deque((row.to(self._mean.device, self.moment_dtype).clone() for row in state["deviations"]),
                          maxlen=max(self.max_rank, 1))
        return self


class SWAGCallback(Callback):
    """`lsdl_ens.train.fit` callback: ``swag.collect(model)`` at the end of every epoch e (from 0) with
    e + 1 > ``swa_start`` (the reference's rule; ``swa_start`` in epochs), i.e. once per epoch on the SWA schedule.

    With ``per_epoch`` = k > 1 it collects k times in each such epoch, after batches round((j + 1) n / k) - 1,
    j = 0..k-1, of the epoch's n batches (the last one is the epoch's end). Deliberate deviation from the reference
    (once per epoch) for short runs: a rank-K covariance needs K collected iterates."""

    def __init__(self, swag: SWAG, swa_start: int, per_epoch: int = 1):
        if not isinstance(swag, SWAG):
            raise TypeError(f"swag must be a SWAG (SWAG(model)), got {type(swag).__name__}")
        if swa_start < 0:
            raise ValueError(f"swa_start must be >= 0 epochs; got {swa_start}")
        checks.positive_int("per_epoch", per_epoch, "pass how many iterates to collect per epoch, e.g. 1")
        self.swag, self.swa_start, self.per_epoch = swag, swa_start, per_epoch

    def on_step_end(self, model, optimizer, step: TrainStep, loss) -> None:
        if self.per_epoch == 1 or step.epoch + 1 <= self.swa_start:
            return
        n = step.iterations_per_epoch
        if step.batch in {round((j + 1) * n / self.per_epoch) - 1 for j in range(self.per_epoch)}:
            self.swag.collect(model)

    def on_epoch_end(self, model, optimizer, step: TrainStep, history) -> None:
        if self.per_epoch == 1 and step.epoch + 1 > self.swa_start:
            self.swag.collect(model)


@torch.no_grad()
def bma_predict(swag: SWAG, model: nn.Module, data, bn_data=None, *, n_samples: int = 30, scale: float = 0.5,
                diag_only: bool = False, seed: int = 0, bn_batches: int | None = None, return_all: bool = False,
                progress: bool | None = None) -> Tensor:
    """Bayesian model average of SWAG samples: mean over samples of softmax(f(x; theta_s)).

    For every sample: load it into ``model``, recompute BN statistics with ``update_bn(model, bn_data)`` (needed for
    a BN model: BN buffers are not part of SWAG), predict ``data`` in eval mode. ``model`` ends holding the last
    sample; reload the mean (``swag.load_sample(model, swag.mean)`` + ``update_bn``) for SWA.

    Args:
        data: evaluation data (``ImageSet`` or unshuffled batches).
        bn_data: training batches for ``update_bn`` (required if the model has BN), e.g. an augmented loader.
        n_samples: S; ``scale``/``diag_only`` as in ``SWAG.sample``.
        seed: seeds the sample generator.
        bn_batches: use only that many batches of ``bn_data`` per sample.
        return_all: return the per-sample probabilities [S, N, C] instead of their mean [N, C].
    """
    from ..train import predict_probs

    if not isinstance(swag, SWAG):
        raise TypeError(f"swag must be a SWAG, got {type(swag).__name__}")
    checks.module("model", model)
    checks.positive_int("n_samples", n_samples, "pass the number of samples, e.g. 30")
    if has_bn(model) and bn_data is None:
        raise ValueError("model has BatchNorm: pass bn_data (training batches) so BN statistics are recomputed "
                         "for every sample")
    gen = torch.Generator(device=swag._mean.device).manual_seed(seed)
    outs = []
    for _ in tqdm(range(n_samples), desc="SWAG samples", disable=not progress_enabled(progress), leave=False):
        swag.load_sample(model, swag.sample(scale, diag_only, gen))
        if has_bn(model):
            update_bn(model, bn_data, num_batches=bn_batches)
        outs.append(predict_probs(model, data))
    probs = torch.stack(outs)
    return probs if return_all else probs.mean(0)
