"""The mode-connectivity chapter's claims, measured over ``profile.claim_seeds`` independent repetitions.

`claim_measures(profile)` trains (or reads from the cache) one repetition per claim seed and returns plain numbers:
for pair i the standard networks of seeds (2i, 2i+1) (`claim_pairs`), their segment and Bezier curve; a spawning
parent of seed i with its children; P-T and RI-T networks of seeds (2i, 2i+1) with their paths and features.
`claims(measures, profile)` turns them into `lsdl_ens.claims.Claim` rows: each a mean over repetitions with a 95%
Student-t interval (`seed_estimate`; per-repetition differences for comparisons) and a verdict from `judge`.

Barriers are of the error, with the linear reference (``lsdl_ens.landscape.barrier``), in percentage points.
Frankle et al. (2020) call a pair linearly connected ("stable") when its error barrier is within noise of zero,
about 2 points: `STABLE` is that threshold.
"""

from __future__ import annotations

import numpy as np

from ..claims import make_claim, seed_estimate
from ..data import balanced_subset, profile_transfer
from ..landscape import barrier, stage_similarity
from ..profiles import Profile, get_profile
from .mode_connectivity_curves import curve_recipe, curve_results, segment_results
from .mode_connectivity_spawning import spawn_experiment
from .mode_connectivity_transfer import transfer_lmc, transfer_models

__all__ = ["STABLE", "claim_pairs", "claim_measures", "claims", "PAPER"]

#: error barrier (points) below which Frankle et al. call two networks linearly connected
STABLE = 2.0

#: the papers' values as quoted: claim id -> (value, source)
PAPER = {
    "segment": ("a high-loss, high-error region on the straight line between two independent solutions",
                "Garipov et al., NeurIPS 2018, Fig. 1 (lecture: Mode connectivity)"),
    "curve": ("Bezier curve 6.79-7.75% test error between ends at 6.79-6.94% (CIFAR-10, VGG-16)",
              "Garipov et al., NeurIPS 2018; timgaripov/dnn-mode-connectivity README (results table)"),
    "spawn_k0": ("children spawned at initialisation are separated by an error barrier (unstable)",
                 "Frankle et al., ICML 2020, instability vs spawn epoch (CIFAR-10 ResNet-20 and VGG-16)"),
    "spawn_late": ("children spawned after a few percent of training are stable (barrier within about 2 points)",
                   "Frankle et al., ICML 2020, instability vs spawn epoch (CIFAR-10 ResNet-20 and VGG-16)"),
    "transfer": ("no barrier between two networks fine-tuned from one pre-trained network; a barrier between "
                 "two trained from random initialisation", "Neyshabur et al., NeurIPS 2020, Fig. 5 (lecture: "
                 "LMC in transfer learning, DomainNet real)"),
    "cka": ("P-T & P-T 0.1628 vs RI-T & RI-T 0.0424 (layer 4)", "lecture, Table 1: feature similarity of "
            "ResNet-50, target CHEXPERT (Neyshabur et al., NeurIPS 2020)"),
    "cka_ri": ("RI-T & RI-T 0.0004 (layer 3), 0.0424 (layer 4)", "lecture, Table 1: feature similarity of "
               "ResNet-50, target CHEXPERT (Neyshabur et al., NeurIPS 2020)"),
    "l2": ("2 RI-T / 2 P-T = 255.34 / 200.12 on CHEXPERT; 776.76 / 218.52 to 822.43 / 178.07 on DomainNet",
           "lecture, Table 2: feature l2 distance per target domain (Neyshabur et al., NeurIPS 2020)"),
}


def claim_pairs(profile: Profile) -> list[tuple[int, int]]:
    """The seed pairs (2i, 2i + 1) of the ``claim_seeds`` repetitions."""
    return [(2 * i, 2 * i + 1) for i in range(profile.claim_seeds)]


def _points(path: dict, key: str = "error", xs: str = "alphas") -> float:
    return 100 * float(barrier(path[key], path[xs]))


def claim_measures(profile: Profile | str | None = None) -> dict:
    """One value per repetition of everything `claims` judges (plain lists of floats; barriers in points).

    Returns:
        ``{"segment_barrier", "curve_barrier" (Bezier), "spawn_epochs", "spawn_barrier" [repetition][k],
        "transfer_barrier": {"P-T", "RI-T"}, "cka_pool": {"P-T & P-T", "RI-T & RI-T"}, "cka_deep_ri" (deepest
        convolutional stage), "l2_ratio" (pooled features, RI-T pair over P-T pair), "deep_stage"}``.
    """
    p = get_profile(profile)
    out = {"segment_barrier": [], "curve_barrier": [], "spawn_barrier": [],
           "transfer_barrier": {"P-T": [], "RI-T": []}, "cka_pool": {"P-T & P-T": [], "RI-T & RI-T": []},
           "cka_deep_ri": [], "l2_ratio": []}
    data = balanced_subset(profile_transfer(p).target_test, p.landscape.n_similarity, seed=13)
    for i, pair in enumerate(claim_pairs(p)):
        out["segment_barrier"].append(_points(segment_results(p, seeds=pair)))
        along = curve_results(curve_recipe(p, "bezier", seeds=pair), profile=p)
        out["curve_barrier"].append(_points(along, xs="ts"))
        spawn = spawn_experiment(p, seed=i)
        out["spawn_epochs"] = list(spawn["spawn_epochs"])
        out["spawn_barrier"].append([100 * float(b) for b in spawn["test_barrier"]])
        for kind, path in transfer_lmc(p, seeds=pair).items():
            out["transfer_barrier"][kind].append(_points(path))
        models = transfer_models(p, seeds=pair)
        pt, ri = (stage_similarity(*models[kind], data) for kind in ("P-T", "RI-T"))
        out["deep_stage"] = str(ri["stages"][-2])
        out["cka_pool"]["P-T & P-T"].append(float(pt["cka"][-1]))
        out["cka_pool"]["RI-T & RI-T"].append(float(ri["cka"][-1]))
        out["cka_deep_ri"].append(float(ri["cka"][-2]))
        out["l2_ratio"].append(float(ri["l2"][-1] / pt["l2"][-1]))
    return out


def claims(measures: dict, profile: Profile | str | None = None) -> list:
    """The chapter's `Claim` rows from `claim_measures` output (see the module docstring for the rules)."""
    p = get_profile(profile)
    n = len(measures["segment_barrier"])
    reps = f"{n} repetitions"
    seg, curve = np.array(measures["segment_barrier"]), np.array(measures["curve_barrier"])
    spawn = np.array(measures["spawn_barrier"])
    ks = list(measures["spawn_epochs"])
    first = next(j for j, k in enumerate(ks) if k > 0)
    pt, ri = (np.array(measures["transfer_barrier"][kind]) for kind in ("P-T", "RI-T"))
    cka_pt, cka_ri = (np.array(measures["cka_pool"][pair]) for pair in ("P-T & P-T", "RI-T & RI-T"))
    pts = "points"

    def claim(id_, text, paper, estimate, **rule):
        value, source = PAPER[paper]
        return make_claim(f"02-{id_}", text, paper=value, paper_source=source, estimate=estimate, **rule)

    return [
        claim("segment-barrier", "The straight segment between two independently trained networks crosses an "
              f"error barrier above {STABLE:g} points", "segment", seed_estimate(seg), expect="greater",
              threshold=STABLE, unit=pts, what=f"test-error barrier over {reps}"),
        claim("curve-barrier", "Along a trained Bezier curve the test error stays within 1 point of the line "
              "between the ends", "curve", seed_estimate(curve), expect="less", threshold=1.0, unit=pts,
              what=f"Bezier test-error barrier over {reps}"),
        claim("curve-below-segment", "The trained curve has a lower error barrier than the straight segment",
              "curve", seed_estimate(seg - curve), expect="greater", unit=pts,
              what="segment minus curve barrier"),
        claim("spawn-k0-unstable", f"Children spawned at initialisation (k = 0) are separated by an error barrier "
              f"above {STABLE:g} points", "spawn_k0", seed_estimate(spawn[:, 0]), expect="greater",
              threshold=STABLE, unit=pts, what=f"barrier at k = 0 over {reps}"),
        claim("spawn-later-stable", f"Children spawned at epoch {ks[first]} of {p.epochs} are linearly connected "
              f"(barrier below {STABLE:g} points)", "spawn_late", seed_estimate(spawn[:, first]), expect="less",
              threshold=STABLE, unit=pts, what=f"barrier at k = {ks[first]} over {reps}"),
        claim("spawn-decreases", f"The barrier falls from k = 0 to k = {ks[-1]}", "spawn_late",
              seed_estimate(spawn[:, 0] - spawn[:, -1]), expect="greater", unit=pts,
              what=f"barrier at k = 0 minus at k = {ks[-1]}"),
        claim("transfer-pt-connected", f"Two networks fine-tuned from one pre-trained network are linearly "
              f"connected on the target task (barrier below {STABLE:g} points)", "transfer", seed_estimate(pt),
              expect="less", threshold=STABLE, unit=pts, what=f"P-T barrier over {reps}"),
        claim("transfer-ri-barrier", "Two networks trained from random initialisation have a higher barrier than "
              "two fine-tuned ones", "transfer", seed_estimate(ri - pt), expect="greater", unit=pts,
              what="RI-T minus P-T barrier"),
        claim("cka-pt-above-ri", "Two fine-tuned networks have more similar pooled features (linear CKA) than "
              "two trained from random initialisation", "cka", seed_estimate(cka_pt - cka_ri), expect="greater",
              what="CKA of P-T & P-T minus RI-T & RI-T"),
        claim("cka-ri-near-zero", "Two networks trained from random initialisation share almost no features in "
              "the deepest convolutional stage (linear CKA below 0.1)", "cka_ri",
              seed_estimate(measures["cka_deep_ri"]), expect="less", threshold=0.1,
              what=f"RI-T & RI-T CKA at {measures.get('deep_stage', 'the deepest stage')}"),
        claim("l2-ri-over-pt", "The pooled features of two random-init networks are further apart than those of "
              "two fine-tuned ones (distance ratio above 1)", "l2", seed_estimate(measures["l2_ratio"]),
              expect="greater", threshold=1.0, what="RI-T pair over P-T pair feature distance"),
    ]
