"""The profile is the single source of sizes: every section field is checked when built, can be overridden through
`get_profile(name, **overrides)`, and the override reaches the recipe or cached experiment that reads it."""

import dataclasses
import functools
import json
import re
from pathlib import Path

import pytest

from lsdl_ens.cache import CheckpointCache
from lsdl_ens.profiles import PROFILES, SECTIONS, get_profile, profile_table, section_names

BOOK = Path(__file__).resolve().parents[1] / "book"


def test_every_profile_has_every_section_and_no_dead_fields():
    assert set(section_names()) == set(SECTIONS)
    for p in PROFILES.values():
        assert all(isinstance(getattr(p, s), SECTIONS[s]) for s in SECTIONS)
        for dead in ("n_alphas", "n_curve_points", "plane_grid"):
            assert not hasattr(p, dead)
        hash(p)  # hashable: in-memory caches may be keyed by the profile


@pytest.mark.parametrize("overrides, field", [
    ({"swag": {"epochs": -2}}, "swag.epochs"), ({"batch_size": 0}, "batch_size"), ({"epochs": -1}, "epochs"),
    ({"landscape": {"n_eval": 0}}, "landscape.n_eval"), ({"kfac": {"grid": ()}}, "kfac.grid"),
    ({"csgld": {"beta": 1.5}}, "csgld.beta"), ({"tta": {"batch_size": 0}}, "tta.batch_size"),
    ({"sweep": {"lrs": (0.1, -0.1)}}, r"sweep.lrs\[1\]"),
])
def test_bad_sizes_raise_naming_the_field(overrides, field):
    with pytest.raises((ValueError, TypeError), match=rf"^{field} must"):
        get_profile("cpu", **overrides)


def test_section_overrides():
    cpu = get_profile("cpu")
    p = get_profile("cpu", swag={"epochs": 3}, epochs=5)
    assert p.swag.epochs == 3 and p.epochs == 5
    assert p.swag.max_rank == cpu.swag.max_rank and p.swa == cpu.swa  # the rest of the section is kept
    assert cpu.swag.epochs == 24  # the table itself is unchanged
    assert get_profile("cpu", swag=p.swag).swag is p.swag  # a whole section
    with pytest.raises(ValueError, match=r"swag\.epoch\b"):
        get_profile("cpu", swag={"epoch": 3})
    with pytest.raises(TypeError, match="dict of its fields"):
        get_profile("cpu", swag=3)
    with pytest.raises(TypeError, match="SWAGSizes"):
        dataclasses.replace(cpu, swag={"epochs": 3})  # sections are typed
    with pytest.raises(dataclasses.FrozenInstanceError):
        cpu.swag.epochs = 3


def test_profile_table_prints_every_section_field():
    table = profile_table()
    for p in PROFILES.values():
        for s in section_names():
            for f in dataclasses.fields(getattr(p, s)):
                assert f"| {s}.{f.name} |" in table


class _Recorded(Exception):
    pass


@pytest.fixture
def first_cache_key(monkeypatch, tmp_path):
    """Calls `fn()` and returns the recipe of its first checkpoint-cache lookup (which is then stopped)."""
    monkeypatch.setenv("LSDL_CACHE", str(tmp_path))
    seen = []

    def record(self, kind, recipe, build):
        seen.append(json.dumps(recipe, sort_keys=True, default=str))
        raise _Recorded

    monkeypatch.setattr(CheckpointCache, "get_or_create", record)

    def call(fn):
        seen.clear()
        with pytest.raises(_Recorded):
            fn()
        return seen[0]

    return call


def _tta_key(key, method, p):
    from lsdl_ens.experiments.optimizers_tta import evaluate_tta

    return key(lambda: evaluate_tta(method, profile=p))


def _library_probes(key):
    """section -> fields -> a function of the profile whose result (a recipe or a cache key) must change when the
    field does."""
    from lsdl_ens.experiments import transfer as T
    from lsdl_ens.experiments.weight_averaging import cyclic_swa_recipe, swa_recipe
    from lsdl_ens.experiments.weight_averaging_sweep import sweep_configs
    from lsdl_ens.experiments.ensembles_csgld import csgld_recipe
    from lsdl_ens.experiments.ensembles_csgld import csgld_temperature_recipes
    from lsdl_ens.experiments.ensembles_snapshots import fge_recipe, sse_recipe, trajectory_recipe
    from lsdl_ens.experiments.basin_sampling import swag_recipe
    from lsdl_ens.experiments import mode_connectivity as E
    from lsdl_ens.experiments.optimizers_tta import clip_recipe, lookahead_plane, optimizer_recipe
    from lsdl_ens.experiments.basin_sampling import spro_recipe

    members = lambda p: T.local_de_recipes(p, 3)  # noqa: E731
    return {
        "swa": {"*": lambda p: swa_recipe(p), "cyclic_lr": cyclic_swa_recipe},
        "cyclic": {"sse_cycles": sse_recipe, "sse_lr_factor": sse_recipe, "every_epochs": trajectory_recipe,
                   "table_budgets": None,  # read by budget_errors after training: see LIBRARY_READS
                   "*": fge_recipe},
        "csgld": {"*": csgld_recipe, "warm_temperature": lambda p: csgld_temperature_recipes(p)["warm"]},
        "swag": {"epochs": swag_recipe, "swa_start": swag_recipe, "swa_lr": swag_recipe, "max_rank": swag_recipe,
                 "collections_per_epoch": swag_recipe},
        "spro": {f: spro_recipe for f in ("n_vertices", "epochs", "n_samples", "lr", "lam")},
        "sweep": {"*": sweep_configs},
        "landscape": {
            "n_eval": E.protocol_key, "n_train_eval": E.protocol_key,
            "n_alphas": lambda p: key(lambda: E.segment_results(p)),
            "n_curve_points": lambda p: key(lambda: E.curve_results(E.curve_recipe(p), profile=p)),
            "plane_grid": lambda p: key(lambda: E.plane_results(p)),
            "spawn_epochs": lambda p: key(lambda: E.spawn_experiment(p)),
            "simplex_epochs": E.mode_simplex_recipe, "simplex_grid": lambda p: key(lambda: E.mode_simplex_grid(p))},
        "transfer": {
            "finetune_epochs": T.transfer_finetune_recipe, "finetune_lr": T.transfer_finetune_recipe,
            "lr_mults": T.grid_settings, "epoch_mults": T.grid_settings,
            "n_global": lambda p: T.method_recipes("global_de", p),
            "n_ood": lambda p: key(lambda: T.ood_probs(members(p)[0], p)),
            "n_alphas": lambda p: key(lambda: T.consecutive_paths(members(p), p)),
            "n_landscape": lambda p: key(lambda: T.consecutive_paths(members(p), p)),
            "plane_grid": lambda p: key(lambda: T.member_plane(members(p), p))},
        "optim": {"*": lambda p: optimizer_recipe("sgd", p)},
        "optim_plane": {"*": lambda p: key(lambda: lookahead_plane(p))},
        "clip": {"*": clip_recipe},
        "tta": {f: functools.partial(_tta_key, key, method)
                for f, method in (("n_images", "none"), ("batch_size", "none"), ("n_iters", "parallel"),
                                  ("n_rounds", "parallel"), ("tent_steps", "tent"))},
    }


#: fields read by the chapter notebooks themselves: section -> (chapter, the name the chapter gives the section)
CHAPTER_READS = {"averaging": ("03", "SIZES"), "kfac": ("05", "ks"), "swag": ("05", "ss"), "spro": ("05", "sp"),
                 "tta": ("07", "tta"), "landscape": ("02", "sizes"), "transfer": ("06", "sizes")}
#: fields read deeper inside a cached experiment (after other cached training), checked in the library source
LIBRARY_READS = {("landscape", "n_spawn_alphas"), ("landscape", "ri_epochs"), ("landscape", "n_similarity"),
                 ("cyclic", "table_budgets"), ("landscape", "domains"), ("landscape", "domain_severity"),
                 ("kfac", "n_samples"), ("kfac", "tune_samples"), ("kfac", "grid"), ("swag", "n_samples"),
                 ("spro", "n_points"), ("spro", "grid")}


def _changed(value):
    """A different valid value of a size."""
    if isinstance(value, tuple):
        return value[:-1] if len(value) > 1 else value + (value[0] + 1,)
    if value is None:
        return 7
    if isinstance(value, float) and 0 < value < 1:
        return value / 2
    return value + 1


def _chapter_code(chapter: str) -> str:
    nb = json.loads(next(BOOK.glob(f"{chapter}_*.ipynb")).read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_size_reaches_what_reads_it(section, first_cache_key):
    probes = _library_probes(first_cache_key).get(section, {})
    base = get_profile("smoke")
    library = "\n".join(f.read_text() for f in (Path(__file__).resolve().parents[1] / "lsdl_ens").rglob("*.py"))
    for f in dataclasses.fields(getattr(base, section)):
        probe = probes.get(f.name, probes.get("*"))
        if probe is not None:
            changed = get_profile(base, **{section: {f.name: _changed(getattr(getattr(base, section), f.name))}})
            assert probe(changed) != probe(base), f"{section}.{f.name} does not reach {probe}"
        elif (section, f.name) in LIBRARY_READS:
            assert re.search(rf"(p\.{section}|sizes)\.{f.name}\b", library), f"{section}.{f.name} is read nowhere"
        else:
            chapter, alias = CHAPTER_READS[section]
            assert re.search(rf"\b{alias}\.{f.name}\b", _chapter_code(chapter)), \
                f"{section}.{f.name} is neither read by the library nor by chapter {chapter}"
