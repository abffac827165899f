"""A stand-in chapter for the `lsdl-ens warm` tests: cached runs that train in a fraction of a second.

`runs(profile)` lists two tiny seeded fits and a child run that starts from one of them (its trainer asks the
cache for the parent, as SWA asks for its standard run); `other_runs` is a second chapter sharing one run with the
first; `broken_runs` adds a run whose trainer fails. Trainers are module-level, so submitit workers import them
(the tests put this folder on the workers' PYTHONPATH).
"""

import torch

from lsdl_ens.cache import default_cache
from lsdl_ens.experiments.runs import CachedRun


def train_tiny(recipe: dict):
    """A 4 -> 2 linear layer fitted by 20 steps of SGD on seeded blobs, through the cache."""
    def build():
        gen = torch.Generator().manual_seed(recipe["seed"])
        x = torch.randn(64, 4, generator=gen)
        y = (x[:, 0] + 0.1 * torch.randn(64, generator=gen) > 0).long()
        torch.manual_seed(recipe["seed"])
        layer = torch.nn.Linear(4, 2)
        opt = torch.optim.SGD(layer.parameters(), lr=0.5)
        for _ in range(recipe["steps"]):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(layer(x), y)
            loss.backward()
            opt.step()
        return layer.state_dict(), {"loss": float(loss)}
    return default_cache().get_or_create("warm-tiny", recipe, build)


def train_child(recipe: dict):
    """Twice the weights of its parent run (trained on a miss, waited for while another job builds it)."""
    parent, _ = train_tiny(recipe["parent"])
    return default_cache().get_or_create("warm-child", recipe, lambda: ({"w": 2 * parent["weight"]}, {}))


def train_broken(recipe: dict):
    raise RuntimeError(f"planted failure in {recipe['name']}")


def _tiny(profile, seed: int) -> CachedRun:
    recipe = {"profile": profile.name, "n_train": profile.n_train, "seed": seed, "steps": 20}
    return CachedRun("warm-tiny", recipe, train_tiny, label=f"tiny seed {seed}")


def runs(profile) -> list[CachedRun]:
    tiny = [_tiny(profile, seed) for seed in range(2)]
    child = CachedRun("warm-child", {"parent": tiny[0].recipe}, train_child, label="child of seed 0")
    return [*tiny, child]


def other_runs(profile) -> list[CachedRun]:
    return [_tiny(profile, 0), _tiny(profile, 3)]


def broken_runs(profile) -> list[CachedRun]:
    return [CachedRun("warm-broken", {"name": "the broken run"}, train_broken, label="planted failure"),
            _tiny(profile, 5)]
