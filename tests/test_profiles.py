import pytest

from lsdl_ens.profiles import PROFILES, get_profile, profile_table


def test_profiles_scale_up():
    smoke, cpu, gpu = (PROFILES[n] for n in ("smoke", "cpu", "gpu"))
    assert smoke.n_train < cpu.n_train and gpu.n_train is None
    assert smoke.epochs < cpu.epochs < gpu.epochs


def test_environment_and_override(monkeypatch):
    monkeypatch.setenv("LSDL_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    assert get_profile("cpu", epochs=3).epochs == 3


def test_unknown_profile_lists_valid_ones(monkeypatch):
    monkeypatch.setenv("LSDL_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'.*smoke, cpu, gpu"):
        get_profile()
    with pytest.raises(ValueError, match="unknown profile field"):
        get_profile("cpu", epoch=3)


def test_table_mentions_every_profile():
    table = profile_table()
    assert all(f"| {n} |" in table for n in PROFILES)


def test_get_profile_passes_a_profile_through_with_overrides():
    cpu = get_profile("cpu")
    assert get_profile(cpu) is cpu
    custom = get_profile(cpu, epochs=3)
    assert custom.epochs == 3 and custom.name == "cpu" and cpu.epochs != 3
    with pytest.raises(ValueError, match="unknown profile field"):
        get_profile(cpu, epoch=3)


def test_gpu_profile_without_cuda_stops_unless_allowed(monkeypatch, capsys):
    from lsdl_ens.cli import main
    from lsdl_ens.profiles import announce

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("lsdl_ens.cli.execute_notebook", lambda *a, **k: pytest.fail("a notebook was executed"))
    monkeypatch.delenv("LSDL_DEVICE", raising=False)
    monkeypatch.delenv("LSDL_ALLOW_GPU_PROFILE_ON_CPU", raising=False)
    monkeypatch.setenv("LSDL_PROFILE", "gpu")
    with pytest.raises(RuntimeError, match="no CUDA device.*LSDL_ALLOW_GPU_PROFILE_ON_CPU=1"):
        get_profile()
    with pytest.raises(SystemExit, match="--allow-cpu"):
        main(["figures", "--chapter", "01"])
    monkeypatch.delenv("LSDL_PROFILE")
    with pytest.raises(SystemExit, match="no CUDA device"):
        main(["figures", "--profile", "gpu", "--chapter", "01"])
    assert get_profile("gpu").name == "gpu"  # an explicit name only looks the table up
    monkeypatch.setenv("LSDL_PROFILE", "gpu")
    monkeypatch.setenv("LSDL_ALLOW_GPU_PROFILE_ON_CPU", "1")
    assert announce().name == "gpu"
    assert "Profile gpu: all training images, resnet20, 60 epochs; device cpu" in capsys.readouterr().out


def test_announce_prints_profile_and_device(monkeypatch, capsys):
    from lsdl_ens.profiles import announce

    monkeypatch.setenv("LSDL_PROFILE", "smoke")
    monkeypatch.setenv("LSDL_DEVICE", "cpu")
    assert announce().name == "smoke"
    out = capsys.readouterr().out
    assert out.startswith("Profile smoke: 1,000 training images, vgg, 2 epochs; device cpu (")


def test_profile_augment_reaches_the_standard_recipe_but_not_the_transfer_recipes():
    from lsdl_ens.recipes import finetune_recipe, pretrain_recipe, standard_recipe

    cpu = get_profile("cpu")
    assert standard_recipe(cpu).augment is cpu.augment
    assert standard_recipe(get_profile("cpu", augment="weak")).augment == "weak"
    assert pretrain_recipe(cpu).augment is True and finetune_recipe(cpu).augment is True
    with pytest.raises(ValueError, match="augment must be"):
        get_profile("cpu", augment="strong-ish")


def test_claim_seeds_at_least_three():
    assert all(p.claim_seeds >= 3 for p in PROFILES.values())
    assert get_profile("smoke", claim_seeds=4).claim_seeds == 4
    with pytest.raises(ValueError, match="claim_seeds must be at least 3"):
        get_profile("smoke", claim_seeds=2)
