import pytest

from lsdl_ens.cache import CheckpointCache
from lsdl_ens.experiments.runs import CachedRun, chapter_runs, missing_runs
from lsdl_ens.recipes import train


def test_cached_run_refuses_bad_kind_and_local_trainer():
    with pytest.raises(ValueError, match="kind must be"):
        CachedRun("", {"a": 1}, train)

    def local(recipe):
        return recipe

    with pytest.raises(ValueError, match="module-level function"):
        CachedRun("train", {"a": 1}, local)


def test_missing_runs_follow_the_cache(tmp_path):
    cache = CheckpointCache(tmp_path)
    runs = [CachedRun("train", {"a": 1}, train), CachedRun("train", {"a": 2}, train, key={"b": 2})]
    assert missing_runs(runs, cache) == runs
    cache.save("train", {"b": 2}, {"w": 0})
    assert missing_runs(runs, cache) == runs[:1]


def test_chapter_runs_names_the_chapters():
    with pytest.raises(ValueError, match="chapter must be one of 01"):
        chapter_runs("8", None)


def test_chapter_runs_take_their_modules_as_a_parameter():
    from types import SimpleNamespace

    run = CachedRun("train", {"a": 1}, train)
    twice = SimpleNamespace(runs=lambda profile: [run, CachedRun("train", {"a": 1}, train, label="again")])
    assert chapter_runs("x", None, modules={"x": twice}) == [run]  # one entry per cache key
    with pytest.raises(ValueError, match="chapter must be one of x"):
        chapter_runs("04", None, modules={"x": twice})
    with pytest.raises(TypeError, match="must have a function runs"):
        chapter_runs("y", None, modules={"y": SimpleNamespace()})
