"""Tests for lsdl_ens.experiments.mode_connectivity: spawning reproduces the parent run bit for bit, the offset
loader, the evaluation protocol, the sizes table, the chapter's run list and its claims. Synthetic images stand in
for CIFAR-10 (a profile with ``data_source="synthetic"``), a tiny VGG for the profile's model, and a private
cache."""

import numpy as np
import pytest
import torch

from lsdl_ens.data import profile_data
from _tiny import one_thread  # noqa: F401
from lsdl_ens.experiments import mode_connectivity as E
from lsdl_ens.landscape import spawning as SP
from lsdl_ens.profiles import PROFILES, get_profile
from lsdl_ens.recipes import standard_recipe, train


#: the smoke profile on synthetic 32x32 blob images in place of CIFAR-10 (train 300, test 400; target: 5 classes)
SYNTHETIC = get_profile("smoke", n_train=300, n_test=400, n_target=100, data_source="synthetic")


@pytest.fixture
def synthetic():
    """The synthetic profile's training set."""
    return profile_data(SYNTHETIC)[0]


def tiny_recipe(seed=0, epochs=2):
    return standard_recipe(SYNTHETIC, seed, model_kw={"widths": [4, 8, 8, 8]}, epochs=epochs)


def _model_part(flat, k):
    prefix = f"{k}.model."
    return {name[len(prefix):]: v for name, v in flat.items() if name.startswith(prefix)}


def test_sizes_table_covers_every_profile():
    for p in PROFILES.values():
        sizes = p.landscape
        assert all(0 <= k < p.epochs for k in sizes.spawn_epochs)
        assert sizes.spawn_epochs[0] == 0  # k = 0: same init, different data order


def test_spawn_parent_matches_standard_training_and_child_with_parent_seed_reproduces_it(tmp_cache, synthetic):
    recipe = tiny_recipe()
    parent_run = E.SpawnParentRecipe(recipe, (0, 1))
    parent = E.spawn_parent(parent_run)
    assert {name.split(".")[0] for name in parent} == {"0", "1", "2"}
    assert not any(name.startswith("0.momentum") for name in parent)  # no step taken before epoch 0
    assert any(name.startswith("1.momentum") for name in parent)
    standard, _ = train(recipe, progress=False)  # the same recipe through lsdl_ens.recipes.train
    final = _model_part(parent, 2)
    for name, value in standard.state_dict().items():
        torch.testing.assert_close(final[name], value, rtol=0, atol=0)
    init = _model_part(parent, 0)
    assert not torch.equal(init["head.weight"], final["head.weight"])
    # a child restarting at epoch 1 with the parent's own data seed (weights + momentum restored) is the parent
    same = E.spawn_child(E.SpawnChildRecipe(parent_run, 1, child_seed=recipe.seed))
    for name, value in final.items():
        torch.testing.assert_close(same[name], value, rtol=0, atol=0)
    other = E.spawn_child(E.SpawnChildRecipe(parent_run, 1, child_seed=7))
    assert not torch.equal(other["head.weight"], final["head.weight"])


def test_offset_loader_continues_the_epoch_numbering(synthetic):
    from lsdl_ens.data import BatchLoader

    data = synthetic
    plain = BatchLoader(data, 64, shuffle=True, augment=True, seed=3)
    shifted = SP.OffsetLoader(data, 64, shuffle=True, augment=True, seed=3, offset=2)
    for (xa, ya), (xb, yb) in zip(plain.iterate(epoch=2), shifted.iterate(epoch=0)):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_argument_checks():
    with pytest.raises(ValueError, match="kind must be 'bezier' or 'polychain'"):
        E.curve_recipe("smoke", "spline")
    with pytest.raises(ValueError, match="unknown recipe field"):
        E.curve_recipe("smoke", lr_max=1)
    with pytest.raises(ValueError, match="spawn_epochs must be integers"):
        E.spawn_experiment("smoke", spawn_epochs=(0, 99))
    with pytest.raises(ValueError, match="third must be 'seed2' or 'bezier'"):
        E.plane_results("smoke", third="seed3")
    with pytest.raises(ValueError, match="domain must be 'cifar10' or 'target'"):
        E.landscape_data("smoke", domain="svhn")
    p, recipe = get_profile("smoke"), standard_recipe("smoke", 0)
    with pytest.raises(ValueError, match="domain must be 'cifar10' or 'target'"):
        E.PathRun(p, recipe, recipe, 3, domain="svhn")
    with pytest.raises(TypeError, match="a and b must be Recipes"):
        E.PathRun(p, recipe, {"seed": 1}, 3)
    with pytest.raises(ValueError, match="states and tags go together"):
        E.pair_path(p, recipe, recipe, 3, states=({}, {}))
    with pytest.raises(ValueError, match="spawn_epochs must be integers"):
        E.SpawnParentRecipe(recipe, (0, 1.5))
    with pytest.raises(ValueError, match="k must be a spawn epoch"):
        E.SpawnChildRecipe(E.SpawnParentRecipe(recipe, (0,)), 1, child_seed=3)
    with pytest.raises(ValueError, match="child_seed"):
        E.SpawnChildRecipe(E.SpawnParentRecipe(recipe, (0,)), 0, child_seed=-1)
    with pytest.raises(TypeError, match="ends must be two Recipes"):
        E.mode_simplex_recipe(p).replace(ends=(recipe,))
    with pytest.raises(ValueError, match="epochs"):
        E.mode_simplex_recipe(p).replace(epochs=0)
    with pytest.raises(ValueError, match="kind must be 'P-T' or 'RI-T'"):
        E.DomainModelRun(p, recipe, "P", "contrast")
    with pytest.raises(ValueError, match="domain must be a corruption name"):
        E.DomainModelRun(p, recipe, "RI-T", "target")
    with pytest.raises(ValueError, match="grid"):
        E.PlaneRun(p, "seed2", 0)


def test_landscape_data_protocol(synthetic):
    assert len(synthetic) == 300
    data = E.landscape_data(SYNTHETIC)
    sizes = PROFILES["smoke"].landscape
    assert len(data["eval"]) == min(sizes.n_eval, 400) and len(data["train_eval"]) == min(sizes.n_train_eval, 300)
    assert len(data["bn"]) == min(PROFILES["smoke"].n_bn_batches, -(-300 // PROFILES["smoke"].batch_size))
    assert data["bn"][0][0].shape == (PROFILES["smoke"].batch_size, 3, 32, 32)
    assert np.bincount(data["eval"].labels.numpy()).std() == 0  # class balanced
    target = E.landscape_data(SYNTHETIC, domain="target")
    assert set(target["eval"].labels.tolist()) == set(range(5))


# ----------------------------------------------------------------------------------------------- the chapter's runs
#: a smaller synthetic profile for the run list: every cached run of the chapter trains in seconds
RUNS_PROFILE = get_profile("smoke", n_train=96, n_test=100, n_source=60, n_target=40, data_source="synthetic",
                           curve_epochs=1, pretrain_epochs=1, epochs=2,
                           landscape={"n_eval": 50, "n_train_eval": 50, "n_alphas": 3, "n_curve_points": 3,
                                      "n_spawn_alphas": 3, "plane_grid": 2, "ri_epochs": 1, "n_similarity": 20,
                                      "simplex_epochs": 1, "simplex_grid": 2, "domains": ("gaussian_noise",)},
                           spro={"n_samples": 1})


def chapter_computations(p):
    """Everything the chapter computes (its notebook's calls and its claims)."""
    E.segment_results(p)
    for kind in ("bezier", "polychain"):
        E.trained_curve(E.curve_recipe(p, kind))
        E.curve_results(E.curve_recipe(p, kind), profile=p)
    E.plane_results(p, third="seed2")
    E.plane_results(p, third="bezier")
    E.mode_simplex_grid(p)
    E.spawn_experiment(p)
    E.transfer_lmc(p)
    E.similarity_tables(p)
    E.transfer_models(p)
    E.domain_feature_distances(p)
    return E.claims(E.claim_measures(p), p)


def test_runs_list_everything_the_chapter_reads(tmp_cache, tmp_path, monkeypatch):
    from lsdl_ens.cache import BUILD_LOG, default_cache, read_build_log
    from lsdl_ens.experiments.runs import chapter_runs, missing_runs

    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    runs = chapter_runs("02", RUNS_PROFILE)
    assert len(missing_runs(runs, default_cache())) == len(runs)  # an empty cache holds none of them
    for run in runs:
        run.train()
    built = read_build_log(log)
    assert len(built) == len(runs), "each listed run builds exactly its own entry (parents listed first)"
    assert not missing_runs(runs, default_cache())
    assert {"train", "curve", "curve_eval", "landscape_path", "plane", "mode_simplex", "mode_simplex_grid",
            "spawn_parent", "spawn_child", "domain_model"} <= {run.kind for run in runs}
    found = chapter_computations(RUNS_PROFILE)
    assert read_build_log(log) == built, "the chapter built runs that runs(profile) does not list"
    assert len(found) == 11


def fake_measures(**changes):
    """Measures of three repetitions shaped like `claim_measures`: a clear barrier on the segment and none on the
    curve, spawning stable after epoch 0, transfer connected, P-T features closer than RI-T ones."""
    base = {"segment_barrier": [40.0, 42.0, 44.0], "curve_barrier": [0.2, 0.4, 0.3], "spawn_epochs": [0, 2, 6],
            "spawn_barrier": [[6.0, 0.5, 0.2], [7.0, 0.4, 0.1], [6.5, 0.6, 0.3]],
            "transfer_barrier": {"P-T": [0.5, 0.7, 0.6], "RI-T": [40.0, 44.0, 42.0]},
            "cka_pool": {"P-T & P-T": [0.99, 0.98, 0.99], "RI-T & RI-T": [0.9, 0.92, 0.91]},
            "cka_deep_ri": [0.02, 0.03, 0.04], "l2_ratio": [9.0, 11.0, 10.0], "deep_stage": "stage4"}
    base.update(changes)
    return base


def test_claims_follow_the_measures():
    p = get_profile("smoke")
    held = {c.id: c.verdict for c in E.claims(fake_measures(), p)}
    assert set(held.values()) == {"holds"}, held
    assert len(held) == 11 and all(i.startswith("02-") for i in held)
    # spawning at k = 0 stable (as in a small network), a curve with a barrier, RI-T features alike
    changed = E.claims(fake_measures(spawn_barrier=[[1.0, 0.5, 0.2], [1.2, 0.4, 0.1], [0.9, 0.6, 0.3]],
                                     curve_barrier=[3.0, 3.5, 4.0], cka_deep_ri=[0.9, 0.92, 0.93]), p)
    verdicts = {c.id: c.verdict for c in changed}
    assert verdicts["02-spawn-k0-unstable"] == "does not hold"
    assert verdicts["02-curve-barrier"] == "does not hold"
    assert verdicts["02-cka-ri-near-zero"] == "does not hold"
    assert verdicts["02-curve-below-segment"] == "holds"
    noisy = E.claims(fake_measures(transfer_barrier={"P-T": [0.5, 4.0, 1.0], "RI-T": [40.0, 44.0, 42.0]}), p)
    assert {c.id: c.verdict for c in noisy}["02-transfer-pt-connected"] == "within noise"
    claim = next(c for c in changed if c.id == "02-spawn-k0-unstable")
    assert claim.ours == pytest.approx(np.mean([1.0, 1.2, 0.9])) and claim.uncertainty[0] < claim.ours
    assert claim.paper and claim.paper_source and "2" in claim.reason


def test_chapter_figures_follow_the_size_policy():
    import matplotlib.pyplot as plt

    from lsdl_ens.experiments import mode_connectivity_plots as V
    from lsdl_ens.plotting import figure_problems, use_style

    use_style()
    xs = np.linspace(0, 1, 5)
    path = {"alphas": xs, "error": np.array([0.3, 0.6, 0.8, 0.6, 0.32]), "train_loss": np.array([1, 2, 3, 2, 1.0]),
            "train_error": np.array([0.2, 0.5, 0.7, 0.5, 0.2])}
    curve = {"ts": xs, "error": np.array([0.3, 0.33, 0.34, 0.32, 0.32]), "train_loss": np.ones(5)}
    assert V.path_numbers(path, {"bezier": curve})["segment_barrier"] == pytest.approx(100 * (0.8 - 0.31))
    stages = ["stage1", "stage2", "pool"]
    sim = {"stages": stages, "cka": {p: np.full(3, 0.5) for p in ("P-T & P", "P-T & P-T", "RI-T & RI-T")},
           "l2": {p: np.full(3, 4.0) for p in ("P-T & P", "P-T & P-T", "RI-T & RI-T")}}
    dist = {"domains": ["target", "gaussian_noise"], "l2": {d: {p: [1.0, 2.0] for p in E.PAIRS}
                                                             for d in ("target", "gaussian_noise")}}
    spawn = {"spawn_epochs": [0, 1], "paths": {0: path, 1: path}, "independent": path}
    figures = [V.paths_figure(path, {"bezier": curve, "polychain": curve}), V.similarity_figure(sim),
               V.domain_figure(dist, E.PAIRS), V.spawn_figure(spawn, fake_measures()),
               V.transfer_figure({"P-T": path, "RI-T": path})]
    for fig in figures:
        assert figure_problems(fig) == [], figure_problems(fig)
        plt.close(fig)


def test_heatmap_labels_contrast_with_their_cells():
    import matplotlib.pyplot as plt

    from lsdl_ens.experiments import mode_connectivity_plots as V

    stages = ["stage1", "pool"]
    pairs = ("P-T & P-T", "RI-T & RI-T")
    sim = {"stages": stages, "cka": {"P-T & P-T": np.array([1.0, 0.9]), "RI-T & RI-T": np.array([0.1, 0.0])},
           "l2": {p: np.array([1.0, 2.0]) for p in pairs}}
    fig = V.similarity_figure(sim)
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours[0] == "black" and colours[-1] == "white"  # viridis: yellow at the top, dark purple at 0
    plt.close(fig)


def test_plane_figures_name_each_path_once():
    import matplotlib.pyplot as plt

    from lsdl_ens.experiments import mode_connectivity_plots as V
    from lsdl_ens.plotting import figure_problems, use_style

    use_style()
    grid = np.linspace(-1, 2, 4)
    plane = {"xs": grid, "ys": grid, "loss": np.exp(np.add.outer(grid, grid) ** 2 / 10),
             "points": np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]]),
             "bezier_xy": np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]]),
             "polychain_xy": np.array([[0.0, 0.0], [0.5, 0.8], [1.0, 0.0]])}
    for fig in (V.three_plane_figure(plane), V.curve_plane_figure(plane)):
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert len(labels) == len(set(labels)) >= 2, labels
        assert figure_problems(fig) == [], figure_problems(fig)
        plt.close(fig)
    fig = V.curve_plane_figure(plane)
    assert "straight segment" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
