"""Deep Ensemble Equivalent (DEE): how many deep-ensemble members a method is worth.

References:
    Ashukha et al., "Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning",
    ICLR 2020, https://arxiv.org/abs/2002.06470.
    Reference implementation: bayesgroup/pytorch-ensembles@76b71c9: notebooks/DEE camera ready plots.ipynb
    (function ``dee``).
"""

from .. import checks

__all__ = ["dee"]


def _check_curve(curve, name):
    """Validate a {size: value} curve; return it as a sorted list of (int size, float value).

    A curve that is not a dict, a size that is not a whole number or a value that is not a number raise
    ``TypeError``; an empty curve, a size below 1 or a NaN/inf value raise ``ValueError``.
    """
    what = "a non-empty dict mapping ensemble size (int >= 1) to a metric value"
    if not isinstance(curve, dict):
        raise TypeError(f"{name} must be {what}, got {type(curve).__name__}; e.g. {{1: 0.95, 2: 0.80, 4: 0.72}}")
    if not curve:
        raise ValueError(f"{name} must be {what}, got an empty dict")
    points = []
    for size, value in curve.items():
        size = checks.positive_int(f"each key of {name} (an ensemble size)", size)
        value = checks.finite(f"{name}[{size}]", value, "pass the metric's value at that size")
        points.append((size, value))
    return sorted(points)


def dee(method_nll, ensemble_nll, higher_is_better=False):
    """Deep Ensemble Equivalent of each ensemble size of a method.

    Formula: DEE(k) = min{ l in R, l >= 1 : DE(l) <= m(k) } (>= when ``higher_is_better``), where DE is the
    deep-ensemble curve linearly interpolated between the given sizes.

    The curve is walked from size 1; the first segment (l_prev, l) on which the ensemble reaches the method's
    value v gives l_prev + (l - l_prev) * (v - DE(l_prev)) / (DE(l) - DE(l_prev)). If DE(1) already reaches v
    the result is 1.0; if no size reaches v it is capped at the largest deep-ensemble size (so that value
    means "at least").

    Args:
        method_nll: {ensemble size k: metric of the method with k members}, e.g. calibrated NLL.
        ensemble_nll: {size l: metric of a deep ensemble of l members}; must contain size 1. Use the curve
            averaged over several runs, as the paper does.
        higher_is_better: False for NLL-like metrics (default), True for accuracy-like ones.

    Returns:
        {k: DEE(k) as float} for every size k of ``method_nll``.

    Note:
        Sizes of ``ensemble_nll`` need not be consecutive; interpolation is between neighbouring given sizes.
    """
    method = _check_curve(method_nll, "method_nll")
    ensemble = _check_curve(ensemble_nll, "ensemble_nll")
    if ensemble[0][0] != 1:
        raise ValueError("ensemble_nll must contain size 1 (a single network) so the curve starts at l = 1")
    sign = -1.0 if higher_is_better else 1.0  # compare sign * value, where lower is better

    def reaches(ensemble_value, target):
        return sign * ensemble_value <= sign * target

    result = {}
    for k, target in method:
        equivalent = float(ensemble[-1][0])  # capped when never reached
        previous = None
        for size, value in ensemble:
            if reaches(value, target):
                if previous is None:
                    equivalent = float(size)
                else:
                    prev_size, prev_value = previous
                    fraction = (target - prev_value) / (value - prev_value)
                    equivalent = prev_size + (size - prev_size) * fraction
                break
            previous = (size, value)
        result[k] = equivalent
    return result
