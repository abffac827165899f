"""Chapter 01's experiments module: its cached runs are complete, and its claims follow the data."""

from __future__ import annotations

import pytest
import torch

from lsdl_ens.cache import BUILD_LOG, read_build_log
from lsdl_ens.experiments import calibration, calibration_claims
from lsdl_ens.experiments.calibration import CalibrationResults
from lsdl_ens.profiles import get_profile
from lsdl_ens.recipes import standard_recipe, train

SYNTHETIC = get_profile("smoke", epochs=1, batch_size=32, n_train=64, n_val=40, n_test=40, data_source="synthetic")


def test_runs_are_one_standard_network_per_seed():
    p = get_profile("smoke")
    listed = calibration.runs(p)
    assert [r.recipe for r in listed] == [standard_recipe(p, seed=s) for s in range(2 * p.claim_seeds)]
    assert all(r.kind == "train" and r.trainer is train for r in listed)
    assert len(calibration.runs(get_profile("smoke", claim_seeds=4))) == 8


def test_the_chapter_trains_nothing_beyond_its_runs(tmp_cache, tmp_path, monkeypatch):
    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    for run in calibration.runs(SYNTHETIC):
        run.train()
    built = len(read_build_log(log))
    assert built == len(calibration.runs(SYNTHETIC))
    results = calibration.chapter_results(SYNTHETIC)
    calibration.quality_frame(results)
    calibration.temperature_scaling(results)
    calibration.shift_frame(results)
    claims = calibration_claims.claims(results, SYNTHETIC)
    assert len(read_build_log(log)) == built
    assert results.test_logits.shape == (6, 40, 10)
    assert set(results.shifted_probs) == {(c, s) for c in calibration.SHIFT_CORRUPTIONS for s in calibration.SEVERITIES}
    assert [c.id for c in claims] == list(calibration_claims.PAPER)


def _fake_results(member_logits, val_scale=1.0, n=400, c=4, seed=0):
    """Six networks whose test logits are ``member_logits(m, labels)``; validation logits the same rule times
    ``val_scale``; every corrupted set equal to the clean one."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n,), generator=g)
    test = torch.stack([member_logits(m, labels, g) for m in range(6)])
    val = torch.stack([member_logits(m, labels, g) * val_scale for m in range(6)])
    probs = test.softmax(-1)
    shifted = {(k, s): probs for k in calibration.SHIFT_CORRUPTIONS for s in calibration.SEVERITIES}
    return CalibrationResults(tuple(range(6)), [], test, val, labels, labels, shifted)


def _noisy(strength):
    def logits(m, labels, g):
        signal = torch.nn.functional.one_hot(labels, 4).float() * 2.0
        return strength * (signal + 2.0 * torch.randn(len(labels), 4, generator=g))
    return logits


def _verdicts(results):
    return {c.id: c.verdict for c in calibration_claims.claims(results, get_profile("smoke"))}


def test_independent_members_make_the_ensemble_better_and_identical_ones_do_not():
    diverse = _verdicts(_fake_results(_noisy(1.0)))
    assert diverse["01-ens-acc-clean"] == "holds" and diverse["01-ens-nll-clean"] == "holds"
    assert diverse["01-ens-acc-shift"] == "holds"

    def same(m, labels, g):  # both members of each ensemble are one network
        return _noisy(1.0)(0, labels, torch.Generator().manual_seed(m // 2))

    identical = _verdicts(_fake_results(same))
    assert identical["01-ens-acc-clean"] != "holds" and identical["01-ens-nll-clean"] != "holds"


def test_temperature_claims_follow_the_confidence():
    # sharpened logits (x3) are over-confident: T > 1; softened ones (x0.3) under-confident: T < 1
    over = _verdicts(_fake_results(_noisy(3.0)))
    under = _verdicts(_fake_results(_noisy(0.3)))
    assert over["01-ts-overconfident"] == "holds"
    assert under["01-ts-overconfident"] == "does not hold"
    assert over["01-ts-accuracy"] == under["01-ts-accuracy"] == "holds"
    assert over["01-ts-nll"] == "holds"


def test_claims_refuse_too_few_ensembles_and_wrong_results():
    results = _fake_results(_noisy(1.0))
    small = CalibrationResults(results.seeds[:4], [], results.test_logits[:4], results.val_logits[:4],
                               results.labels, results.val_labels, results.shifted_probs)
    with pytest.raises(ValueError, match="at least 3 disjoint ensembles"):
        calibration_claims.claims(small, get_profile("smoke"))
    with pytest.raises(TypeError, match="results must be the CalibrationResults"):
        calibration_claims.claims({}, get_profile("smoke"))
    with pytest.raises(TypeError, match="profile must be a resolved Profile"):
        calibration.runs("smoke")


def test_figures_follow_the_size_policy():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lsdl_ens.experiments import calibration_plots
    from lsdl_ens.plotting import figure_problems, use_style
    from lsdl_ens.train import History

    use_style()
    results = _fake_results(_noisy(1.0))
    results.histories = [History.from_dict({"epoch": [1, 2], "train_loss": [2.0, 1.5], "train_accuracy": [0.3, 0.5]})
                         for _ in results.seeds]
    figures = [calibration_plots.plot_training(results),
               calibration_plots.plot_reliability(calibration.temperature_scaling(results), results.labels),
               calibration_plots.plot_quality(calibration.quality_frame(results)),
               calibration_plots.plot_shift(calibration.shift_frame(results))]
    for fig in figures:
        assert figure_problems(fig) == []
        for ax in fig.axes:
            labels = ax.get_legend_handles_labels()[1]
            legend = ax.get_legend()
            shown = [t.get_text() for t in legend.get_texts()] if legend else []
            assert len(shown) == len(set(shown)) and set(shown) <= set(labels)
        plt.close(fig)


def test_the_intro_names_chapter_01_claims_that_exist():
    import re
    from pathlib import Path

    intro = (Path(__file__).resolve().parent.parent / "book" / "intro.md").read_text()
    named = set(re.findall(r"`(01-[a-z-]+)`", intro))
    assert named, "the intro's claims table names no chapter 01 claim"
    unknown = named - set(calibration_claims.PAPER)
    assert not unknown, f"claim ids in the intro that chapter 01 does not measure: {unknown}"
