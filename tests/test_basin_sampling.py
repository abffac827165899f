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
    """After every listed run is trained once, neither the trainers nor chapter_results build anything more."""
    from lsdl_ens.experiments.basin_sampling_results import chapter_results

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
    results = chapter_results(tiny_profile)
    assert len(read_build_log(log)) == built, "chapter_results trained a run that runs(profile) does not list"
    assert len(results["seeds"]) == tiny_profile.claim_seeds
    n_test = len(results["labels"])
    for seed in results["seeds"]:  # one test set for every row
        assert all(p.shape == (n_test, 10) for p in seed["probs"].values())
    assert results["seeds"][0]["details"]["spro"]["grid"]["loss"].numel() > 1
    from lsdl_ens.experiments import basin_sampling_plots as plots
    from lsdl_ens.experiments.basin_sampling_claims import claims, equal_budget_frame, seed_frame, text_values
    from lsdl_ens.plotting import figure_problems, use_style

    use_style()
    table = equal_budget_frame(results)
    assert table.shape[0] == len(results["equal_budget"]["rows"]) and len(seed_frame(results)) == 6
    for fig in (plots.kfac_figure(results), plots.swag_figure(results), plots.spro_figure(results),
                plots.equal_budget_figure(table)):
        assert figure_problems(fig) == []
    assert all(isinstance(v, str) for v in text_values(results, tiny_profile).values())
    assert len(claims(results, tiny_profile)) >= 12


def test_the_table_does_not_depend_on_the_ensembles_chapter_running_first(tiny_profile, tmp_path, monkeypatch):
    """A cold cache gives the same equal-budget table as a cache where the snapshot runs and the deep-ensemble
    members were trained first (as by the ensembles chapter)."""
    from lsdl_ens.experiments.ensembles import (csgld_recipe, fge_recipe, sse_recipe, train_csgld, train_deep_ensemble,
                                                train_fge, train_sse)
    from lsdl_ens.experiments.basin_sampling_claims import equal_budget_frame
    from lsdl_ens.experiments.basin_sampling_results import chapter_results

    monkeypatch.setenv("LSDL_PROGRESS", "0")
    monkeypatch.setenv("LSDL_CACHE", str(tmp_path / "cold"))
    cold = equal_budget_frame(chapter_results(tiny_profile))
    monkeypatch.setenv("LSDL_CACHE", str(tmp_path / "after_04"))
    p = tiny_profile
    train_deep_ensemble(p, p.ensemble_size, progress=False)
    train_sse(sse_recipe(p, budget=2), progress=False)
    train_fge(fge_recipe(p, budget=2), progress=False)
    train_csgld(csgld_recipe(p, budget=2), progress=False)
    warm = equal_budget_frame(chapter_results(tiny_profile))
    assert list(cold.index) == list(warm.index) and any("SSE" in n for n in cold.index)
    assert cold.equals(warm)


def _fake_results(better: bool, n: int = 400, seeds: int = 3):
    """Fake chapter results: every method is sharper on the right class than the MAP network (``better``) or
    flatter (not ``better``), by a margin that changes from seed to seed."""
    import torch

    from lsdl_ens.metrics import nll

    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (n,), generator=gen)
    onehot = torch.nn.functional.one_hot(labels, 3).float()

    def probs(strength):
        return (strength * onehot + 3.0 * torch.rand(n, 3, generator=gen)).softmax(-1)

    out = []
    for s in range(seeds):
        base = 1.5 + 0.1 * s
        step = (1.0 + 0.1 * s) * (1 if better else -1)
        rows = {"MAP": probs(base), "SWA": probs(base + step / 2), "SGD 2B last iterate": probs(base)}
        rows.update({m: probs(base + step) for m in ("SWAG", "KFAC-L last layer", "SPRO")})
        out.append({"probs": rows, "point_nll": [nll(rows["MAP"], labels) - 0.001 * (1 + s)] * 3})
    de2 = torch.stack([probs(2.0), probs(2.0)])
    eq = {"SGD (1B)": (1.0, out[0]["probs"]["MAP"][None]), "Deep ensemble of 2": (2.0, de2),
          "SPRO": (2.0, out[0]["probs"]["SPRO"][None]), "KFAC-L all weights": (1.1, out[0]["probs"]["MAP"][None])}
    dee = [1.5, 1.7, 1.6] if better else [1.0, 1.0, 1.0]
    return {"labels": labels, "seeds": out, "equal_budget": {"rows": eq, "members": de2},
            "seed_dee": {m: dee for m in ("KFAC-L last layer", "SWAG", "SPRO")}}


def test_claims_follow_the_data(tiny_profile):
    from lsdl_ens.experiments.basin_sampling_claims import claims

    good = {c.id: c for c in claims(_fake_results(True), tiny_profile)}
    bad = {c.id: c for c in claims(_fake_results(False), tiny_profile)}
    assert set(good) == set(bad) and len(good) >= 12
    for cid in ("swag_nll", "swag_nll_vs_swa", "kfac_nll", "spro_nll", "spro_accuracy"):
        assert good[cid].verdict == "holds", (cid, good[cid].reason)
        assert bad[cid].verdict == "does not hold", (cid, bad[cid].reason)
    assert good["swag_dee"].verdict == "holds" and bad["swag_dee"].verdict != "holds"
    assert good["spro_points"].verdict == "holds"
    assert good["kfac_all_accuracy"].verdict == "holds" and good["kfac_all_accuracy"].ours == 0
    assert good["swag_nll"].ours < 0 < bad["swag_nll"].ours
    assert all(c.uncertainty[0] <= c.ours <= c.uncertainty[1] for c in good.values())
