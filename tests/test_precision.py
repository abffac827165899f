"""Training precision and memory format are part of a recipe: the run profile chooses them (smoke fp32, cpu and
gpu bf16 autocast + channels_last), they change the cache key, `recipes.train` and the family runs train with
them, and a bf16 network predicts almost as its fp32 twin."""

import dataclasses

import pytest
import torch

from lsdl_ens.cache import default_cache
from _tiny import blob_images
from lsdl_ens.profiles import get_profile, profile_table
from lsdl_ens.recipe_types import Recipe
from lsdl_ens.recipes import finetune_recipe, pretrain_recipe, standard_recipe, train
from lsdl_ens.train import predict_probs

SMALL = {"model_kw": {"widths": [4, 8, 8, 8]}, "epochs": 2, "batch_size": 16,  # 96 blob images, no CIFAR-10
         "data": {"name": "cifar10", "source": "synthetic", "n_train": 96, "n_val": 500, "n_test": 1000, "seed": 1}}
FAST = {"precision": "bf16", "channels_last": True}


@pytest.fixture
def blobs(tmp_cache):
    """The 96 coloured-blob images (32x32) the SMALL recipes train on, and a private cache."""
    return blob_images(n=96, size=32, seed=1)


def test_the_profile_chooses_precision_and_memory_format():
    expected = {"smoke": ("fp32", False), "cpu": ("bf16", True), "gpu": ("bf16", True)}
    for name, (precision, channels_last) in expected.items():
        p = get_profile(name)
        assert (p.precision, p.channels_last) == (precision, channels_last)
        for recipe in (standard_recipe(p), pretrain_recipe(p), finetune_recipe(p), finetune_recipe(p).init.recipe):
            assert (recipe.precision, recipe.channels_last) == (precision, channels_last)
    plain = get_profile("cpu", precision="fp32", channels_last=False)  # overridable like every field
    assert (standard_recipe(plain).precision, standard_recipe(plain).channels_last) == ("fp32", False)
    assert standard_recipe(plain).key() != standard_recipe("cpu").key()
    table = profile_table()
    assert "| precision | fp32 | bf16 | bf16 |" in table and "| channels_last | False | True | True |" in table


def test_the_key_changes_with_precision_and_memory_format():
    base = standard_recipe("smoke")
    variants = [base.replace(precision=p, channels_last=c) for p in ("fp32", "bf16") for c in (False, True)]
    assert len({r.key() for r in variants}) == 4  # fp32 and bf16 weights never share a cache entry
    assert "precision" not in base.as_dict() and "channels_last" not in base.as_dict()  # fp32 keys as before
    fast = base.replace(**FAST)
    assert fast.as_dict()["precision"] == "bf16" and fast.as_dict()["channels_last"] is True
    assert Recipe.from_dict(fast.as_dict()) == fast and Recipe.from_dict(base.as_dict()) == base


@pytest.mark.parametrize("change, error, field", [
    ({"precision": "fp16"}, ValueError, "precision"), ({"precision": None}, ValueError, "precision"),
    ({"channels_last": 1}, TypeError, "channels_last"), ({"channels_last": "yes"}, TypeError, "channels_last"),
])
def test_bad_values_raise_naming_the_field(change, error, field):
    with pytest.raises(error, match=rf"^{field} must"):
        standard_recipe("smoke").replace(**change)
    with pytest.raises(error, match=rf"^{field} must"):
        get_profile("cpu", **change)
    with pytest.raises(error, match=rf"^{field} must"):
        Recipe(**{**dataclasses.asdict(standard_recipe("smoke")), "data": standard_recipe("smoke").data, **change})


def test_bf16_channels_last_training_through_recipes_train_predicts_like_fp32(blobs):
    plain = standard_recipe("smoke", 0, **SMALL)
    fast = plain.replace(**FAST)
    m32, _ = train(plain, progress=False)
    m16, _ = train(fast, progress=False)
    paths = [default_cache().path("train", r) for r in (plain, fast)]
    assert paths[0] != paths[1] and all(p.is_file() for p in paths)  # two cache entries
    w32, w16 = m32.state_dict(), m16.state_dict()
    assert any(not torch.equal(w32[k], w16[k]) for k in w32)  # bf16 really was used
    p32, p16 = predict_probs(m32, blobs), predict_probs(m16, blobs)
    # measured: max |dp| 0.003, 99% same class; another fp32 seed differs by 0.14 and agrees on 5%
    assert (p32 - p16).abs().max() < 0.05
    assert (p32.argmax(1) == p16.argmax(1)).float().mean() >= 0.9
    again, _ = train(fast, progress=False)  # read back from the cache: the same weights
    assert all(torch.equal(again.state_dict()[k], w16[k]) for k in w16)


def _families():
    from lsdl_ens.experiments.weight_averaging import cyclic_swa_recipe, train_cyclic_swa
    from lsdl_ens.experiments.ensembles_csgld import csgld_recipe, train_csgld
    from lsdl_ens.experiments.ensembles_snapshots import fge_recipe, sse_recipe, train_fge, train_sse
    from lsdl_ens.experiments.basin_sampling import swag_recipe, train_swag
    from lsdl_ens.experiments.mode_connectivity import SpawnChildRecipe, SpawnParentRecipe, spawn_child

    def on(recipe, field, options):
        base = getattr(recipe, field).replace(**SMALL, **options)
        recipe = recipe.replace(**{field: base})
        return recipe.replace(trajectory=recipe.trajectory.replace(base=base)) if field == "base" and \
            hasattr(recipe, "trajectory") else recipe

    return {  # name -> options -> one trained state dict of the family's run
        "sse": lambda o: train_sse(on(sse_recipe("smoke"), "base", o), progress=False).states[-1],
        "fge": lambda o: train_fge(on(fge_recipe("smoke"), "base", o), progress=False).states[-1],
        "csgld": lambda o: train_csgld(on(csgld_recipe("smoke", samples_per_cycle=1), "base", o),
                                       progress=False).states[-1],
        "swag": lambda o: train_swag(on(swag_recipe("smoke"), "train", o), progress=False)[1].state_dict(),
        "cyclic_swa": lambda o: {k: v for k, v in train_cyclic_swa(on(cyclic_swa_recipe("smoke"), "base", o),
                                                                   progress=False)[0]["average"].items()},
        "spawning": lambda o: spawn_child(SpawnChildRecipe(SpawnParentRecipe(standard_recipe("smoke", 0, **SMALL, **o),
                                                                      (1,)), 1, child_seed=0)),
    }


@pytest.mark.parametrize("family", ["sse", "fge", "csgld", "swag", "cyclic_swa", "spawning"])
def test_family_runs_train_with_the_recipe_options(family, blobs):
    run = _families()[family]
    plain, fast = run({}), run(FAST)
    assert plain.keys() == fast.keys()
    floats = [k for k in plain if plain[k].is_floating_point()]
    assert any(not torch.equal(plain[k], fast[k]) for k in floats), f"{family} ignored precision"
    for k in floats:  # close: the same run up to bf16 rounding (BN running statistics average bf16 activations)
        tol = 0.2 if "running_" in k else 0.1
        torch.testing.assert_close(fast[k], plain[k], atol=tol, rtol=0.1, msg=f"{family}: {k}")
