"""Lookaround: one head = SGD (with momentum, weight decay, Nesterov); the average step against a hand-rolled
per-head reference; per-head momentum; state_dict round trip; multiview_step with fit; argument checks."""

import copy

import pytest
import torch
from torch import nn

from _tiny import toy_classifier
from lsdl_ens.optim import Lookaround, multiview_step


def _toy(seed=0):
    return toy_classifier(seed)


def _grad_step(model, opt, x, y, t):
    idx = torch.arange(16) + (t * 16) % 48
    opt.zero_grad()
    nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
    opt.step()


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("nesterov,wd", [(False, 0.0), (True, 5e-4), (False, 1e-3)])
def test_one_head_is_sgd(nesterov, wd):
    model_a, x, y = _toy()
    model_b = copy.deepcopy(model_a)
    la = Lookaround(model_a.parameters(), lr=0.1, n_heads=1, k=3, momentum=0.9, weight_decay=wd, nesterov=nesterov)
    sgd = torch.optim.SGD(model_b.parameters(), lr=0.1, momentum=0.9, weight_decay=wd, nesterov=nesterov)
    for t in range(12):
        _grad_step(model_a, la, x, y, t)
        _grad_step(model_b, sgd, x, y, t)
        torch.testing.assert_close(_params(model_a), _params(model_b), atol=1e-7, rtol=1e-6)


def test_heads_and_average_match_a_direct_implementation():
    """d = 3 heads, k = 2: head j steps with its own momentum; after 6 steps all heads are their mean."""
    d, k, lr, mu = 3, 2, 0.1, 0.9
    model, x, y = _toy()
    opt = Lookaround(model.parameters(), lr=lr, n_heads=d, k=k, momentum=mu)
    ref_model = copy.deepcopy(model)
    theta0 = [p.detach().clone() for p in ref_model.parameters()]
    heads = [[t.clone() for t in theta0] for _ in range(d)]
    bufs = [[torch.zeros_like(t) for t in theta0] for _ in range(d)]

    def ref_step(j, t):
        with torch.no_grad():
            for p, h in zip(ref_model.parameters(), heads[j]):
                p.copy_(h)
        ref_model.zero_grad()
        idx = torch.arange(16) + (t * 16) % 48
        nn.functional.cross_entropy(ref_model(x[idx]), y[idx]).backward()
        for h, b, p in zip(heads[j], bufs[j], ref_model.parameters()):
            b.mul_(mu).add_(p.grad)
            h.sub_(lr * b)

    for t in range(2 * k * d + 2):
        assert opt.head_index == t % d
        _grad_step(model, opt, x, y, t)
        ref_step(t % d, t)
        if (t + 1) % (k * d) == 0:
            mean = [torch.stack(ts).mean(0) for ts in zip(*heads)]
            heads = [[m.clone() for m in mean] for _ in range(d)]
            torch.testing.assert_close(_params(model), torch.cat([m.flatten() for m in mean]))
        live = torch.cat([h.flatten() for h in heads[(t + 1) % d]])
        torch.testing.assert_close(_params(model), live, atol=1e-6, rtol=1e-5)
    # momentum stays per head: the three buffers differ
    first = next(iter(model.parameters()))
    buf = opt.state[first]["momentum_buffer"]
    assert not torch.allclose(buf[0], buf[1])
    # swap_to_average shows the mean of the heads, then restores the live head
    live = _params(model).clone()
    with opt.swap_to_average():
        mean = torch.cat([torch.stack(ts).mean(0).flatten() for ts in zip(*heads)])
        torch.testing.assert_close(_params(model), mean, atol=1e-6, rtol=1e-5)
    assert torch.equal(_params(model), live)


def test_state_dict_round_trip_resumes_exactly():
    model_a, x, y = _toy()
    opt_a = Lookaround(model_a.parameters(), lr=0.1, n_heads=3, k=2, weight_decay=1e-4)
    for t in range(4):
        _grad_step(model_a, opt_a, x, y, t)
    saved_model, saved_opt = copy.deepcopy(model_a.state_dict()), copy.deepcopy(opt_a.state_dict())
    for t in range(4, 13):
        _grad_step(model_a, opt_a, x, y, t)

    model_b, _, _ = _toy(seed=3)
    model_b.load_state_dict(saved_model)
    opt_b = Lookaround(model_b.parameters(), lr=0.1, n_heads=3, k=2, weight_decay=1e-4)
    opt_b.load_state_dict(saved_opt)
    assert opt_b.head_index == 1
    for t in range(4, 13):
        _grad_step(model_b, opt_b, x, y, t)
    assert torch.equal(_params(model_a), _params(model_b))
    with pytest.raises(ValueError, match="heads"):
        Lookaround(model_b.parameters(), lr=0.1, n_heads=2).load_state_dict(saved_opt)


def test_multiview_step_with_fit_and_scheduler():
    from lsdl_ens.data import BatchLoader, ImageSet
    from lsdl_ens.train import fit

    torch.manual_seed(0)
    data = ImageSet(torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8), torch.randint(0, 10, (64,)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 10))
    opt = Lookaround(model.parameters(), lr=0.1, n_heads=2, k=2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = BatchLoader(data, 16, shuffle=True, augment=True, views=2, drop_last=True, crop_padding=1)
    history = fit(model, loader, epochs=2, optimizer=opt, lr_schedule=lambda s: 0.1 / (1 + s.iteration),
                  train_step=multiview_step, progress=False)
    assert opt.step_count == 2 * 4 * 2  # 2 epochs x 4 batches x 2 views
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / 8)
    assert len(history.train_loss) == 2
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / 16)
    wrong = BatchLoader(data, 16, shuffle=True, augment=True, views=3)
    with pytest.raises(ValueError, match="views=2"):
        multiview_step(model, next(iter(wrong)), opt)


def test_argument_checks():
    model, _, _ = _toy()
    with pytest.raises(ValueError, match="n_heads"):
        Lookaround(model.parameters(), lr=0.1, n_heads=0)
    with pytest.raises(ValueError, match="k must"):
        Lookaround(model.parameters(), lr=0.1, k=0)
    with pytest.raises(ValueError, match="nesterov"):
        Lookaround(model.parameters(), lr=0.1, momentum=0.0, nesterov=True)
