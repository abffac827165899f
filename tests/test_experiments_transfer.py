"""lsdl_ens.experiments.transfer: chapter 06's cached runs (cycle members through the cache, Local vs Global DE
recipes, the chapter's sizes, the soup grid, predictions under an overridden profile) and its list of runs. Tiny
models and synthetic data only."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from lsdl_ens import transfer as T
from lsdl_ens.cache import CheckpointCache
from lsdl_ens.experiments import transfer as X
from lsdl_ens.experiments.transfer_claims import TALK
from lsdl_ens.profiles import get_profile
from lsdl_ens.recipes import finetune_recipe, pretrain_recipe
from tests._tiny import tiny_cnn


# ----------------------------------------------------------------------------------------------- cycle members
def test_cached_cycle_members_chain_and_star(tmp_path, monkeypatch):
    """train_cycle_member with the recipe machinery on synthetic data: SSE member k starts from member k - 1 (read
    back through the cache), StarSSE members from model 1; one fit per member, each with a new optimiser."""
    import lsdl_ens.experiments.transfer_members as runs

    first_model = tiny_cnn(5)
    first_recipe = finetune_recipe("smoke", lr=0.05, epochs=2, batch_size=8, augment=False,
                                   data={"source": "synthetic", "n_target": 32, "seed": 4})  # 32 blob images
    monkeypatch.setattr(runs, "train", lambda recipe, **kw: (copy.deepcopy(first_model), None))
    monkeypatch.setattr(runs, "load_state", lambda recipe, state: _loaded(state))
    starts = []
    real_fit = runs.fit

    def spy_fit(model, loader, **kw):
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        assert isinstance(kw["optimizer"], str), "each cycle must build a new optimiser"
        return real_fit(model, loader, **kw)

    monkeypatch.setattr(runs, "fit", spy_fit)
    cache = CheckpointCache(tmp_path)
    sse = T.cycle_recipes(first_recipe, "sse", 3, lr_mult=2.0, epoch_mult=0.5)
    assert sse[1].cycle.lr == pytest.approx(0.1) and sse[1].cycle.epochs == 1
    s1, _ = X.train_cycle_member(sse[1], cache=cache, device="cpu")
    s2, extra = X.train_cycle_member(sse[2], cache=cache, device="cpu")
    assert len(starts) == 2 and len(extra["history"]["lr"]) == 1
    for k in s1:
        torch.testing.assert_close(starts[1][k], s1[k])  # chain, through the cache
    starts.clear()
    star = T.cycle_recipes(first_recipe, "starsse", 3, lr_mult=2.0, epoch_mult=0.5)
    X.train_cycle_member(star[2], cache=cache, device="cpu")
    assert len(starts) == 1  # a spoke needs no other spoke
    for k, v in first_model.state_dict().items():
        torch.testing.assert_close(starts[0][k], v)
    X.train_cycle_member(sse[2], cache=cache, device="cpu")  # cached: no training
    assert len(starts) == 1


def _loaded(state):
    m = tiny_cnn(0)
    m.load_state_dict(state)
    return m


# ----------------------------------------------------------------------------------------------- recipes
def test_local_and_global_de_use_the_right_backbones():
    p = get_profile("smoke", ensemble_size=4)
    local, glob = X.local_de_recipes(p), X.global_de_recipes(p)
    assert len(local) == len(glob) == 4
    assert all(T.backbone_of(r) == pretrain_recipe(p, 0) for r in local)
    assert [T.backbone_of(r) for r in glob] == [pretrain_recipe(p, b) for b in range(4)]
    assert len({r.seed for r in local}) == 4 and {r.seed for r in glob} == {0}
    assert local[0] == glob[0] == X.transfer_finetune_recipe(p, backbone_seed=0, seed=0)
    cost_l, cost_g = T.pretrain_cost(local), T.pretrain_cost(glob)
    assert cost_l["n_backbones"] == 1 and cost_g["n_backbones"] == 4
    assert cost_g["pretrain_images"] == 4 * cost_l["pretrain_images"] == 4 * p.pretrain_epochs * p.n_source
    with pytest.raises(ValueError, match="n_members"):
        X.local_de_recipes(p, 0)


def test_transfer_finetune_recipe_uses_the_chapter_sizes():
    cpu = get_profile("cpu")
    sizes = cpu.transfer
    r = X.transfer_finetune_recipe(cpu, backbone_seed=1, seed=2)
    assert (r.epochs, r.lr) == (sizes.finetune_epochs, sizes.finetune_lr)
    assert r == finetune_recipe(cpu, 1, 2, epochs=sizes.finetune_epochs, lr=sizes.finetune_lr)
    assert r.epochs != cpu.finetune_epochs  # the cpu chapter fine-tunes longer than the profile
    assert X.transfer_finetune_recipe(cpu, epochs=3).epochs == 3  # overrides win
    smoke = get_profile("smoke")
    assert smoke.transfer.finetune_epochs is None
    assert X.transfer_finetune_recipe(smoke) == finetune_recipe(smoke)  # None: the profile's recipe


def test_cycle_recipes_and_method_recipes():
    p = get_profile("cpu")
    first = X.transfer_finetune_recipe(p, 0, 0)
    rs = T.cycle_recipes(first, "starsse", 5, lr_mult=0.25, epoch_mult=0.5)
    assert rs[0] == first and len(rs) == 5
    assert [r.cycle.index for r in rs[1:]] == [1, 2, 3, 4]
    assert len({r.cycle.seed for r in rs[1:]}) == 4
    assert rs[1].cycle.lr == pytest.approx(0.25 * first.lr)
    assert rs[1].cycle.epochs == int(0.5 * first.epochs)
    assert T.backbone_of(rs[3]) == pretrain_recipe(p, 0)
    assert X.method_recipes("sse", p, (2.0, 1.0))[0] == X.method_recipes("local_de", p)[0] == first
    assert X.method_recipes("starsse", p, (2.0, 1.0))[1].first == first
    with pytest.raises(ValueError, match="setting"):
        X.method_recipes("sse", p)
    with pytest.raises(ValueError, match="method"):
        T.cycle_recipes(first, "fge", 3, lr_mult=1, epoch_mult=1)
    assert len(X.grid_settings(p)) == len(p.transfer.lr_mults) * len(p.transfer.epoch_mults)


def test_run_soup_grid_scores_the_soup_of_each_cells_members(monkeypatch):
    from lsdl_ens.experiments import transfer_eval as grid

    p = get_profile("cpu")
    g = torch.Generator().manual_seed(0)
    y = {"val": torch.randint(0, 5, (40,), generator=g), "test": torch.randint(0, 5, (60,), generator=g)}
    fake = {}  # soup recipe -> probabilities; distinct per cell

    def fake_member_probs(recipe, profile, **kw):
        assert isinstance(recipe, T.SoupRecipe) and recipe.bn_seed == 0
        key = repr(recipe)
        if key not in fake:
            fake[key] = {k: torch.rand(len(v), 5, generator=g).softmax(-1) for k, v in y.items()}
        return fake[key]

    monkeypatch.setattr(grid, "member_probs", fake_member_probs)
    monkeypatch.setattr(grid, "labels", lambda profile: y)
    res = X.run_soup_grid("starsse", p)
    assert set(res) == set(X.grid_settings(p)) and len(fake) == len(res)
    for cell, r in res.items():
        probs = fake[repr(T.soup_recipe(X.method_recipes("starsse", p, cell)))]
        for k in ("val", "test"):
            assert r[k + "_acc"] == pytest.approx((probs[k].argmax(-1) == y[k]).double().mean().item())
    best = T.select_settings(res)["optimal"]
    assert res[best]["val_acc"] == max(r["val_acc"] for r in res.values())


def test_sizes_table():
    for name in ("smoke", "cpu", "gpu"):
        s = get_profile(name).transfer
        assert s.n_ood > 0 and s.plane_grid >= 2 and s.n_alphas >= 3 and 2 <= s.n_global
        assert len(X.method_recipes("global_de", name)) == s.n_global
    assert 1.0 in get_profile("gpu").transfer.epoch_mults


def test_member_probs_and_ood_sets_use_the_given_profile_not_its_name(tmp_path):
    """An overridden profile's sizes reach the evaluation data (they used to be looked up again by profile name,
    so results of other sizes were cached under the overridden key)."""
    from lsdl_ens.cache import CheckpointCache
    from lsdl_ens.data import profile_transfer
    from lsdl_ens.recipes import build_from_recipe
    from lsdl_ens.train import History

    p = get_profile("smoke", n_target=100, n_test=200, transfer={"n_ood": 10_000})
    base_split, split = profile_transfer(get_profile("smoke")), profile_transfer(p)
    assert len(split.target_val) != len(base_split.target_val)
    assert len(split.target_test) != len(base_split.target_test)
    recipe = X.transfer_finetune_recipe(p)
    cache = CheckpointCache(tmp_path)  # a stand-in trained member, and nothing else
    cache.save("train", recipe, build_from_recipe(recipe).state_dict(), {"history": History().as_dict()})
    probs = X.member_probs(recipe, p, cache=cache, device="cpu")
    assert probs["val"].shape == (len(split.target_val), 5) and probs["test"].shape == (len(split.target_test), 5)
    assert len(X.ood_labels(p)) == len(split.target_test)


# ----------------------------------------------------------------------------------------------- the chapter's runs
def test_runs_cover_everything_the_chapter_computes(tmp_cache, monkeypatch, tmp_path):
    """Training every run of `runs(p)` on an empty cache leaves nothing for the chapter's `results(p)` to build."""
    from lsdl_ens.cache import BUILD_LOG, default_cache, read_build_log

    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    p = get_profile("smoke", n_source=64, n_target=40, n_test=30, batch_size=32, data_source="synthetic",
                    transfer={"n_ood": 10, "n_landscape": 20})
    listed = X.runs(p)
    kinds = [r.kind for r in listed]
    assert kinds.index("train") < kinds.index("transfer_cycle") < kinds.index("transfer_probs")
    assert kinds[-1] == "transfer_selection"
    for run in listed:
        run.train()
    built = len(read_build_log(log))
    assert built >= len(listed) - 1  # each listed run was built once (a selection reuses nothing of its own)
    assert all(run.is_cached(default_cache()) for run in listed)
    out = X.results(p)
    assert len(read_build_log(log)) == built, [e["kind"] for e in read_build_log(log)[built:]]
    assert set(out["final"]) >= {"Local DE", "Global DE", "SSE optimal", "StarSSE optimal"}
    assert out["ens_probs"]["model 1"].shape == (30, 5)
    assert X.train_selection(listed[-1].recipe)["ensemble"]["sse"] == out["chosen"]["sse"]


# ----------------------------------------------------------------------------------------------- claims
def _fake_probs(y, correct, generator, n_classes=5):
    """Probabilities right on a random fraction `correct` of the images, wrong (the next class) elsewhere."""
    right = torch.rand(len(y), generator=generator) < correct
    pred = torch.where(right, y, (y + 1) % n_classes)
    return 0.1 / n_classes + 0.9 * torch.nn.functional.one_hot(pred, n_classes).float()


def _fake_results(star_acc, n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 5, (n,), generator=g)
    acc = {"model 1": 0.7, "Global DE": 0.8, "Local DE, Global DE size": 0.72, "StarSSE optimal": star_acc,
           "SSE optimal": 0.75, "Local DE": 0.74, "SSE semi-local": 0.65, "StarSSE semi-local": 0.6,
           "StarSSE soup": star_acc, "SSE soup": 0.74, "Local DE soup": 0.73}
    oy = y[:50]
    path = {"alphas": np.linspace(0, 1, 5), "error": np.array([0.2, 0.3, 0.45, 0.3, 0.22])}
    flat = {"alphas": np.linspace(0, 1, 5), "error": np.array([0.01, 0.01, 0.011, 0.01, 0.01])}
    return {"labels": {"test": y}, "ens_probs": {k: _fake_probs(y, a, g) for k, a in acc.items()},
            "paths": {"semi-local": [path, flat], "optimal": [flat]},
            "member_probs": {"Local DE": torch.stack([_fake_probs(y, 0.7, g)] * 2 + [_fake_probs(y, 0.71, g)]),
                             "StarSSE optimal": torch.stack([_fake_probs(y, star_acc, g) for _ in range(3)])},
            "ood_probs": {k: torch.stack([torch.stack([_fake_probs(oy, a - 0.1 * s, g) for _ in range(3)])
                                          for s in range(2)]) for k, a in acc.items()},
            "ood_labels": oy}


def test_claims_follow_the_data():
    p = get_profile("smoke", n_test=2000, transfer={"n_landscape": 2000})
    good = {c.id: c for c in X.claims(_fake_results(star_acc=0.85), p, n_boot=200)}
    bad = {c.id: c for c in X.claims(_fake_results(star_acc=0.55), p, n_boot=200)}
    assert len(good) == 15 and all(c.paper_source.startswith(TALK) for c in good.values())
    assert good["starsse_vs_sse"].verdict == "holds" and bad["starsse_vs_sse"].verdict == "does not hold"
    assert good["soup_starsse_vs_local_de"].verdict == "holds"
    assert bad["soup_starsse_vs_local_de"].verdict == "does not hold"
    assert good["starsse_diversity"].verdict == "holds"  # independent fakes against a Local DE with a repeated member
    assert good["global_vs_local_de"].verdict == "holds"
    assert good["semi_local_sse_barrier"].verdict == "holds"
    assert good["semi_local_sse_barrier"].ours == pytest.approx(100 * (0.45 - 0.21))
    assert good["optimal_sse_no_barrier"].verdict == "holds"
    assert good["semi_local_starsse_vs_sse"].verdict == "does not hold"
    lo, hi = good["starsse_vs_local_de"].uncertainty
    assert lo < good["starsse_vs_local_de"].ours < hi and hi - lo < 10


def test_ood_claims_average_accuracy_over_corruptions_and_severities():
    from lsdl_ens.metrics import accuracy

    R = _fake_results(star_acc=0.85, n=500)
    claim = {c.id: c for c in X.claims(R, get_profile("smoke", n_test=500), n_boot=100)}["ood_local_de_vs_starsse"]

    def mean_acc(q):
        groups = q.reshape(-1, *q.shape[-2:])
        return sum(accuracy(g, R["ood_labels"]) for g in groups) / len(groups)

    expected = 100 * (mean_acc(R["ood_probs"]["Local DE"]) - mean_acc(R["ood_probs"]["StarSSE optimal"]))
    assert claim.ours == pytest.approx(expected)
    assert claim.uncertainty[0] < claim.ours < claim.uncertainty[1]


def test_diversity_reading_follows_the_values():
    from lsdl_ens.experiments.transfer_plots import diversity_reading

    text = diversity_reading({"Local DE": 34.3, "StarSSE optimal": 26.8, "StarSSE semi-local": 76.2})
    assert "reach 76.2, above Local DE's 34.3" in text and "(26.8)" in text
    assert "still below" in diversity_reading({"Local DE": 34.3, "StarSSE optimal": 26.8, "StarSSE semi-local": 30.0})
    assert diversity_reading({"Local DE": 30.0, "StarSSE optimal": 40.0, "StarSSE semi-local": 50.0}) == ""
    with pytest.raises(ValueError, match="Local DE"):
        diversity_reading({"StarSSE optimal": 1.0})
