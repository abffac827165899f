"""SSE and FGE snapshots: collection points against the closed-form schedules, the drivers against hand-written peer
loops, and the cached runs (prefix property, 80% start, no-cycle trajectory) on synthetic data (seconds)."""

import copy
import math

import pytest
import torch

from lsdl_ens.data import BatchLoader
from lsdl_ens.ensembles import SnapshotCollector
from lsdl_ens.experiments import ensembles_snapshots as R
from lsdl_ens.ensembles import snapshots as S
from lsdl_ens.recipes import standard_recipe, training_loader
from lsdl_ens.schedules import fge_lr, sse_lr
from lsdl_ens.train import fit

from _tiny import blob_images, tiny_cnn, one_thread  # noqa: F401  (one_thread is an autouse fixture)


def _loader(n=96, seed=0):
    return BatchLoader(blob_images(n, seed=seed), 16, shuffle=True, augment=True, drop_last=True, seed=seed)


def _peer_sgd(model, loader, iterations, lr_of, wd, start_momentum=None, seed=0, collect=()):
    """Reference loop: SGD-Nesterov written out (d = g + wd w; b = 0.9 b + d; w -= lr (d + 0.9 b))."""
    params = [p for p in model.parameters()]
    bufs = [None] * len(params) if start_momentum is None else [b.clone() for b in start_momentum]
    snaps, k = [], 0
    epoch = 0
    while k < iterations:
        for x, y in loader.iterate(epoch=epoch, seed=seed):
            model.train()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            grads = torch.autograd.grad(loss, params)
            lr = lr_of(k)
            with torch.no_grad():
                for i, (p, g) in enumerate(zip(params, grads)):
                    d = g + wd * p
                    bufs[i] = d.clone() if bufs[i] is None else 0.9 * bufs[i] + d
                    p -= lr * (d + 0.9 * bufs[i])
            if k in collect:
                snaps.append(copy.deepcopy(model.state_dict()))
            k += 1
            if k == iterations:
                break
        epoch += 1
    return snaps


def test_sse_snapshots_are_at_cycle_ends_of_the_closed_form():
    for total, cycles in [(100, 4), (103, 4), (60, 5), (7, 7)]:
        its = S.sse_snapshot_iterations(total, cycles)
        assert len(its) == cycles and its[-1] == total - 1
        c = total / cycles
        for j, i in enumerate(its):
            assert j * c <= i < (j + 1) * c                       # inside cycle j ...
            assert not (i + 1 < (j + 1) * c)                      # ... and its last iteration
            lr = sse_lr(i, total, cycles, 1.0)
            assert lr == min(sse_lr(k, total, cycles, 1.0) for k in range(math.ceil(j * c), i + 1))
            if i + 1 < total:
                assert sse_lr(i + 1, total, cycles, 1.0) > 0.9   # the next step restarts
    with pytest.raises(ValueError, match="n_cycles"):
        S.sse_snapshot_iterations(3, 5)


def test_fge_snapshots_are_at_the_learning_rate_minimum():
    c, l1, l2 = 10, 0.01, 0.0005
    its = S.fge_snapshot_iterations(47, c)
    assert its == [5, 15, 25, 35, 45]
    assert all(fge_lr(i, c, l1, l2) == pytest.approx(l2) for i in its)
    assert all(fge_lr(i, c, l1, l2) == min(fge_lr(k, c, l1, l2) for k in range(i - 5, i + 5)) for i in its)
    with pytest.raises(ValueError, match="cycle_iterations"):
        S.fge_snapshot_iterations(10, 1)


def test_collector_copies_states_at_the_chosen_iterations_inside_fit():
    model = tiny_cnn()
    col = SnapshotCollector([0, 5, 11], optimizer_state=True)
    fit(model, _loader(), epochs=2, lr_schedule=lambda s: 0.01 * (s.iteration + 1), callbacks=[col])
    assert col.iterations == [0, 5, 11] and col.lrs == pytest.approx([0.01, 0.06, 0.12])
    assert len(col.optimizer_states) == 3 and "momentum_buffer" in col.optimizer_states[0]["state"][0]
    final = model.state_dict()
    assert torch.equal(col.states[-1]["head.weight"], final["head.weight"])      # last step of the run
    assert not torch.equal(col.states[0]["head.weight"], final["head.weight"])   # a copy, not a view
    nets = col.models(tiny_cnn(seed=5))
    assert torch.equal(nets[1].head.weight, col.states[1]["head.weight"]) and not nets[1].training
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        SnapshotCollector([-1])


def test_run_sse_matches_a_peer_loop():
    loader, total, cycles, lr_max, wd = _loader(), 18, 3, 0.05, 5e-4
    a, b = tiny_cnn(), tiny_cnn()
    col = S.run_sse(a, loader, epochs=3, n_cycles=cycles, lr_max=lr_max, weight_decay=wd)
    c = total / cycles
    peer = _peer_sgd(b, loader, total, lambda k: lr_max / 2 * (1 + math.cos(math.pi * (k % c) / c)), wd,
                     collect={5, 11, 17})
    assert col.iterations == [5, 11, 17]
    for mine, ref in zip(col.states, peer):
        for key in ref:
            torch.testing.assert_close(mine[key].float(), ref[key].float(), rtol=1e-4, atol=1e-5)


def test_run_fge_restores_momentum_and_stops_mid_epoch():
    loader, wd = _loader(), 5e-4
    start = tiny_cnn()
    fit(start, loader, epochs=1, lr_schedule=0.05, weight_decay=wd)  # a "checkpoint" ...
    opt = torch.optim.SGD(start.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=wd)
    momentum = [torch.randn_like(p) * 0.01 for p in start.parameters()]  # ... with some momentum
    state = opt.state_dict()
    state["state"] = {i: {"momentum_buffer": m} for i, m in enumerate(momentum)}
    a, b = copy.deepcopy(start), copy.deepcopy(start)
    col = S.run_fge(a, loader, iterations=15, cycle_iterations=4, lr_1=0.02, lr_2=0.001, weight_decay=wd,
                    optimizer_state=state)
    assert col.iterations == [2, 6, 10, 14] and col.lrs == pytest.approx([0.001] * 4)

    def tri(k):
        t = (k % 4) / 4
        return (1 - 2 * t) * 0.02 + 2 * t * 0.001 if t < 0.5 else (2 * t - 1) * 0.02 + (2 - 2 * t) * 0.001

    peer = _peer_sgd(b, loader, 15, tri, wd, start_momentum=momentum, collect={2, 6, 10, 14})
    for mine, ref in zip(col.states, peer):
        torch.testing.assert_close(mine["head.weight"], ref["head.weight"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.head.weight, b.head.weight, rtol=1e-4, atol=1e-5)  # stopped after 15 steps


@pytest.fixture
def tiny_profile_runs(tmp_cache):
    """Cached runs on blobs: the recipe machinery on a synthetic data source (96 blob images)."""
    base = standard_recipe("smoke", 0, model_kw={"widths": [4, 8, 8, 8]}, epochs=4, batch_size=16,
                           data={"source": "synthetic", "n_train": 96})
    return base


def test_cached_sse_budget_one_is_a_prefix_of_budget_two(tiny_profile_runs):
    base = tiny_profile_runs
    two = R.train_sse(R.SSERecipe(base=base, budget=2, n_cycles=4, lr_max=0.05))
    one = R.train_sse(R.SSERecipe(base=base, budget=1, n_cycles=2, lr_max=0.05))
    assert two.costs == pytest.approx([0.5, 1.0, 1.5, 2.0]) and two.within(1.0) == [0, 1]
    for i in range(2):
        torch.testing.assert_close(one.states[i]["head.weight"], two.states[i]["head.weight"])
    again = R.train_sse(R.SSERecipe(base=base, budget=2, n_cycles=4, lr_max=0.05))
    assert torch.equal(again.states[3]["head.weight"], two.states[3]["head.weight"])  # read from the cache
    assert len(two.models()) == 4


def test_cached_fge_starts_at_eighty_percent_of_the_standard_run(tiny_profile_runs):
    base = tiny_profile_runs
    traj_recipe = R.TrajectoryRecipe(base=base, start_fraction=0.8, every_epochs=2)
    traj = R.train_trajectory(traj_recipe)
    per_budget = traj["iterations_per_budget"]
    assert per_budget == 4 * 6 and traj["start_iteration"] == round(0.8 * 24) - 1
    assert traj["checkpoint_iterations"] == [11, 23]
    assert len(traj["start_momentum"]) == len(list(tiny_cnn().parameters()))
    # the trajectory is the standard run: same init, data order, optimiser and cosine schedule
    from lsdl_ens.recipes import build_from_recipe, make_schedule
    ref = build_from_recipe(base)
    fit(ref, training_loader(base, 0), epochs=4, lr_schedule=make_schedule("cosine", epochs=4, lr=base.lr),
        weight_decay=base.weight_decay, seed=0)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, traj["checkpoints"][-1][k]), k
    recipe = R.FGERecipe(trajectory=traj_recipe, base=base, budget=2, cycle=0.25, lr_1=0.01, lr_2=0.0005)
    run = R.train_fge(recipe)
    assert run.extra["start_iterations"] == 19 and run.extra["cycle_iterations"] == 6
    assert run.iterations == [3, 9, 15, 21, 27] and run.lrs == pytest.approx([0.0005] * 5)
    assert run.costs[0] == pytest.approx((19 + 4) / 24) and run.costs[-1] <= 2.0
    assert run.within(1.0) == [0]
