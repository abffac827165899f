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


def test_replicates_repeat_every_method_with_new_seeds():
    from lsdl_ens.experiments.transfer_replicates import replicate_recipes

    p = get_profile("cpu")
    chosen = {"ensemble": {m: {"local": (0.25, 0.25), "optimal": (1.0, 0.5), "semi-local": (8.0, 1.0)}
                           for m in ("sse", "starsse")}, "soup": {"sse": (0.25, 0.5), "starsse": (1.0, 1.0)}}
    reps = [replicate_recipes(p, chosen, r) for r in range(3)]
    assert reps[0]["Local DE"] == X.method_recipes("local_de", p)  # replicate 0 is the chapter's main run
    assert reps[0]["SSE optimal"] == X.method_recipes("sse", p, (1.0, 0.5))
    backbones = [{T.backbone_of(r).seed for rs in rep.values() for r in rs} for rep in reps]
    seeds = [{(r.first if isinstance(r, T.CycleMemberRecipe) else r).seed for rs in rep.values() for r in rs}
             for rep in reps]
    cycle_seeds = [{r.cycle.seed for rs in rep.values() for r in rs if isinstance(r, T.CycleMemberRecipe)}
                   for rep in reps]
    for i in range(3):
        for j in range(i):
            assert not backbones[i] & backbones[j] and not seeds[i] & seeds[j]
            assert not cycle_seeds[i] & cycle_seeds[j]
    for rep in reps:  # within a replicate every method starts from the same model 1
        firsts = {repr(rs[0]) for rs in rep.values()}
        assert len(firsts) == 1
        assert rep["StarSSE soup"][1].cycle.lr_mult == 1.0 and rep["SSE semi-local"][1].cycle.lr_mult == 8.0
    assert len(backbones[1]) == p.transfer.n_global
    with pytest.raises(ValueError, match="replicate"):
        X.method_recipes("local_de", p, replicate=-1)
    with pytest.raises(ValueError, match="chosen"):
        replicate_recipes(p, {"ensemble": {}}, 1)


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
_ACC = {"Global DE": 0.8, "Local DE, Global DE size": 0.72, "SSE optimal": 0.75, "Local DE": 0.74,
        "SSE semi-local": 0.65, "StarSSE semi-local": 0.6, "SSE soup": 0.74, "Local DE soup": 0.73}


def _fake_replicate(star_acc, noise):
    """One replicate's measures: `_ACC` with StarSSE at `star_acc`, every value shifted by `noise` (a fraction)."""
    acc = {**_ACC, "StarSSE optimal": star_acc, "StarSSE soup": star_acc}
    acc = {k: v + noise * (1 + 0.1 * i) for i, (k, v) in enumerate(acc.items())}
    ood = {k: acc[k] - 0.2 for k in ("Local DE", "SSE optimal", "StarSSE optimal", "Local DE soup", "SSE soup",
                                     "StarSSE soup")}
    return {"accuracy": acc, "ood": ood, "barrier": {"semi-local": 0.24 + noise, "optimal": 0.001 + noise / 10},
            "diversity": {"StarSSE optimal": 100 * star_acc - 40 + 100 * noise, "Local DE": 30.0}}


def _fake_results(star_acc, noises=(-0.004, 0.0, 0.005)):
    return {"replicates": [_fake_replicate(star_acc, e) for e in noises]}


def test_claims_follow_the_data():
    p = get_profile("smoke")
    good = {c.id: c for c in X.claims(_fake_results(star_acc=0.85), p)}
    bad = {c.id: c for c in X.claims(_fake_results(star_acc=0.55), p)}
    assert len(good) == 15 and all(c.paper_source.startswith(TALK) for c in good.values())
    assert good["starsse_vs_sse"].verdict == "holds" and bad["starsse_vs_sse"].verdict == "does not hold"
    assert good["soup_starsse_vs_local_de"].verdict == "holds"
    assert bad["soup_starsse_vs_local_de"].verdict == "does not hold"
    assert good["starsse_diversity"].verdict == "holds" and bad["starsse_diversity"].verdict == "does not hold"
    assert good["global_vs_local_de"].verdict == "holds"
    assert good["semi_local_sse_barrier"].verdict == "holds"
    assert good["optimal_sse_no_barrier"].verdict == "holds"
    assert good["semi_local_starsse_vs_sse"].verdict == "does not hold"
    assert good["ood_soup_starsse_vs_sse"].verdict == "holds"


def test_claims_are_the_mean_of_per_replicate_differences_with_a_t_interval():
    from lsdl_ens.claims import seed_estimate

    R = _fake_results(star_acc=0.8, noises=(-0.01, 0.0, 0.02))
    claim = {c.id: c for c in X.claims(R, get_profile("smoke"))}
    diffs = [100 * (m["accuracy"]["StarSSE optimal"] - m["accuracy"]["SSE optimal"]) for m in R["replicates"]]
    expected = seed_estimate(diffs)
    assert claim["starsse_vs_sse"].ours == pytest.approx(expected.value)
    assert claim["starsse_vs_sse"].uncertainty == pytest.approx((expected.low, expected.high))
    ood = [100 * (m["ood"]["Local DE"] - m["ood"]["StarSSE optimal"]) for m in R["replicates"]]
    assert claim["ood_local_de_vs_starsse"].ours == pytest.approx(np.mean(ood))
    barrier = [100 * m["barrier"]["semi-local"] for m in R["replicates"]]
    assert claim["semi_local_sse_barrier"].ours == pytest.approx(np.mean(barrier))
    lo, hi = claim["semi_local_sse_barrier"].uncertainty
    assert lo < np.mean(barrier) < hi and hi - lo > 1  # the replicates' spread, not a test-set interval


def test_a_gap_that_changes_sign_across_replicates_is_within_noise():
    R = _fake_results(star_acc=0.75, noises=(0.0, 0.0, 0.0))
    for m, shift in zip(R["replicates"], (0.02, -0.015, 0.01)):
        m["accuracy"]["StarSSE optimal"] = m["accuracy"]["SSE optimal"] + shift
    assert {c.id: c for c in X.claims(R, get_profile("smoke"))}["starsse_vs_sse"].verdict == "within noise"


def test_claims_need_every_replicate():
    R = _fake_results(star_acc=0.8)
    R["replicates"] = R["replicates"][:2]
    with pytest.raises(ValueError, match="claim_seeds"):
        X.claims(R, get_profile("smoke"))
    with pytest.raises(ValueError, match="replicates"):
        X.claims({}, get_profile("smoke"))


def test_mean_ood_accuracy_counts_every_corruption_and_severity():
    from lsdl_ens.experiments.transfer_replicates import mean_ood_accuracy

    y = torch.tensor([0, 1, 2, 3])
    probs = torch.zeros(2, 3, 4, 5)
    probs[..., 0] = 1.0  # every set predicts class 0: one image of four right
    probs[1, 2, :, :] = torch.nn.functional.one_hot(y, 5).float()  # one set of six all right
    assert mean_ood_accuracy(probs, y) == pytest.approx((5 * 0.25 + 1.0) / 6)
    with pytest.raises(ValueError, match="severities, corruptions"):
        mean_ood_accuracy(probs[0], y)


def test_diversity_reading_follows_the_values():
    from lsdl_ens.experiments.transfer_plots import diversity_reading

    text = diversity_reading({"Local DE": 34.3, "StarSSE optimal": 26.8, "StarSSE semi-local": 76.2})
    assert "reach 76.2, above Local DE's 34.3" in text and "(26.8)" in text
    assert "still below" in diversity_reading({"Local DE": 34.3, "StarSSE optimal": 26.8, "StarSSE semi-local": 30.0})
    assert diversity_reading({"Local DE": 30.0, "StarSSE optimal": 40.0, "StarSSE semi-local": 50.0}) == ""
    with pytest.raises(ValueError, match="Local DE"):
        diversity_reading({"StarSSE optimal": 1.0})


def test_replicate_reading_follows_the_values_and_the_verdict():
    from lsdl_ens.experiments.transfer_plots import replicate_reading

    same = replicate_reading("The barrier", [12.1, 19.4, 29.2], "within noise")
    assert same.startswith("The barrier per replicate: 12.10, 19.40 and 29.20 points, the same sign every time")
    assert "3 replicates" in same
    assert "sign changes" in replicate_reading("The gap", [1.0, -0.5, 0.2], "within noise")
    holds = replicate_reading("The gap", [1.0, 2.0, 3.0], "holds")
    assert holds == "The gap per replicate: 1.00, 2.00 and 3.00 points."
    with pytest.raises(ValueError, match="one value per replicate"):
        replicate_reading("The gap", [1.0], "holds")
