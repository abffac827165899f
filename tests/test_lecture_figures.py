"""Tests of the lecture figures' computations and plots: the plane through three networks reproduces each network's
loss at its vertex, the equal-budget table's Ind spread over seed subsets, and the plots stay within the size policy.
Tiny networks and synthetic images."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from _tiny import blob_images, image_batches, one_thread, tiny_cnn  # noqa: E402,F401
from lsdl_ens.experiments.ensembles_budget import ensemble_error, ind_errors  # noqa: E402
from lsdl_ens.landscape import plane_basis, plane_grid, plane_point  # noqa: E402
from lsdl_ens.evaluation import evaluate_point, loss_and_error  # noqa: E402
from lsdl_ens.lecture_plots import budget_plot, plane_plot  # noqa: E402
from lsdl_ens.plotting import figure_problems, subplots, use_style  # noqa: E402
from lsdl_ens.state import parameter_keys  # noqa: E402


@pytest.fixture
def three_networks():
    models = [tiny_cnn(seed, bn=False) for seed in range(3)]
    data = image_batches(blob_images(n=48, seed=3))
    return models, data


def test_plane_vertices_give_the_three_networks_losses(three_networks):
    models, data = three_networks
    states = [m.state_dict() for m in models]
    basis = plane_basis(*states, keys=parameter_keys(models[0]))
    template = tiny_cnn(9, bn=False)
    for k, (model, (x, y)) in enumerate(zip(models, basis.points)):
        on_plane = evaluate_point(template, plane_point(basis, float(x), float(y)), lambda: iter(data),
                                  bn_batches=None, train_batches=None, device=torch.device("cpu"))
        direct = loss_and_error(model, iter(data), torch.device("cpu"))  # the network itself, not via the plane
        assert on_plane["loss"] == pytest.approx(direct[0], rel=1e-4, abs=1e-5), f"vertex {k}"
        assert on_plane["error"] == pytest.approx(direct[1], abs=1e-9), f"vertex {k}"
    # the three networks are different functions: their losses differ, so the check above can fail
    losses = [loss_and_error(m, iter(data), torch.device("cpu"))[0] for m in models]
    assert len({round(v, 6) for v in losses}) == 3


def test_plane_plot_draws_the_grid_vertices_paths_and_marks(three_networks):
    use_style()
    models, data = three_networks
    basis = plane_basis(*[m.state_dict() for m in models], keys=parameter_keys(models[0]))
    plane = plane_grid(tiny_cnn(9, bn=False), basis, data, recompute_bn=False, grid=3)
    assert plane["loss"].shape == (3, 3) and plane["error"].shape == (3, 3)
    fig, ax = subplots(width=6.4, height=4.8)
    path = np.stack([np.linspace(0, 1, 5), np.linspace(0, 1, 5)], 1)
    plane_plot(ax, plane, quantity="error", paths={"curve": path}, marks={"average": (0.5, 0.5)}, title="t")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["curve", "average"]
    assert [t.get_text() for t in ax.texts] == ["A", "B", "C"]
    assert figure_problems(fig) == []
    with pytest.raises(ValueError, match="quantity"):
        plane_plot(ax, plane, quantity="train_loss", title="t")
    plt.close(fig)


def test_ensemble_error_averages_probabilities_before_the_argmax():
    labels = torch.tensor([0, 1])
    # member 0 is right on both, member 1 wrong on both but less confident: the mean is right on both
    probs = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.4, 0.6], [0.6, 0.4]]])
    assert ensemble_error(probs, labels) == 0.0
    assert ensemble_error(probs[1:], labels) == 100.0
    with pytest.raises(ValueError, match="labels"):
        ensemble_error(probs, torch.tensor([0]))


def test_ind_errors_are_mean_and_spread_over_every_subset_of_seeds():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(4, 30, 3, generator=g).softmax(-1)
    labels = torch.randint(0, 3, (30,), generator=g)
    out = ind_errors(probs, labels, (1, 2, 4))
    singles = [100 * (probs[i].argmax(-1) != labels).float().mean().item() for i in range(4)]
    assert out["mean"][0] == pytest.approx(np.mean(singles))
    assert out["std"][0] == pytest.approx(np.std(singles))
    pairs = [100 * (probs[list(c)].mean(0).argmax(-1) != labels).float().mean().item()
             for c in itertools.combinations(range(4), 2)]
    assert out["mean"][1] == pytest.approx(np.mean(pairs)) and out["subsets"] == [4, 6, 1]
    assert out["std"][2] == 0.0
    with pytest.raises(ValueError, match="ensemble_size"):
        ind_errors(probs, labels, (5,))


def test_budget_plot_draws_one_line_per_method_with_error_bars():
    use_style()
    fig, ax = subplots(width=5.5, height=3.6)
    budget_plot(ax, [1, 2, 3], {"Ind": [30, 28, 27], "SSE": [29, 27.5, np.nan]}, {"Ind": [0.5, 0.3, 0.2]},
                title="t")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Ind", "SSE"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1B", "2B", "3B"]
    assert figure_problems(fig) == []
    with pytest.raises(ValueError, match="one value per budget"):
        budget_plot(ax, [1, 2], {"Ind": [1, 2, 3]}, title="t")
    plt.close(fig)


# ------------------------------------------------------------------------------------- cyclical SWA (figure 8)
def test_cyclic_swa_lr_falls_from_lr_1_to_lr_2_in_each_epoch_after_the_swa_lr_ramp():
    from lsdl_ens.averaging.cyclic_swa import cyclic_swa_lr
    from lsdl_ens.schedules import swa_lr
    from lsdl_ens.train import TrainStep

    n, lr_1, lr_2, start = 10, 0.05, 0.01, 4
    rates = [cyclic_swa_lr(TrainStep(i, i // n, i % n, n, 8), 0.1, lr_1, lr_2, start) for i in range(8 * n)]
    first = (start - 1) * n  # the first cycle begins with epoch `start` (1-based)
    for i in range(first):
        assert rates[i] == pytest.approx(swa_lr(i / n, 0.1, lr_1, start - 1))
    for i in range(first, 8 * n):  # Izmailov et al. eq. 2 with c = n: t = (mod(i - 1, c) + 1) / c, i from 1
        t = ((i + 1 - 1) % n + 1) / n
        assert rates[i] == pytest.approx((1 - t) * lr_1 + t * lr_2)
    assert rates[first + n - 1] == pytest.approx(lr_2) and rates[first + n] > rates[first + n - 1]


@pytest.fixture
def synthetic_swa(tmp_cache):
    """The smoke profile at 2 epochs, and the data spec of 256 blob images (32x32) in place of CIFAR-10."""
    from lsdl_ens.profiles import get_profile

    return get_profile("smoke", epochs=2), {"source": "synthetic", "n_train": 256, "seed": 1}


def test_cyclic_swa_averages_the_iterates_at_the_cycle_ends(synthetic_swa):
    from lsdl_ens.experiments.weight_averaging import cyclic_swa_recipe, train_cyclic_swa

    profile, data = synthetic_swa
    recipe = cyclic_swa_recipe(profile)
    states, info = train_cyclic_swa(recipe.replace(base=recipe.base.replace(data=data)))
    assert info["swa_epochs"] == [1, 2, 3]  # 1.5 x 2 epochs, averaged from epoch 1
    iterates = [states[f"iterate@{e}"] for e in info["swa_epochs"]]
    name = next(k for k in states["average"] if k.endswith("weight"))
    expected = torch.stack([s[name].double() for s in iterates]).mean(0)
    assert torch.allclose(states["average"][name].double(), expected, atol=1e-6)
    assert not torch.allclose(iterates[0][name], iterates[-1][name])


def test_trajectory_plane_passes_through_the_iterates_and_projects_their_average():
    from lsdl_ens.landscape import trajectory_plane
    from lsdl_ens.state import average as average_states

    models = [tiny_cnn(seed, bn=False) for seed in range(4)]
    states = [m.state_dict() for m in models]
    data = image_batches(blob_images(n=32, seed=5))
    mean = average_states(states)
    plane = trajectory_plane(tiny_cnn(9, bn=False), states, data, average=mean, grid=3, recompute_bn=False)
    assert plane["error"].shape == (3, 3) and plane["states_xy"].shape == (4, 2)
    np.testing.assert_allclose(plane["states_xy"][[0, 2, 3]], plane["points"], atol=1e-6)  # first, middle, last
    # projection is affine, so the average of the states projects to the mean of their projections
    np.testing.assert_allclose(plane["average_xy"], plane["states_xy"].mean(0), atol=1e-4)
    direct = [loss_and_error(m, iter(data), torch.device("cpu"))[1] for m in models]
    np.testing.assert_allclose(plane["state_error"], direct)  # each at its own weights
    with pytest.raises(ValueError, match="at least 3"):
        trajectory_plane(tiny_cnn(9, bn=False), states[:2], data, recompute_bn=False)


# ------------------------------------------------------------------------------------- SWAG at rank 20
def test_swag_callback_collects_several_iterates_per_epoch():
    from lsdl_ens.ensembles.swag import SWAG, SWAGCallback
    from lsdl_ens.train import Callback, fit

    class Record(Callback):  # every iterate, to check which ones SWAG averaged
        def __init__(self):
            self.params = []

        def on_step_end(self, model, optimizer, step, loss):
            self.params.append(torch.cat([q.detach().reshape(-1) for q in model.parameters()]).double())

    data = blob_images(n=64, seed=0)  # 4 batches of 16 per epoch
    model = tiny_cnn(seed=0)
    swag, record = SWAG(model, max_rank=20), Record()
    fit(model, data, epochs=3, lr_schedule=0.05, batch_size=16, progress=False,
        callbacks=[record, SWAGCallback(swag, swa_start=1, per_epoch=2)])
    assert swag.n_models == 4 and swag.rank == 4  # epochs 2 and 3, twice each
    taken = [record.params[e * 4 + b] for e in (1, 2) for b in (1, 3)]  # after batches 2 and 4 of the epoch
    torch.testing.assert_close(swag.mean, torch.stack(taken).mean(0))
    with pytest.raises(ValueError, match="per_epoch"):
        SWAGCallback(swag, swa_start=1, per_epoch=0)


def test_cpu_and_gpu_profiles_collect_enough_iterates_for_swag_rank():
    from lsdl_ens.profiles import PROFILES

    for name in ("cpu", "gpu"):
        s = PROFILES[name].swag
        assert (s.epochs - s.swa_start) * s.collections_per_epoch >= s.max_rank == 20, name


# ------------------------------------------------------------------------------------- cSGLD at two temperatures
def test_csgld_temperature_recipes_differ_only_in_the_temperature():
    from lsdl_ens.ensembles.csgld import CyclicalSGLD
    from lsdl_ens.experiments.ensembles_csgld import csgld_temperature_recipes
    from lsdl_ens.profiles import PROFILES, REFERENCE_TEMPERATURE

    p = PROFILES["cpu"]
    recipes = csgld_temperature_recipes(p, budget=2)
    cold, warm = recipes["reference"], recipes["warm"]
    assert cold.temperature == REFERENCE_TEMPERATURE and warm.temperature == p.csgld.warm_temperature == 1.0
    assert cold.replace(temperature=warm.temperature) == warm
    # the noise the warm sampler adds is sqrt(T_warm / T_cold) times the cold one's
    stds = [CyclicalSGLD([torch.nn.Parameter(torch.zeros(1))], lr=0.02, n_data=10_000,
                         temperature=r.temperature).noise_std() for r in (cold, warm)]
    assert stds[1] / stds[0] == pytest.approx((1.0 / REFERENCE_TEMPERATURE) ** 0.5)
    assert stds[1] > 1e-3 > 1e-5 > stds[0]


# ------------------------------------------------------------------------ mode-connecting simplex (figure 3)
def test_mode_connecting_triangle_keeps_the_two_modes_and_trains_only_the_connecting_vertex():
    from lsdl_ens.metrics import nll
    from lsdl_ens.simplex import simplex_grid, train_vertex
    from lsdl_ens.simplex.mode_connecting import mode_connecting_simplex
    from lsdl_ens.train import predict_probs

    a, b = tiny_cnn(0, bn=False), tiny_cnn(1, bn=False)
    simplex = mode_connecting_simplex(a, b.state_dict())
    name = simplex.param_names[0]
    assert torch.equal(simplex.vertex(1)[name], b.state_dict()[name])
    torch.testing.assert_close(simplex.vertex(2)[name], (a.state_dict()[name] + b.state_dict()[name]) / 2)
    assert [p.shape for p in simplex.trainable_parameters()] == [p.shape for p in simplex.vertex(2).values()]
    data = blob_images(n=64, seed=4)
    midpoint = simplex.vertex(2)[name].detach().clone()
    train_vertex(simplex, data, epochs=1, n_samples=2, batch_size=16, progress=False)
    assert not torch.allclose(simplex.vertex(2)[name], midpoint)  # the connecting vertex moved
    assert torch.equal(simplex.vertex(0)[name], a.state_dict()[name])  # the modes did not
    assert torch.equal(simplex.vertex(1)[name], b.state_dict()[name])
    grid = simplex_grid(simplex, data, resolution=2)
    corner_b = [i for i, w in enumerate(grid["alphas"].tolist()) if w == [0.0, 1.0, 0.0]][0]
    direct = nll(predict_probs(b, data), data.labels)  # network B itself, not through the simplex
    assert float(grid["loss"][corner_b]) == pytest.approx(direct, rel=1e-5)
    with pytest.raises(ValueError, match="state_b"):
        mode_connecting_simplex(a, {})


def test_simplex_plot_puts_each_vertex_at_a_corner():
    from lsdl_ens.lecture_plots import TRIANGLE, simplex_plot, triangle_xy
    from lsdl_ens.simplex import barycentric_grid

    use_style()
    alphas = barycentric_grid(3, 3).numpy()
    np.testing.assert_allclose(triangle_xy(np.eye(3)), TRIANGLE)
    np.testing.assert_allclose(triangle_xy([[1 / 3, 1 / 3, 1 / 3]])[0], TRIANGLE.mean(0))
    fig, ax = subplots(width=5.6, height=4.4)
    simplex_plot(ax, alphas, alphas[:, 0] * 10, title="t", colorbar_label="error (%)")
    assert [t.get_text() for t in ax.texts] == ["A", "B", "C"]
    assert figure_problems(fig) == []
    with pytest.raises(ValueError, match="one entry per point"):
        simplex_plot(ax, alphas, [1.0, 2.0], title="t", colorbar_label="x")
    plt.close(fig)


# ------------------------------------------------------------------------ feature distances per domain (figure 7)
def test_domain_sets_corrupt_the_target_images_and_keep_their_labels():
    from lsdl_ens.data import corrupt, profile_transfer
    from lsdl_ens.experiments import mode_connectivity_transfer as domains
    from lsdl_ens.profiles import get_profile

    # synthetic blob images in place of CIFAR-10: 40 labelled target images, 60 target test images
    p = get_profile("smoke", n_target=40, n_test=60, data_source="synthetic",
                    landscape={"n_similarity": 20, "domain_severity": 4})
    train_set = profile_transfer(p).target_train
    clean_train, clean_test = domains.domain_sets(p, "target")
    assert clean_train is train_set and len(clean_test) == 20
    noisy_train, noisy_test = domains.domain_sets(p, "gaussian_noise")
    assert torch.equal(noisy_train.labels, train_set.labels) and torch.equal(noisy_test.labels, clean_test.labels)
    assert torch.equal(noisy_train.images, corrupt(train_set.images, "gaussian_noise", 4, seed=1))
    assert not torch.equal(noisy_test.images, clean_test.images)
    assert domains.PAIRS == ("P-T & P-T", "RI-T & RI-T", "P-T & P", "RI-T & P")
