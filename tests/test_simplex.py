"""Tests for lsdl_ens.simplex: Cayley-Menger volumes of known simplices, Dirichlet(1) uniformity, SimplexModel
mechanics (centroid init, frozen vertices, points), SPRO training of one vertex, BN recompute per point."""

import math

import pytest
import torch

from lsdl_ens.data import BatchLoader
from _tiny import blob_images, image_batches, one_thread, tiny_cnn  # noqa: F401
from lsdl_ens.simplex import (SimplexModel, barycentric_grid, cayley_menger_volume, dirichlet_weights,
                              simplex_grid, simplex_predict, train_vertex)


def test_volume_of_known_simplices():
    # segment of length 3, right triangle with legs 3 and 4 (area 6), unit right tetrahedron (1/6),
    # regular simplex on the n standard basis vectors of R^n: sqrt(n) / (n-1)!
    seg = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    tri = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    tet = torch.cat([torch.zeros(1, 3), torch.eye(3)])
    assert cayley_menger_volume(seg, squared=False).item() == pytest.approx(3.0)
    assert cayley_menger_volume(tri, squared=False).item() == pytest.approx(6.0)
    assert cayley_menger_volume(tri).item() == pytest.approx(36.0)
    assert cayley_menger_volume(tet, squared=False).item() == pytest.approx(1 / 6)
    for n in (2, 3, 5, 8):
        vol = cayley_menger_volume(torch.eye(n), squared=False).item()
        assert vol == pytest.approx(math.sqrt(n) / math.factorial(n - 1), rel=1e-9)
    assert cayley_menger_volume(torch.ones(1, 4)).item() == 0.0


def test_volume_matches_gram_determinant_in_high_dimension():
    """Vol^2 = det(X X^T) / ((n-1)!)^2 for edge vectors X = v_i - v_0; huge P and tiny scales stay finite."""
    g = torch.Generator().manual_seed(0)
    for scale in (1e-3, 1.0, 30.0):
        v = scale * torch.randn(4, 100_000, generator=g, dtype=torch.float64)
        x = v[1:] - v[:1]
        log_ref = torch.logdet(x @ x.T) - 2 * math.lgamma(4)
        assert cayley_menger_volume(v, log=True).item() == pytest.approx(log_ref.item(), rel=1e-6, abs=1e-6)
    # translation and rotation invariance, degenerate simplex
    v = torch.randn(3, 5, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    assert cayley_menger_volume(v @ q + 7).item() == pytest.approx(cayley_menger_volume(v).item(), rel=1e-8)
    collinear = torch.stack([v[0], v[1], 2 * v[1] - v[0]])
    assert cayley_menger_volume(collinear).item() == pytest.approx(0.0, abs=1e-8)


def test_volume_is_differentiable():
    v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    cayley_menger_volume(v).backward()  # Vol^2 = 1/4 (x1 y2 - x2 y1)^2 -> d/dx1 = 1/2 at this point
    assert v.grad[1, 0].item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="vertices"):
        cayley_menger_volume(torch.zeros(3))


def test_dirichlet_weights_are_uniform_on_the_simplex():
    w = dirichlet_weights(3, 200_000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(w.sum(1), torch.ones(len(w), dtype=torch.float64)) and (w >= 0).all()
    # uniform on the 2-simplex: each marginal is Beta(1, 2), P(w_1 <= t) = 1 - (1 - t)^2, mean 1/3, var 1/18
    for t in (0.1, 0.3, 0.5, 0.8):
        assert (w[:, 0] <= t).double().mean().item() == pytest.approx(1 - (1 - t) ** 2, abs=0.005)
    assert w.mean(0).tolist() == pytest.approx([1 / 3] * 3, abs=0.003)
    assert w[:, 1].var().item() == pytest.approx(1 / 18, abs=0.002)
    # equal mass in the 4 congruent sub-triangles obtained by joining edge midpoints
    centre = (w > 0.5).any(1).logical_not().double().mean().item()
    assert centre == pytest.approx(0.25, abs=0.005)
    # normalising uniforms (the pitfall) is visibly not uniform
    u = torch.rand(200_000, 3, generator=torch.Generator().manual_seed(1))
    bad = u / u.sum(1, keepdim=True)
    assert abs((bad[:, 0] <= 0.1).double().mean().item() - 0.19) > 0.05


def test_barycentric_grid():
    grid = barycentric_grid(3, 4)
    assert grid.shape == (15, 3) and torch.allclose(grid.sum(1), torch.ones(15, dtype=torch.float64))
    assert grid[0].tolist() == [1.0, 0.0, 0.0]


def test_simplex_model_vertices_and_points():
    base = tiny_cnn(seed=0)
    simplex = SimplexModel(base)
    assert simplex.n_vertices == 1
    with torch.no_grad():
        for p in simplex.vertex(0).values():
            p.mul_(1.0)
    simplex.add_vertex()
    assert simplex.n_vertices == 2 and len(simplex.trainable_parameters()) == len(simplex.param_names)
    with torch.no_grad():
        for p in simplex.vertex(1).values():
            p.add_(1.0)
    simplex.add_vertex()  # centroid of v0 and v1, which are now frozen
    assert all(not p.requires_grad for j in (0, 1) for p in simplex.vertex(j).values())
    for name in simplex.param_names:
        torch.testing.assert_close(simplex.vertex(2)[name], 0.5 * (simplex.vertex(0)[name] + simplex.vertex(1)[name]))
    alpha = torch.tensor([0.2, 0.3, 0.5])
    state = simplex.state_at(alpha)
    name = simplex.param_names[0]
    torch.testing.assert_close(state[name], sum(a * simplex.vertex(j)[name] for j, a in enumerate(alpha.tolist())))
    x = torch.randn(4, 3, 8, 8)
    model = tiny_cnn(seed=0)
    model.load_state_dict(state)
    model.train()
    simplex.train()
    torch.testing.assert_close(simplex(x, alpha), model(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="alpha"):
        simplex.params_at([0.5, 0.5])


def test_train_vertex_grows_volume_and_bn_points():
    data = blob_images(n=64, seed=0)
    batches = image_batches(data, batch_size=16, augment=True)
    base = tiny_cnn(seed=0)
    simplex = SimplexModel(base)
    simplex.add_vertex()
    frozen = {k: v.clone() for k, v in simplex.vertex(0).items()}
    loader = BatchLoader(data, 16, shuffle=True, augment=True, drop_last=True)
    history = train_vertex(simplex, loader, epochs=2, lr=0.05, n_samples=2, seed=0)
    assert len(history.train_loss) == 2 and all(math.isfinite(v) for v in history.train_loss)
    assert simplex.volume().item() > 0
    for k, v in simplex.vertex(0).items():
        assert torch.equal(v, frozen[k])  # v_0 frozen
    probs = simplex_predict(simplex, data, batches, n_points=3, return_all=True)
    assert probs.shape == (3, 64, 10)
    assert not torch.allclose(probs[0], probs[1])  # different points (and their own BN statistics)
    grid = simplex_grid(simplex, data, batches, resolution=2)
    assert grid["loss"].shape == (3,) and (grid["error"] >= 0).all()
    with pytest.raises(ValueError, match="bn_data"):
        simplex_predict(simplex, data, None, n_points=1)
