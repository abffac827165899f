import os
import time
import warnings

import numpy as np
import pytest
import torch

from lsdl_ens.cache import CheckpointCache, UnsavablePayloadError, recipe_key
from lsdl_ens.paths import CorruptFileError, read_checked, temp_name_prefix, write_checked


def test_recipe_key_depends_on_every_field_and_not_on_order():
    a = {"model": "vgg", "seed": 0, "lr": 0.05}
    assert recipe_key(a) == recipe_key({"lr": 0.05, "seed": 0, "model": "vgg"})
    assert recipe_key(a) != recipe_key({**a, "seed": 1})
    with pytest.raises(ValueError, match="JSON"):
        recipe_key({"f": object()})


def test_get_or_create_builds_once_then_loads(tmp_path):
    cache = CheckpointCache(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return {"w": torch.arange(3.0)}, {"history": {"loss": [1.0]}}

    s1, e1 = cache.get_or_create("t", {"k": 1}, build)
    s2, e2 = cache.get_or_create("t", {"k": 1}, build)
    assert len(calls) == 1 and torch.equal(s1["w"], s2["w"]) and e2 == {"history": {"loss": [1.0]}}


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_checkpoint_is_reported_and_rebuilt(tmp_path, damage):
    cache = CheckpointCache(tmp_path)
    cache.save("t", {"k": 1}, {"w": torch.ones(100)})
    path = cache.path("t", {"k": 1})
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[-20] ^= 0x01
    else:
        raw = bytearray(b"not a checkpoint")
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="unusable"):
        state, _ = cache.get_or_create("t", {"k": 1}, lambda: ({"w": torch.zeros(100)}, {}))
    assert torch.equal(state["w"], torch.zeros(100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(cache.load("t", {"k": 1})["state"]["w"], torch.zeros(100))


def test_file_with_other_recipe_is_not_used(tmp_path):
    cache = CheckpointCache(tmp_path)
    cache.save("t", {"k": 1}, {"w": torch.ones(2)})
    # simulate a hash collision / renamed file: the payload's recipe is checked, not only the name
    cache.path("t", {"k": 2}).write_bytes(cache.path("t", {"k": 1}).read_bytes())
    with pytest.warns(UserWarning, match="differs"):
        assert cache.load("t", {"k": 2}) is None


def test_checked_container_detects_modification(tmp_path):
    write_checked(tmp_path / "f", b"hello")
    assert read_checked(tmp_path / "f") == b"hello"
    raw = (tmp_path / "f").read_bytes()
    (tmp_path / "f").write_bytes(raw[:-1] + b"!")
    with pytest.raises(CorruptFileError, match="checksum mismatch"):
        read_checked(tmp_path / "f")


def test_writes_are_atomic_no_temp_files_left(tmp_path):
    cache = CheckpointCache(tmp_path)
    for i in range(3):
        cache.save("t", {"k": i}, {"w": torch.ones(1)})
    assert sorted(p.suffix for p in (tmp_path / "t").iterdir()) == [".pt"] * 3


def test_first_finished_entry_wins(tmp_path):
    cache = CheckpointCache(tmp_path)

    def build_while_another_process_finishes():
        cache.save("t", {"k": 1}, {"w": torch.ones(1)})  # the other process's result lands first
        return {"w": torch.zeros(1)}, {}

    state, _ = cache.get_or_create("t", {"k": 1}, build_while_another_process_finishes)
    assert torch.equal(state["w"], torch.ones(1))
    assert torch.equal(cache.load("t", {"k": 1})["state"]["w"], torch.ones(1))


@pytest.mark.parametrize("kind", ["../../escape", "a/b", "..", ".hidden", "a\\b", "", "/abs", 3])
def test_kind_cannot_escape_the_root(tmp_path, kind):
    cache = CheckpointCache(tmp_path / "root")
    with pytest.raises(ValueError, match="kind must be a plain folder name.*got kind="):
        cache.get_or_create(kind, {"k": 1}, lambda: ({"w": torch.ones(1)}, {}))
    with pytest.raises(ValueError, match="kind"):
        cache.save(kind, {"k": 1}, {"w": torch.ones(1)})
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing written anywhere


def test_bad_recipe_and_build_arguments_are_named(tmp_path):
    cache = CheckpointCache(tmp_path)
    with pytest.raises(TypeError, match="recipe must be a Recipe or a dict"):
        cache.get_or_create("t", ["not", "a", "dict"], lambda: ({}, {}))
    with pytest.raises(TypeError, match="build must be a function"):
        cache.get_or_create("t", {"k": 1}, {"w": torch.ones(1)})
    with pytest.raises(TypeError, match="must return a pair"):
        cache.get_or_create("t", {"k": 1}, lambda: {"w": torch.ones(1)})


def test_folder_at_the_entry_path_is_a_clear_error(tmp_path):
    cache = CheckpointCache(tmp_path)
    cache.path("t", {"k": 1}).mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match="is a folder.*move or delete"):
        cache.get_or_create("t", {"k": 1}, lambda: ({"w": torch.ones(1)}, {}))
    assert cache.path("t", {"k": 1}).is_dir()  # the user's folder is left alone


@pytest.mark.parametrize("state, extra, named", [
    ({"w": np.zeros(3)}, {}, r"state\['w'\] is a numpy.ndarray"),
    ({"w": torch.ones(1)}, {"history": [1.0, np.float64(2.0)]}, r"extra\['history'\]\[1\] is a numpy.float64"),
    ({"model": torch.nn.Linear(2, 2)}, {}, r"state\['model'\] is a torch.nn.modules.linear.Linear"),
    ({"w": torch.ones(1)}, {"fn": len}, r"extra\['fn'\] is a builtins.builtin_function_or_method"),
])
def test_unsavable_payload_is_refused_at_save_time(tmp_path, state, extra, named):
    cache = CheckpointCache(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return state, extra

    for _ in range(2):
        with pytest.raises(UnsavablePayloadError, match=named + ".*torch.as_tensor"):
            cache.get_or_create("t", {"k": 1}, build)
    assert not cache.path("t", {"k": 1}).exists() and len(calls) == 2
    with pytest.raises(TypeError, match=named):  # UnsavablePayloadError is a TypeError
        cache.save("t", {"k": 1}, state, extra)


@pytest.mark.parametrize("enabled", [True, False])
def test_hit_and_miss_return_the_same_objects(tmp_path, enabled):
    cache = CheckpointCache(tmp_path, enabled=enabled)
    model = torch.nn.Linear(3, 2)
    params = dict(model.named_parameters())  # require grad, share storage with the model

    def build():
        return params, {"curve": (1.0, 2.0), "t": torch.ones(2, requires_grad=True) * 2}

    miss = cache.get_or_create("t", {"k": 1}, build)
    hit = cache.get_or_create("t", {"k": 1}, build)

    def describe(obj):
        if torch.is_tensor(obj):
            return (type(obj), obj.device.type, obj.requires_grad, obj.grad_fn, obj.tolist())
        if isinstance(obj, dict):
            return (dict, {k: describe(v) for k, v in obj.items()})
        if isinstance(obj, (list, tuple)):
            return (type(obj), [describe(v) for v in obj])
        return obj

    assert describe(miss) == describe(hit)
    state, extra = miss
    assert all(type(v) is torch.Tensor and not v.requires_grad for v in state.values())
    assert extra["curve"] == (1.0, 2.0) and not extra["t"].requires_grad
    state["weight"].add_(1.0)  # the caller's copy: the model is untouched
    assert not torch.equal(state["weight"], model.weight.detach())


def test_orphaned_temp_files_are_removed_but_live_ones_kept(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "t"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(dead.stdout)
    dead_writer = folder / (temp_name_prefix(folder / "a.pt", pid=dead_pid) + "xyz12345.tmp")
    live_writer = folder / (temp_name_prefix(folder / "b.pt") + "abc12345.tmp")
    old_live = folder / (temp_name_prefix(folder / "c.pt") + "old12345.tmp")
    other_host = folder / f"d.pt.w{dead_pid}@elsewhere.def12345.tmp"
    legacy_new = folder / "e.pt.ghi12345.tmp"
    legacy_old = folder / "f.pt.jkl12345.tmp"
    for f in (dead_writer, live_writer, old_live, other_host, legacy_new, legacy_old):
        f.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for f in (old_live, legacy_old):
        os.utime(f, (two_hours_ago, two_hours_ago))
    CheckpointCache(tmp_path).save("t", {"k": 1}, {"w": torch.ones(1)})
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([live_writer.name, other_host.name, legacy_new.name, CheckpointCache(tmp_path).path(
        "t", {"k": 1}).name])



def test_build_log_counts_builds_not_hits(tmp_path, monkeypatch):
    from lsdl_ens.cache import BUILD_LOG, CheckpointCache, read_build_log

    log = tmp_path / "builds.jsonl"
    monkeypatch.setenv(BUILD_LOG, str(log))
    cache = CheckpointCache(tmp_path / "c")
    for _ in range(3):
        cache.get_or_create("train", {"a": 1}, lambda: ({"w": torch.zeros(1)}, None))
    cache.get_or_create("train", {"a": 2}, lambda: ({"w": torch.zeros(1)}, None))
    entries = read_build_log(log)
    assert [e["kind"] for e in entries] == ["train", "train"]
    assert len({e["key"] for e in entries}) == 2 and all(e["pid"] == os.getpid() for e in entries)
