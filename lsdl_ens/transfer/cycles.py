"""SSE and StarSSE in transfer learning: cyclic fine-tuning from a fine-tuned first member.

Both start from model 1, an ordinary fine-tune of a pre-trained backbone (a Local DE member). Then K - 1 cycles,
each of `cycle_epochs` epochs, restart the learning rate at `cycle_lr` and anneal it with a cosine to ~0:

    lr(t) = cycle_lr / 2 * (1 + cos(pi * t / T)),  t = 0 .. T - 1 counted from the cycle's start,

T the cycle length in iterations (default) or epochs (``per="epoch"``, the reference's LambdaLR stepped per epoch).
The optimiser state (momentum) is reset at the start of every cycle.

* **SSE** chains the cycles: cycle k starts from the weights at the end of cycle k - 1.
* **StarSSE** starts every cycle from model 1 (a star of K - 1 independent spokes, each with a fresh optimiser and
  its own data order); the ensemble is model 1 plus the spokes.

Reference: Sadrtdinov, Pozdeev, Vetrov, Lobacheva, "To Stay or Not to Stay in the Pre-train Basin: Insights on
Ensembling in Transfer Learning", NeurIPS 2023, https://arxiv.org/abs/2303.03374; isadrtdinov/ens-for-transfer
@8984ccc: ``training/train.py`` (``reset_optim_state``, ``star_fge`` reloads model 1 after every save) and
``utils/lr_schedule.py`` (``cosine+warmup_cosine`` per epoch, ``continious+cosine+sse`` per iteration).

Deliberate deviations: the default anneals per iteration (our cycles are 3-12 epochs of 7 batches, where a per-epoch
staircase would end a 3-epoch cycle at lr/4 instead of ~0); the reference's per-epoch variant is ``per="epoch"``.
Model 1 uses the course's fine-tuning recipe (`lsdl_ens.recipes.finetune_recipe`, cosine per iteration, linear-probe
head), not the reference's per-epoch cosine.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

from torch import nn

from .. import checks
from ..recipe_types import Recipe
from ..train import TrainStep
from .member_recipes import CYCLE_METHODS, Cycle, CycleMemberRecipe

__all__ = ["cycle_lr", "cycle_schedule", "run_cycles", "cycle_recipes", "CYCLE_METHODS"]



def cycle_lr(t: float, cycle_length: float, lr_max: float) -> float:
    """Cosine annealing inside one cycle: lr = lr_max / 2 * (1 + cos(pi * t / cycle_length)), t from 0.

    `t` and `cycle_length` are in the same unit (iterations or epochs); t >= cycle_length gives lr ~ 0 (clamped).
    """
    if cycle_length <= 0:
        raise ValueError(f"cycle_length must be > 0; got {cycle_length}")
    checks.nonneg_float("lr_max", lr_max, "pass a positive learning rate such as 0.05")
    frac = min(max(t / cycle_length, 0.0), 1.0)
    return lr_max / 2 * (1 + math.cos(math.pi * frac))


def cycle_schedule(lr_max: float, per: str = "iteration") -> Callable[[TrainStep], float]:
    """A `TrainStep -> lr` function for one cycle run by `fit` (the step counts from the cycle's start).

    per="iteration": t = step.iteration, T = step.total_iterations; per="epoch": t = step.epoch, T = step.epochs
    (constant inside an epoch, as the reference's LambdaLR).
    """
    checks.nonneg_float("lr_max", lr_max, "pass a positive learning rate such as 0.05")
    if per == "iteration":
        return lambda s: cycle_lr(s.iteration, s.total_iterations, lr_max)
    if per == "epoch":
        return lambda s: cycle_lr(s.epoch, s.epochs, lr_max)
    raise ValueError(f"per must be 'iteration' or 'epoch'; got {per!r}")


def run_cycles(first_state: dict, make_model: Callable[[], nn.Module],
               train_cycle: Callable[[nn.Module, int], None], n_members: int, *, star: bool) -> list[dict]:
    """The SSE (star=False) or StarSSE (star=True) driver on states.

    Args:
        first_state: model 1 (already fine-tuned); it is member 0 of the result.
        make_model: builds a model of the architecture (its weights are overwritten).
        train_cycle: ``train_cycle(model, k)`` trains `model` in place for cycle k = 1 .. n_members - 1; it must
            create a fresh optimiser (e.g. by calling `lsdl_ens.train.fit`), so no optimiser state crosses cycles.
        n_members: ensemble size K including model 1 (K - 1 cycles).
        star: StarSSE (every cycle starts from `first_state`) or SSE (cycle k starts from member k - 1).

    Returns:
        K states (deep copies; member 0 is a copy of `first_state`).
    """
    if n_members < 1:
        raise ValueError(f"n_members must be >= 1; got {n_members}")
    states = [copy.deepcopy(first_state)]
    for k in range(1, n_members):
        start = first_state if star else states[-1]
        model = make_model()
        model.load_state_dict(start)
        train_cycle(model, k)
        states.append({name: t.detach().clone() for name, t in model.state_dict().items()})
    return states


# ----------------------------------------------------------------------------------------------- recipes
def cycle_recipes(first_recipe: Recipe, method: str, n_members: int, *, lr_mult: float, epoch_mult: float,
                  per: str = "iteration") -> list:
    """Recipes of the K members of SSE or StarSSE started from `first_recipe` (a `finetune_recipe`).

    Member 0 is `first_recipe` itself; member k >= 1 is a `CycleMemberRecipe` (a `Cycle` and `first_recipe`) with the
    cycle's max LR ``lr_mult * first_recipe.lr``, length ``max(1, int(epoch_mult * first_recipe.epochs))``
    epochs (the reference truncates with int), the method, the member index and its data-order seed.
    """
    if method not in CYCLE_METHODS:
        raise ValueError(f"method must be one of {CYCLE_METHODS}; got {method!r}")
    checks.positive_int("n_members", n_members, "pass the ensemble size, e.g. 5")
    checks.positive_float("lr_mult", lr_mult, "pass a multiple of the fine-tuning learning rate, e.g. 1.0")
    checks.positive_float("epoch_mult", epoch_mult, "pass a multiple of the fine-tuning epochs, e.g. 0.5")
    if lr_mult <= 0 or epoch_mult <= 0:
        raise ValueError(f"lr_mult and epoch_mult must be > 0; got {lr_mult}, {epoch_mult}")
    if per not in ("iteration", "epoch"):
        raise ValueError(f"per must be 'iteration' or 'epoch'; got {per!r}")
    epochs = max(1, int(epoch_mult * first_recipe.epochs))
    recipes = [copy.deepcopy(first_recipe)]
    for k in range(1, n_members):
        cycle = Cycle(method=method, index=k, lr=lr_mult * first_recipe.lr, epochs=epochs, lr_mult=lr_mult,
                      epoch_mult=epoch_mult, per=per, seed=10_000 + 100 * int(first_recipe.seed) + k)
        recipes.append(CycleMemberRecipe(cycle=cycle, first=first_recipe))
    return recipes
