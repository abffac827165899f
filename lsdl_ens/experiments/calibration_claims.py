"""Chapter 01's claims, measured with their noise (`lsdl_ens.claims`).

Two groups, each decided by training (so each is a Student-t interval over independent runs, `seed_estimate`):

* **Temperature scaling** (Guo et al., ICML 2017): per network, ``T`` is fitted on the validation split
  (`lsdl_ens.metrics.fit_temperature`) and the test scores are compared with and without it. Claims: the network
  is over-confident (``T > 1``), temperature scaling leaves the accuracy unchanged (the arg-max of ``z / T`` is
  that of ``z``) and lowers the test NLL and ECE. Interval over all the chapter's networks.
* **Ensemble vs one network**, on the clean test set and averaged over the corrupted test sets
  (`calibration.SHIFT_CORRUPTIONS` x severities 1..5): for each disjoint ensemble of two networks, the difference
  ``metric(ensemble) - mean(metric(member 1), metric(member 2))``, i.e. the ensemble against a network of the same
  recipe; interval over the ``profile.claim_seeds`` disjoint ensembles. For the NLL on one test set the difference
  can never be positive (Jensen's inequality: ``-log`` of a mean probability is at most the mean of ``-log``); for
  accuracy and ECE nothing guarantees the sign.

Paper values: the lecture's model-soups table (LSDL lecture 06, from Wortsman et al., ICML 2022) gives an ensemble
against the best individual model on ImageNet and under distribution shift; the model soups paper states that
ensembles improve calibration (citing Guo et al. 2017 and Roelofs et al. 2020), without a number. The other
claims name their paper and say that the lecture quotes no number for them.
"""

from __future__ import annotations

from .. import metrics
from ..claims import Claim, make_claim, seed_estimate
from ..profiles import Profile
from .calibration import CalibrationResults, member_pairs, shift_scores

__all__ = ["PAPER", "temperature_values", "ensemble_gains", "claims"]

LECTURE_SOUPS = "LSDL lecture 06, model soups table (Wortsman et al., ICML 2022)"
GUO = "Guo et al., ICML 2017 (no number in the lecture)"
SOUPS_CALIBRATION = "model soups paper (Wortsman et al., ICML 2022), Scope and limitations: Calibration"

#: claim id -> (statement, paper's value as quoted, source)
PAPER = {
    "01-ts-overconfident": ("A trained network is over-confident: the temperature fitted on validation data is "
                            "above 1", "T > 1", GUO),
    "01-ts-accuracy": ("Temperature scaling leaves the test accuracy unchanged", "unchanged", GUO),
    "01-ts-nll": ("Temperature scaling lowers the test NLL", "lower", GUO),
    "01-ts-ece": ("Temperature scaling lowers the test ECE", "lower", GUO),
    "01-ens-acc-clean": ("An ensemble of two networks is more accurate than one network (clean test set)",
                         "81.19 vs 80.38 % (ensemble vs best individual model, ImageNet)", LECTURE_SOUPS),
    "01-ens-nll-clean": ("An ensemble of two networks has a lower NLL than one network (clean test set)",
                         "lower", "Lakshminarayanan et al., NeurIPS 2017 (no number in the lecture)"),
    "01-ens-ece-clean": ("An ensemble of two networks has a lower ECE than one network (clean test set)",
                         "\"ensembles improve model calibration\"", SOUPS_CALIBRATION),
    "01-ens-acc-shift": ("An ensemble of two networks is more accurate than one network under distribution shift",
                         "50.77 vs 47.83 % (ensemble vs best individual model, distribution shifts)", LECTURE_SOUPS),
    "01-ens-nll-shift": ("An ensemble of two networks has a lower NLL than one network under distribution shift",
                         "lower", "Ovadia et al., NeurIPS 2019 (no number in the lecture)"),
    "01-ens-ece-shift": ("An ensemble of two networks has a lower ECE than one network under distribution shift",
                         "lower", "Ovadia et al., NeurIPS 2019 (no number in the lecture)"),
}


def _check(results, profile) -> None:
    if not isinstance(results, CalibrationResults):
        raise TypeError(f"results must be the CalibrationResults of calibration.chapter_results, got "
                        f"{type(results).__name__}")
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a resolved Profile, got {type(profile).__name__}")
    if len(member_pairs(results)) < 3:
        raise ValueError(f"results must hold at least 3 disjoint ensembles (6 networks) for seed intervals, got "
                         f"{len(results.seeds)} networks; use a profile with claim_seeds >= 3")


def temperature_values(results: CalibrationResults) -> dict[str, list[float]]:
    """Per network: the fitted ``T`` and the test accuracy (points), NLL and ECE (points) changes it causes."""
    out = {"T": [], "accuracy": [], "nll": [], "ece": []}
    for m in range(len(results.seeds)):
        t = metrics.fit_temperature(results.val_logits[m], results.val_labels)
        before = results.test_logits[m].softmax(-1)
        after = (results.test_logits[m] / t).softmax(-1)
        out["T"].append(t)
        out["accuracy"].append(100 * (metrics.accuracy(after, results.labels) - metrics.accuracy(before,
                                                                                                 results.labels)))
        out["nll"].append(metrics.nll(after, results.labels) - metrics.nll(before, results.labels))
        out["ece"].append(100 * (metrics.ece(after, results.labels) - metrics.ece(before, results.labels)))
    return out


def ensemble_gains(results: CalibrationResults, metric, *, shifted: bool) -> list[float]:
    """Per disjoint ensemble: ``metric(ensemble) - mean of metric(member)``, on the clean test set or averaged over
    the corrupted test sets (``shifted=True``)."""
    pairs = member_pairs(results)
    if shifted:
        single, ensemble = shift_scores(results, metric)
    else:
        probs = results.test_probs
        single = [metric(p, results.labels) for p in probs]
        ensemble = [metric(metrics.ensemble_probs([probs[a], probs[b]]), results.labels) for a, b in pairs]
    return [e - (single[a] + single[b]) / 2 for e, (a, b) in zip(ensemble, pairs)]


def _claim(claim_id, estimate, **rule) -> Claim:
    statement, paper, source = PAPER[claim_id]
    return make_claim(claim_id, statement, paper=paper, paper_source=source, estimate=estimate, **rule)


def claims(results: CalibrationResults, profile: Profile) -> list[Claim]:
    """The chapter's claims (ids of `PAPER`), each with a 95% interval over seeds and its verdict."""
    _check(results, profile)
    ts = temperature_values(results)
    out = [
        _claim("01-ts-overconfident", seed_estimate(ts["T"]), expect="greater", threshold=1.0, what="T"),
        _claim("01-ts-accuracy", seed_estimate(ts["accuracy"]), expect="near", tolerance=0.01, unit="points",
               what="accuracy change"),
        _claim("01-ts-nll", seed_estimate(ts["nll"]), expect="less", what="NLL change"),
        _claim("01-ts-ece", seed_estimate(ts["ece"]), expect="less", unit="points", what="ECE change"),
    ]
    for where, shifted in (("clean", False), ("shift", True)):
        acc = [100 * g for g in ensemble_gains(results, metrics.accuracy, shifted=shifted)]
        nll = ensemble_gains(results, metrics.nll, shifted=shifted)
        ece = [100 * g for g in ensemble_gains(results, metrics.ece, shifted=shifted)]
        out += [
            _claim(f"01-ens-acc-{where}", seed_estimate(acc), expect="greater", unit="points",
                   what="ensemble minus one network"),
            _claim(f"01-ens-nll-{where}", seed_estimate(nll), expect="less", what="ensemble minus one network"),
            _claim(f"01-ens-ece-{where}", seed_estimate(ece), expect="less", unit="points",
                   what="ensemble minus one network"),
        ]
    return out
