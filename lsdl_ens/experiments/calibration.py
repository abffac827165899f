"""Chapter 01 (predictions, calibration and diversity): the networks it trains and the results it shows.

The chapter trains standard networks (`lsdl_ens.recipes.standard_recipe`, one per seed) and groups them into
disjoint ensembles of ``MEMBERS`` = 2: seeds (0, 1), (2, 3), ... , ``profile.claim_seeds`` ensembles in all, so
that every claim about "an ensemble against one network" is measured over at least three independent ensembles
(`lsdl_ens.experiments.calibration_claims`). Each network is evaluated

* on the validation split (to fit a temperature, Guo et al., ICML 2017) and the clean test split;
* under distribution shift: the test images corrupted by each of ``SHIFT_CORRUPTIONS`` at severities 1..5 with
  `lsdl_ens.data.corrupt` (the CIFAR-10-C protocol, Hendrycks & Dietterich, ICLR 2019), as Ovadia et al.
  (NeurIPS 2019) compare single networks and ensembles under shift.

An ensemble predicts the mean of its members' probabilities, ``p(y|x) = (1/M) sum_m softmax(z_m(x))``
(Lakshminarayanan et al., NeurIPS 2017).

Entry points: ``runs(profile)`` (the cached trainings, for `lsdl-ens warm`), ``chapter_results(profile)`` (all
predictions the chapter needs; trains only on a cache miss) and the tables built from them.
Deliberate choice: the six corruption types (noise, blur, weather, digital families of CIFAR-10-C) are a fixed
protocol of the chapter, not a size, so they are a constant here and the same in every profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import metrics
from ..data import corrupt, profile_data
from ..prediction import predict_logits
from ..profiles import Profile
from ..recipes import standard_recipe, train
from ..train import History
from .runs import CachedRun

__all__ = ["SHIFT_CORRUPTIONS", "SEVERITIES", "MEMBERS", "seeds", "runs", "CalibrationResults", "chapter_results",
           "scores", "member_pairs", "quality_frame", "temperature_scaling", "shift_frame", "shift_scores"]

#: the corruption types averaged under "distribution shift" (one or two per family of CIFAR-10-C)
SHIFT_CORRUPTIONS = ("gaussian_noise", "defocus_blur", "contrast", "fog", "pixelate", "jpeg_compression")
SEVERITIES = (1, 2, 3, 4, 5)
MEMBERS = 2  # networks per ensemble


def _check_profile(profile) -> Profile:
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a resolved Profile (lsdl_ens.profiles.get_profile()), got "
                        f"{type(profile).__name__}")
    return profile


def seeds(profile: Profile) -> tuple[int, ...]:
    """The seeds of the chapter's networks: ``MEMBERS`` per ensemble, ``profile.claim_seeds`` ensembles."""
    return tuple(range(MEMBERS * _check_profile(profile).claim_seeds))


def runs(profile: Profile) -> list[CachedRun]:
    """Every cached run chapter 01 reads: one standard training per seed of `seeds`."""
    return [CachedRun("train", standard_recipe(profile, seed=s), train, label=f"standard seed {s}")
            for s in seeds(profile)]


@dataclass
class CalibrationResults:
    """What the chapter computes, for networks ``seeds`` (index m of every stacked tensor is seed ``seeds[m]``).

    Attributes:
        seeds: the networks' seeds.
        histories: their training histories.
        test_logits, val_logits: logits [M, N, C] on the clean test and on the validation split.
        labels, val_labels: the labels of those splits.
        shifted_probs: ``{(corruption, severity): probabilities [M, N, C]}`` on the corrupted test images.
    """

    seeds: tuple[int, ...]
    histories: list[History]
    test_logits: torch.Tensor
    val_logits: torch.Tensor
    labels: torch.Tensor
    val_labels: torch.Tensor
    shifted_probs: dict

    @property
    def test_probs(self) -> torch.Tensor:
        return self.test_logits.softmax(-1)


def chapter_results(profile: Profile, *, device=None) -> CalibrationResults:
    """Train (or read from the cache) the chapter's networks and predict on every split the chapter uses."""
    profile = _check_profile(profile)
    _, val_set, test_set = profile_data(profile)
    models, histories = [], []
    for run in runs(profile):
        model, history = run.train()
        models.append(model.to(device) if device is not None else model)
        histories.append(history)
    shifted = {}
    for name in SHIFT_CORRUPTIONS:
        for severity in SEVERITIES:
            data = test_set.with_images(corrupt(test_set.images, name, severity, seed=0))
            shifted[(name, severity)] = predict_logits(models, data, device=device).softmax(-1)
    return CalibrationResults(seeds(profile), histories, predict_logits(models, test_set, device=device),
                              predict_logits(models, val_set, device=device), test_set.labels, val_set.labels,
                              shifted)


def scores(probs, labels) -> dict:
    """Accuracy (%), NLL, Brier score and ECE (%, 15 bins) of probabilities [N, C] (`lsdl_ens.metrics`)."""
    return {"accuracy (%)": 100 * metrics.accuracy(probs, labels), "NLL": metrics.nll(probs, labels),
            "Brier": metrics.brier(probs, labels), "ECE (%)": 100 * metrics.ece(probs, labels)}


def member_pairs(results: CalibrationResults) -> list[tuple[int, int]]:
    """Indices of the members of each disjoint ensemble: (0, 1), (2, 3), ..."""
    n = len(results.seeds)
    return [(i, i + 1) for i in range(0, n - n % MEMBERS, MEMBERS)]


def quality_frame(results: CalibrationResults):
    """The first two networks and their ensemble on the clean test set: one row each (accuracy, NLL, Brier, ECE)."""
    import pandas as pd

    a, b = member_pairs(results)[0]
    probs = results.test_probs
    rows = {f"network {a}": scores(probs[a], results.labels), f"network {b}": scores(probs[b], results.labels),
            "ensemble of both": scores(metrics.ensemble_probs([probs[a], probs[b]]), results.labels)}
    return pd.DataFrame.from_dict(rows, orient="index")


def temperature_scaling(results: CalibrationResults, member: int = 0) -> dict:
    """Temperature scaling of one network: ``T = argmin_T NLL(softmax(z / T))`` on the validation split, then the
    test scores before (``T = 1``) and after, and the test-time cross-validated NLL of Ashukha et al. (ICLR 2020).

    Returns ``{"T", "before", "after", "probs_before", "probs_after", "calibrated_nll"}``.
    """
    t = metrics.fit_temperature(results.val_logits[member], results.val_labels)
    logits = results.test_logits[member]
    before, after = logits.softmax(-1), (logits / t).softmax(-1)
    return {"T": t, "before": scores(before, results.labels), "after": scores(after, results.labels),
            "probs_before": before, "probs_after": after,
            "calibrated_nll": metrics.calibrated_nll(logits.log_softmax(-1), results.labels)}


def shift_scores(results: CalibrationResults, metric, severities=SEVERITIES) -> tuple[list[float], list[float]]:
    """``metric`` averaged over ``SHIFT_CORRUPTIONS`` x ``severities``, per network and per disjoint ensemble
    (two lists, in the order of ``results.seeds`` and of `member_pairs`)."""
    keys = [(name, s) for name in SHIFT_CORRUPTIONS for s in severities]
    n = len(results.seeds)
    single = [sum(metric(results.shifted_probs[k][m], results.labels) for k in keys) / len(keys) for m in range(n)]
    ensemble = [sum(metric(metrics.ensemble_probs([results.shifted_probs[k][a], results.shifted_probs[k][b]]),
                           results.labels) for k in keys) / len(keys) for a, b in member_pairs(results)]
    return single, ensemble


def shift_frame(results: CalibrationResults):
    """Accuracy and ECE (%) against corruption severity (0 = clean), averaged over the corruption types, for a
    single network (mean over all networks) and an ensemble of two (mean over the disjoint ensembles)."""
    import pandas as pd

    rows = []
    for severity in (0, *SEVERITIES):
        row = {"severity": severity}
        for name, metric in (("accuracy (%)", metrics.accuracy), ("ECE (%)", metrics.ece)):
            if severity == 0:
                probs = results.test_probs
                single = [metric(p, results.labels) for p in probs]
                ensemble = [metric(metrics.ensemble_probs([probs[a], probs[b]]), results.labels)
                            for a, b in member_pairs(results)]
            else:
                single, ensemble = shift_scores(results, metric, (severity,))
            row[f"single network, {name}"] = 100 * sum(single) / len(single)
            row[f"ensemble of two, {name}"] = 100 * sum(ensemble) / len(ensemble)
        rows.append(row)
    return pd.DataFrame(rows).set_index("severity")
