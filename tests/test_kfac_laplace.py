"""Tests for lsdl_ens.ensembles.kfac_laplace: factors equal explicit outer products, sampling covariance equals the
inverse posterior precision, and the last-layer posterior/predictive agrees with laplace-torch (test-only
dependency `laplace-torch`)."""

import copy

import pytest
import torch
import torch.nn.functional as F

from _tiny import blob_images, full_batch_sgd, image_batches, one_thread, tiny_cnn  # noqa: F401
from lsdl_ens.ensembles import KFACLaplace
from lsdl_ens.ensembles.kfac_tuning import tune_prior_precision


def _trained_cnn(bn=True, steps=60, seed=0):
    model = tiny_cnn(seed=seed, bn=bn)
    batches = image_batches(blob_images(n=64, seed=seed), batch_size=64)
    x, y = batches[0]
    return full_batch_sgd(model, x, y, steps)


def _explicit_factors(model, x, y):
    """A, G per layer from per-example autograd and hand-made 3x3 patches (no unfold, no hooks in the library)."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    out = {}
    inputs, outputs = {}, {}

    def hook(name):
        def f(mod, inp, output):
            inputs[name] = inp[0].detach().clone()
            output.retain_grad()
            outputs[name] = output
        return f

    for m in model.modules():  # in-place ReLU would overwrite the conv outputs we differentiate against
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    model.eval()
    sums = {n: [0, 0, 0] for n in layers}
    for i in range(len(x)):
        logits = model(x[i:i + 1])
        grads = torch.autograd.grad(F.cross_entropy(logits, y[i:i + 1], reduction="sum"),
                                    [outputs[n] for n in layers])
        for (name, m), g in zip(layers.items(), grads):
            a = inputs[name][0]
            if isinstance(m, torch.nn.Conv2d):
                pad = F.pad(a, (1, 1, 1, 1))
                h, w = g.shape[-2:]
                rows = torch.stack([pad[:, r:r + 3, c:c + 3].reshape(-1) for r in range(h) for c in range(w)])
                grow = g[0].reshape(g.shape[1], -1).T
            else:
                rows, grow = a.reshape(1, -1), g.reshape(1, -1)
            if m.bias is not None:
                rows = torch.cat([rows, torch.ones(len(rows), 1)], 1)
            sums[name][0] = sums[name][0] + rows.T.double() @ rows.double()
            sums[name][1] = sums[name][1] + grow.T.double() @ grow.double()
            sums[name][2] = len(grow)
    for h in handles:
        h.remove()
    for name, (sa, sg, n_loc) in sums.items():
        out[name] = (sa / len(x), sg / (len(x) * n_loc))
    return out


@pytest.mark.parametrize("bn", [True, False])
def test_factors_equal_explicit_outer_products(bn):
    model = _trained_cnn(bn=bn)
    x, y = image_batches(blob_images(n=24, seed=3), batch_size=24)[0]
    la = KFACLaplace(model, prior_precision=1.0, n_data=1000, fisher="empirical")
    la.fit([(x[:10], y[:10]), (x[10:], y[10:])])  # two batches: sums over batches
    ref = _explicit_factors(copy.deepcopy(model), x, y)
    assert set(la.factors) == set(ref)
    for name, (a, g) in la.factors.items():
        torch.testing.assert_close(a.double(), ref[name][0], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(g.double(), ref[name][1], rtol=1e-4, atol=1e-9)


def test_exact_fisher_last_layer_closed_form():
    """For the head, G_exact = E[diag(p) - p p^T] and A = E[[f;1][f;1]^T]."""
    model = _trained_cnn()
    x, y = image_batches(blob_images(n=32, seed=4), batch_size=32)[0]
    la = KFACLaplace(model, 1.0, 100, subset="last_layer", fisher="exact").fit([(x, y)])
    with torch.no_grad():
        f = model.features(x)
        p = model.head(f).softmax(-1).double()
    f1 = torch.cat([f, torch.ones(len(f), 1)], 1).double()
    a, g = la.factors["head"]
    torch.testing.assert_close(a.double(), f1.T @ f1 / len(x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g.double(), (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]).mean(0),
                               rtol=1e-5, atol=1e-7)


def test_fit_leaves_model_unchanged_and_restores_modes():
    model = _trained_cnn()
    model.train()
    before = copy.deepcopy(model.state_dict())
    batches = image_batches(blob_images(n=32, seed=5), batch_size=16)
    la = KFACLaplace(model, 1.0, 100, fisher="mc").fit(batches)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # eval-mode fit: BN running stats untouched
    la.sample(model, generator=torch.Generator().manual_seed(0))
    bn_keys = [k for k in before if "bn" in k or "running" in k or k.endswith(".1.weight") or k.endswith(".1.bias")]
    for k in before:
        if "running" in k or "num_batches" in k:
            assert torch.equal(model.state_dict()[k], before[k]), k
    la.load_map(model)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert bn_keys


@pytest.mark.parametrize("damping", ["exact", "ritter"])
def test_sample_covariance_is_inverse_precision(damping):
    model = _trained_cnn()
    x, y = image_batches(blob_images(n=32, seed=6), batch_size=32)[0]
    la = KFACLaplace(model, prior_precision=3.0, n_data=50, subset="last_layer", damping=damping,
                     fisher="exact").fit([(x, y)])
    gen = torch.Generator().manual_seed(0)
    w_map = la._map["head"].double()
    draws = torch.stack([(la._map["head"].double() + la._noise("head", gen)).T.reshape(-1)  # vec, column-major
                         for _ in range(20000)]) - w_map.T.reshape(-1)
    cov = draws.T @ draws / len(draws)
    expected = torch.linalg.inv(la.posterior_precision("head"))
    err = (cov - expected).abs().max() / expected.diag().max()
    assert err < 0.05, f"sample covariance differs from P^-1 by {err:.3f} of the largest variance"
    # sample() writes W* + sqrt(scale) * noise; scale 0 gives the MAP
    la.sample(model, scale=0.0)
    torch.testing.assert_close(model.head.weight.double(), w_map[:, :-1].to(torch.float32).double())


def test_bad_arguments():
    model = tiny_cnn()
    with pytest.raises(ValueError, match="prior_precision"):
        KFACLaplace(model, 0.0, 10)
    with pytest.raises(ValueError, match="fisher"):
        KFACLaplace(model, 1.0, 10, fisher="hessian")
    with pytest.raises(ValueError, match="fit"):
        _ = KFACLaplace(model, 1.0, 10).factors


def test_matches_laplace_torch_last_layer_kron():
    """Same model and data: laplace-torch's Kron (GGN) last-layer posterior precision blocks equal ours (exact
    damping), and the Monte Carlo predictive NLLs agree (ours couples the bias block; theirs does not)."""
    import laplace  # the peer library: a dev dependency, never skipped
    from torch.utils.data import DataLoader, TensorDataset

    model = _trained_cnn()
    x, y = image_batches(blob_images(n=64, seed=0), batch_size=64)[0]
    xt, yt = image_batches(blob_images(n=200, seed=9), batch_size=200)[0]
    tau, n = 2.0, len(x)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    la_ref = laplace.Laplace(copy.deepcopy(model), "classification", subset_of_weights="last_layer",
                             hessian_structure="kron", prior_precision=tau)
    la_ref.fit(loader)
    ours = KFACLaplace(model, tau, n, subset="last_layer", fisher="exact").fit([(x[i:i + 16], y[i:i + 16])
                                                                               for i in range(0, n, 16)])
    ref_prec = la_ref.posterior_precision.to_matrix().double()   # [W row-major (out, in), b]
    a, g = (f.double() for f in ours.factors["head"])
    d_in, d_out = a.shape[0] - 1, g.shape[0]
    ours_w = n * torch.kron(g, a[:d_in, :d_in]) + tau * torch.eye(d_in * d_out, dtype=torch.float64)
    torch.testing.assert_close(ref_prec[:d_in * d_out, :d_in * d_out], ours_w, rtol=1e-4, atol=1e-5)
    ours_b = n * g * a[-1, -1] + tau * torch.eye(d_out, dtype=torch.float64)
    torch.testing.assert_close(ref_prec[d_in * d_out:, d_in * d_out:], ours_b, rtol=1e-4, atol=1e-5)

    torch.manual_seed(0)
    with torch.no_grad():
        p_ref = la_ref(xt, pred_type="nn", link_approx="mc", n_samples=2000)
    p_ours = ours.predict([(xt, yt)], n_samples=2000, seed=0)
    nll_ref = F.nll_loss(p_ref.log(), yt).item()
    nll_ours = F.nll_loss(p_ours.log(), yt).item()
    with torch.no_grad():
        nll_map = F.cross_entropy(model(xt), yt).item()
    assert abs(nll_ours - nll_ref) < 0.02 * max(1.0, nll_ref), (nll_ours, nll_ref, nll_map)
    assert abs(nll_ours - nll_map) > 10 * abs(nll_ours - nll_ref) or abs(nll_ours - nll_map) < 1e-3


def test_tune_prior_precision_picks_grid_minimum():
    model = _trained_cnn()
    x, y = image_batches(blob_images(n=64, seed=0), batch_size=64)[0]
    val = blob_images(n=60, seed=11)
    la = KFACLaplace(model, 1.0, 64, subset="last_layer", fisher="exact").fit([(x, y)])
    best, scores = tune_prior_precision(la, val, grid=[0.01, 1.0, 100.0], n_samples=20)
    assert best == min(scores, key=scores.get) and la.prior_precision == best
    assert len(scores) == 3 and all(v > 0 for v in scores.values())
