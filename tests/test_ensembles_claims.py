"""Chapter 04's claims on small fake results: each verdict follows the data (holds, within noise, does not hold)."""

import dataclasses

import pytest

from lsdl_ens.claims import Estimate
from lsdl_ens.experiments.ensembles_claims import FGE_TABLE, claims
from lsdl_ens.profiles import get_profile

PROFILE = get_profile("smoke")


def est(value, half):
    return Estimate(value, value - half, value + half, "fake")


def fake_results(**changes):
    path = {"barrier": est(2.0, 0.5)}
    results = {
        "de_probs": [None] * 4,
        "de_vs_single": {"accuracy": est(3.0, 0.5), "nll_reduction": est(0.1, 0.02), "ece": est(-1.0, 0.3),
                         "confidence": est(-2.0, 0.2)},
        "seed_errors": {"Ind": [30.0, 30.4, 29.8], "SSE": [29.0, 29.5, 28.7], "FGE": [28.0, 28.6, 27.9]},
        "correlation": {"gap": est(0.02, 0.005)},
        "paths": {"deep ensemble": path, "SSE": path, "FGE": {"barrier": est(0.2, 0.1)}},
        "interpolations": {"SSE": [path], "no cycles": [{"barrier": est(0.0, 0.0)}]},
        "csgld_vs_best": est(1.0, 0.3), "csgld_vs_two": est(-0.5, 0.2),
        "budget_conditions": {
            "a": [{"seed": s, "value": 0.2, "low": -0.3, "high": 0.7, "verdict": "holds", "reason": "r"}
                  for s in range(3)], "a_verdict": "holds",
            "b": [{"seed": s, "acc": [2.0, 1.5, 2.5], "nll": [0.05, 0.03, 0.07]} for s in range(3)]},
    }
    for key, value in changes.items():
        results[key] = value
    return results


def by_id(found):
    return {c.id: c for c in found}


def test_claims_on_fake_results_have_the_expected_verdicts():
    found = by_id(claims(fake_results(), PROFILE))
    assert found["de_accuracy"].verdict == "holds" and found["de_accuracy"].ours == 3.0
    assert found["sse_vs_ind_1b"].verdict == "holds" and found["sse_vs_ind_1b"].ours == pytest.approx(-1.0)
    assert found["fge_vs_sse_1b"].paper.endswith(FGE_TABLE["FGE"])
    assert found["barrier_fge"].verdict == "holds"          # 0.2 +- 0.1 below one point
    assert found["interp_no_cycles"].verdict == "holds"
    assert found["csgld_vs_two"].verdict == "does not hold"
    assert found["budget_a"].verdict == "holds" and found["budget_a"].uncertainty == (-0.3, 0.7)
    assert found["budget_b_accuracy"].verdict == "holds" and found["budget_b_nll"].verdict == "holds"


def test_verdicts_change_with_the_data():
    noisy = fake_results(seed_errors={"Ind": [30.0, 29.0, 31.0], "SSE": [29.8, 30.1, 30.6], "FGE": [28, 28, 28]})
    assert by_id(claims(noisy, PROFILE))["sse_vs_ind_1b"].verdict == "within noise"
    worse = fake_results(seed_errors={"Ind": [30.0, 30.4, 29.8], "SSE": [31.0, 31.5, 30.7], "FGE": [28, 28, 28]})
    assert by_id(claims(worse, PROFILE))["sse_vs_ind_1b"].verdict == "does not hold"
    de = dict(fake_results()["de_vs_single"], ece=est(0.3, 0.1))
    assert by_id(claims(fake_results(de_vs_single=de), PROFILE))["de_ece"].verdict == "does not hold"
    conditions = fake_results()["budget_conditions"]
    b = [dict(r, nll=[-0.05, -0.07, -0.03]) if r["seed"] == 1 else r for r in conditions["b"]]
    found = by_id(claims(fake_results(budget_conditions=dict(conditions, b=b)), PROFILE))
    assert found["budget_b_nll"].verdict == "does not hold" and found["budget_b_accuracy"].verdict == "holds"


def test_claims_need_every_claim_seed():
    short = fake_results(seed_errors={"Ind": [30.0, 30.4], "SSE": [29.0, 29.5], "FGE": [28.0, 28.6]})
    with pytest.raises(ValueError, match="claim_seeds"):
        claims(short, PROFILE)
    with pytest.raises(TypeError, match="profile"):
        claims(fake_results(), "smoke")
    assert dataclasses.is_dataclass(claims(fake_results(), PROFILE)[0])
