"""Chapter 07's experiments layer: `runs(profile)` lists every cached run the chapter reads, and its claims follow
the data (verdicts change when the results do)."""

from __future__ import annotations

import pytest
import torch

from lsdl_ens.cache import BUILD_LOG, default_cache, read_build_log
from lsdl_ens.experiments import optimizers_tta as X
from lsdl_ens.experiments.runs import chapter_runs, missing_runs
from lsdl_ens.profiles import get_profile


@pytest.fixture
def tiny_profile():
    """The smoke profile on synthetic images, every chapter-07 size cut down (one corruption, 1 epoch)."""
    return get_profile("smoke", epochs=1, batch_size=8, n_train=128, n_val=32, n_test=32, data_source="synthetic",
                       optim={"n_train": None, "epochs": 1}, optim_plane={"grid": 2, "n_eval": 16},
                       clip={"epochs": 1},
                       tta={"n_images": 16, "batch_size": 8, "corruptions": ("gaussian_noise",)})


def test_runs_list_everything_the_chapter_reads(tiny_profile, tmp_cache, tmp_path, monkeypatch):
    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    listed = chapter_runs("07", tiny_profile)
    kinds = [r.kind for r in listed]
    assert kinds.count("optim_compare") == 3 * tiny_profile.claim_seeds + 1  # SGD, LA, LR per seed + SWA
    assert kinds.index("optim_compare") < kinds.index("lookahead_plane") < kinds.index("tiny_clip") \
        < kinds.index("tta_eval")  # parents first
    for run in listed:
        run.train()
    built = len(read_build_log(log))
    assert built == len(listed)  # each listed run built once, nothing else (parents were built before children)
    results = X.chapter_results(tiny_profile)
    claims = X.claims(results, tiny_profile)
    assert len(read_build_log(log)) == built, "the chapter trained something runs() does not list"
    assert not missing_runs(listed, default_cache())
    assert {c.id for c in claims} == {"ch07_lookahead_step", "ch07_lookahead_vs_sgd", "ch07_lookaround_vs_sgd",
                                      "ch07_watt_vs_none", "ch07_watt_vs_tent", "ch07_weights_vs_text",
                                      "ch07_weights_vs_output"}
    assert results["corruptions"]["gaussian_noise"]["WATT-S"]["correct"].shape == (16,)


def _fake_results(gain_points: float, watt_hits: int, n: int = 200, seeds: int = 3) -> dict:
    """Results in the shape of `chapter_results`: Lookahead/Lookaround `gain_points` above SGD on every seed
    (with a little seed noise); WATT right on the first `watt_hits` of n images, the baselines on the first n/2."""
    def info(acc):
        return {"final": {"test_accuracy_bn": acc / 100}}

    sgd = [60.0, 61.0, 59.5][:seeds]
    optim = {"sgd": [info(a) for a in sgd],
             "lookahead": [info(a + gain_points + 0.1 * i) for i, a in enumerate(sgd)],
             "lookaround": [info(a + gain_points - 0.1 * i) for i, a in enumerate(sgd)]}
    half = torch.arange(n) < n // 2
    watt = torch.arange(n) < watt_hits
    row = {"no adaptation": {"correct": half}, "TENT (entropy)": {"correct": half},
           "WATT-P": {"correct": watt}, "WATT-S": {"correct": watt}}
    strategies = {"text average": {"clean": {"correct": half}}, "output average": {"clean": {"correct": half}},
                  "weight average 2x2": {"clean": {"correct": watt}}}
    plane = {"correct_slow_new": watt, "correct_fast_end": half}
    return {"optim": optim, "plane": plane, "corruptions": {"gaussian_noise": row}, "strategies": strategies}


def test_claims_follow_the_data():
    p = get_profile("smoke")
    good = {c.id: c for c in X.claims(_fake_results(3.0, 160), p)}
    bad = {c.id: c for c in X.claims(_fake_results(-3.0, 40), p)}
    for cid in good:
        assert good[cid].verdict == "holds", (cid, good[cid].reason)
        assert bad[cid].verdict == "does not hold", (cid, bad[cid].reason)
    assert good["ch07_lookaround_vs_sgd"].ours == pytest.approx(2.9)  # gains 3.0, 2.9, 2.8
    assert good["ch07_watt_vs_none"].ours == pytest.approx(30.0)  # 80% vs 50% of the images
    noisy = {c.id: c for c in X.claims(_fake_results(0.0, 102), p)}
    assert noisy["ch07_lookahead_vs_sgd"].verdict == "within noise"
    assert noisy["ch07_watt_vs_tent"].verdict == "within noise"


def test_strategy_reading_counts_the_images_where_weights_and_outputs_differ():
    same = X.strategy_reading(_fake_results(0.0, 100)["strategies"])  # WATT right on the first 100 = half
    assert "exactly the same 200 images" in same
    apart = X.strategy_reading(_fake_results(0.0, 130)["strategies"])
    assert "for 30 of 200 images" in apart
    with pytest.raises(ValueError, match="weight-average"):
        X.strategy_reading({"output average": {"clean": {"correct": torch.ones(3, dtype=torch.bool)}}})


def test_claims_need_the_profile_seeds():
    with pytest.raises(ValueError, match="seeds"):
        X.claims(_fake_results(1.0, 150, seeds=2), get_profile("smoke"))


def test_tta_eval_checks_its_method():
    with pytest.raises(ValueError, match="method"):
        X.tta_eval("bogus", None, get_profile("smoke"))
    with pytest.raises(TypeError, match="spec"):
        X.run_tta_eval({"method": "none"})


def test_lookaround_toy_averages_the_heads_and_its_figure_is_readable():
    import matplotlib

    matplotlib.use("Agg")
    from lsdl_ens.experiments import optimizers_tta_plots as plots
    from lsdl_ens.plotting import figure_problems, use_style

    toy = plots.lookaround_toy(k=3, outer=2)
    paths, averages = toy["paths"], toy["averages"]
    assert paths.shape == (2, 3, 4, 2)
    for b in range(2):
        assert (paths[b, :, 0] == averages[b]).all()  # every head starts the block at the last average
        assert averages[b + 1] == pytest.approx(paths[b, :, -1].mean(0), abs=1e-6)  # the average step
        assert paths[b, :, -1].std(0).max() > 1e-3  # the heads moved apart (different views)
    use_style()
    assert figure_problems(plots.plot_lookaround_steps(toy)) == []
