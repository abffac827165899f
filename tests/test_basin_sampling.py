"""The chapter "Sampling a basin": its cached runs (lsdl_ens.experiments.basin_sampling)."""

import pytest

from lsdl_ens.cache import read_build_log
from lsdl_ens.ensembles.swag import SWAGRecipe
from lsdl_ens.experiments import basin_sampling as B
from lsdl_ens.experiments.runs import chapter_runs
from lsdl_ens.profiles import get_profile
from lsdl_ens.simplex import SPRORecipe


@pytest.fixture
def tiny_profile():
    return get_profile("smoke", epochs=2, batch_size=16, n_train=64, n_val=32, n_test=48, data_source="synthetic",
                       csgld={"beta": 0.5, "samples_per_cycle": 1},
                       ensemble_size=3, swag={"epochs": 2, "swa_start": 1, "max_rank": 2, "n_samples": 2},
                       spro={"n_vertices": 2, "epochs": 1, "n_samples": 1, "n_points": 2, "grid": 2})


def test_recipes_take_their_sizes_from_the_profile(tiny_profile):
    swag = B.swag_recipe(tiny_profile, seed=1)
    assert isinstance(swag, SWAGRecipe) and swag.max_rank == 2 and swag.train.epochs == 2 and swag.train.seed == 1
    assert B.swag_recipe(tiny_profile, max_rank=3).max_rank == 3
    spro = B.spro_recipe(tiny_profile, seed=2)
    assert isinstance(spro, SPRORecipe) and spro.n_vertices == 2 and spro.base.seed == 2
    with pytest.raises(TypeError, match="recipe must be a SWAGRecipe"):
        B.train_swag(spro)
    with pytest.raises(TypeError, match="recipe must be a SPRORecipe"):
        B.train_spro(swag)


def test_runs_list_every_run_parents_first(tiny_profile):
    runs = chapter_runs("05", tiny_profile)
    kinds = [r.kind for r in runs]
    assert kinds.count("swag") == kinds.count("spro") == tiny_profile.claim_seeds
    assert kinds.count("train") == max(tiny_profile.ensemble_size, tiny_profile.claim_seeds)
    assert kinds.index("trajectory") < kinds.index("fge")
    assert max(i for i, k in enumerate(kinds) if k == "train") < kinds.index("spro")


def test_trained_runs_leave_nothing_to_build(tiny_profile, tmp_cache, tmp_path, monkeypatch):
    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv("LSDL_CACHE_BUILD_LOG", str(log))
    monkeypatch.setenv("LSDL_PROGRESS", "0")
    for run in B.runs(tiny_profile):
        run.train()
    built = len(read_build_log(log))
    assert built == len(chapter_runs("05", tiny_profile))
    B.train_swag(B.swag_recipe(tiny_profile, seed=0))
    B.train_spro(B.spro_recipe(tiny_profile, seed=0))
    assert len(read_build_log(log)) == built
