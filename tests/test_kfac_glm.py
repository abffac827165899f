"""Tests for the linearised (GLM) last-layer predictive of KFACLaplace (lsdl_ens.ensembles.kfac_glm): the logit
covariance equals the dense J P^-1 J^T, the probit and Monte Carlo predictives equal laplace-torch's (test-only
dependency `laplace-torch`), and the prior tuned on validation NLL of the GLM predictive does not give the MAP."""

import copy
import math

import pytest
import torch

from _tiny import blob_images, full_batch_sgd, image_batches, one_thread, tiny_cnn  # noqa: F401
from lsdl_ens import metrics
from lsdl_ens.data import ImageSet
from lsdl_ens.ensembles import KFACLaplace
from lsdl_ens.ensembles.kfac_tuning import tune_prior_precision


def trained_cnn(bias=True, steps=60):
    """The tiny BN CNN trained on the first 64 blob images (head with or without bias)."""
    model = tiny_cnn(seed=0)
    if not bias:
        torch.manual_seed(1)
        model.head = torch.nn.Linear(model.head.in_features, model.head.out_features, bias=False)
    x, y = train_batch()
    return full_batch_sgd(model, x, y, steps)


def train_batch():
    return image_batches(blob_images(n=64, seed=0), batch_size=64)[0]


def held_out(start, stop):
    """Images start..stop of the same blob distribution as the training batch (same class colours)."""
    full = blob_images(n=stop, seed=0)
    return ImageSet(full.images[start:stop], full.labels[start:stop])


def fitted(model, tau=2.0, damping="exact"):
    x, y = train_batch()
    return KFACLaplace(model, tau, len(x), subset="last_layer", fisher="exact", damping=damping).fit(
        [(x[i:i + 16], y[i:i + 16]) for i in range(0, len(x), 16)])


def dense_logit_cov(la, feats, bias=True):
    """J P^-1 J^T with J = a~^T (x) I_C (vec column-major, as `posterior_precision`), from the dense precision."""
    n_out = la.factors["head"][1].shape[0]
    a = torch.cat([feats, torch.ones(len(feats), 1)], 1) if bias else feats
    cov = torch.linalg.inv(la.posterior_precision("head"))
    jac = torch.stack([torch.kron(row.double()[None], torch.eye(n_out, dtype=torch.float64)) for row in a])
    return jac @ cov @ jac.transpose(1, 2)


@pytest.mark.parametrize("damping", ["exact", "ritter"])
@pytest.mark.parametrize("bias", [True, False])
def test_logit_distribution_equals_dense_jacobian_form(damping, bias):
    model = trained_cnn(bias=bias)
    la = fitted(model, damping=damping)
    xt = image_batches(held_out(64, 104), batch_size=40)[0][0]
    with torch.no_grad():
        feats, logits = model.features(xt), model(xt)
    mean, root = la.logit_distribution(feats, scale=0.5)
    torch.testing.assert_close(mean.float(), logits, rtol=1e-5, atol=1e-5)
    cov = root @ root.transpose(1, 2)
    torch.testing.assert_close(cov, 0.5 * dense_logit_cov(la, feats, bias), rtol=1e-5, atol=1e-6)
    # probit link: softmax(f / sqrt(1 + pi/8 var)), written out independently
    var = 0.5 * dense_logit_cov(la, feats, bias).diagonal(dim1=1, dim2=2)
    expected = (logits.double() / (1 + math.pi / 8 * var).sqrt()).softmax(-1)
    got = la.predict([(xt, torch.zeros(len(xt)))], predictive="glm", scale=0.5)
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)
    assert (got - logits.softmax(-1)).abs().max() > 1e-2  # the posterior does widen the predictive


def laplace_reference(model, tau=2.0):
    """laplace-torch's Kron last-layer Laplace of `model`, fitted on the training batch (the peer library)."""
    import laplace
    from torch.utils.data import DataLoader, TensorDataset

    x, y = train_batch()
    ref = laplace.Laplace(copy.deepcopy(model), "classification", subset_of_weights="last_layer",
                          hessian_structure="kron", prior_precision=tau)
    ref.fit(DataLoader(TensorDataset(x, y), batch_size=16))
    return ref


def test_glm_matches_laplace_torch_without_bias():
    """Head without bias: laplace-torch's Kron last-layer posterior is ours (GGN = our 'exact' Fisher, factors
    scaled to the dataset size N, temperature 1), so its GLM predictive equals ours: probit to float precision,
    Monte Carlo to its sampling error."""
    model = trained_cnn(bias=False)
    ref, (xt, yt) = laplace_reference(model), image_batches(held_out(64, 264), batch_size=200)[0]
    ours = fitted(model, tau=2.0)
    with torch.no_grad():
        jac, _ = ref.backend.last_layer_jacobians(xt)
        ref_cov = ref.functional_variance(jac).double()
        p_probit = ref(xt, pred_type="glm", link_approx="probit")
        torch.manual_seed(0)
        p_mc = ref(xt, pred_type="glm", link_approx="mc", n_samples=20000)
        feats = model.features(xt)
    mean, root = ours.logit_distribution(feats)
    torch.testing.assert_close(root @ root.transpose(1, 2), ref_cov, rtol=1e-4, atol=1e-4)
    ours_probit = ours.predict([(xt, yt)], predictive="glm", link="probit")
    torch.testing.assert_close(ours_probit, p_probit, rtol=0, atol=1e-5)
    ours_mc = ours.predict([(xt, yt)], predictive="glm", link="mc", n_samples=20000, seed=0)
    diff = (ours_mc - p_mc).abs()
    # each entry is a mean of 20000 draws in [0, 1]: standard error <= 0.0035 per side
    assert diff.mean() < 3e-3 and diff.max() < 0.03, (diff.mean().item(), diff.max().item())
    assert (ours_mc - ours_probit).abs().max() > 5 * diff.mean()  # the two links differ measurably


def test_glm_with_bias_differs_from_laplace_torch_only_by_the_bias_cross_terms():
    """With a bias, laplace-torch keeps a separate bias block (N G + tau I, no weight-bias terms); ours shares the
    Kronecker block. Zeroing our precision's weight-bias blocks reproduces laplace-torch's logit covariance."""
    model = trained_cnn(bias=True)
    ref, (xt, yt) = laplace_reference(model), image_batches(held_out(64, 264), batch_size=200)[0]
    ours = fitted(model, tau=2.0)
    with torch.no_grad():
        jac, _ = ref.backend.last_layer_jacobians(xt)
        ref_cov = ref.functional_variance(jac).double()
        p_probit = ref(xt, pred_type="glm", link_approx="probit")
        feats = model.features(xt)
    prec = ours.posterior_precision("head").clone()
    n_w = model.head.weight.numel()
    prec[:n_w, n_w:] = 0
    prec[n_w:, :n_w] = 0
    a = torch.cat([feats, torch.ones(len(feats), 1)], 1).double()
    eye = torch.eye(model.head.out_features, dtype=torch.float64)
    jac_ours = torch.stack([torch.kron(row[None], eye) for row in a])
    decoupled = jac_ours @ torch.linalg.inv(prec) @ jac_ours.transpose(1, 2)
    torch.testing.assert_close(decoupled, ref_cov, rtol=1e-4, atol=1e-4)
    _, root = ours.logit_distribution(feats)
    shared = root @ root.transpose(1, 2)
    assert (shared - ref_cov).abs().max() > 1e-2 * ref_cov.abs().max()  # the cross terms do matter ...
    ours_probit = ours.predict([(xt, yt)], predictive="glm")
    assert (ours_probit - p_probit).abs().max() < 0.05  # ... but only a little for the probabilities


def test_glm_mc_equals_weight_sampling_for_the_last_layer():
    """The last-layer logits are linear in the head: the 'nn' and 'glm' Monte Carlo predictives are one distribution."""
    model = trained_cnn()
    la = fitted(model)
    test = held_out(64, 164)
    p_nn = la.predict(test, predictive="nn", n_samples=4000, seed=1)
    p_glm = la.predict(test, predictive="glm", link="mc", n_samples=4000, seed=2)
    assert (p_nn - p_glm).abs().max() < 0.04, (p_nn - p_glm).abs().max().item()
    assert la.predict(test, predictive="glm", link="mc", n_samples=3, return_all=True).shape == (3, 100, 10)


def test_tuned_glm_predictive_is_not_the_map():
    """Prior precision tuned on the validation NLL of the probit GLM predictive: an interior grid value whose
    predictive differs measurably from the MAP network's and whose held-out NLL is no worse."""
    model = trained_cnn(steps=200)  # over-fitted on 64 images: over-confident
    val, test = held_out(64, 264), held_out(264, 664)
    la = fitted(model, tau=1.0)
    grid = torch.logspace(-2, 6, 17).tolist()
    best, scores = tune_prior_precision(la, val, grid, predictive="glm", progress=False)
    assert la.prior_precision == best == min(scores, key=scores.get)
    assert grid[0] < best < grid[-1], scores
    p_glm = la.predict(test, predictive="glm")
    with torch.no_grad():
        p_map = model(image_batches(test, batch_size=len(test))[0][0]).softmax(-1)
    assert (p_glm - p_map).abs().max() > 0.1
    nll_glm, nll_map = metrics.nll(p_glm, test.labels), metrics.nll(p_map, test.labels)
    assert nll_glm <= nll_map - 0.02, (nll_glm, nll_map)
    # at the largest grid value the GLM predictive is (nearly) the MAP network
    la.set_prior_precision(grid[-1])
    assert (la.predict(test, predictive="glm") - p_map).abs().max() < 1e-2
