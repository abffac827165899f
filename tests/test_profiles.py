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
