"""Tests for lsdl_ens.experiments.weight_averaging (chapter 03's cached runs): `runs(profile)` lists every run
the chapter trains, parents first, and after training them the chapter's calls build nothing more. Synthetic
images stand in for CIFAR-10 and a private cache (with a build log) for the user's."""

import pytest
import torch

from _tiny import one_thread  # noqa: F401
from lsdl_ens.cache import BUILD_LOG, default_cache, read_build_log
from lsdl_ens.experiments.runs import chapter_runs, missing_runs
from lsdl_ens.experiments.weight_averaging import (SWARun, cyclic_swa_recipe, runs, swa_recipe, swa_run,
                                                   train_cyclic_swa, train_swa)
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
    linear_probe_state(SYNTHETIC)
    ingredients = finetune_sweep(SYNTHETIC)
    assert len(read_build_log(log)) == len(built)
    assert len({tuple(torch.cat([v.flatten().float() for v in i.state.values()])[:50].tolist())
                for i in ingredients}) == len(ingredients)  # distinct fine-tunings
    assert not missing_runs(listed, default_cache())

