"""Tests for lsdl_ens.landscape: curve coefficients, CurveModel, curve training, linear paths and barriers with BN
recompute, the plane through three states, and linear CKA / feature L2."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _tiny import blob_images, image_batches, one_thread, rings, tiny_cnn, tiny_mlp, train_mlp  # noqa: F401
from lsdl_ens import state as S
from lsdl_ens.bn import update_bn
from lsdl_ens.landscape import (CurveModel, barrier, bezier_coeffs, curve_lr, evaluate_curve, feature_l2,
                                linear_cka, linear_path, plane_basis, plane_grid, plane_point, polychain_coeffs,
                                project, stage_similarity, train_curve)
from lsdl_ens.train import evaluate


@pytest.fixture(scope="module")
def ring_task():
    """Two MLPs trained from different seeds on 2-D rings, and the data as a list of batches."""
    x, y = rings(n=256, seed=0)
    model_a = train_mlp(tiny_mlp(seed=0), x, y, steps=300, seed=0)
    model_b = train_mlp(tiny_mlp(seed=1), x, y, steps=300, seed=1)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    return model_a, model_b, batches


# ---------------------------------------------------------------- curve coefficients

@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_bezier_coeffs_match_bernstein_formula(n):
    for t in np.linspace(0.0, 1.0, 41):
        c = bezier_coeffs(torch.tensor(t, dtype=torch.float64), n)
        expected = [math.comb(n - 1, k) * t ** k * (1 - t) ** (n - 1 - k) for k in range(n)]
        assert c.shape == (n,) and c.dtype == torch.float64
        np.testing.assert_allclose(c.numpy(), expected, rtol=1e-12, atol=1e-15)
        assert c.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert bezier_coeffs(0.3, n).dtype == torch.get_default_dtype()


@pytest.mark.parametrize("n", [2, 3, 5])
def test_polychain_passes_through_every_control_point(n):
    for k in range(n):
        c = polychain_coeffs(k / (n - 1), n)
        torch.testing.assert_close(c, torch.eye(n)[k])
    for t in np.linspace(0.0, 1.0, 37):
        c = polychain_coeffs(float(t), n)
        assert (c >= 0).all() and c.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert (c > 0).sum() <= 2  # piecewise linear: only the two neighbouring points
    torch.testing.assert_close(polychain_coeffs(0.25, 3), torch.tensor([0.5, 0.5, 0.0]))


def test_coeff_argument_checks():
    with pytest.raises(ValueError, match=r"t must be a scalar in \[0, 1\]"):
        bezier_coeffs(1.5, 3)
    with pytest.raises(ValueError, match="n_points must be an integer >= 2"):
        polychain_coeffs(0.5, 1)


# ---------------------------------------------------------------- CurveModel

def test_curve_endpoints_reproduce_the_models_exactly(ring_task):
    model_a, model_b, batches = ring_task
    x = batches[0][0]
    for kind in ("bezier", "polychain"):
        curve = CurveModel(model_a, model_a.state_dict(), model_b.state_dict(), kind=kind, n_bends=2)
        with torch.no_grad():
            assert torch.equal(curve(x, 0.0), model_a(x))
            assert torch.equal(curve(x, 1.0), model_b(x))
        for k, v in curve.state_at(1.0).items():
            assert torch.equal(v, model_b.state_dict()[k])


def test_bends_start_on_the_segment_and_polychain_hits_them(ring_task):
    model_a, model_b, _ = ring_task
    a, b = model_a.state_dict(), model_b.state_dict()
    curve = CurveModel(model_a, a, b, kind="polychain", n_bends=2)
    assert curve.n_points == 4
    for k in (1, 2):
        expected = S.interpolate(a, b, k / 3)
        at_bend = curve.params_at(k / 3)
        for name, value in curve.control_point(k).items():
            torch.testing.assert_close(value.detach(), expected[name], rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(at_bend[name].detach(), value.detach(), rtol=1e-6, atol=1e-6)
    bezier = CurveModel(model_a, a, b, kind="bezier", n_bends=1)
    for name, value in bezier.params_at(0.5).items():  # initial Bezier midpoint = segment midpoint
        torch.testing.assert_close(value.detach(), 0.5 * a[name] + 0.5 * b[name], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="kind must be 'bezier' or 'polychain'"):
        CurveModel(model_a, a, b, kind="spline")


def test_gradient_reaches_the_bend_only(ring_task):
    model_a, model_b, batches = ring_task
    curve = CurveModel(model_a, model_a.state_dict(), model_b.state_dict())
    x, y = batches[0]
    F.cross_entropy(curve(x, 0.3), y).backward()
    start, bend, end = curve.control_points
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in bend)
    assert all(p.grad is None and not p.requires_grad for p in (*start, *end, *curve.base.parameters()))
    assert all(p.grad is None for p in model_a.parameters())  # the argument model is untouched


def test_forward_draws_t_from_the_seeded_generator(ring_task):
    model_a, model_b, batches = ring_task
    x = batches[0][0]
    a, b = model_a.state_dict(), model_b.state_dict()
    out1 = CurveModel(model_a, a, b, kind="polychain", seed=5)(x)
    out2 = CurveModel(model_a, a, b, kind="polychain", seed=5)(x)
    out3 = CurveModel(model_a, a, b, kind="polychain", seed=6)(x)
    assert torch.equal(out1, out2) and not torch.equal(out1, out3)


def test_train_curve_lowers_the_midpoint_loss(ring_task):
    model_a, model_b, batches = ring_task
    a, b = model_a.state_dict(), model_b.state_dict()
    segment = linear_path(model_a, a, b, batches, alphas=[0.0, 0.5, 1.0])
    curve = CurveModel(model_a, a, b, kind="bezier", n_bends=1)
    history = train_curve(curve, batches, epochs=30, lr=0.05, weight_decay=1e-4, seed=0)
    assert history["lr"] == [curve_lr(e, 30, 0.05) for e in range(30)]
    assert history["lr"][0] == 0.05 and history["lr"][-1] == pytest.approx(0.0005)
    result = evaluate_curve(curve, None, batches, ts=[0.0, 0.5, 1.0], train_data=batches, weight_decay=1e-4)
    assert result["loss"][1] < segment["loss"][1] - 0.05, (result["loss"], segment["loss"])
    np.testing.assert_allclose(result["loss"][[0, 2]], segment["loss"][[0, 2]], rtol=1e-6)  # ends fixed
    l2 = sum(v.double().pow(2).sum().item() for v in model_a.parameters())
    assert result["train_loss"][0] == pytest.approx(result["loss"][0] + 0.5e-4 * l2, rel=1e-6)
    assert result["segment_length"][0] == 0 and (result["segment_length"][1:] > 0).all()


# ---------------------------------------------------------------- linear path and barrier

def test_barrier_on_hand_made_values():
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    values = [0.1, 0.4, 0.2, 0.5, 0.3]  # line through the ends: 0.1 + 0.2 alpha
    assert barrier(values, alphas) == pytest.approx(0.25)
    assert barrier(values, alphas, reference="mean") == pytest.approx(0.3)
    assert barrier(values[::-1], alphas[::-1]) == pytest.approx(0.25)  # order does not matter
    flat = [0.2, 0.5, 0.2]
    assert barrier(flat, [0, 0.5, 1]) == pytest.approx(barrier(flat, [0, 0.5, 1], reference="mean")) == 0.3
    assert barrier([0.1, 0.0, 0.1], [0, 0.5, 1]) == 0.0
    with pytest.raises(ValueError, match="reference must be 'linear' or 'mean'"):
        barrier(values, alphas, reference="max")
    with pytest.raises(ValueError, match="same length >= 2"):
        barrier(values, alphas[:3])
    with pytest.raises(ValueError, match="alphas must be distinct"):
        barrier([0.1, 0.2, 0.3], [0.0, 0.0, 1.0])


def test_linear_path_without_bn_matches_direct_evaluation(ring_task):
    model_a, model_b, batches = ring_task
    template = tiny_mlp(seed=9)
    before = copy.deepcopy(template.state_dict())
    path = linear_path(template, model_a.state_dict(), model_b.state_dict(), batches, alphas=[0.0, 0.4, 1.0],
                       train_data=batches)
    assert set(path) == {"alphas", "loss", "error", "train_loss", "train_error"}
    for i, model in ((0, model_a), (2, model_b)):
        reference = evaluate(model, batches)
        assert path["loss"][i] == pytest.approx(reference["loss"], rel=1e-5)
        assert path["error"][i] == pytest.approx(reference["error"])
    assert all(torch.equal(v, before[k]) for k, v in template.state_dict().items())  # template restored
    assert len(linear_path(template, model_a.state_dict(), model_b.state_dict(), batches)["alphas"]) == 31


def test_linear_path_recomputes_bn_at_every_alpha():
    data = blob_images(n=48, seed=3)
    bn_batches = image_batches(data, batch_size=16, augment=True, seed=1)
    eval_batches = image_batches(data, batch_size=24)
    a, b = tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict()
    model = tiny_cnn(seed=2)
    alphas = [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match=r"pass bn_data \(training batches\) so BN statistics can be recomputed"):
        linear_path(model, a, b, eval_batches, alphas=alphas)
    with pytest.raises(ValueError, match="one-shot iterator"):
        linear_path(model, a, b, eval_batches, alphas=alphas, bn_data=iter(bn_batches))
    recomputed = linear_path(model, a, b, eval_batches, alphas=alphas, bn_data=bn_batches)
    stale = linear_path(model, a, b, eval_batches, alphas=alphas, recompute_bn=False)
    assert not np.allclose(recomputed["loss"], stale["loss"])
    for i, alpha in enumerate(alphas):  # by hand: interpolate, update_bn, evaluate (endpoints included)
        reference = tiny_cnn(seed=2)
        reference.load_state_dict(S.interpolate(a, b, alpha))
        update_bn(reference, bn_batches)
        assert recomputed["loss"][i] == pytest.approx(evaluate(reference, eval_batches)["loss"], rel=1e-5)


def test_evaluate_curve_recomputes_bn_per_t():
    data = blob_images(n=32, seed=4)
    bn_batches, eval_batches = image_batches(data, batch_size=16), image_batches(data, batch_size=32)
    a, b = tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict()
    curve = CurveModel(tiny_cnn(seed=0), a, b, kind="polychain")
    with pytest.raises(ValueError, match="pass bn_data"):
        evaluate_curve(curve, tiny_cnn(), eval_batches, ts=[0.5])
    result = evaluate_curve(curve, tiny_cnn(), eval_batches, ts=[0.0, 0.5], bn_data=bn_batches)
    reference = tiny_cnn()
    reference.load_state_dict(curve.state_at(0.5))
    update_bn(reference, bn_batches)
    assert result["loss"][1] == pytest.approx(evaluate(reference, eval_batches)["loss"], rel=1e-5)


# ---------------------------------------------------------------- plane

def test_plane_basis_is_orthonormal_and_projection_recovers_coordinates(ring_task):
    model_a, model_b, batches = ring_task
    a, b, c = model_a.state_dict(), model_b.state_dict(), tiny_mlp(seed=2).state_dict()
    basis = plane_basis(a, b, c)
    assert basis.u.norm().item() == pytest.approx(1.0) and basis.v.norm().item() == pytest.approx(1.0)
    assert abs((basis.u @ basis.v).item()) < 1e-10
    assert project(a, basis) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert project(b, basis) == pytest.approx((S.distance(a, b), 0.0), rel=1e-6, abs=1e-9)
    for state, point in zip((a, b, c), basis.points):
        assert project(state, basis) == pytest.approx(tuple(point), rel=1e-6, abs=1e-9)
        rebuilt = plane_point(basis, *project(state, basis))
        for k in state:
            torch.testing.assert_close(rebuilt[k], state[k], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="state_c is on the line"):
        plane_basis(a, b, S.interpolate(a, b, 2.0))

    grid = plane_grid(tiny_mlp(seed=9), basis, batches, grid=3, margin=0.1)
    assert grid["loss"].shape == grid["error"].shape == (3, 3) and grid["xs"].shape == (3,)
    xs, ys = grid["xs"], grid["ys"]
    assert xs[0] < basis.points[:, 0].min() and xs[-1] > basis.points[:, 0].max()
    direct = tiny_mlp()
    direct.load_state_dict(plane_point(basis, xs[2], ys[1]))
    assert grid["loss"][1, 2] == pytest.approx(evaluate(direct, batches)["loss"], rel=1e-5)


# ---------------------------------------------------------------- similarity

def _hsic_cka(x, y):
    """CKA straight from the HSIC definition: tr(K H L H) / sqrt(tr(K H K H) tr(L H L H))."""
    n = x.shape[0]
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    k, l = x @ x.T, y @ y.T

    def hsic(p, q):
        return torch.trace(p @ h @ q @ h) / (n - 1) ** 2

    return (hsic(k, l) / (hsic(k, k) * hsic(l, l)).sqrt()).item()


@pytest.mark.parametrize("n,d1,d2", [(60, 5, 8), (10, 30, 20)])  # feature form and Gram form
def test_linear_cka_against_hsic_and_invariances(n, d1, d2):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, d1, generator=g, dtype=torch.float64)
    y = x @ torch.randn(d1, d2, generator=g, dtype=torch.float64) + 0.5 * torch.randn(n, d2, generator=g,
                                                                                       dtype=torch.float64)
    value = linear_cka(x, y)
    assert 0.0 < value < 1.0
    assert value == pytest.approx(_hsic_cka(x, y), rel=1e-10)
    assert linear_cka(x, x) == pytest.approx(1.0, rel=1e-12)
    q, _ = torch.linalg.qr(torch.randn(d1, d1, generator=g, dtype=torch.float64))
    assert linear_cka(x @ q, y) == pytest.approx(value, rel=1e-10)
    assert linear_cka(3.7 * x + 2.0, y) == pytest.approx(value, rel=1e-10)  # scaling; shifts are centred away
    with pytest.raises(ValueError, match="features_a has 3 examples but features_b has"):
        linear_cka(x[:3], y)
    with pytest.raises(ValueError, match="constant across examples"):
        linear_cka(torch.ones(n, d1), y)


def test_feature_l2_and_stage_similarity():
    a, b = torch.randn(20, 6), torch.randn(20, 6)
    assert feature_l2(a, b) == pytest.approx(sum((a[i] - b[i]).norm().item() for i in range(20)) / 20, rel=1e-6)
    with pytest.raises(ValueError, match="width 6 but features_b has 5"):
        feature_l2(a, b[:, :5])

    data = blob_images(n=40, seed=5)
    model_a, model_b = tiny_cnn(seed=0), tiny_cnn(seed=1)
    model_a.train()
    same = stage_similarity(model_a, model_a, data)
    assert same["stages"] == ["stage1", "stage2", "stage3", "stage4", "pool"]
    np.testing.assert_allclose(same["cka"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(same["l2"], 0.0)
    assert model_a.training  # mode restored
    different = stage_similarity(model_a, model_b, image_batches(data, batch_size=16))
    assert (different["cka"] < 0.999).all() and (different["l2"] > 0).all()
    with torch.no_grad():
        model_a.eval(), model_b.eval()
        xs = torch.cat([x for x, _ in image_batches(data, batch_size=16)])
        pool_a, pool_b = model_a.features(xs), model_b.features(xs)
    assert different["cka"][-1] == pytest.approx(linear_cka(pool_a, pool_b), rel=1e-6)


def test_train_curve_step_is_sgd_on_ce_plus_weight_decay_of_the_curve_point(ring_task):
    """One batch, one epoch: the bend moves by -lr * d/dtheta [CE(w(t)) + wd/2 ||w(t)||^2] with the t the seeded
    generator draws (first momentum step = plain gradient step); ends stay fixed."""
    model_a, model_b, batches = ring_task
    a, b = model_a.state_dict(), model_b.state_dict()
    lr, wd, seed = 0.1, 0.05, 3
    curve = CurveModel(model_a, a, b, kind="bezier", n_bends=1)
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in curve.control_point(1).items()}
    t = torch.rand((), generator=torch.Generator().manual_seed(seed)).item()
    x, y = batches[0]
    w_t = {k: (1 - t) ** 2 * a[k] + 2 * t * (1 - t) * theta[k] + t ** 2 * b[k] for k in theta}
    loss = F.cross_entropy(torch.func.functional_call(model_a, w_t, (x,)), y)
    loss = loss + 0.5 * wd * sum(v.pow(2).sum() for v in w_t.values())
    grads = torch.autograd.grad(loss, list(theta.values()))
    train_curve(curve, [batches[0]], epochs=1, lr=lr, weight_decay=wd, seed=seed)
    for (name, before), grad in zip(theta.items(), grads):
        torch.testing.assert_close(curve.control_point(1)[name].detach(), before.detach() - lr * grad,
                                   rtol=1e-5, atol=1e-6)
    assert all(torch.equal(curve.control_point(0)[k], a[k]) for k in theta)
    assert all(torch.equal(curve.control_point(2)[k], b[k]) for k in theta)
