"""Classification metrics for ensembles: accuracy, NLL, Brier, ECE, diversity, temperature scaling.

All metrics take averaged probabilities ``probs`` (N x C, rows summing to 1) and integer ``labels`` (N,),
as in bayesgroup/pytorch-ensembles@76b71c9: metrics.py. Inputs may be float32 or float64 tensors (or
anything ``torch.as_tensor`` accepts); computations run in float64 on CPU and scalar metrics are returned
as Python floats. Fractions are fractions in [0, 1], never percent (except ``diversity``, which is x100 by
its definition).

References:
    Ashukha et al., "Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning",
    ICLR 2020, https://arxiv.org/abs/2002.06470.
    Reference implementation: bayesgroup/pytorch-ensembles@76b71c9: metrics.py.
"""

import math

import torch

from . import checks

__all__ = [
    "accuracy", "error", "nll", "brier", "ece", "reliability_bins", "diversity", "disagreement",
    "fit_temperature", "calibrated_nll", "ensemble_probs", "ensemble_log_probs",
]

_SUM_TOLERANCE = 1e-3


def _as_tensor(x, name):
    try:
        return torch.as_tensor(x).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be a tensor or array, got {type(x).__name__}") from exc


def _check_labels(labels, n=None, n_classes=None, name="labels"):
    """Validate a 1-D integer vector of ``n`` labels in [0, n_classes) (``None`` skips that check)."""
    labels = _as_tensor(labels, name)
    if labels.dim() != 1:
        raise ValueError(f"{name} must be 1-D of shape (N,), got shape {tuple(labels.shape)}")
    if labels.dtype == torch.bool or labels.dtype.is_floating_point or labels.dtype.is_complex:
        raise ValueError(f"{name} must hold integer class indices, got dtype {labels.dtype}; "
                         f"use .long() on integral values or argmax(dim=1) on probabilities")
    if labels.numel() == 0:
        raise ValueError(f"{name} is empty; pass at least one example")
    if n is not None and labels.numel() != n:
        raise ValueError(f"{name} has {labels.numel()} entries, expected {n} (one per example)")
    if n_classes is None and labels.min() < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got minimum {int(labels.min())}; a label of -1 "
                         "(e.g. 'unlabelled') is not a class: drop those examples first")
    if n_classes is not None and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} must lie in [0, {n_classes}) for {n_classes} classes, got range "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return labels.long()


def _check_probs(probs, labels=None, name="probs"):
    """Validate ``probs`` (N x C probabilities) and optional ``labels``; return them as float64 / int64.

    Raises:
        ValueError: naming the argument, on wrong dims, empty input, non-floating dtype, values that are not
            probabilities (negative, non-finite, rows not summing to 1 within 1e-3), N mismatch, labels that
            are not integers or lie outside [0, C).
    """
    probs = _as_tensor(probs, name)
    if probs.dim() != 2:
        raise ValueError(f"{name} must be 2-D of shape (N, C), got shape {tuple(probs.shape)}")
    if probs.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(probs.shape)}); pass at least one example and class")
    if not probs.dtype.is_floating_point:
        raise ValueError(f"{name} must be floating point, got dtype {probs.dtype}; use .float()")
    probs = probs.double()
    row_sums = probs.sum(dim=1)
    if (not torch.isfinite(probs).all() or (probs < 0).any()
            or ((row_sums - 1).abs() > _SUM_TOLERANCE).any()):
        raise ValueError(f"{name} rows must be probabilities (non-negative, summing to 1 within "
                         f"{_SUM_TOLERANCE}); if you have logits, apply softmax first (logits.softmax(dim=1))")
    if labels is None:
        return probs, None
    return probs, _check_labels(labels, probs.shape[0], probs.shape[1])


def _check_positive_int(value, name, minimum=1):  # deliberate: ValueError even for 2.5 or True (kept messages)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def accuracy(probs, labels):
    """Fraction (in [0, 1], not percent) of examples whose argmax class equals the label.

    Formula: acc = (1/N) sum_i 1[argmax_c p_ic = y_i]. Ties go to the lowest class index (torch.argmax).
    """
    probs, labels = _check_probs(probs, labels)
    return (probs.argmax(dim=1) == labels).double().mean().item()


def error(probs, labels):
    """Error rate as a fraction in [0, 1] (not percent): 1 - accuracy(probs, labels)."""
    return 1.0 - accuracy(probs, labels)


def nll(probs, labels, eps=1e-12):
    """Mean negative log-likelihood per example, natural log.

    Formula: NLL = -(1/N) sum_i log(p_{i, y_i} + eps), eps = 1e-12 as in pytorch-ensembles metrics.py.
    """
    probs, labels = _check_probs(probs, labels)
    picked = probs.gather(1, labels[:, None]).squeeze(1)
    return -torch.log(picked + eps).mean().item()


def brier(probs, labels):
    """Brier score, summed over classes (no division by C), averaged over examples.

    Formula: BS = (1/N) sum_i sum_c (p_ic - 1[y_i = c])^2, in [0, 2].
    """
    probs, labels = _check_probs(probs, labels)
    one_hot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return ((probs - one_hot) ** 2).sum(dim=1).mean().item()


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
    probs, labels = _check_probs(probs, labels)
    _check_positive_int(n_bins, "n_bins")
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


def disagreement(pred_a, pred_b):
    """Fraction (in [0, 1]) of examples on which two vectors of predicted labels differ."""
    pred_a = _check_labels(pred_a, name="pred_a")
    pred_b = _check_labels(pred_b, pred_a.numel(), name="pred_b")
    return (pred_a != pred_b).double().mean().item()


def diversity(predictions, labels):
    """Normalised pairwise disagreement of M >= 2 members, x100 (Sadrtdinov et al., NeurIPS 2023).

    Formula: Div = 100 * mean_{m1 != m2} [ mean_i 1[yhat_m1,i != yhat_m2,i] / max(err_m1, err_m2) ], over
    ordered pairs (the term is symmetric, so this equals the mean over unordered pairs).

    Args:
        predictions: list of M >= 2 integer vectors of predicted labels (e.g. ``probs.argmax(dim=1)``).
        labels: integer vector of true labels, same length.

    Note:
        If both members of a pair have zero error they both equal ``labels``, hence never disagree; such a
        pair contributes 0 (no diversity) instead of 0/0. No NaN is ever returned.
    """
    if isinstance(predictions, torch.Tensor) or not hasattr(predictions, "__len__") or len(predictions) < 2:
        raise ValueError("predictions must be a list of at least 2 label vectors (one per member)")
    labels = _check_labels(labels)
    preds = [_check_labels(p, labels.numel(), name=f"predictions[{m}]") for m, p in enumerate(predictions)]
    errors = [(p != labels).double().mean().item() for p in preds]
    terms = []
    for m1 in range(len(preds)):
        for m2 in range(len(preds)):
            if m1 == m2:
                continue
            worse = max(errors[m1], errors[m2])
            terms.append(0.0 if worse == 0.0 else disagreement(preds[m1], preds[m2]) / worse)
    return 100.0 * sum(terms) / len(terms)


def _check_logits(logits, labels, name="logits"):
    logits = _as_tensor(logits, name)
    if logits.dim() != 2 or logits.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 2-D tensor of shape (N, C), got shape {tuple(logits.shape)}")
    if not logits.dtype.is_floating_point:
        raise ValueError(f"{name} must be floating point, got dtype {logits.dtype}; use .float()")
    if not torch.isfinite(logits).all():
        raise ValueError(f"{name} must be finite (no nan/inf); clamp log-probabilities first, "
                         f"e.g. {name}.clamp_min(math.log(1e-12)) as nll's eps does")
    return logits.double(), _check_labels(labels, logits.shape[0], logits.shape[1])


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
    logits, labels = _check_logits(logits, labels)
    if not 0 < t_min < t_max:
        raise ValueError(f"t_min and t_max must satisfy 0 < t_min < t_max, got {t_min}, {t_max}")
    checks.positive_float("t_max", t_max), checks.positive_int("max_iters", max_iters)
    checks.positive_float("tol", tol, "pass a small positive tolerance such as 1e-10")
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
    log_probs, labels = _check_logits(log_probs, labels, name="log_probs")
    _check_positive_int(n_splits, "n_splits", minimum=2)
    _check_positive_int(n_runs, "n_runs")
    checks.nonneg_int("seed", seed)
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


def _check_members(members, name):
    if isinstance(members, torch.Tensor) or not hasattr(members, "__len__") or len(members) == 0:
        raise ValueError(f"{name} must be a non-empty list of (N, C) tensors, one per member")
    tensors = [_as_tensor(m, f"{name}[{i}]") for i, m in enumerate(members)]
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape or t.dim() != 2:
            raise ValueError(f"{name}[{i}] has shape {tuple(t.shape)}; all members must share one (N, C) shape")
        if not t.dtype.is_floating_point:
            raise ValueError(f"{name}[{i}] must be floating point, got dtype {t.dtype}")
    return torch.stack(tensors)


def ensemble_probs(list_of_probs):
    """Ensemble prediction as the arithmetic mean of the members' probabilities: p = (1/M) sum_m p_m."""
    stacked = _check_members(list_of_probs, "list_of_probs")
    for i, p in enumerate(stacked):
        _check_probs(p, name=f"list_of_probs[{i}]")
    return stacked.mean(dim=0)


def ensemble_log_probs(list_of_log_probs):
    """Log of the averaged probabilities, computed stably: log p = logsumexp_m(log p_m) - log M."""
    stacked = _check_members(list_of_log_probs, "list_of_log_probs")
    return torch.logsumexp(stacked, dim=0) - math.log(stacked.shape[0])
