"""A paper's claim measured with its noise: an estimate with a 95% interval, and a verdict that respects it.

Two sources of uncertainty, one for each kind of claim:

* **Training decides it** (a barrier, an accuracy gap between two methods, each trained with several seeds):
  ``seed_estimate(values)`` takes one value per seed (at least 3) and returns their mean with a Student-t
  interval, ``mean ± t_{0.975, n-1} · s / sqrt(n)`` (``s`` the sample standard deviation). For a difference of
  two methods trained with the same seeds, pass the per-seed differences (a paired t-interval).
* **The test set decides it** (two fixed predictors compared on the same test images): ``paired_bootstrap``
  resamples test indices with replacement (seeded), recomputes ``metric(a) - metric(b)`` on each resample and
  returns the difference on the full test set with the percentile interval of the resampled differences
  (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13). ``bootstrap`` does the same for one
  predictor's metric.

Verdict rules (``judge``), with ``[lo, hi]`` the 95% interval of the estimate:

* ``expect="greater"`` (the claim "value > threshold", e.g. "A beats B": value = A - B, threshold 0):
  **holds** when ``lo > threshold``, **does not hold** when ``hi <= threshold`` (no part of the interval is
  above the threshold: a noiseless value exactly at it, ``[0, 0]`` against 0, is not "greater"), **within
  noise** otherwise.
* ``expect="less"``: the mirror image (holds when ``hi < threshold``, does not hold when ``lo >= threshold``).
* ``expect="near"`` (the claim "value is threshold up to tolerance", e.g. "no barrier", "accuracy unchanged"):
  **holds** when ``[lo, hi]`` lies inside ``[threshold - tolerance, threshold + tolerance]``, **does not hold**
  when the two do not overlap, **within noise** otherwise.

The reason names the measured value and its interval, e.g. ``"difference -0.30 ± 0.50 points: the interval
contains 0"`` (verdict: within noise). A ``Claim`` bundles this with the paper's statement and value for the
chapter's table and for ``lsdl_ens.claims_page`` (``book/claims/NN.json`` and the "What reproduces" page).

Core module: imports only numpy, torch and the standard library. The Student-t quantile is computed here (the
closed-form t distribution function for integer degrees of freedom, Abramowitz & Stegun 26.7.3-4, inverted by
bisection) so that the library needs no scipy; the tests compare it with ``scipy.stats.t``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import checks

__all__ = ["Estimate", "Claim", "VERDICTS", "t_quantile", "seed_estimate", "bootstrap", "paired_bootstrap",
           "judge", "make_claim", "format_measure"]

VERDICTS = ("holds", "within noise", "does not hold")
LEVEL = 0.95


def _t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3 odd df, 26.7.4 even df)."""
    theta = math.atan2(x, math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:
        total, term = 0.0, c
        if df > 1:
            total = term
            for k in range(3, df - 1, 2):
                term *= c * c * (k - 1) / k
                total += term
        a = (2 / math.pi) * (theta + s * total)
    else:
        total, term = 1.0, 1.0
        for k in range(2, df - 1, 2):
            term *= c * c * (k - 1) / k
            total += term
        a = s * total
    return 0.5 * (1 + a)  # a = A(t | df) = P(|T| <= |x|) with the sign of x


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection on the exact cdf, to 1e-12)."""
    p = checks.number("p", p, low=0.0, high=1.0, low_open=True, high_open=True)
    df = checks.positive_int("df", df)
    lo, hi = -1.0, 1.0
    while _t_cdf(lo, df) > p:
        lo *= 2
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Estimate:
    """A measured value with its 95% interval [low, high] and how the interval was obtained."""

    value: float
    low: float
    high: float
    method: str

    def scaled(self, factor: float) -> Estimate:
        """The same estimate in other units (e.g. ``factor=100`` for fractions to percent or points)."""
        ends = sorted((self.low * factor, self.high * factor))
        return Estimate(self.value * factor, ends[0], ends[1], self.method)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def seed_estimate(values: Sequence[float]) -> Estimate:
    """Mean over seeds with the 95% Student-t interval ``mean ± t_{0.975, n-1} s / sqrt(n)`` (n >= 3 values)."""
    values = checks.non_empty("values", values, "pass one value per seed, at least 3")
    values = [checks.finite(f"values[{i}]", v) for i, v in enumerate(values)]
    if len(values) < 3:
        raise ValueError(f"values must hold at least 3 per-seed values, got {len(values)}; train more seeds "
                         "or use paired_bootstrap for fixed predictors")
    x = np.asarray(values, dtype=float)
    n, mean = len(x), float(x.mean())
    half = t_quantile(0.5 + LEVEL / 2, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, f"mean over {n} seeds, 95% t-interval")


def _bootstrap_indices(n: int, n_boot: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (n_boot, n), generator=generator)


def _check_bootstrap_args(probs, labels, n_boot, seed, name="probs"):
    probs = checks.tensor(name, probs, dim=2, floating=True)
    labels = checks.tensor("labels", labels, dim=1)
    if len(labels) != len(probs):
        raise ValueError(f"labels must have one entry per row of {name}, got {len(labels)} labels for "
                         f"{len(probs)} rows; pass the labels of the same test set")
    n_boot = checks.integer("n_boot", n_boot, minimum=100, fix="pass at least 100 resamples (1000 is usual)")
    seed = checks.nonneg_int("seed", seed)
    return probs.detach().cpu(), labels.detach().cpu(), n_boot, seed


def _percentile_interval(full: float, resampled: list[float], what: str) -> Estimate:
    low, high = np.quantile(np.asarray(resampled), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Estimate(float(full), float(low), float(high), what)


def bootstrap(metric: Callable, probs, labels, *, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """``metric(probs, labels)`` on the full test set with a 95% percentile bootstrap interval over test examples.

    ``metric`` is e.g. ``lsdl_ens.metrics.accuracy``, ``nll`` or ``ece``; resamples draw test indices with
    replacement from a generator seeded with ``seed`` (the same seed gives the same interval).
    """
    metric = checks.callable_("metric", metric, "pass a metric such as lsdl_ens.metrics.accuracy")
    probs, labels, n_boot, seed = _check_bootstrap_args(probs, labels, n_boot, seed)
    resampled = [float(metric(probs[idx], labels[idx])) for idx in _bootstrap_indices(len(labels), n_boot, seed)]
    return _percentile_interval(metric(probs, labels), resampled,
                                f"{n_boot} bootstrap resamples of {len(labels)} test examples, 95% percentile interval")


def paired_bootstrap(metric: Callable, probs_a, probs_b, labels, *, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """``metric(a) - metric(b)`` on the same test set with a 95% paired percentile bootstrap interval.

    Each resample draws one set of test indices and evaluates both predictors on it, so the interval reflects
    only the test examples on which they differ, not the difficulty of the set both share.
    """
    metric = checks.callable_("metric", metric, "pass a metric such as lsdl_ens.metrics.accuracy")
    probs_a, labels, n_boot, seed = _check_bootstrap_args(probs_a, labels, n_boot, seed, "probs_a")
    probs_b = checks.tensor("probs_b", probs_b, dim=2, floating=True).detach().cpu()
    if probs_b.shape != probs_a.shape:
        raise ValueError(f"probs_b must have the shape of probs_a {tuple(probs_a.shape)}, got "
                         f"{tuple(probs_b.shape)}; evaluate both predictors on the same test set")
    resampled = [float(metric(probs_a[idx], labels[idx]) - metric(probs_b[idx], labels[idx]))
                 for idx in _bootstrap_indices(len(labels), n_boot, seed)]
    full = metric(probs_a, labels) - metric(probs_b, labels)
    return _percentile_interval(full, resampled, f"paired bootstrap, {n_boot} resamples of {len(labels)} test "
                                                 "examples, 95% percentile interval")


def judge(estimate: Estimate, *, expect: str, threshold: float = 0.0, tolerance: float | None = None,
          unit: str = "", what: str = "value") -> tuple[str, str]:
    """``(verdict, reason)`` for the claim about ``estimate`` by the rules of the module docstring."""
    if not isinstance(estimate, Estimate):
        raise TypeError(f"estimate must be an Estimate, got {type(estimate).__name__}; use seed_estimate, "
                        "bootstrap or paired_bootstrap")
    expect = checks.one_of("expect", expect, ("greater", "less", "near"))
    threshold = checks.finite("threshold", threshold)
    lo, hi = estimate.low, estimate.high
    measured = f"{what} {format_measure(estimate.value, (lo, hi), unit)}"
    if expect == "near":
        if tolerance is None:
            raise ValueError("tolerance must be given for expect='near'; pass the largest deviation from "
                             "threshold that still counts as equal, e.g. tolerance=0.5")
        tolerance = checks.positive_float("tolerance", tolerance)
        band = f"[{threshold - tolerance:g}, {threshold + tolerance:g}]"
        if threshold - tolerance <= lo and hi <= threshold + tolerance:
            return "holds", f"{measured}: the interval lies inside {band}"
        if hi < threshold - tolerance or lo > threshold + tolerance:
            return "does not hold", f"{measured}: the interval lies outside {band}"
        return "within noise", f"{measured}: the interval overlaps the edge of {band}"
    sign = 1 if expect == "greater" else -1
    side = ">" if expect == "greater" else "<"
    if sign * (lo - threshold) > 0 and sign * (hi - threshold) > 0:
        return "holds", f"{measured}: the whole interval is {side} {threshold:g}"
    if sign * (lo - threshold) <= 0 and sign * (hi - threshold) <= 0:
        if lo == hi == threshold:
            return "does not hold", f"{measured}: the value is exactly {threshold:g}, with no spread"
        if sign * (lo - threshold) < 0 and sign * (hi - threshold) < 0:
            return "does not hold", f"{measured}: the whole interval is on the wrong side of {threshold:g}"
        return "does not hold", f"{measured}: no part of the interval is {side} {threshold:g}"
    return "within noise", f"{measured}: the interval contains {threshold:g}"


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's claims table (and of ``book/claims/NN.json``).

    ``paper`` is the paper's value as quoted (text, e.g. ``"27.4 / 26.4 / 25.7"``), ``paper_source`` where it is
    quoted from; ``ours`` our measured value and ``uncertainty`` its 95% interval ``[low, high]`` in ``unit``.
    """

    id: str
    claim: str
    paper: str
    paper_source: str
    ours: float
    uncertainty: tuple[float, float]
    verdict: str
    reason: str
    unit: str = ""

    def __post_init__(self):
        for name in ("id", "claim", "paper", "paper_source", "reason", "unit"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string, got {getattr(self, name)!r}")
        if not self.id or not self.claim:
            raise ValueError("id and claim must be non-empty strings; name the claim and state it")
        checks.one_of("verdict", self.verdict, VERDICTS)
        checks.real("ours", self.ours)
        if len(tuple(self.uncertainty)) != 2:
            raise ValueError(f"uncertainty must be the interval (low, high), got {self.uncertainty!r}")
        low, high = (checks.real("uncertainty", v) for v in self.uncertainty)
        if low > high:
            raise ValueError(f"uncertainty must be (low, high) with low <= high, got {self.uncertainty!r}")
        object.__setattr__(self, "ours", float(self.ours))
        object.__setattr__(self, "uncertainty", (low, high))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["uncertainty"] = list(self.uncertainty)
        return out

    @property
    def measured(self) -> str:
        """Our value with its interval, as a table shows it (``format_measure(..., compact=True)``)."""
        return format_measure(self.ours, self.uncertainty, self.unit, compact=True)


def make_claim(id: str, claim: str, *, paper: str, paper_source: str, estimate: Estimate, expect: str,
               threshold: float = 0.0, tolerance: float | None = None, unit: str = "",
               what: str = "value") -> Claim:
    """A ``Claim`` whose verdict and reason come from ``judge(estimate, ...)``."""
    verdict, reason = judge(estimate, expect=expect, threshold=threshold, tolerance=tolerance, unit=unit, what=what)
    return Claim(id=id, claim=claim, paper=paper, paper_source=paper_source, ours=estimate.value,
                 uncertainty=(estimate.low, estimate.high), verdict=verdict, reason=reason, unit=unit)


def _decimals(half_width: float) -> int:
    """Decimals that show the half-width with two significant digits (0 to 4)."""
    if not math.isfinite(half_width) or half_width <= 0:
        return 2
    return int(min(4, max(0, 1 - math.floor(math.log10(half_width)))))


def _fmt(x: float, decimals: int = 2) -> str:
    text = f"{x:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0" for a tiny negative value


def format_measure(value: float, interval, unit: str = "", *, decimals: int | None = None,
                   compact: bool = False) -> str:
    """A measured value for prose: ``"-0.30 ± 0.50 points"``, or ``"87.81% (95% interval 87.40 to 88.20%)"`` when
    the interval ``(low, high)`` is not symmetric at the shown precision (``compact=True``, for tables:
    ``"87.81% [87.40, 88.20]"``).

    ``interval`` is a half-width (a number) or ``(low, high)``; ``decimals`` defaults to two significant digits
    of the half-width. Use it with myst-nb's ``glue`` to put measured numbers into a chapter's text.
    """
    value = checks.real("value", value)
    if isinstance(interval, (tuple, list, np.ndarray)) and len(interval) == 2:
        low, high = (checks.real("interval", v) for v in interval)
    else:
        half = checks.nonneg_float("interval", interval, "pass a half-width >= 0 or a pair (low, high)")
        low, high = value - half, value + half
    if low > high:
        raise ValueError(f"interval must be (low, high) with low <= high, got ({low}, {high})")
    d = _decimals((high - low) / 2) if decimals is None else checks.nonneg_int("decimals", decimals)
    suffix = unit if unit in ("", "%") else f" {unit}"
    plus, minus = high - value, value - low
    if _fmt(plus, d) == _fmt(minus, d):
        return f"{_fmt(value, d)} ± {_fmt(plus, d)}{suffix}"
    if compact:
        return f"{_fmt(value, d)}{suffix} [{_fmt(low, d)}, {_fmt(high, d)}]"
    return f"{_fmt(value, d)}{suffix} (95% interval {_fmt(low, d)} to {_fmt(high, d)}{suffix})"
