"""Chapter 04's claims: every comparison the chapter makes, judged with its noise (`lsdl_ens.claims.judge`).

`claims(results, profile)` reads the measurements of `lsdl_ens.experiments.ensembles_results.chapter_results`
(or a dict of the same keys, as the tests build): per-seed values where training decides a comparison
(`seed_estimate` over ``profile.claim_seeds`` seeds: SSE and FGE against one network at equal budget), bootstrap
intervals over test examples where fixed predictors are compared (an ensemble and its members, correlations,
barriers), and the paired bootstrap per seed of the budget study (`lsdl_ens.experiments.budget.budget_conditions`)
for the two budget conditions.

Paper values are quoted from the course's source documents: the FGE talk's results table (Garipov et al., 2018,
CIFAR-100, VGG-16, test error at 1B) and the lecture's slides on deep, snapshot and cyclical ensembles.

Tolerances (our choice, stated with each claim): a segment counts as monotone when its bump stays within
``FLAT_TOLERANCE`` points of error; FGE's snapshots count as one basin when their barrier is below ``BASIN_BARRIER``.
"""

from __future__ import annotations

from ..claims import Claim, Estimate, judge, make_claim, seed_estimate
from ..profiles import Profile
from .budget import combine_verdicts

__all__ = ["FGE_SOURCE", "FGE_TABLE", "DEE_SOURCE", "DEE_PAPER", "FLAT_TOLERANCE", "BASIN_BARRIER", "claims",
           "budget_claims"]

FGE_SOURCE = ("student talk on Garipov et al., \"Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs\", "
              "slide \"FGE Results\", Table 1, VGG-16 (200), CIFAR-100, 1B")
#: the FGE talk's table: test error (%) at 1B on CIFAR-100 with VGG-16, as printed ("27.4 \pm 0.1", ...)
FGE_TABLE = {"Ind": "27.4 ± 0.1", "SSE": "26.4 ± 0.1", "FGE": "25.7 ± 0.1"}
LECTURE = "LSDL lecture 06 (Sadrtdinov, 2024)"
#: Ashukha et al., "Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning", ICLR 2020:
#: DEE on ImageNet (ResNet50) at 5 / 10 / 25 members
DEE_SOURCE = "Ashukha et al., ICLR 2020, ImageNet, ResNet50, DEE at 5 / 10 / 25 members"
DEE_PAPER = {"SSE": "2.2 / 3.2 / 4.0", "FGE": "1.2 / 1.3 / 1.4"}
FLAT_TOLERANCE = 0.5
BASIN_BARRIER = 1.0


def _paired_seeds(a, b) -> Estimate:
    """Mean over seeds of a[s] - b[s] with the paired t-interval."""
    return seed_estimate([x - y for x, y in zip(a, b)])


def claims(results: dict, profile: Profile) -> list[Claim]:
    """The chapter's claims (see the module docstring) from ``results``."""
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a resolved Profile, got {type(profile).__name__}")
    n = profile.claim_seeds
    errors = results["seed_errors"]
    for name in ("Ind", "SSE", "FGE"):
        if len(errors[name]) < n:
            raise ValueError(f"results['seed_errors'][{name!r}] has {len(errors[name])} seeds, fewer than the "
                             f"profile's claim_seeds={n}; train every claim seed")
    de, m = results["de_vs_single"], len(results["de_probs"])
    paths, interp = results["paths"], results["interpolations"]
    out = [
        make_claim("de_accuracy", f"A deep ensemble of {m} is more accurate than one of its networks",
                   paper="more accurate than one network (no value quoted)",
                   paper_source=f"Lakshminarayanan et al., NeurIPS 2017; {LECTURE}, slides \"Deep Ensembles\"",
                   estimate=de["accuracy"], expect="greater", unit="points", what="accuracy gain"),
        make_claim("de_nll", f"A deep ensemble of {m} has a lower test NLL than one of its networks",
                   paper="lower NLL than one network (no value quoted)",
                   paper_source="Lakshminarayanan et al., NeurIPS 2017", estimate=de["nll_reduction"],
                   expect="greater", unit="nats", what="NLL reduction"),
        make_claim("de_ece", f"A deep ensemble of {m} has a lower ECE than one of its networks",
                   paper="better calibrated than one network (no value quoted)",
                   paper_source=f"Lakshminarayanan et al., NeurIPS 2017; {LECTURE}, slide \"Deep Ensembles\" (ECE)",
                   estimate=de["ece"], expect="less", unit="points", what="ECE change"),
        make_claim("de_confidence", "Averaging the members lowers the mean confidence (top-class probability)",
                   paper="averaging softens predictions where members disagree (no value quoted)",
                   paper_source="Lakshminarayanan et al., NeurIPS 2017", estimate=de["confidence"],
                   expect="less", unit="points", what="confidence change"),
        make_claim("sse_vs_ind_1b", "At 1B, the SSE ensemble has a lower test error than one network",
                   paper=f"Ind {FGE_TABLE['Ind']}, SSE {FGE_TABLE['SSE']}", paper_source=FGE_SOURCE,
                   estimate=_paired_seeds(errors["SSE"][:n], errors["Ind"][:n]), expect="less", unit="points",
                   what="error of SSE minus one network"),
        make_claim("fge_vs_sse_1b", "At 1B, the FGE ensemble has a lower test error than SSE",
                   paper=f"SSE {FGE_TABLE['SSE']}, FGE {FGE_TABLE['FGE']}", paper_source=FGE_SOURCE,
                   estimate=_paired_seeds(errors["FGE"][:n], errors["SSE"][:n]), expect="less", unit="points",
                   what="error of FGE minus SSE"),
        make_claim("sse_correlation", "SSE snapshots make more correlated predictions than independent networks",
                   paper="snapshots more alike than independent networks (figure, no value)",
                   paper_source=f"Huang et al., ICLR 2017; {LECTURE}, slide \"Pairwise correlation of softmax "
                                "outputs between DenseNet-100 snapshots\"",
                   estimate=results["correlation"]["gap"], expect="greater",
                   what="mean correlation of SSE minus deep ensemble"),
        make_claim("barrier_de", "The segment between two deep-ensemble members crosses an error barrier",
                   paper="members cover several modes (no value)",
                   paper_source=f"{LECTURE}, slide \"Ensembling methods\" (global methods)",
                   estimate=paths["deep ensemble"]["barrier"], expect="greater", unit="points", what="barrier"),
        make_claim("barrier_sse", "The segment between consecutive SSE snapshots crosses an error barrier",
                   paper="snapshots converge to different minima (figure, no value)",
                   paper_source=f"Huang et al., ICLR 2017, Fig. 5 ({LECTURE}, slides \"SnapShot Ensembles\")",
                   estimate=paths["SSE"]["barrier"], expect="greater", unit="points", what="barrier"),
        make_claim("barrier_fge", f"FGE snapshots lie in one basin: barrier below {BASIN_BARRIER:g} point",
                   paper="sampling locally from a single basin (no value)",
                   paper_source=f"{LECTURE}, slide \"Fast Geometric Ensembles (FGE)\"",
                   estimate=paths["FGE"]["barrier"], expect="less", threshold=BASIN_BARRIER, unit="points",
                   what="barrier"),
        make_claim("interp_cycles", "With cycles, the error rises between the first 1B snapshot and the last",
                   paper="error rises between snapshots (figure, no value)",
                   paper_source="Huang et al., ICLR 2017, Fig. 5 (left)", estimate=interp["SSE"][0]["barrier"],
                   expect="greater", unit="points", what="bump"),
        make_claim("interp_no_cycles", "Without cycles, the path from the first checkpoint to the last is monotone",
                   paper="monotone interpolation (figure, no value)",
                   paper_source="Huang et al., ICLR 2017, Fig. 5 (right)",
                   estimate=interp["no cycles"][0]["barrier"], expect="near", tolerance=FLAT_TOLERANCE,
                   unit="points", what="bump"),
        make_claim("csgld_vs_best", "The cSGLD ensemble is more accurate than its best single sample",
                   paper="the ensemble of samples beats single networks (no value quoted)",
                   paper_source="Zhang et al., ICLR 2020", estimate=results["csgld_vs_best"], expect="greater",
                   unit="points", what="accuracy gain"),
        make_claim("csgld_vs_two", "At 2B, the cSGLD ensemble is more accurate than two independent networks",
                   paper="(no comparison at equal budget in the paper)", paper_source="Zhang et al., ICLR 2020",
                   estimate=results["csgld_vs_two"], expect="greater", unit="points", what="accuracy gain"),
    ]
    return out + budget_claims(results["budget_conditions"])


def _envelope(rows, key=None) -> tuple[float, float, float]:
    """Mean of the per-seed values and the widest interval over the seeds."""
    triples = [(r["value"], r["low"], r["high"]) if key is None else tuple(r[key]) for r in rows]
    return (sum(t[0] for t in triples) / len(triples), min(t[1] for t in triples), max(t[2] for t in triples))


def budget_claims(condition: dict) -> list[Claim]:
    """Budget conditions (a) and (b) of one row of `budget_conditions` as claims: the verdict combines the paired
    bootstrap against each seed of the 2B run (holds only when it holds against every seed)."""
    source = "condition for comparing ensembles at equal budget (Ashukha et al., ICLR 2020, deep ensemble equivalent)"
    if not condition["a"]:
        raise ValueError("condition has no per-seed gain for (a); train the 1B and 2B runs of the same seeds")
    value, low, high = _envelope(condition["a"])
    out = [Claim(id="budget_a", claim="Training for 2B gains less than 1 point of test accuracy over 1B",
                 paper="< 1 point", paper_source=source, ours=value, uncertainty=(low, high),
                 verdict=condition["a_verdict"], reason="; ".join(f"seed {r['seed']}: {r['reason']}"
                                                                  for r in condition["a"]), unit="points")]
    for key, unit, what in (("acc", "points", "accuracy gain of DE-2"), ("nll", "nats", "NLL reduction of DE-2")):
        verdicts, reasons = [], []
        for r in condition["b"]:
            v, lo, hi = r[key]  # accuracy already in points (budget_conditions scales it)
            verdict, reason = judge(Estimate(v, lo, hi, "paired bootstrap"), expect="greater", unit=unit, what=what)
            verdicts.append(verdict)
            reasons.append(f"against seed {r['seed']} of 2B: {reason}")
        value, low, high = _envelope(condition["b"], key)
        metric = "accuracy" if key == "acc" else "NLL"
        out.append(Claim(id=f"budget_b_{metric.lower()}",
                         claim=f"A deep ensemble of 2 trained at 1B beats one network trained for 2B on {metric}",
                         paper="ensembling pays at equal budget", paper_source=source, ours=value,
                         uncertainty=(low, high), verdict=combine_verdicts(verdicts), reason="; ".join(reasons),
                         unit=unit))
    return out
