"""Chapter 04's experiments module: `runs(profile)` lists every cached run the chapter reads (after training the
list, the chapter's computations build nothing more), on synthetic data in the smoke profile."""

import pytest

from lsdl_ens.cache import BUILD_LOG, read_build_log
from lsdl_ens.experiments import ensembles as E
from lsdl_ens.experiments.runs import chapter_runs
from lsdl_ens.profiles import get_profile

from _tiny import one_thread  # noqa: F401  (one_thread is an autouse fixture)


@pytest.fixture
def profile():
    # a warm cSGLD temperature of its own, so that both cSGLD runs are distinct cache entries
    return get_profile("smoke", data_source="synthetic", n_train=384, n_val=64, n_test=128, batch_size=32,
                       csgld={"warm_temperature": 0.5})


def test_runs_are_module_level_trainers_with_parents_first(profile):
    runs = chapter_runs("04", profile)
    kinds = [r.kind for r in runs]
    assert kinds.index("trajectory") < kinds.index("fge")          # FGE starts from the trajectory's checkpoint
    n = max(profile.ensemble_size, profile.claim_seeds)
    assert kinds.count("train") == n + profile.claim_seeds  # members, and one 2B run per claim seed
    assert kinds.count("sse") == kinds.count("fge") == profile.claim_seeds
    assert kinds.count("csgld") == 2                                # reference and warm temperature
    assert {"sse", "fge", "csgld"} <= set(kinds)
    assert len({r.describe() for r in runs}) == len(runs)
    with pytest.raises(TypeError, match="profile"):
        E.runs("smoke")


def test_training_the_listed_runs_leaves_nothing_for_the_chapter_to_build(profile, tmp_cache, tmp_path, monkeypatch):
    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    for run in E.runs(profile):
        run.train()
    built = read_build_log(log)
    assert {b["kind"] for b in built} >= {"train", "trajectory", "sse", "fge", "csgld"}
    results = E.chapter_results(profile, n_boot=100)     # everything the chapter computes from its runs
    assert read_build_log(log) == built, "the chapter trained a run that runs(profile) does not list"
    found = E.claims(results, profile)
    assert len({c.id for c in found}) == len(found) >= 15
    assert {"budget_a", "budget_b_accuracy", "budget_b_nll", "fge_vs_sse_1b"} <= {c.id for c in found}
    assert len(results["seed_errors"]["SSE"]) == profile.claim_seeds
