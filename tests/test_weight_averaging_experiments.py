"""Tests for lsdl_ens.experiments.weight_averaging (chapter 03's cached runs): `runs(profile)` lists every run
the chapter trains, parents first, and after training them the chapter's calls build nothing more. Synthetic
images stand in for CIFAR-10 and a private cache (with a build log) for the user's."""

import numpy as np
import pytest
import torch

from _tiny import one_thread  # noqa: F401
from lsdl_ens.cache import BUILD_LOG, default_cache, read_build_log
from lsdl_ens.experiments.runs import chapter_runs, missing_runs
from lsdl_ens.experiments.weight_averaging import (SWARun, cyclic_swa_recipe, runs, swa_recipe, swa_run,
                                                   train_cyclic_swa, train_swa)
from lsdl_ens.experiments.weight_averaging_eval import swa_seed_accuracies
from lsdl_ens.experiments.weight_averaging_sweep import finetune_sweep, linear_probe_state, sweep_configs
from lsdl_ens.profiles import get_profile

#: the smoke profile (2 epochs, 3 claim seeds) on synthetic blob images: 64 train / 32 test, 64 source / 40 target
SYNTHETIC = get_profile("smoke", n_train=64, n_val=32, n_test=32, n_source=64, n_target=40, batch_size=32,
                        data_source="synthetic")


def test_runs_list_the_seeds_and_the_sweep_parents_first():
    listed = runs(SYNTHETIC)
    labels = [r.label for r in listed]
    assert labels.count("pre-trained backbone") == 1
    assert labels.index("pre-trained backbone") < labels.index("linear probe") < labels.index(
        next(x for x in labels if x.startswith("fine-tuning")))
    swa = [r for r in listed if r.kind == "swa"]
    assert len(swa) == 2 * SYNTHETIC.claim_seeds
    assert {r.recipe.recipe.seed for r in swa} == set(range(SYNTHETIC.claim_seeds))
    assert sum(r.kind == "train" and r.label.startswith("fine-tuning") for r in listed) == len(sweep_configs(SYNTHETIC))
    assert len(chapter_runs("03", SYNTHETIC)) == len(listed)  # no duplicates


def test_swa_run_keeps_one_budget_and_the_last_epoch():
    run = swa_run(SYNTHETIC, 1, budget=1.5)
    assert run.report_epochs == (SYNTHETIC.epochs, 3)
    assert run.cache_key()["report_epochs"] == [2, 3] and run.cache_key()["seed"] == 1
    assert swa_run(SYNTHETIC, budget=1.0, schedule="cosine").report_epochs == (SYNTHETIC.epochs,)
    assert SWARun(swa_recipe(SYNTHETIC), (3, 2, 3)).report_epochs == (2, 3)
    with pytest.raises(ValueError, match="report_epochs"):
        SWARun(swa_recipe(SYNTHETIC), (4,))


def test_training_the_runs_leaves_nothing_for_the_chapter_to_build(tmp_cache, tmp_path, monkeypatch):
    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    listed = runs(SYNTHETIC)
    for run in listed:
        run.train()
    built = read_build_log(log)
    assert len(built) == len(listed)  # each run once (the fine-tunings do not rebuild their parents)
    # what the chapter computes: the SWA / SGD seeds, the cyclical run, the linear probe and the sweep
    for seed in range(SYNTHETIC.claim_seeds):
        states, info = train_swa(swa_run(SYNTHETIC, seed, budget=1.5))
        assert {"swa@2", "swa@3", "sgd@3"} <= set(states) and info["swa_epochs"] == [1, 2, 3]
        train_swa(swa_run(SYNTHETIC, seed, budget=1.0, schedule="cosine"))
    train_cyclic_swa(cyclic_swa_recipe(SYNTHETIC, 0))
    accuracies = swa_seed_accuracies(SYNTHETIC)
    assert accuracies["seed"] == [0, 1, 2] and all(0 <= a <= 100 for a in accuracies["swa_1b"])
    linear_probe_state(SYNTHETIC)
    ingredients = finetune_sweep(SYNTHETIC)
    assert len(read_build_log(log)) == len(built)
    assert len({tuple(torch.cat([v.flatten().float() for v in i.state.values()])[:50].tolist())
                for i in ingredients}) == len(ingredients)  # distinct fine-tunings
    assert not missing_runs(listed, default_cache())


# ------------------------------------------------------------------------------------------------------ the claims
def _probs(labels, n_wrong, classes=5, seed=0):
    """Confident probabilities that are right except on the first ``n_wrong`` examples."""
    pred = labels.clone()
    pred[:n_wrong] = (labels[:n_wrong] + 1) % classes
    return torch.nn.functional.one_hot(pred, classes).double() * 0.9 + 0.1 / classes


def fake_results(gain=1.0, soup_better=True):
    """Results where SWA gains ``gain`` points per seed and the soups / WiSE-FT win (or lose)."""
    from lsdl_ens.experiments.weight_averaging_claims import ray_widths

    labels = torch.arange(400) % 5
    good, bad = _probs(labels, 40), _probs(labels, 120)
    win, lose = (good, bad) if soup_better else (bad, good)
    ts = np.linspace(-1, 2, 7)
    correct = np.ones((7, 200))
    correct[:, :100] = (np.abs(ts) < 0.2)[:, None]  # test error lowest at t = 0 (SWA)
    nll = np.abs(ts - 1.0)[:, None] + np.zeros((7, 100))  # train loss lowest at t = 1 (SGD)
    errors = np.array([[10, 12, 20, 40], [10, 11, 18, 35], [10, 13, 25, 50]], dtype=float)
    return {
        "swa": {"sgd": [60.0, 61.0, 60.5], "swa_1b": [60.0 + gain, 61.2 + gain, 60.3 + gain],
                "swa_15b": [61.0 + gain, 61.8 + gain, 61.1 + gain]},
        "widths": {"SWA": ray_widths(errors - 2 * np.arange(4), [0, 5, 10, 15]) + 1,
                   "SGD": ray_widths(errors, [0, 5, 10, 15])},
        "line": {"ts": ts, "test_correct": correct, "train_nll": nll},
        "pairs": {"angles": [10, 20, 30, 40, 50], "advantages": [0.1, 0.3, 0.2, 0.6, 0.9]},
        "pair_soup": {"soup": win, "ends": [lose, lose], "labels": labels},
        "soups": {"labels": {"id": labels, "ood": labels},
                  "probs": {"best": {"id": lose, "ood": lose}, "uniform": {"id": lose, "ood": win},
                            "greedy": {"id": win, "ood": win}, "learned": {"id": win, "ood": win},
                            "ensemble": {"id": win, "ood": win}}},
        "wise": {"labels": {"id": labels, "ood": labels},
                 "probs": {"start": {"id": lose, "ood": win}, "wise": {"id": win, "ood": win},
                           "ft": {"id": lose, "ood": lose}}},
    }


def test_claims_follow_the_data(tmp_path):
    from lsdl_ens.claims_page import write_claims
    from lsdl_ens.experiments.weight_averaging_claims import claims

    held = {c.id: c for c in claims(fake_results(gain=1.0, soup_better=True))}
    assert held["swa_1b_vs_sgd"].verdict == "holds" and held["swa_1b_vs_sgd"].ours == pytest.approx(1.0)
    assert held["swa_wider"].verdict == "holds"
    assert held["line_shift"].verdict == "holds" and held["line_shift"].ours == pytest.approx(1.0)
    assert held["angle_correlation"].ours > 0.8
    for cid in ("pair_soup", "soup_greedy_id", "soup_greedy_ood", "soup_uniform_ood", "soup_learned_id",
                "wise_id_both_ends", "wise_ood_vs_ft"):
        assert held[cid].verdict == "holds", cid
    assert held["soup_uniform_id"].verdict == "does not hold"  # the same predictions as the best: exactly 0
    assert held["soup_vs_ensemble"].verdict == "holds"  # equal: inside one point
    assert held["wise_ood_vs_start"].verdict == "does not hold"  # equal to the start: not below it
    assert held["soup_greedy_id"].paper == "81.03 vs 80.38" and "lecture" in held["soup_greedy_id"].paper_source

    lost = {c.id: c for c in claims(fake_results(gain=-1.0, soup_better=False))}
    assert lost["swa_1b_vs_sgd"].verdict == "does not hold"
    for cid in ("pair_soup", "soup_greedy_id", "wise_ood_vs_ft"):
        assert lost[cid].verdict == "does not hold", cid
    noisy = fake_results(gain=0.0)
    noisy["swa"]["swa_1b"] = [60.5, 60.5, 61.0]  # -0.5 / +0.5 / +0.5 around SGD
    assert {c.id: c for c in claims(noisy)}["swa_1b_vs_sgd"].verdict == "within noise"
    with pytest.raises(ValueError, match="missing"):
        claims({"swa": {}})
    assert write_claims("03", list(held.values()), tmp_path, profile="cpu").name == "03.json"  # ids are distinct


def test_widths_shift_and_correlation_helpers():
    from lsdl_ens.experiments.weight_averaging_claims import argmin_shift, pair_correlation, ray_widths

    widths = ray_widths([[10, 12, 20], [10, 10, 11]], [0, 1, 2], rise=5)
    assert widths.tolist() == pytest.approx([1.375, 2.0])  # interpolated between 12 and 20; never rises
    ts = np.array([0.0, 0.5, 1.0])
    shift = argmin_shift(ts, np.array([[1, 1], [0, 0], [0, 0]]), np.array([[3, 3], [2, 2], [1, 1]]), n_boot=100)
    assert shift.value == 1.0 and shift.low == shift.high == 1.0
    corr = pair_correlation([1, 2, 3, 4], [4, 3, 2, 1], n_boot=100)
    assert corr.value == pytest.approx(-1.0) and corr.high <= -0.99
    with pytest.raises(ValueError, match="at least 3"):
        pair_correlation([1, 2], [1, 2])


def test_chapter_figures_follow_the_size_policy():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lsdl_ens.experiments import weight_averaging_plots as plots
    from lsdl_ens.plotting import figure_problems, use_style

    use_style()
    rows = [{"epoch": e, "train_loss": 1 / e, "sgd_test_accuracy": 0.5 + e / 100} for e in range(1, 4)]
    swa_rows = [dict(r, swa_test_accuracy=0.6) if r["epoch"] > 1 else r for r in rows]
    acc = {"seed": [0, 1, 2], "sgd": [60.0, 61.0, 60.5], "swa_1b": [61.0, 61.5, 61.2], "swa_15b": [62.0, 62.1, 61.9]}
    plane = {"xs": np.linspace(0, 1, 3), "ys": np.linspace(0, 1, 3), "error": np.random.default_rng(0).random((3, 3)),
             "points": np.array([[0, 0], [1, 0], [0, 1]])}
    line = {"distances": np.linspace(-1, 2, 5), "error": np.linspace(0.3, 0.4, 5), "train_loss": np.linspace(1, 0, 5),
            "sgd_distance": 1.0}
    rays = {"SWA": {"error": np.ones((3, 4)) * 0.3, "train_loss": np.ones((3, 4))},
            "SGD": {"error": np.ones((3, 4)) * 0.4, "train_loss": np.ones((3, 4))}}
    wise_rows = [{"alpha": a, "id": 80 + a, "ood": 60 + a} for a in (0.0, 0.5, 1.0)]
    figures = [plots.plot_swa_training(rows, swa_rows, 2), plots.plot_swa_seed_bars(acc),
               plots.plot_iterate_plane(plane, [[0.5, 0.5]], (0.3, 0.3), title="plane"), plots.plot_line(line),
               plots.plot_rays([0, 1, 2, 3], rays, 3), plots.plot_soup_plane(plane, (0.5, 0.5), [0, 1], title="soup"),
               plots.plot_angles([10, 20, 30], [0.1, 0.2, 0.3]),
               plots.plot_soup_vs_ensemble([0.01, 0.1], {lr: {"individual": 1, "soup": 2, "ensemble": 3}
                                                        for lr in (0.01, 0.1)}),
               plots.plot_ingredient_curve([1, 2], {"uniform soup": [1, 2], "ensemble": [2, 3]}),
               plots.plot_wise({"best": wise_rows, "high lr": wise_rows})]
    for fig in figures:
        assert figure_problems(fig) == [], fig.axes[0].get_title()
        labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        assert len(labels) == len(set(labels))
        plt.close(fig)
    frame = plots.swa_seed_frame(acc)
    assert frame["SWA 1B - SGD"].tolist() == pytest.approx([1.0, 0.5, 0.7])


def test_ingredients_frame_keeps_small_learning_rates():
    from lsdl_ens.experiments import weight_averaging_plots as plots
    from lsdl_ens.experiments.weight_averaging_sweep import Ingredient

    hp = {"lr": 0.003, "weight_decay": 5e-4, "augment": "weak", "label_smoothing": 0.1, "seed": 1}
    frame = plots.ingredients_frame([Ingredient(hp, None, {})], [0.5], [0.6], [0.4], [0.45])
    assert frame.loc[0, "lr"] == "0.003" and frame.loc[0, "weight decay"] == "0.0005"
    assert frame.loc[0, "test %"] == 60.0


def test_line_results_agree_with_the_family_line():
    """The per-example SGD-SWA line gives the error and loss of `lsdl_ens.averaging.sgd_swa_line` (a peer)."""
    from _tiny import blob_images, image_batches, tiny_cnn

    from lsdl_ens.averaging import sgd_swa_line
    from lsdl_ens.experiments.weight_averaging_eval import line_results

    data, train = blob_images(48, seed=0), blob_images(40, seed=1)
    a, b = tiny_cnn(seed=0), tiny_cnn(seed=1)
    bn = image_batches(blob_images(64, seed=2), 16)
    ts = [-0.5, 0.0, 0.5, 1.0]
    sa, sb = ({k: v.clone() for k, v in m.state_dict().items()} for m in (a, b))  # not views of the template's
    ours = line_results(a, sa, sb, data, train, ts=ts, bn_batches=bn)
    peer = sgd_swa_line(a, sa, sb, data, ts=ts, bn_data=bn, train_data=train, progress=False)
    np.testing.assert_allclose(ours["error"], peer["error"], atol=1e-9)
    np.testing.assert_allclose(ours["train_loss"], peer["train_loss"], rtol=1e-4)
    assert ours["test_correct"].shape == (4, 48) and ours["train_nll"].shape == (4, 40)
    assert ours["sgd_distance"] == pytest.approx(peer["sgd_distance"])
