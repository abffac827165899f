"""Tests for lsdl_ens.landscape.experiments: spawning reproduces the parent run bit for bit, the offset loader, the
evaluation protocol and the sizes table. Synthetic images stand in for CIFAR-10 (a profile with
``data_source="synthetic"``), a tiny VGG for the profile's model, and a private cache."""

import numpy as np
import pytest
import torch

from lsdl_ens.data import profile_data
from _tiny import one_thread  # noqa: F401
from lsdl_ens.landscape import experiments as E
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


def testspawn_parent_matches_standard_training_and_child_with_parent_seed_reproduces_it(tmp_cache, synthetic):
    recipe = tiny_recipe()
    parent = SP.spawn_parent(recipe, (0, 1))
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
    same = SP.spawn_child(recipe, (0, 1), 1, child_seed=recipe.seed)
    for name, value in final.items():
        torch.testing.assert_close(same[name], value, rtol=0, atol=0)
    other = SP.spawn_child(recipe, (0, 1), 1, child_seed=7)
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
