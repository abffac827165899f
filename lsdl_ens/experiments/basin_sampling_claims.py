"""The claims of the chapter "Sampling a basin", and its result tables, from `chapter_results` (plain data).

Each method grown from one network (KFAC-Laplace, SWAG, SPRO) is compared with the MAP network it grew from, seed by
seed (``claim_seeds`` seeds): the claim's estimate is the mean of the per-seed differences with a paired Student-t
interval (`lsdl_ens.claims.seed_estimate`). Claims about the equal-budget table (one run per method, seed 0) use a
paired bootstrap over the test examples (`lsdl_ens.claims.paired_bootstrap`). DEE values are per seed as well,
against the deep-ensemble curve of the ``ensemble_size`` members (capped at that size).

Paper values are quoted from: Maddox et al. 2019 (test NLL, CIFAR-100 VGG-16, in the README of
wjmaddox/swa_gaussian); the DEE notebook of bayesgroup/pytorch-ensembles (Ashukha et al. 2020: temperature-scaled
test error on CIFAR-100 VGG-16 with 100 members or samples, and ImageNet DEE); Benton et al. 2021 (Fig. 8).
"""

from __future__ import annotations

import numpy as np

from ..claims import format_measure, make_claim, paired_bootstrap, seed_estimate
from ..metrics import accuracy, ece, nll

__all__ = ["METRICS", "scores", "seed_frame", "equal_budget_frame", "claims", "text_values"]

#: metric name -> (function of (probs, labels), factor to the shown unit, unit, "greater" if higher is better)
METRICS = {"accuracy": (accuracy, 100.0, "points", "greater"), "NLL": (nll, 1.0, "nats", "less"),
           "ECE": (ece, 100.0, "points", "less")}

SOURCE_SWAG = "Maddox et al. 2019, CIFAR-100 VGG-16 test NLL (wjmaddox/swa_gaussian README)"
SOURCE_ENS = ("Ashukha et al. 2020, pytorch-ensembles DEE notebook: CIFAR-100 VGG-16 test error, temperature-"
              "scaled, 100 samples")
SOURCE_SPRO = "Benton et al. 2021, Fig. 8 (VGG-16, CIFAR-10 and CIFAR-100)"
SOURCE_LA = "Daxberger et al. 2021 (Laplace Redux): last-layer KFAC with the probit GLM predictive"

#: per-seed claims: id, method row, metric, statement, paper value, source
SEED_CLAIMS = [
    ("swag_nll_vs_swa", "SWAG", "NLL", "SWA", "SWAG's test NLL is below SWA's", "1.28 -> 0.95", SOURCE_SWAG),
    ("swag_nll", "SWAG", "NLL", "MAP", "SWAG's test NLL is below the SGD network's", "1.73 -> 0.95", SOURCE_SWAG),
    ("swag_accuracy", "SWAG", "accuracy", "MAP", "SWAG is more accurate than the SGD network",
     "error 25.44 -> 22.97", SOURCE_ENS),
    ("swag_ece", "SWAG", "ECE", "MAP", "SWAG is better calibrated (lower ECE) than the SGD network",
     "better calibrated, no single value", "Maddox et al. 2019, calibration experiments"),
    ("kfac_nll", "KFAC-L last layer", "NLL", "MAP", "KFAC-Laplace lowers the NLL of the MAP network",
     "lower, no single value", SOURCE_LA),
    ("kfac_ece", "KFAC-L last layer", "ECE", "MAP", "KFAC-Laplace lowers the ECE of the MAP network",
     "lower, no single value", SOURCE_LA),
    ("spro_nll", "SPRO", "NLL", "MAP", "The simplex ensemble has a lower NLL than its base network",
     "lower", SOURCE_SPRO),
    ("spro_accuracy", "SPRO", "accuracy", "MAP", "The simplex ensemble is more accurate than its base network",
     "higher", SOURCE_SPRO),
    ("spro_ece", "SPRO", "ECE", "MAP", "The simplex ensemble is better calibrated than its base network",
     "lower", SOURCE_SPRO),
]
#: the tolerance of "KFAC-Laplace keeps the MAP network's accuracy" (points) and of "random simplex points are as
#: good as their base network" (nats): the size of a difference a reader would call "the same"
ACCURACY_TOLERANCE = 0.5
POINT_NLL_TOLERANCE = 0.05


def scores(probs, labels) -> dict:
    """Accuracy (%), NLL and ECE (%) of one prediction."""
    return {name: factor * float(fn(probs, labels)) for name, (fn, factor, _, _) in METRICS.items()}


def _per_seed(results, row: str, metric: str, reference: str) -> list[float]:
    fn, factor, _, _ = METRICS[metric]
    labels = results["labels"]
    return [factor * (float(fn(s["probs"][row], labels)) - float(fn(s["probs"][reference], labels)))
            for s in results["seeds"]]


def seed_frame(results):
    """Mean and 95% t-interval over seeds of each method's accuracy, NLL and ECE (a DataFrame, one row a method)."""
    import pandas as pd

    labels, rows = results["labels"], {}
    for name in results["seeds"][0]["probs"]:
        per_seed = [scores(s["probs"][name], labels) for s in results["seeds"]]
        rows[name] = {}
        for metric, (_, _, unit, _) in METRICS.items():
            est = seed_estimate([sc[metric] for sc in per_seed])
            rows[name][f"{metric} ({'%' if unit == 'points' else unit})"] = format_measure(
                est.value, (est.low, est.high), compact=True)
    return pd.DataFrame.from_dict(rows, orient="index")


def equal_budget_frame(results):
    """The equal-budget table (seed 0): budget, accuracy, NLL, ECE, calibrated NLL and DEE of every row."""
    import pandas as pd

    labels, table = results["labels"], results["equal_budget"]["rows"]
    rows = {}
    for name, (budget, members) in table.items():
        probs = members.mean(0)
        rows[name] = {"budget (B)": round(budget, 2), **{k: round(v, 3) for k, v in scores(probs, labels).items()},
                      "calibrated NLL": round(results["cnll"][name], 4), "DEE": round(results["dee"][name], 2)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return frame.rename(columns={"accuracy": "accuracy (%)", "ECE": "ECE (%)"})


def claims(results, profile) -> list:
    """Every claim of the chapter (see the module docstring for the uncertainty of each kind)."""
    out = []
    for cid, row, metric, ref, statement, paper, source in SEED_CLAIMS:
        unit, expect = METRICS[metric][2], METRICS[metric][3]
        out.append(make_claim(cid, statement, paper=paper, paper_source=source, unit=unit, expect=expect,
                              estimate=seed_estimate(_per_seed(results, row, metric, ref)),
                              what=f"{row} minus {'the SGD network' if ref == 'MAP' else ref}"))
    out.append(make_claim(
        "kfac_accuracy", "KFAC-Laplace keeps the accuracy of the MAP network", paper="error 25.70 vs 25.44",
        paper_source=SOURCE_ENS, expect="near", tolerance=ACCURACY_TOLERANCE, unit="points",
        estimate=seed_estimate(_per_seed(results, "KFAC-L last layer", "accuracy", "MAP")),
        what="KFAC-L minus the MAP network"))
    labels = results["labels"]
    point_gap = [float(np.mean(s["point_nll"])) - float(nll(s["probs"]["MAP"], labels)) for s in results["seeds"]]
    out.append(make_claim(
        "spro_points", "Random points of the simplex have as low a test NLL as its base network",
        paper="low loss throughout the simplex", paper_source="Benton et al. 2021, Sec. 4", expect="near",
        tolerance=POINT_NLL_TOLERANCE, unit="nats", estimate=seed_estimate(point_gap),
        what="mean NLL of single points minus v0"))
    dee_paper = {"KFAC-L last layer": ("1.0 at 1 to 50 samples", "Ashukha et al. 2020, pytorch-ensembles DEE notebook"
                                       ", ImageNet ResNet-50"),
                 "SWAG": ("error 22.97, between single 25.44 and ensemble 19.88", SOURCE_ENS),
                 "SPRO": ("simplex ensembles beat deep ensembles at equal budget", SOURCE_SPRO)}
    for method, values in results["seed_dee"].items():
        paper, source = dee_paper[method]
        cid = {"KFAC-L last layer": "kfac_dee", "SWAG": "swag_dee", "SPRO": "spro_dee"}[method]
        out.append(make_claim(cid, f"{method} is worth more than one network (DEE above 1)", paper=paper,
                              paper_source=source, expect="greater", threshold=1.0, estimate=seed_estimate(values),
                              what=f"DEE of {method}"))
    rows = results["equal_budget"]["rows"]
    de2, sgd = rows["Deep ensemble of 2"][1].mean(0), rows["SGD (1B)"][1].mean(0)
    out.append(make_claim(
        "kfac_all_accuracy", "KFAC-Laplace over all weights, prior tuned on validation, keeps the MAP accuracy",
        paper="error 25.70 vs 25.44", paper_source=SOURCE_ENS, expect="near", tolerance=ACCURACY_TOLERANCE,
        unit="points", what="KFAC-L all weights minus the MAP network",
        estimate=paired_bootstrap(accuracy, rows["KFAC-L all weights"][1].mean(0), sgd, labels).scaled(100)))
    out.append(make_claim(
        "ensemble_nll", "A deep ensemble of two networks has a lower NLL than one network", paper="error 25.44 -> "
        "19.88 (100 members)", paper_source=SOURCE_ENS, expect="less", unit="nats",
        estimate=paired_bootstrap(nll, de2, sgd, labels), what="deep ensemble of 2 minus one network"))
    out.append(make_claim(
        "spro_vs_ensemble", "At 2B, the simplex ensemble has a lower NLL than a deep ensemble of two",
        paper="simplex ensembles beat deep ensembles at equal budget", paper_source=SOURCE_SPRO, expect="less",
        unit="nats", estimate=paired_bootstrap(nll, rows["SPRO"][1].mean(0), de2, labels),
        what="SPRO minus the deep ensemble of 2"))
    return out


def _grid_place(value: float, grid) -> str:
    if value >= max(grid):
        return "the largest value of the grid"
    return "the smallest value of the grid" if value <= min(grid) else "inside the grid"


def text_values(results, profile) -> dict:
    """The measured values the chapter's text quotes (name -> text), seed 0 where one run is meant."""
    labels, seed0 = results["labels"], results["seeds"][0]
    k, sw, sp = (seed0["details"][m] for m in ("kfac", "swag", "spro"))
    sc = {name: scores(probs, labels) for name, probs in seed0["probs"].items()}
    all_wd = scores(k["all_wd"], labels)
    return {
        "ch05_n_seeds": str(len(results["seeds"])), "ch05_n_test": f"{len(labels):,}",
        "ch05_members": str(len(results["equal_budget"]["members"])),
        "ch05_tau_wd": f"{k['tau_wd']:.3g}", "ch05_tau_ll": f"{k['tau_ll']:.3g}", "ch05_tau_all": f"{k['tau_all']:.3g}",
        "ch05_tau_ll_place": _grid_place(k["tau_ll"], k["grid"]),
        "ch05_tau_all_place": _grid_place(k["tau_all"], k["grid"]),
        "ch05_kfac_wd_accuracy": f"{all_wd['accuracy']:.1f}%", "ch05_kfac_wd_nll": f"{all_wd['NLL']:.3f}",
        "ch05_map_accuracy": f"{sc['MAP']['accuracy']:.1f}%", "ch05_map_nll": f"{sc['MAP']['NLL']:.3f}",
        "ch05_kfac_ll_nll": f"{sc['KFAC-L last layer']['NLL']:.3f}",
        "ch05_swag_models": str(sw["n_models"]), "ch05_swag_rank": str(sw["rank"]),
        "ch05_swag_first_epoch": str(sw["swa_start"] + 1), "ch05_swag_epochs": str(sw["epochs"]),
        "ch05_swag_samples": str(len(sw["samples"])),
        "ch05_spro_vertices": str(sp["grid"]["alphas"].shape[1]), "ch05_spro_points": str(len(sp["points"])),
        "ch05_spro_grid_min": f"{float(sp['grid']['loss'].min()):.3f}",
        "ch05_spro_grid_max": f"{float(sp['grid']['loss'].max()):.3f}",
        "ch05_spro_log_volume": ", ".join(f"{v:.1f}" for v in sp["log_volume"]),
    }
