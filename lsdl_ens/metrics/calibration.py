"""Calibration: reliability diagrams, expected calibration error and temperature scaling.

``probs`` are N x C probabilities, ``logits`` / ``log_probs`` N x C scores, ``labels`` integer class indices
(N,); computations run in float64 on the CPU and scalars come back as Python floats (ECE is a fraction in
[0, 1], not percent).

References:
    Ashukha et al., "Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning",
    ICLR 2020, https://arxiv.org/abs/2002.06470 (calibrated NLL by test-time cross-validation).
    Guo et al., "On Calibration of Modern Neural Networks", ICML 2017 (ECE, temperature scaling).
    Reference implementation: bayesgroup/pytorch-ensembles@76b71c9: metrics.py.
"""

import math

import torch

from .. import checks
from .inputs import as_logits, as_probs

__all__ = ["reliability_bins", "ece", "fit_temperature", "calibrated_nll"]


def reliability_bins(probs, labels, n_bins=15):
    """Per-bin statistics of a reliability diagram over equal-width confidence bins.

    Confidence is max_c p_ic. Bin b covers (edges[b], edges[b+1]] with edges = linspace(0, 1, n_bins + 1) in
    float64; confidence exactly 0 goes into the first bin (the pytorch-ensembles convention).

    Returns:
        dict with ``edges`` (n_bins + 1), ``confidence`` and ``accuracy`` (n_bins; mean confidence and
        fraction correct per bin, NaN where the bin is empty) and ``count`` (n_bins, int64), all tensors.

    Note:
        torchmetrics' MulticlassCalibrationError uses [lo, hi) bins instead; the two agree unless a
        confidence lies exactly on an interior edge.
    """
    probs, labels = as_probs(probs, labels)
    n_bins = checks.positive_int("n_bins", n_bins, "pass a number of bins such as 15")
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64)
    # bucketize(right=False) returns i with edges[i-1] < x <= edges[i], i.e. bin i - 1 = (lo, hi].
    index = (torch.bucketize(confidence, edges, right=False) - 1).clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins)
    safe = count.clamp_min(1).double()
    mean_confidence = torch.bincount(index, weights=confidence, minlength=n_bins) / safe
    mean_accuracy = torch.bincount(index, weights=correct, minlength=n_bins) / safe
    empty = count == 0
    return {
        "edges": edges,
        "confidence": mean_confidence.masked_fill(empty, float("nan")),
        "accuracy": mean_accuracy.masked_fill(empty, float("nan")),
        "count": count,
    }


def ece(probs, labels, n_bins=15):
    """Expected calibration error (L1) over equal-width bins (lo, hi] on max-probability confidence.

    Formula: ECE = sum_b (|b| / N) |acc_b - conf_b|; a fraction in [0, 1]. Uses the binning of
    ``reliability_bins``, so a reliability diagram and this number always agree.
    """
    bins = reliability_bins(probs, labels, n_bins)
    filled = bins["count"] > 0
    weights = bins["count"][filled].double() / bins["count"].sum()
    gaps = (bins["accuracy"][filled] - bins["confidence"][filled]).abs()
    return (weights * gaps).sum().item()


def _nll_derivatives(logits, labels, log_t):
    """First and second derivative of NLL(softmax(logits / T)) with respect to u = log T.

    With s = logits / T and p = softmax(s): dNLL/du = -mean_i(E_p[s_i] - s_{i,y_i}) and
    d2NLL/du2 = mean_i Var_p[s_i] - dNLL/du.
    """
    scaled = logits / math.exp(log_t)
    probs = scaled.softmax(dim=1)
    expected = (probs * scaled).sum(dim=1)
    variance = (probs * (scaled - expected[:, None]) ** 2).sum(dim=1)
    slope = -(expected - scaled.gather(1, labels[:, None]).squeeze(1)).mean().item()
    return slope, variance.mean().item() - slope


def fit_temperature(logits, labels, t_min=1e-3, t_max=1e3, tol=1e-10, max_iters=100):
    """Temperature T > 0 minimising the NLL of softmax(logits / T) (temperature scaling).

    Formula: T* = argmin_T -(1/N) sum_i log softmax(z_i / T)_{y_i}. The NLL is convex in 1/T, so its slope
    in u = log T changes sign at most once on [log t_min, log t_max]. We keep a bracket around that sign change
    and take Newton steps in u, falling back to bisection when a step leaves the bracket (safeguarded Newton,
    float64). Deterministic; returns t_min or t_max when the optimum lies outside the bracket (t_max for
    logits no better than uniform, t_min for perfectly separated data).

    Note:
        The reference (pytorch-ensembles metrics.py) runs Nelder-Mead from T = 1 with xtol 1e-3; this solver
        has no starting point and stops when the step in log T is below ``tol``.
    """
    logits, labels = as_logits(logits, labels)
    t_min, t_max = checks.positive_float("t_min", t_min), checks.positive_float("t_max", t_max)
    if not t_min < t_max:
        raise ValueError(f"t_min and t_max must satisfy 0 < t_min < t_max, got {t_min}, {t_max}; swap them")
    max_iters = checks.positive_int("max_iters", max_iters)
    tol = checks.positive_float("tol", tol, "pass a small positive tolerance such as 1e-10")
    lo, hi = math.log(t_min), math.log(t_max)
    if _nll_derivatives(logits, labels, lo)[0] >= 0:
        return t_min
    if _nll_derivatives(logits, labels, hi)[0] <= 0:
        return t_max
    u = 0.0 if lo < 0.0 < hi else 0.5 * (lo + hi)  # start at T = 1
    for _ in range(max_iters):
        slope, curvature = _nll_derivatives(logits, labels, u)
        if slope < 0:
            lo = u
        else:
            hi = u
        step = -slope / curvature if curvature > 0 else math.inf
        if abs(step) < tol:  # converged Newton step; checked first as u + step may round to a bracket end
            return math.exp(u + step)
        if not lo < u + step < hi:
            step = 0.5 * (lo + hi) - u
        u += step
        if hi - lo < tol:
            break
    return math.exp(u)


def calibrated_nll(log_probs, labels, n_splits=2, n_runs=5, seed=0):
    """NLL after temperature scaling fitted by test-time cross-validation (Ashukha et al. 2020).

    For each of ``n_runs`` seeded random permutations, split the examples into ``n_splits`` folds; for each
    fold fit T (``fit_temperature``, treating ``log_probs`` as logits) on the other folds and score
    -log softmax(log_probs / T)_y on the fold. A run's score is the mean over all N examples; the result is the
    mean over runs. With n_splits = 2: halve, fit on one half, score the other, swap.

    Note:
        For an ensemble pass ``ensemble_log_probs(...)`` (T is applied to log of the mean probability, not to
        each member). Scoring uses the exact log-softmax, without the 1e-12 of ``nll``.
    """
    log_probs, labels = as_logits(log_probs, labels, name="log_probs")
    n_splits = checks.integer("n_splits", n_splits, minimum=2, fix="pass 2 (halves) or more folds")
    n_runs = checks.positive_int("n_runs", n_runs, "pass at least one run, e.g. 5")
    seed = checks.nonneg_int("seed", seed)
    n = labels.numel()
    if n < n_splits:
        raise ValueError(f"labels has {n} examples, fewer than n_splits={n_splits}; each fold needs one")
    generator = torch.Generator().manual_seed(seed)
    run_scores = []
    for _ in range(n_runs):
        folds = torch.randperm(n, generator=generator).tensor_split(n_splits)
        total = 0.0
        for k, test_idx in enumerate(folds):
            fit_idx = torch.cat([f for j, f in enumerate(folds) if j != k])
            t = fit_temperature(log_probs[fit_idx], labels[fit_idx])
            scored = (log_probs[test_idx] / t).log_softmax(dim=1)
            total -= scored.gather(1, labels[test_idx, None]).sum().item()
        run_scores.append(total / n)
    return sum(run_scores) / n_runs
