"""cSGLD: the optimiser's noise against sqrt(2 lr T / N) (statistically), SGD equivalence while exploring, stages
and sample points (seconds)."""

import math

import pytest
import torch

from lsdl_ens.data import BatchLoader
from lsdl_ens.ensembles import CyclicalSGLD
from lsdl_ens.ensembles import csgld as C
from lsdl_ens.schedules import sse_lr

from _tiny import blob_images, tiny_cnn, one_thread  # noqa: F401  (one_thread is an autouse fixture)


@pytest.mark.parametrize("lr, n_data, temperature", [(0.1, 50_000, 1.0), (0.5, 1_000, 0.3), (1e-3, 10, 2.0)])
def test_noise_variance_matches_the_formula(lr, n_data, temperature):
    """With a zero gradient every step moves each parameter by pure noise of variance 2 lr T / N."""
    p = torch.nn.Parameter(torch.zeros(20_000, dtype=torch.float64))
    opt = CyclicalSGLD([p], lr=lr, n_data=n_data, temperature=temperature,
                       generator=torch.Generator().manual_seed(0))
    opt.sampling = True
    steps = []
    for _ in range(10):
        before = p.detach().clone()
        p.grad = torch.zeros_like(p)
        opt.step()
        steps.append(p.detach() - before)
    inc = torch.cat(steps)                                    # n = 200k increments
    n, var = inc.numel(), 2 * lr * temperature / n_data
    assert opt.noise_std() == pytest.approx(math.sqrt(var))
    # sample variance of n Gaussians has relative std sqrt(2 / n) (0.3%); the mean has std sqrt(var / n)
    assert abs(inc.var().item() / var - 1) < 5 * math.sqrt(2 / n)
    assert abs(inc.mean().item()) < 5 * math.sqrt(var / n)
    # Gaussian shape: kurtosis 3
    z = inc / math.sqrt(var)
    assert abs((z ** 4).mean().item() - 3) < 5 * math.sqrt(96 / n)


def test_exploration_is_plain_sgd_without_momentum():
    torch.manual_seed(0)
    a, b = tiny_cnn(), tiny_cnn()
    opt_a = CyclicalSGLD(a.parameters(), lr=0.05, n_data=100, weight_decay=5e-4)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.0, weight_decay=5e-4)
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8)
    for _ in range(3):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


def test_sampling_step_is_the_sgld_formula_with_reproducible_noise():
    p = torch.nn.Parameter(torch.randn(5, 3))
    g = torch.randn(5, 3)
    start = p.detach().clone()
    opt = CyclicalSGLD([p], lr=0.2, n_data=40, temperature=0.5, weight_decay=0.01,
                       generator=torch.Generator().manual_seed(7))
    opt.sampling = True
    p.grad = g.clone()
    opt.step()
    xi = torch.randn(5, 3, generator=torch.Generator().manual_seed(7))
    expected = start - 0.2 * (g + 0.01 * start) + math.sqrt(2 * 0.2 * 0.5 / 40) * xi
    torch.testing.assert_close(p.detach(), expected)
    state = opt.state_dict()
    assert state["sampling"] is True
    other = CyclicalSGLD([torch.nn.Parameter(torch.zeros(5, 3))], lr=1.0, n_data=1)
    other.load_state_dict(state)
    assert other.sampling and other.param_groups[0]["n_data"] == 40


@pytest.mark.parametrize("kw, exception, message", [
    (dict(lr=-1.0, n_data=10), ValueError, "lr must be >= 0"),
    (dict(lr=0.1, n_data=0), ValueError, "n_data must be an integer >= 1"),
    (dict(lr=0.1, n_data=2.5), TypeError, "n_data must be an integer >= 1"),
    (dict(lr=0.1, n_data=10, temperature=-1), ValueError, "temperature must be"),
    (dict(lr=0.1, n_data=10, weight_decay=-1), ValueError, "weight_decay must be"),
])
def test_argument_checks(kw, exception, message):
    with pytest.raises(exception, match=message):
        CyclicalSGLD([torch.nn.Parameter(torch.zeros(2))], **kw)


def test_stages_and_sample_points():
    total, cycles, beta = 120, 4, 0.8
    assert C.csgld_lr(37, total, cycles, 0.5) == sse_lr(37, total, cycles, 0.5)
    assert C.cycle_position(0, total, cycles) == 0 and C.cycle_position(29, total, cycles) == pytest.approx(29 / 30)
    its = C.csgld_sample_iterations(total, cycles, beta, 3)
    assert len(its) == 12 and its[2::3] == [29, 59, 89, 119]
    assert all(C.cycle_position(i, total, cycles) >= beta for i in its)
    assert its == sorted(set(its))
    with pytest.raises(ValueError, match="samples_per_cycle"):
        C.csgld_sample_iterations(total, cycles, 0.95, 3)
    with pytest.raises(ValueError, match="beta"):
        C.csgld_sample_iterations(total, cycles, 1.0, 1)


def test_run_csgld_adds_noise_only_while_sampling_and_collects_only_then():
    loader = BatchLoader(blob_images(64), 16, shuffle=True, augment=True, drop_last=True, seed=0)
    total, cycles, beta = 8 * 4, 2, 0.75
    flags = []
    original = CyclicalSGLD.step

    def spy(self, closure=None):
        flags.append(self.sampling)
        return original(self, closure)

    CyclicalSGLD.step = spy
    try:
        col, opt = C.run_csgld(tiny_cnn(), loader, epochs=8, n_cycles=cycles, lr_0=0.05, beta=beta,
                               samples_per_cycle=2, temperature=1.0)
    finally:
        CyclicalSGLD.step = original
    expected = [C.cycle_position(k, total, cycles) >= beta for k in range(total)]
    assert flags == expected and sum(flags) == 8
    assert all(expected[i] for i in col.iterations) and len(col) == 4
    assert opt.param_groups[0]["n_data"] == 64
