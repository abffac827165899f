"""Cyclical Stochastic Gradient Langevin Dynamics (cSGLD).

Each of M cycles has the cosine step size of SSE, alpha_k = alpha_0 / 2 (cos(pi mod(k, c) / c) + 1), c = K / M,
and two stages by the cycle position r = mod(k, c) / c:

* exploration (r < beta): a plain SGD step  theta <- theta - alpha grad U~;
* sampling (r >= beta): an SGLD step  theta <- theta - alpha grad U~ + sqrt(2 alpha T / N) xi,  xi ~ N(0, I);

samples are collected only in the sampling stage. U~ is the **mean** cross-entropy over the batch plus the weight
decay term (prior precision N wd), i.e. the potential divided by N, hence the 1/N under the square root: for the
potential U = N U~ the Langevin step with step size eta = alpha / N is eta grad U + sqrt(2 eta T) xi.

References:
    Zhang et al., "Cyclical Stochastic Gradient MCMC for Bayesian Deep Learning", ICLR 2020,
    https://arxiv.org/abs/1902.03932. Reference implementation: ruqizhang/csgmcmc@2d85c66:
    experiments/cifar_csgmcmc.py (``noise_loss``, ``adjust_learning_rate``; noise std sqrt(2 lr T / N) after the
    fix of issue #1).

Note:
    No momentum (SGLD proper). The noise is added directly to the parameters rather than through an extra loss
    term; the two are the same update. Temperature T = 1 is the Bayes posterior; the cpu and gpu profiles use the
    reference's default T = 1/50000 (a cold posterior, `REFERENCE_TEMPERATURE`); smoke keeps T = 1 so the noise
    is visible in tests. Batch-norm statistics are the running ones of training (no recompute). The cached,
    profile-sized runs (`csgld_recipe`, `train_csgld`) are in `lsdl_ens.experiments.ensembles_csgld`.
"""

from __future__ import annotations

import math

import torch

from .. import checks
from ..profiles import REFERENCE_TEMPERATURE
from ..schedules import sse_lr
from ..train import cross_entropy_step, fit
from .snapshots import SnapshotCollector

__all__ = ["CyclicalSGLD", "csgld_lr", "cycle_position", "csgld_sample_iterations", "run_csgld",
           "REFERENCE_TEMPERATURE"]

class CyclicalSGLD(torch.optim.Optimizer):
    """SGD without momentum that adds Langevin noise while ``.sampling`` is True.

    Update per parameter: p <- p - lr (grad + weight_decay p) + [sampling] sqrt(2 lr T / n_data) xi.

    Args:
        params: parameters or parameter groups.
        lr: step size alpha (set it every iteration, e.g. from `csgld_lr`).
        n_data: N, the number of training examples (the loss is a mean over the batch).
        temperature: T (1 = the posterior).
        weight_decay: L2 coefficient (a Gaussian prior of precision N weight_decay).
        generator: optional torch.Generator for the noise (reproducible samples); one on the parameters' device
            (``torch.Generator(device=...)``, as `run_csgld` makes) avoids a host-to-device copy every step.

    Attributes:
        sampling: False (exploration: plain SGD) or True (sampling: noise added). Starts False.
    """

    def __init__(self, params, lr: float, n_data: int, temperature: float = 1.0, weight_decay: float = 0.0,
                 generator: torch.Generator | None = None):
        lr, temperature = checks.real("lr", lr), checks.real("temperature", temperature)
        weight_decay = checks.real("weight_decay", weight_decay)
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0; got {lr}")
        n_data = checks.positive_int("n_data", n_data, "pass the number of training examples")
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0; got {temperature}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay}")
        checks.nonneg_float("lr", lr, "pass a finite learning rate such as 0.05")
        checks.nonneg_float("temperature", temperature, "pass 1.0 (the posterior) or a smaller cold temperature")
        checks.nonneg_float("weight_decay", weight_decay, "pass 0 or a small value such as 5e-4")
        super().__init__(params, dict(lr=lr, n_data=n_data, temperature=temperature, weight_decay=weight_decay))
        self.sampling = False
        self.generator = generator

    def noise_std(self, group: dict | None = None) -> float:
        """sqrt(2 lr T / N) of a parameter group (default the first)."""
        g = group or self.param_groups[0]
        return math.sqrt(2.0 * g["lr"] * g["temperature"] / g["n_data"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            std = self.noise_std(group) if self.sampling else 0.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if group["weight_decay"]:
                    d_p = d_p.add(p, alpha=group["weight_decay"])
                p.add_(d_p, alpha=-group["lr"])
                if std > 0:
                    noise = torch.randn(p.shape, generator=self.generator, dtype=p.dtype,
                                        device=self.generator.device if self.generator is not None else p.device)
                    p.add_(noise.to(p.device), alpha=std)  # no copy when the generator is on p's device
        return loss

    def state_dict(self):
        out = super().state_dict()
        out["sampling"] = self.sampling
        return out

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        self.sampling = bool(state_dict.pop("sampling", False))
        super().load_state_dict(state_dict)


def csgld_lr(iteration: int, total_iterations: int, n_cycles: int, lr_0: float) -> float:
    """The cSGLD step size: the SSE cosine restarts (`lsdl_ens.schedules.sse_lr`), iteration counted from 0."""
    return sse_lr(iteration, total_iterations, n_cycles, lr_0)


def cycle_position(iteration: int, total_iterations: int, n_cycles: int) -> float:
    """r = mod(k, c) / c in [0, 1) with c = total_iterations / n_cycles; sampling when r >= beta."""
    if n_cycles < 1 or total_iterations < n_cycles:
        raise ValueError(f"need n_cycles >= 1 and total_iterations >= n_cycles; got {n_cycles}, {total_iterations}")
    c = total_iterations / n_cycles
    return math.fmod(iteration, c) / c


def csgld_sample_iterations(total_iterations: int, n_cycles: int, beta: float, samples_per_cycle: int) -> list[int]:
    """Iterations after which samples are taken: per cycle, `samples_per_cycle` evenly spaced iterations of the
    sampling stage, the last one at the cycle's end (the reference: one per epoch of the last epochs)."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1); got {beta}")
    checks.positive_int("samples_per_cycle", samples_per_cycle, "pass the samples per cycle, e.g. 3")
    checks.positive_int("n_cycles", n_cycles)
    c = total_iterations / n_cycles
    out = []
    for j in range(n_cycles):
        first = math.ceil(j * c + beta * c - 1e-9)          # first sampling iteration
        last = min(math.ceil((j + 1) * c - 1e-9), total_iterations) - 1
        span = last - first + 1
        if span < samples_per_cycle:
            raise ValueError(f"cycle {j} has {span} sampling iterations, fewer than samples_per_cycle="
                             f"{samples_per_cycle}; lower beta or the number of samples")
        out += [last - round(s * span / samples_per_cycle) for s in reversed(range(samples_per_cycle))]
    return out


def run_csgld(model, loader, *, epochs: int, n_cycles: int, lr_0: float, beta: float, samples_per_cycle: int,
              temperature: float = 1.0, weight_decay: float = 5e-4, seed: int = 0, progress=None,
              precision: str = "fp32", channels_last: bool = False):
    """Train `model` in place with cSGLD; returns (collector of samples, optimizer). ``precision`` and
    ``channels_last`` as in `lsdl_ens.train.fit` (bf16 autocast covers the forward pass and the loss; the Langevin
    update, its noise included, stays in float32)."""
    checks.one_of("precision", precision, checks.PRECISIONS)  # the custom step below would ignore a bad value
    total = epochs * len(loader)
    device = next(model.parameters()).device
    opt = CyclicalSGLD([p for p in model.parameters() if p.requires_grad], lr=lr_0, n_data=loader.num_examples,
                       temperature=temperature, weight_decay=weight_decay,
                       generator=torch.Generator(device=device).manual_seed(seed + 1))
    collector = SnapshotCollector(csgld_sample_iterations(total, n_cycles, beta, samples_per_cycle))

    def step_fn(m, batch, o, step):
        o.sampling = cycle_position(step.iteration, total, n_cycles) >= beta
        return cross_entropy_step(m, batch, o, step, precision=precision)

    fit(model, loader, epochs=epochs, optimizer=opt, lr_schedule=lambda s: csgld_lr(s.iteration, total, n_cycles,
                                                                                    lr_0),
        train_step=step_fn, callbacks=[collector], seed=seed, progress=progress, desc="cSGLD",
        channels_last=channels_last)
    return collector, opt
