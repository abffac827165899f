"""Typed recipes: frozen, checked, `replace` refusing unknown fields, a stable cache key that changes with every
field and names the kind of CIFAR-10 copy, and the one loader a recipe trains on."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lsdl_ens.recipe_types import DataSpec, Init, Recipe
from lsdl_ens.recipes import finetune_recipe, standard_recipe, training_loader

ROOT = Path(__file__).resolve().parents[1]


def _changed(name, value):
    """A different valid value of a recipe or data-spec field."""
    special = {"model": "resnet20", "schedule": "constant", "optimizer": "adam", "augment": "strong",
               "name": "target", "source": "torchvision", "schedule_kw": {"lr_min": 0.001}, "model_kw": {"width": 2},
               "label_smoothing": 0.1, "precision": "bf16", "channels_last": True}
    if name in special:
        return special[name]
    return 7 if value is None else value * 2 if isinstance(value, float) else value + 1


def test_the_key_is_the_same_in_another_process():
    code = ("from lsdl_ens.recipes import finetune_recipe; "
            "print(finetune_recipe('smoke', backbone_seed=1, seed=2, epochs=3).key())")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == finetune_recipe("smoke", backbone_seed=1, seed=2, epochs=3).key()


def test_every_field_changes_the_key():
    base = standard_recipe("smoke")
    keys = {base.key()}
    for f in dataclasses.fields(Recipe):
        if f.name in ("data", "init"):
            continue
        keys.add(base.replace(**{f.name: _changed(f.name, getattr(base, f.name))}).key())
    for f in dataclasses.fields(DataSpec):
        changes = {f.name: _changed(f.name, getattr(base.data, f.name))}
        if f.name == "name":
            changes.update(n_target=10, n_target_val=10)
        keys.add(base.replace(data=changes).key())
    keys.add(base.replace(init=Init(standard_recipe("smoke", 1))).key())
    keys.add(base.replace(init=Init(standard_recipe("smoke", 1), head="random")).key())
    n_fields = len(dataclasses.fields(Recipe)) - 2 + len(dataclasses.fields(DataSpec)) + 2
    assert len(keys) == 1 + n_fields


def test_the_two_kinds_of_cifar10_copy_never_share_a_key():
    jpeg = standard_recipe("smoke").replace(data={"source": "cifar10-jpeg"})
    assert jpeg.replace(data={"source": "torchvision"}).key() != jpeg.key()


def test_a_synthetic_source_trains_on_blob_images_under_a_key_of_its_own():
    from lsdl_ens.data import check_data_source, data_splits, synthetic_cifar10, training_set

    recipe = standard_recipe("smoke").replace(data={"source": "synthetic", "n_train": 40, "seed": 3})
    assert recipe.key() != recipe.replace(data={"source": "cifar10-jpeg"}).key()
    images = training_set(recipe.data)
    assert images.images.shape == (40, 3, 32, 32) and images.images.dtype == torch.uint8
    assert torch.bincount(images.labels).tolist() == [4] * 10  # class balanced, as the CIFAR-10 splits
    pool = {bytes(x.numpy()) for x in synthetic_cifar10()[0].images}
    assert all(bytes(x.numpy()) in pool for x in images.images)  # cut from the synthetic train set
    train, val, test = data_splits(recipe.data)
    assert torch.equal(train.images, images.images) and len(val) == recipe.data.n_val
    assert len(test) == recipe.data.n_test
    again = training_set(recipe.data)
    assert torch.equal(again.images, images.images)  # deterministic in the spec
    assert not torch.equal(training_set(recipe.data.replace(seed=4)).images, images.images)
    target = finetune_recipe("smoke").replace(data={"source": "synthetic", "n_target": 12})
    assert sorted(set(training_set(target.data).labels.tolist())) == [0, 1, 2, 3, 4]
    _, labels = next(iter(training_loader(recipe)))  # the loader a recipe trains on reads the same source
    assert len(labels) == min(recipe.batch_size, 40) and set(labels.tolist()) <= set(range(10))
    with pytest.raises(ValueError, match="data.source is 'synthetic'"):
        check_data_source(recipe.data)  # a run reading CIFAR-10 directly refuses a synthetic recipe


def test_a_synthetic_profile_reaches_its_recipes_and_splits():
    from lsdl_ens.data import profile_data, profile_transfer
    from lsdl_ens.profiles import get_profile, profile_table

    p = get_profile("smoke", n_train=50, n_test=20, n_source=30, n_target=10, data_source="synthetic")
    assert standard_recipe(p).data.source == "synthetic" and finetune_recipe(p).data.source == "synthetic"
    assert finetune_recipe(p).init.recipe.data.source == "synthetic"
    assert standard_recipe(p).key() != standard_recipe(get_profile(p, data_source="cifar10")).key()
    train, val, test = profile_data(p)
    assert (len(train), len(val), len(test)) == (50, p.n_val, 20)
    split = profile_transfer(p)
    assert (len(split.source_train), len(split.target_train), len(split.target_test)) == (30, 10, 20)
    assert "| data_source | cifar10 | cifar10 | cifar10 |" in profile_table()
    with pytest.raises(ValueError, match="data_source must be one of cifar10, synthetic"):
        get_profile("smoke", data_source="svhn")


def test_source_kind_and_a_mismatched_recipe_is_refused(tmp_path, monkeypatch):
    from lsdl_ens.data import cifar10_source_kind

    (tmp_path / "tv" / "cifar-10-batches-py").mkdir(parents=True)
    (tmp_path / "tv" / "cifar-10-batches-py" / "test_batch").write_bytes(b"")
    (tmp_path / "jpeg").mkdir()
    (tmp_path / "jpeg" / "cifar10-jpeg.tar.gz").write_bytes(b"")
    assert cifar10_source_kind(tmp_path / "tv") == "torchvision"
    assert cifar10_source_kind(tmp_path / "jpeg") == "cifar10-jpeg"
    monkeypatch.setenv("LSDL_DATA", str(tmp_path / "tv"))
    assert standard_recipe("smoke").data.source == "torchvision"  # recipes name the copy found
    jpeg_recipe = standard_recipe("smoke").replace(data={"source": "cifar10-jpeg"})
    with pytest.raises(ValueError, match="data.source is 'cifar10-jpeg'.*'torchvision'"):
        training_loader(jpeg_recipe)  # before any image is read


def test_replace_checks_and_refuses_unknown_fields():
    r = standard_recipe("smoke")
    assert r.replace(epochs=3).epochs == 3 and r.epochs == 2
    assert r.replace(data={"n_train": 500}).data.n_train == 500 and r.data.n_train == 1000
    with pytest.raises(ValueError, match=r"unknown recipe field\(s\) \['epoch'\]"):
        r.replace(epoch=3)
    with pytest.raises(ValueError, match=r"unknown recipe field\(s\) \['epoch'\]"):
        standard_recipe("smoke", epoch=3)
    with pytest.raises(ValueError, match=r"unknown data field\(s\) \['n_trian'\]"):
        r.replace(data={"n_trian": 3})
    with pytest.raises(ValueError, match="batch_size"):
        r.replace(batch_size=0)
    with pytest.raises(ValueError, match="data.n_train"):
        r.replace(data={"n_train": -1})
    with pytest.raises(ValueError, match="data.source"):
        r.replace(data={"source": "imagenet"})
    with pytest.raises(TypeError, match="init must be an Init"):
        r.replace(init={"recipe": r, "head": "random"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.epochs = 3


def test_keyword_dicts_are_private_copies_and_dicts_round_trip():
    kw = {"swa_start": 2, "swa_lr": 0.01}
    r = standard_recipe("smoke", schedule="swa", schedule_kw=kw)
    kw["swa_lr"] = 0.5
    assert r.schedule_kw["swa_lr"] == 0.01
    ft = finetune_recipe("smoke", backbone_seed=1)
    assert Recipe.from_dict(ft.as_dict()) == ft and Recipe.from_dict(ft.as_dict()).key() == ft.key()
    assert ft.init.recipe.data.name == "source" and ft.data.name == "target"


def test_train_and_cache_accept_only_recipes(tmp_path):
    from lsdl_ens.cache import CheckpointCache
    from lsdl_ens.recipes import train

    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        train(standard_recipe("smoke").as_dict())
    cache = CheckpointCache(tmp_path)
    r = standard_recipe("smoke")
    cache.save("train", r, {}, {})
    assert cache.load("train", r)["recipe"] == r.as_dict()  # the file stores plain JSON values
    assert cache.path("train", r) == cache.path("train", r.as_dict())


def test_family_recipes_are_typed_too():
    from lsdl_ens.experiments.optimizers_tta import clip_recipe, optimizer_recipe
    from lsdl_ens.experiments.basin_sampling import spro_recipe

    from lsdl_ens.experiments.ensembles_csgld import csgld_recipe
    from lsdl_ens.experiments.ensembles_snapshots import fge_recipe, sse_recipe, trajectory_recipe
    from lsdl_ens.experiments.basin_sampling import swag_recipe

    family = (spro_recipe("smoke"), optimizer_recipe("lookahead", "smoke"), clip_recipe("smoke"), sse_recipe("smoke"),
              fge_recipe("smoke"), trajectory_recipe("smoke"), csgld_recipe("smoke"), swag_recipe("smoke"))
    for recipe in family:
        with pytest.raises(ValueError, match=r"unknown recipe field\(s\) \['bogus'\]"):
            recipe.replace(bogus=1)
        field = "seed" if hasattr(recipe, "seed") else "budget" if hasattr(recipe, "budget") else "max_rank" \
            if hasattr(recipe, "max_rank") else "every_epochs"
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(recipe, field, 5)
        assert recipe.replace(**{field: getattr(recipe, field) + 1}).key() != recipe.key()
        assert '"source": "cifar10-jpeg"' in json.dumps(recipe.as_dict())  # the data source is in the key
    assert optimizer_recipe("sgd", "smoke").key() != optimizer_recipe("swa", "smoke").key()
    with pytest.raises(ValueError, match="alpha"):
        optimizer_recipe("lookahead", "smoke", alpha=0.0)
    with pytest.raises(ValueError, match="n_vertices"):
        spro_recipe("smoke").replace(n_vertices=1)


def test_transfer_member_recipes_are_typed():
    from lsdl_ens import transfer as T

    first = finetune_recipe("smoke")
    member = T.cycle_recipes(first, "sse", 3, lr_mult=2.0, epoch_mult=1.0)[2]
    soup = T.soup_recipe([first, member])
    assert isinstance(member, T.CycleMemberRecipe) and member.first == first and member.cycle.index == 2
    assert soup.members == (first, member)
    assert soup.replace(bn_seed=1).key() != soup.key() != member.key()
    assert member.replace(cycle=member.cycle.replace(seed=0)).key() != member.key()
    with pytest.raises(ValueError, match=r"unknown recipe field\(s\) \['bogus'\]"):
        member.replace(bogus=1)
    with pytest.raises(ValueError, match="at least one ingredient"):
        T.soup_recipe([])
    with pytest.raises(ValueError, match="method"):
        member.cycle.replace(method="fge")


def test_typed_recipes_built_on_a_base_refuse_anything_but_a_recipe():
    import dataclasses

    from lsdl_ens.experiments.ensembles_csgld import csgld_recipe
    from lsdl_ens.experiments.ensembles_snapshots import fge_recipe, sse_recipe, trajectory_recipe
    from lsdl_ens.experiments.weight_averaging import cyclic_swa_recipe
    from lsdl_ens.experiments.basin_sampling import spro_recipe

    for recipe in (csgld_recipe("smoke"), sse_recipe("smoke"), fge_recipe("smoke"), trajectory_recipe("smoke"),
                   cyclic_swa_recipe("smoke"), spro_recipe("smoke")):
        fields = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe)}
        with pytest.raises(TypeError, match="base must be a Recipe"):
            type(recipe)(**{**fields, "base": recipe.base.as_dict()})
