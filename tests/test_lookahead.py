"""Lookahead: step-for-step agreement with pytorch-optimizer's Lookahead, alpha = 1 = inner optimizer, the sync
formula, state_dict round trip, schedulers, swap_to_slow, argument checks."""

import copy

import pytest
import torch
from torch import nn

from _tiny import toy_classifier
from lsdl_ens.optim import Lookahead


def _toy(seed=0):
    return toy_classifier(seed)


def _loss(model, x, y, t):
    idx = torch.arange(16) + (t * 16) % 48
    return nn.functional.cross_entropy(model(x[idx]), y[idx])


def _run(model, opt, x, y, steps, start=0):
    for t in range(start, start + steps):
        opt.zero_grad()
        _loss(model, x, y, t).backward()
        opt.step()


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("momentum", ["none", "reset", "pullback"])
@pytest.mark.parametrize("k,alpha", [(5, 0.5), (3, 0.8)])
def test_matches_pytorch_optimizer_step_for_step(momentum, k, alpha):
    from pytorch_optimizer import Lookahead as PeerLookahead

    model_a, x, y = _toy()
    model_b = copy.deepcopy(model_a)
    ours = Lookahead(torch.optim.SGD(model_a.parameters(), lr=0.1, momentum=0.9), k=k, alpha=alpha,
                     momentum=momentum)
    peer = PeerLookahead(torch.optim.SGD(model_b.parameters(), lr=0.1, momentum=0.9), k=k, alpha=alpha,
                         pullback_momentum=momentum)
    for t in range(4 * k + 2):
        _run(model_a, ours, x, y, 1, start=t)
        _run(model_b, peer, x, y, 1, start=t)
        torch.testing.assert_close(_params(model_a), _params(model_b), atol=1e-6, rtol=1e-5)
    # slow weights agree too
    peer_slow = torch.cat([peer.state[p]["slow_params"].flatten() for p in model_b.parameters()])
    ours_slow = torch.cat([ours.state[p]["slow_param"].flatten() for p in model_a.parameters()])
    torch.testing.assert_close(ours_slow, peer_slow, atol=1e-6, rtol=1e-5)


def test_alpha_one_is_the_inner_optimizer():
    model_a, x, y = _toy()
    model_b = copy.deepcopy(model_a)
    la = Lookahead(torch.optim.Adam(model_a.parameters(), lr=0.01), k=3, alpha=1.0)
    adam = torch.optim.Adam(model_b.parameters(), lr=0.01)
    _run(model_a, la, x, y, 10)
    _run(model_b, adam, x, y, 10)
    assert torch.equal(_params(model_a), _params(model_b))


def test_sync_formula_and_timing():
    model, x, y = _toy()
    phi0 = _params(model).clone()
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=4, alpha=0.3)
    ref = copy.deepcopy(model)
    sgd = torch.optim.SGD(ref.parameters(), lr=0.1)
    _run(model, opt, x, y, 3)
    _run(ref, sgd, x, y, 3)
    assert torch.equal(_params(model), _params(ref))  # no sync before step k
    _run(model, opt, x, y, 1, start=3)
    _run(ref, sgd, x, y, 1, start=3)
    expected = phi0 + 0.3 * (_params(ref) - phi0)
    torch.testing.assert_close(_params(model), expected)
    with opt.swap_to_slow():
        torch.testing.assert_close(_params(model), expected)


def test_swap_to_slow_restores_fast_weights():
    model, x, y = _toy()
    phi0 = _params(model).clone()
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=5)
    _run(model, opt, x, y, 2)
    fast = _params(model).clone()
    with opt.swap_to_slow():
        assert torch.equal(_params(model), phi0)
    assert torch.equal(_params(model), fast)


def test_state_dict_round_trip_resumes_exactly():
    model_a, x, y = _toy()
    opt_a = Lookahead(torch.optim.SGD(model_a.parameters(), lr=0.1, momentum=0.9), k=5, alpha=0.5,
                      momentum="pullback")
    _run(model_a, opt_a, x, y, 7)  # mid-cycle: slow weights differ from fast
    saved_model = copy.deepcopy(model_a.state_dict())
    saved_opt = copy.deepcopy(opt_a.state_dict())
    _run(model_a, opt_a, x, y, 9, start=7)

    model_b, _, _ = _toy(seed=1)
    model_b.load_state_dict(saved_model)
    opt_b = Lookahead(torch.optim.SGD(model_b.parameters(), lr=0.1, momentum=0.9), k=5, alpha=0.5,
                      momentum="pullback")
    opt_b.load_state_dict(saved_opt)
    _run(model_b, opt_b, x, y, 9, start=7)
    assert torch.equal(_params(model_a), _params(model_b))
    with pytest.raises(ValueError, match="not a Lookahead state dict"):
        opt_b.load_state_dict(opt_b.base_optimizer.state_dict())


def test_schedulers_and_param_groups_drive_the_inner_optimizer():
    model, x, y = _toy()
    base = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = Lookahead(base, k=2)
    assert isinstance(opt, torch.optim.Optimizer)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _run(model, opt, x, y, 1)
    sched.step()
    assert base.param_groups[0]["lr"] == pytest.approx(0.05)
    opt.param_groups[0]["lr"] = 0.01  # what fit() does every iteration
    assert base.param_groups[0]["lr"] == 0.01


def test_fit_trains_with_lookahead():
    from lsdl_ens.data import ImageSet
    from lsdl_ens.train import fit

    torch.manual_seed(0)
    data = ImageSet(torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8), torch.randint(0, 10, (64,)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 10))
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=3, alpha=0.5)
    fit(model, data, epochs=2, optimizer=opt, lr_schedule=0.05, batch_size=16, progress=False)
    assert opt.param_groups[0]["lr"] == 0.05


def test_argument_checks():
    model, _, _ = _toy()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="k must be"):
        Lookahead(sgd, k=0)
    with pytest.raises(ValueError, match="alpha must"):
        Lookahead(sgd, alpha=0.0)
    with pytest.raises(ValueError, match="momentum must"):
        Lookahead(sgd, momentum="keep")
    with pytest.raises(ValueError, match="base_optimizer"):
        Lookahead(model.parameters())
