"""`lsdl-ens warm` on stand-in chapters (tests/warm_fake_chapter.py): local submitit workers train each missing run
once (counted with the cache build log), a second warm trains nothing, a failed job fails the command after the
others finished, a SLURM dry run writes one array script per chapter with the requested resources, and a
submission to a stand-in SLURM (sbatch, srun and sacct scripts on PATH) runs the array's tasks and waits for them."""

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import warm_fake_chapter as fake
from lsdl_ens import cli
from lsdl_ens.cache import BUILD_LOG, CheckpointCache, read_build_log
from lsdl_ens.experiments.warm import SlurmOptions, plan_warm, warm
from lsdl_ens.experiments.warm_cli import main as warm_main
from lsdl_ens.experiments.warm_cli import parse_time_limit
from lsdl_ens.profiles import get_profile

TESTS = Path(__file__).resolve().parent
MODULES = {"91": "warm_fake_chapter", "92": SimpleNamespace(runs=fake.other_runs)}
BROKEN = {"93": SimpleNamespace(runs=fake.broken_runs)}
DRY = {"91": "warm_fake_chapter", "93": SimpleNamespace(runs=fake.broken_runs)}  # nothing runs in a dry run


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private cache and build log; workers import this worktree's lsdl_ens and the stand-in chapter."""
    monkeypatch.setenv("LSDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(BUILD_LOG, str(tmp_path / "builds.jsonl"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS.parent), str(TESTS)]))
    monkeypatch.setenv("LSDL_PROGRESS", "0")
    return tmp_path


def test_local_workers_train_each_run_once_and_a_second_warm_trains_nothing(env, capsys):
    smoke = get_profile("smoke")
    plans = plan_warm(smoke, modules=MODULES)
    assert [len(p.missing) for p in plans] == [3, 1]  # chapter 92 shares tiny seed 0 with chapter 91
    code = warm_main(["--profile", "smoke", "--executor", "local", "--workers", "2", "--folder", str(env / "jobs")],
                     modules=MODULES)
    assert code == 0, capsys.readouterr().err
    builds = read_build_log(env / "builds.jsonl")
    assert sorted(b["kind"] for b in builds) == ["warm-child"] + ["warm-tiny"] * 3
    assert len({(b["kind"], b["key"]) for b in builds}) == 4  # each run built exactly once
    pids = {b["pid"] for b in builds}
    assert os.getpid() not in pids and len(pids) >= 3  # one process per job (the child's may build its parent)
    cache = CheckpointCache(env / "cache" / "checkpoints")
    assert all(not p.missing for p in plan_warm(smoke, cache=cache, modules=MODULES))
    # the child read its parent from the cache: twice the parent's weights
    child, _ = fake.train_child({"parent": fake.runs(smoke)[0].recipe})
    parent, _ = fake.train_tiny(fake.runs(smoke)[0].recipe)
    assert child["w"].equal(2 * parent["weight"])

    report = warm(smoke, executor="local", workers=2, folder=env / "jobs", modules=MODULES)
    assert report.ok and report.trained == []
    assert len(read_build_log(env / "builds.jsonl")) == 4

    assert warm_main(["--profile", "smoke", "--list"], modules=MODULES) == 0
    listing = capsys.readouterr().out
    assert "chapter 91: 3 run(s), 0 missing" in listing and "cached   warm-child: child of seed 0" in listing


def test_a_failed_job_is_reported_with_its_label_and_fails_the_command(env, capsys):
    code = warm_main(["--profile", "smoke", "--workers", "2", "--folder", str(env / "jobs")], modules=BROKEN)
    err = capsys.readouterr().err
    assert code == 1
    assert "(warm-broken: planted failure) failed" in err and "planted failure in the broken run" in err
    assert sorted(b["kind"] for b in read_build_log(env / "builds.jsonl")) == ["warm-tiny"]  # the other job ran


def test_slurm_dry_run_writes_one_array_script_per_chapter(env, capsys):
    path_before = os.environ["PATH"]
    code = warm_main(["--profile", "smoke", "--executor", "slurm", "--dry-run", "--partition", "gpu-a100",
                      "--gpus-per-job", "2", "--cpus-per-job", "6", "--time", "1:30:00", "--array-parallelism", "3",
                      "--folder", str(env / "slurm")], modules=DRY)
    assert code == 0, capsys.readouterr().err
    assert os.environ["PATH"] == path_before
    scripts = sorted((env / "slurm").glob("*.sbatch"))
    assert [s.name for s in scripts] == ["chapter-91.sbatch", "chapter-93.sbatch"]
    for script, n_runs in zip(scripts, (3, 2)):
        text = script.read_text()
        for line in ("#SBATCH --partition=gpu-a100", "#SBATCH --gpus-per-node=2", "#SBATCH --cpus-per-task=6",
                     "#SBATCH --time=90", f"#SBATCH --array=0-{n_runs - 1}%{min(3, n_runs)}",
                     f"#SBATCH --job-name=lsdl-warm-{script.stem[-2:]}", "export OMP_NUM_THREADS=6",
                     f"export LSDL_CACHE={env / 'cache'}", f"{sys.executable} -u -m submitit.core._submit"):
            assert line in text, (line, text)
        assert text.count("#SBATCH --array=") == 1
    assert read_build_log(env / "builds.jsonl") == []  # nothing trained here
    assert "2 job script(s), nothing submitted" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers must be a whole number >= 1, got '0'"),
    (["--workers", "two"], "--workers must be a whole number >= 1"),
    (["--partition", "gpu"], "--partition apply to --executor slurm only"),
    (["--dry-run"], "--dry-run apply to --executor slurm only"),
    (["--executor", "slurm", "--workers", "2"], "--workers applies to --executor local only"),
    (["--executor", "slurm", "--gpus-per-job", "-1"], "--gpus-per-job must be a whole number >= 0"),
    (["--executor", "slurm", "--time", "ninety"], "--time must be minutes (such as 90)"),
    (["--executor", "slurm", "--time", "0"], "at least one minute"),
    (["--executor", "cluster"], "argument --executor: invalid choice"),
    (["--executor", "slurm", "--gpus-per-job", "0", "--profile", "gpu"], "--gpus-per-job 0 with the gpu profile"),
    (["--chapter", "12"], "--chapter must be one of 91, 92, got '12'"),
])
def test_bad_options_name_the_option(env, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        warm_main(["--profile", "smoke", *argv], modules=MODULES)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_has_warm_and_checks_its_chapters(env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["warm", "--profile", "smoke", "--chapter", "99"])
    assert exit_info.value.code == 2
    assert "--chapter must be one of 01, 02, 03, 04, 05, 06, 07, got '99'" in capsys.readouterr().err


def test_time_limits_and_library_arguments():
    assert [parse_time_limit(t) for t in ("90", "1:30", "1:30:00", "0:00:30", "2-00:00")] == [90, 90, 90, 1, 2880]
    with pytest.raises(ValueError, match="time must be minutes"):
        parse_time_limit("1:75")
    with pytest.raises(ValueError, match="cpus_per_job must be"):
        SlurmOptions(cpus_per_job=0)
    with pytest.raises(ValueError, match="partition must be a SLURM partition name"):
        SlurmOptions(partition="gpu a100")
    with pytest.raises(TypeError, match="profile must be a resolved Profile"):
        warm("smoke", modules=MODULES)
    with pytest.raises(ValueError, match="executor must be one of local, slurm"):
        warm(get_profile("smoke"), executor="ssh", modules=MODULES)
    with pytest.raises(ValueError, match="workers must be"):
        warm(get_profile("smoke"), workers=0, modules=MODULES)
    with pytest.raises(ValueError, match="apply to executor='slurm' only"):
        warm(get_profile("smoke"), executor="local", dry_run=True, modules=MODULES)


# A stand-in SLURM for the submission path: sbatch runs the script's array tasks one after another in the
# background (with the variables SLURM sets for a task), srun runs its command, sacct knows no job yet.
FAKE_SBATCH = r"""#!/bin/sh
script="$1"
range=$(sed -n 's/^#SBATCH --array=\([0-9]*\)-\([0-9]*\).*/\1 \2/p' "$script")
(
  sleep 1
  for i in $(seq ${range% *} ${range#* }); do
    SLURM_JOB_ID=4242 SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID=$i SLURM_NTASKS=1 SLURM_PROCID=0 SLURM_LOCALID=0 \
    SLURM_NODEID=0 SLURM_JOB_NUM_NODES=1 SLURM_JOB_NODELIST=localhost bash "$script"
  done
) >/dev/null 2>&1 &
echo "Submitted batch job 4242"
"""
FAKE_SRUN = """#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --unbuffered) shift;; --output|--error) shift 2;; *) break;; esac; done
exec "$@"
"""


def test_slurm_submission_waits_for_the_array_and_reports_a_failed_task(env, capsys, monkeypatch):
    bin_dir = env / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN), ("sacct", "#!/bin/sh\necho 'JobID|State'\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code = warm_main(["--profile", "smoke", "--executor", "slurm", "--gpus-per-job", "0", "--cpus-per-job", "1",
                      "--folder", str(env / "slurm")], modules=BROKEN)
    err = capsys.readouterr().err
    assert code == 1
    assert "job 4242_0 (warm-broken: planted failure) failed" in err and "planted failure in the broken run" in err
    [build] = read_build_log(env / "builds.jsonl")  # task 1 trained its run
    assert build["kind"] == "warm-tiny" and build["pid"] != os.getpid()
