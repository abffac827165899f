"""Tests for lsdl_ens.ensembles.swag: Welford moments against direct formulas, the sample covariance against
scale * (diag + D^T D / (K - 1)) over many samples, rank handling, the fit callback, BMA with BN recompute."""

import math

import pytest
import torch

from _tiny import blob_images, image_batches, one_thread, tiny_cnn, tiny_mlp  # noqa: F401
from lsdl_ens.ensembles import SWAG
from lsdl_ens.ensembles.swag import SWAGCallback, bma_predict
from lsdl_ens.train import fit


def _collect(model, thetas, max_rank):
    swag = SWAG(model, max_rank=max_rank)
    for theta in thetas:
        torch.nn.utils.vector_to_parameters(theta.float(), model.parameters())
        swag.collect(model)
    return swag


def test_moments_match_direct_formulas():
    model = tiny_mlp(hidden=(3,))
    p = sum(q.numel() for q in model.parameters())
    g = torch.Generator().manual_seed(0)
    thetas = [100 + torch.randn(p, generator=g, dtype=torch.float64) for _ in range(7)]
    thetas = [t.float().double() for t in thetas]  # what the model can hold
    swag = _collect(model, thetas, max_rank=4)
    stack = torch.stack(thetas)
    torch.testing.assert_close(swag.mean, stack.mean(0))
    torch.testing.assert_close(swag.variance, stack.var(0, unbiased=False), rtol=1e-9, atol=1e-12)
    # deviations: theta_i - running mean after i, last K = 4 of them
    expected = torch.stack([stack[i] - stack[:i + 1].mean(0) for i in range(3, 7)])
    torch.testing.assert_close(swag.deviations, expected)
    assert swag.rank == 4 and swag.n_models == 7


@pytest.mark.parametrize("diag_only", [False, True])
def test_sample_covariance_matches_formula(diag_only):
    model = tiny_mlp(hidden=(2,))           # 2*2+2 + 2*2+2 = 12 parameters
    p = sum(q.numel() for q in model.parameters())
    g = torch.Generator().manual_seed(1)
    thetas = [torch.randn(p, generator=g, dtype=torch.float64) * (1 + torch.arange(p) / p) for _ in range(6)]
    swag = _collect(model, [t.float().double() for t in thetas], max_rank=20)
    scale = 0.5
    var, dev, k = swag.variance, swag.deviations, swag.rank
    expected = scale * torch.diag(var) if diag_only else scale * (torch.diag(var) + dev.T @ dev / (k - 1))
    gen = torch.Generator().manual_seed(2)
    samples = torch.stack([swag.sample(scale, diag_only, gen) for _ in range(30_000)])
    torch.testing.assert_close(samples.mean(0), swag.mean, atol=0.03, rtol=0)
    cov = torch.cov(samples.T)
    err = (cov - expected).abs().max() / expected.diag().max()
    assert err < 0.05, f"sample covariance off by {err:.3f} of the largest variance"
    torch.testing.assert_close(expected, swag.covariance(scale, diag_only))


def test_rank_uses_stored_rows_and_scale_zero_is_swa():
    model = tiny_mlp(hidden=(2,))
    p = sum(q.numel() for q in model.parameters())
    g = torch.Generator().manual_seed(3)
    swag = _collect(model, [torch.randn(p, generator=g, dtype=torch.float64) for _ in range(3)], max_rank=20)
    assert swag.rank == 3  # fewer than max_rank: divide by sqrt(3 - 1)
    cov = swag.covariance(1.0)
    dev = swag.deviations
    torch.testing.assert_close(cov, torch.diag(swag.variance) + dev.T @ dev / 2)
    torch.testing.assert_close(swag.sample(0.0), swag.mean)
    diag_only = SWAG(model, max_rank=0)
    diag_only.collect(model)
    assert diag_only.deviations.shape == (0, p)


def test_float64_moments_survive_large_offsets():
    """E[x^2] - E[x]^2 in float32 would cancel for a mean of 1e4 and spread 1e-2; Welford in float64 does not."""
    model = tiny_mlp(hidden=(2,))
    p = sum(q.numel() for q in model.parameters())
    thetas = [torch.full((p,), 1e4) + 1e-2 * (i % 2) for i in range(10)]
    swag = _collect(model, thetas, max_rank=2)
    expected = torch.stack([t.double() for t in thetas]).var(0, unbiased=False)
    torch.testing.assert_close(swag.variance, expected, rtol=1e-3, atol=0)


def test_load_sample_and_errors():
    model = tiny_cnn()
    swag = SWAG(model, max_rank=5)
    with pytest.raises(ValueError, match="collect"):
        swag.sample()
    swag.collect(model)
    flat = swag.sample(generator=torch.Generator().manual_seed(0))
    swag.load_sample(model, flat)
    got = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
    torch.testing.assert_close(got, flat.float())
    with pytest.raises(ValueError, match="flat"):
        swag.load_sample(model, flat[:-1])
    with pytest.raises(ValueError, match="max_rank"):
        SWAG(model, max_rank=-1)
    other = SWAG(model, max_rank=5).load_state_dict(swag.state_dict())
    torch.testing.assert_close(other.mean, swag.mean)


def test_callback_collects_once_per_epoch_after_swa_start_and_bma():
    data = blob_images(n=48, seed=0)
    model = tiny_cnn(seed=0)
    swag = SWAG(model, max_rank=20)
    fit(model, data, epochs=4, lr_schedule=0.05, batch_size=16, callbacks=[SWAGCallback(swag, swa_start=1)])
    assert swag.n_models == 3 and swag.rank == 3
    last = torch.cat([q.detach().reshape(-1) for q in model.parameters()]).double()
    torch.testing.assert_close(swag.deviations[-1], last - swag.mean)
    bn_batches = image_batches(data, batch_size=16, augment=True)
    probs = bma_predict(swag, model, data, bn_batches, n_samples=3, return_all=True)
    assert probs.shape == (3, 48, 10) and torch.allclose(probs.sum(-1), torch.ones(3, 48))
    with pytest.raises(ValueError, match="bn_data"):
        bma_predict(swag, model, data, None, n_samples=1)
    assert not math.isnan(probs.mean().item())
