"""`lsdl-ens warm` on chapter 04 (smoke profile, synthetic images, two local workers): every run of the chapter is
trained once, and computing the chapter's results afterwards through `lsdl_ens.experiments.ensembles` trains
nothing more (the cache build log does not grow), so `lsdl-ens figures` after `warm` only evaluates."""

import os
from collections import Counter
from pathlib import Path

from lsdl_ens.cache import BUILD_LOG, recipe_key, read_build_log
from lsdl_ens.experiments import ensembles
from lsdl_ens.experiments.runs import chapter_runs
from lsdl_ens.experiments.warm import warm
from lsdl_ens.profiles import get_profile

REPO = Path(__file__).resolve().parents[1]


def test_warm_trains_chapter04_once_and_the_chapter_then_trains_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LSDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(BUILD_LOG, str(tmp_path / "builds.jsonl"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers import this checkout's lsdl_ens
    profile = get_profile("smoke", data_source="synthetic")

    report = warm(profile, ["04"], "local", workers=2, folder=tmp_path / "jobs")
    assert report.ok, report.failed
    runs = chapter_runs("04", profile)
    assert len(report.trained) == len(runs)
    builds = read_build_log(tmp_path / "builds.jsonl")
    built = Counter((b["kind"], b["key"]) for b in builds)
    assert max(built.values()) == 1  # nothing trained twice
    assert {(run.kind, recipe_key(run.cache_key)) for run in runs} <= set(built)
    assert {b["pid"] for b in builds}.isdisjoint({os.getpid()})  # trained by the workers

    # what the chapter computes, after warm: every number from the cache
    for run in runs:
        run.train()
    ensembles.train_deep_ensemble(profile)
    ensembles.budget_errors(profile)
    ensembles.csgld_temperatures(profile)
    assert len(read_build_log(tmp_path / "builds.jsonl")) == len(builds)
