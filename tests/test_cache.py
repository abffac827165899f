import warnings

import pytest
import torch

from lsdl_ens.cache import CheckpointCache, recipe_key
from lsdl_ens.paths import CorruptFileError, read_checked, write_checked


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
