"""lsdl_ens.transfer: cycle schedule vs the reference formula, SSE/StarSSE drivers (start points, fresh optimiser,
chain vs star) against a hand-written peer loop, Local vs Global DE backbones, recipes, grid selection, curves,
diversity and OOD averaging. Tiny models and synthetic data only."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from lsdl_ens import metrics
from lsdl_ens import transfer as T
from lsdl_ens.cache import CheckpointCache
from lsdl_ens.data import BatchLoader
from lsdl_ens.profiles import get_profile
from lsdl_ens.recipes import finetune_recipe, pretrain_recipe
from lsdl_ens.train import Callback, fit
from tests._tiny import blob_images, tiny_cnn


# ----------------------------------------------------------------------------------------------- schedule
def reference_cyclic_factor(epoch, epochs, fge_epochs, lr, fge_lr):
    """isadrtdinov/ens-for-transfer utils/lr_schedule.py, 'cosine+warmup_cosine' with fge_warmup_epochs = 0,
    written out independently: the LambdaLR factor at an epoch after model 1."""
    if epoch < epochs:
        return 0.5 * (1 + np.cos(epoch / epochs * np.pi))
    cyclic_epoch = (epoch - epochs) % fge_epochs
    return 0.5 * (1 + np.cos(cyclic_epoch / fge_epochs * np.pi)) * fge_lr / lr


def test_cycle_lr_matches_reference_formula_per_epoch():
    lr, fge_lr, epochs, fge_epochs = 0.01, 0.04, 6, 4
    for e in range(epochs, epochs + 3 * fge_epochs):
        expected = lr * reference_cyclic_factor(e, epochs, fge_epochs, lr, fge_lr)
        assert T.cycle_lr((e - epochs) % fge_epochs, fge_epochs, fge_lr) == pytest.approx(expected, rel=1e-12)


def test_cycle_lr_endpoints_and_errors():
    assert T.cycle_lr(0, 10, 0.3) == pytest.approx(0.3)
    assert T.cycle_lr(5, 10, 0.3) == pytest.approx(0.15)
    assert T.cycle_lr(10, 10, 0.3) == pytest.approx(0.0, abs=1e-15)
    assert T.cycle_lr(12, 10, 0.3) == pytest.approx(0.0, abs=1e-15)  # clamped
    with pytest.raises(ValueError, match="cycle_length"):
        T.cycle_lr(0, 0, 0.1)
    with pytest.raises(ValueError, match="per"):
        T.cycle_schedule(0.1, per="batch")


class LrRecorder(Callback):
    def __init__(self):
        self.lrs, self.optimizer_state_at_begin = [], None

    def on_train_begin(self, model, optimizer):
        self.optimizer_state_at_begin = len(optimizer.state)

    def on_step_end(self, model, optimizer, step, loss):
        self.lrs.append(optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("per", ["iteration", "epoch"])
def test_cycle_schedule_inside_fit(per):
    data = blob_images(40, num_classes=5)
    rec = LrRecorder()
    fit(tiny_cnn(0), BatchLoader(data, 8, shuffle=True, augment=False), epochs=3,
        lr_schedule=T.cycle_schedule(0.2, per), callbacks=[rec])
    n_it = len(rec.lrs)
    assert n_it == 15
    if per == "iteration":
        expected = [0.1 * (1 + math.cos(math.pi * i / n_it)) for i in range(n_it)]
    else:
        expected = [0.1 * (1 + math.cos(math.pi * (i // 5) / 3)) for i in range(n_it)]
    np.testing.assert_allclose(rec.lrs, expected, rtol=1e-12)


# ----------------------------------------------------------------------------------------------- drivers
def _peer_cycles(first_state, data, n_members, star, lr_max, epochs, seeds, wd=5e-4):
    """Independent SSE/StarSSE: plain SGD loop, a new optimiser per cycle, per-iteration cosine."""
    states = [copy.deepcopy(first_state)]
    for k in range(1, n_members):
        model = tiny_cnn(123)
        model.load_state_dict(states[0] if star else states[-1])
        opt = torch.optim.SGD(model.parameters(), lr=lr_max, momentum=0.9, nesterov=True, weight_decay=wd)
        loader = BatchLoader(data, 8, shuffle=True, augment=False)
        total = epochs * len(loader)
        it = 0
        torch.manual_seed(seeds[k])
        model.train()
        for e in range(epochs):
            for x, y in loader.iterate(epoch=e, seed=seeds[k]):
                for g in opt.param_groups:
                    g["lr"] = lr_max / 2 * (1 + math.cos(math.pi * it / total))
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                it += 1
        states.append({n: t.detach().clone() for n, t in model.state_dict().items()})
    return states


def _fit_cycle(data, lr_max, epochs, seeds, recorder=None):
    def train_cycle(model, k):
        fit(model, BatchLoader(data, 8, shuffle=True, augment=False), epochs=epochs, weight_decay=5e-4,
            lr_schedule=T.cycle_schedule(lr_max), seed=seeds[k], callbacks=[recorder] if recorder else [])
    return train_cycle


@pytest.mark.parametrize("star", [False, True])
def test_run_cycles_matches_peer_loop(star):
    data = blob_images(32, num_classes=5, seed=1)
    first = tiny_cnn(7).state_dict()
    seeds = [0, 11, 12, 13]
    ours = T.run_cycles(first, lambda: tiny_cnn(99), _fit_cycle(data, 0.1, 2, seeds), 4, star=star)
    peer = _peer_cycles(first, data, 4, star, 0.1, 2, seeds)
    assert len(ours) == 4
    for a, b in zip(ours, peer):
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    # the two topologies really differ
    other = _peer_cycles(first, data, 4, not star, 0.1, 2, seeds)
    assert any(not torch.allclose(ours[3][k].float(), other[3][k].float()) for k in ours[3])


def test_star_spokes_start_from_member_one_with_fresh_optimizer():
    data = blob_images(32, num_classes=5, seed=2)
    first = tiny_cnn(3).state_dict()
    starts, opt_states = [], []

    class Probe(LrRecorder):
        def on_train_begin(self, model, optimizer):
            starts.append({k: v.clone() for k, v in model.state_dict().items()})
            opt_states.append(len(optimizer.state))

    states = T.run_cycles(first, lambda: tiny_cnn(50), _fit_cycle(data, 0.1, 1, [0, 1, 2, 3], Probe()), 4, star=True)
    assert len(states) == 4 and all(s == 0 for s in opt_states)
    for s in starts:
        for k in first:
            torch.testing.assert_close(s[k], first[k])
    for k in first:  # member 0 is model 1, unchanged
        torch.testing.assert_close(states[0][k], first[k])
    assert all(any(not torch.equal(states[i][k], states[j][k]) for k in first if first[k].is_floating_point())
               for i in range(1, 4) for j in range(i + 1, 4)), "spokes with different seeds must differ"

    starts.clear()
    sse = T.run_cycles(first, lambda: tiny_cnn(50), _fit_cycle(data, 0.1, 1, [0, 1, 2, 3], Probe()), 4, star=False)
    for k in first:  # SSE: cycle k starts where cycle k - 1 ended
        torch.testing.assert_close(starts[1][k], sse[1][k])
        torch.testing.assert_close(starts[2][k], sse[2][k])


def test_run_cycles_returns_copies():
    first = tiny_cnn(3).state_dict()
    states = T.run_cycles(first, lambda: tiny_cnn(1), lambda m, k: None, 3, star=True)
    key = next(k for k, v in first.items() if v.is_floating_point())
    states[0][key].add_(1.0)
    assert not torch.equal(states[0][key], first[key])
    with pytest.raises(ValueError, match="n_members"):
        T.run_cycles(first, lambda: tiny_cnn(1), lambda m, k: None, 0, star=True)


def test_cached_cycle_members_chain_and_star(tmp_path, monkeypatch):
    """train_cycle_member with the recipe machinery on synthetic data: SSE member k starts from member k - 1 (read
    back through the cache), StarSSE members from model 1; one fit per member, each with a new optimiser."""
    import lsdl_ens.transfer.runs as runs

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
    s1, _ = T.train_cycle_member(sse[1], cache=cache, device="cpu")
    s2, extra = T.train_cycle_member(sse[2], cache=cache, device="cpu")
    assert len(starts) == 2 and len(extra["history"]["lr"]) == 1
    for k in s1:
        torch.testing.assert_close(starts[1][k], s1[k])  # chain, through the cache
    starts.clear()
    star = T.cycle_recipes(first_recipe, "starsse", 3, lr_mult=2.0, epoch_mult=0.5)
    T.train_cycle_member(star[2], cache=cache, device="cpu")
    assert len(starts) == 1  # a spoke needs no other spoke
    for k, v in first_model.state_dict().items():
        torch.testing.assert_close(starts[0][k], v)
    T.train_cycle_member(sse[2], cache=cache, device="cpu")  # cached: no training
    assert len(starts) == 1


def _loaded(state):
    m = tiny_cnn(0)
    m.load_state_dict(state)
    return m


# ----------------------------------------------------------------------------------------------- recipes
def test_local_and_global_de_use_the_right_backbones():
    p = get_profile("smoke", ensemble_size=4)
    local, glob = T.local_de_recipes(p), T.global_de_recipes(p)
    assert len(local) == len(glob) == 4
    assert all(T.backbone_of(r) == pretrain_recipe(p, 0) for r in local)
    assert [T.backbone_of(r) for r in glob] == [pretrain_recipe(p, b) for b in range(4)]
    assert len({r.seed for r in local}) == 4 and {r.seed for r in glob} == {0}
    assert local[0] == glob[0] == T.transfer_finetune_recipe(p, backbone_seed=0, seed=0)
    cost_l, cost_g = T.pretrain_cost(local), T.pretrain_cost(glob)
    assert cost_l["n_backbones"] == 1 and cost_g["n_backbones"] == 4
    assert cost_g["pretrain_images"] == 4 * cost_l["pretrain_images"] == 4 * p.pretrain_epochs * p.n_source
    with pytest.raises(ValueError, match="n_members"):
        T.local_de_recipes(p, 0)


def test_transfer_finetune_recipe_uses_the_chapter_sizes():
    cpu = get_profile("cpu")
    sizes = cpu.transfer
    r = T.transfer_finetune_recipe(cpu, backbone_seed=1, seed=2)
    assert (r.epochs, r.lr) == (sizes.finetune_epochs, sizes.finetune_lr)
    assert r == finetune_recipe(cpu, 1, 2, epochs=sizes.finetune_epochs, lr=sizes.finetune_lr)
    assert r.epochs != cpu.finetune_epochs  # the cpu chapter fine-tunes longer than the profile
    assert T.transfer_finetune_recipe(cpu, epochs=3).epochs == 3  # overrides win
    smoke = get_profile("smoke")
    assert smoke.transfer.finetune_epochs is None
    assert T.transfer_finetune_recipe(smoke) == finetune_recipe(smoke)  # None: the profile's recipe


def test_cycle_recipes_and_method_recipes():
    p = get_profile("cpu")
    first = T.transfer_finetune_recipe(p, 0, 0)
    rs = T.cycle_recipes(first, "starsse", 5, lr_mult=0.25, epoch_mult=0.5)
    assert rs[0] == first and len(rs) == 5
    assert [r.cycle.index for r in rs[1:]] == [1, 2, 3, 4]
    assert len({r.cycle.seed for r in rs[1:]}) == 4
    assert rs[1].cycle.lr == pytest.approx(0.25 * first.lr)
    assert rs[1].cycle.epochs == int(0.5 * first.epochs)
    assert T.backbone_of(rs[3]) == pretrain_recipe(p, 0)
    assert T.method_recipes("sse", p, (2.0, 1.0))[0] == T.method_recipes("local_de", p)[0] == first
    assert T.method_recipes("starsse", p, (2.0, 1.0))[1].first == first
    with pytest.raises(ValueError, match="setting"):
        T.method_recipes("sse", p)
    with pytest.raises(ValueError, match="method"):
        T.cycle_recipes(first, "fge", 3, lr_mult=1, epoch_mult=1)
    assert len(T.grid_settings(p)) == len(p.transfer.lr_mults) * len(p.transfer.epoch_mults)


def test_run_soup_grid_scores_the_soup_of_each_cells_members(monkeypatch):
    from lsdl_ens.transfer import grid

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
    res = T.run_soup_grid("starsse", p)
    assert set(res) == set(T.grid_settings(p)) and len(fake) == len(res)
    for cell, r in res.items():
        probs = fake[repr(T.soup_recipe(T.method_recipes("starsse", p, cell)))]
        for k in ("val", "test"):
            assert r[k + "_acc"] == pytest.approx((probs[k].argmax(-1) == y[k]).double().mean().item())
    best = T.select_settings(res)["optimal"]
    assert res[best]["val_acc"] == max(r["val_acc"] for r in res.values())


def test_select_settings():
    res = {(0.5, 0.5): {"val_acc": 0.70}, (0.5, 2.0): {"val_acc": 0.74}, (2.0, 1.0): {"val_acc": 0.75},
           (8.0, 2.0): {"val_acc": 0.60}, (8.0, 0.5): {"val_acc": 0.75}}
    sel = T.select_settings(res)
    assert sel == {"local": (0.5, 0.5), "optimal": (2.0, 1.0), "semi-local": (8.0, 2.0)}
    with pytest.raises(ValueError):
        T.select_settings({})


# ----------------------------------------------------------------------------------------------- metrics
def test_ensemble_curve_diversity_and_ood_accuracy():
    g = torch.Generator().manual_seed(0)
    probs = torch.randn(4, 50, 5, generator=g).softmax(-1)
    y = torch.randint(0, 5, (50,), generator=g)
    curve = T.ensemble_curve(probs, y)
    for k in range(1, 5):
        manual = (probs[:k].mean(0).argmax(-1) == y).double().mean().item()
        assert curve[k - 1] == pytest.approx(manual)
    nll_curve = T.ensemble_curve(probs, y, "nll")
    assert nll_curve[2] == pytest.approx(-probs[:3].mean(0)[torch.arange(50), y].log().mean().item(), rel=1e-6)
    assert T.member_diversity(probs, y) == pytest.approx(metrics.diversity([p.argmax(-1) for p in probs], y))
    ood = [torch.randn(5, 3, 50, 5, generator=g).softmax(-1) for _ in range(2)]
    acc = T.ood_accuracy(ood, y)
    mean = (ood[0] + ood[1]) / 2
    for s in range(5):
        manual = np.mean([(mean[s, c].argmax(-1) == y).double().mean().item() for c in range(3)])
        assert acc[s] == pytest.approx(manual)
    with pytest.raises(ValueError):
        T.member_diversity(probs[:1], y)
    with pytest.raises(ValueError):
        T.ensemble_curve(probs[0], y)


def test_sizes_table():
    for name in ("smoke", "cpu", "gpu"):
        s = get_profile(name).transfer
        assert s.n_ood > 0 and s.plane_grid >= 2 and s.n_alphas >= 3 and 2 <= s.n_global
        assert len(T.method_recipes("global_de", name)) == s.n_global
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
    recipe = T.transfer_finetune_recipe(p)
    cache = CheckpointCache(tmp_path)  # a stand-in trained member, and nothing else
    cache.save("train", recipe, build_from_recipe(recipe).state_dict(), {"history": History().as_dict()})
    probs = T.member_probs(recipe, p, cache=cache, device="cpu")
    assert probs["val"].shape == (len(split.target_val), 5) and probs["test"].shape == (len(split.target_test), 5)
    assert len(T.ood_labels(p)) == len(split.target_test)
