"""The checkpoint cache across processes: one build per recipe under a race, no deadlock after a killed builder,
no temporary file left behind by a writer killed mid-save."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from lsdl_ens.cache import CheckpointCache

REPO = Path(__file__).resolve().parents[1]
RECIPE = {"model": "race", "seed": 0}

WORKER = r'''
import json, os, sys, time
from pathlib import Path
import torch
from lsdl_ens.cache import CheckpointCache

mode, root, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
cache = CheckpointCache(root)
recipe = {"model": "race", "seed": 0}


def build():
    with open(work / "builds.txt", "a") as f:
        f.write(f"{os.getpid()}\n")
    (work / f"building-{os.getpid()}").touch()
    time.sleep(60 if mode == "hang" else 1.0)
    return {"w": torch.randn(5)}, {"pid": os.getpid()}  # unseeded: two builds would differ


if mode == "race":  # start building only when the other racer is ready too
    (work / f"ready-{sys.argv[4]}").touch()
    while len(list(work.glob("ready-*"))) < 2:
        time.sleep(0.01)
if mode == "save_killed":  # die between writing the temporary file and renaming it
    def stall(fd):
        (work / "writing").touch()
        time.sleep(60)
    os.fsync = stall
    cache.save("t", {"other": 1}, {"w": torch.ones(1000)})
state, extra = cache.get_or_create("t", recipe, build)
print(json.dumps({"w": state["w"].tolist(), "builder": extra["pid"]}))
'''


def _start(tmp_path, mode, *args):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "LSDL_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, str(script), mode, str(tmp_path / "cache"), str(tmp_path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(path, proc, timeout=60):
    end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.02)


def _result(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_two_processes_racing_on_one_recipe_build_once(tmp_path):
    racers = [_start(tmp_path, "race", str(i)) for i in range(2)]
    results = [_result(p) for p in racers]
    assert len((tmp_path / "builds.txt").read_text().split()) == 1
    [entry] = list((tmp_path / "cache" / "t").glob("*.pt"))
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name, entry.name + ".lock"]  # no temp files
    assert results[0] == results[1]  # same weights, same builder
    stored = CheckpointCache(tmp_path / "cache").load("t", RECIPE)
    assert torch.equal(stored["state"]["w"], torch.tensor(results[0]["w"]))


def test_lock_of_a_killed_builder_does_not_deadlock(tmp_path):
    hung = _start(tmp_path, "hang")
    _wait_for(tmp_path / f"building-{hung.pid}", hung)
    assert (tmp_path / "cache" / "t").is_dir() and list((tmp_path / "cache" / "t").glob("*.lock"))
    os.kill(hung.pid, signal.SIGKILL)  # dies holding the lock
    hung.wait()
    result = _result(_start(tmp_path, "race_alone"), timeout=60)  # times out if the lock were still held
    assert result["builder"] != hung.pid
    assert len((tmp_path / "builds.txt").read_text().split()) == 2  # the killed build, then this one


def test_temp_file_of_a_writer_killed_mid_save_is_removed_by_the_next_write(tmp_path):
    writer = _start(tmp_path, "save_killed")
    _wait_for(tmp_path / "writing", writer)
    folder = tmp_path / "cache" / "t"
    [partial] = list(folder.glob("*.tmp"))
    cache = CheckpointCache(tmp_path / "cache")
    cache.save("t", {"k": 1}, {"w": torch.ones(1)})  # the writer is alive: its file is left alone
    assert partial.exists()
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    cache.save("t", {"k": 2}, {"w": torch.ones(1)})
    assert not partial.exists() and not list(folder.glob("*.tmp"))
    assert len(list(folder.glob("*.pt"))) == 2
