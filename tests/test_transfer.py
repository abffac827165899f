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
from lsdl_ens.data import BatchLoader
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


# ----------------------------------------------------------------------------------------------- grid selection
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




# ----------------------------------------------------------------------------------------------- soups
def test_soup_model_averages_weights_and_recomputes_bn():
    """The soup is the mean of the members' floating entries, with BN statistics from the recipe's training batches
    (compared with a hand-written mean and `update_bn` on the same batches)."""
    from lsdl_ens.bn import update_bn
    from lsdl_ens.recipes import build_from_recipe, finetune_recipe

    base = finetune_recipe("smoke", batch_size=16, data={"source": "synthetic", "n_target": 32, "seed": 1})
    states = [build_from_recipe(base).state_dict() for _ in range(2)]
    for i, s in enumerate(states):
        for k, v in s.items():
            if v.is_floating_point():
                s[k] = v + 0.01 * (i + 1) * torch.randn_like(v)
    soup = T.soup_model(states, base, bn_seed=3, device="cpu")
    expected = build_from_recipe(base)
    expected.load_state_dict({k: (states[0][k] + states[1][k]) / 2 if v.is_floating_point() else v
                              for k, v in states[0].items()})
    update_bn(expected, T.bn_loader(base, 3).iterate(epoch=0), device="cpu")
    for k, v in expected.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(soup.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    bn_mean = next(k for k in states[0] if k.endswith("running_mean"))
    assert not torch.allclose(soup.state_dict()[bn_mean], (states[0][bn_mean] + states[1][bn_mean]) / 2)
    with pytest.raises(TypeError, match="base"):
        T.soup_model(states, {"not": "a recipe"})


def test_grid_corners():
    cells = [(0.25, 1.0), (4.0, 0.5), (8.0, 1.0), (1.0, 0.25)]
    assert T.grid_corners(cells) == {"local": (0.25, 1.0), "semi-local": (8.0, 1.0)}  # a tie goes to the lower LR
    with pytest.raises(ValueError, match="cells"):
        T.grid_corners([])
