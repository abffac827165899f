"""Chapter 07's optimizer runs: SGD, Lookahead, Lookaround and SWA at matched compute on multi-view CIFAR-10
batches, and one Lookahead outer iteration on the test-accuracy plane (cached runs).

As in the Lookaround paper's Table 1 ("trained for same amount of time"), every method sees the same loader, which
returns d = 3 augmented views of each batch, and takes one optimizer step per view (`multiview_step`): d steps
per batch for all methods. Only the optimizer differs:
    sgd:        SGD, momentum 0.9, weight decay, cosine learning rate to 0.
    lookahead:  `Lookahead(SGD, k, alpha)` with the same inner optimizer and schedule; evaluated at the slow weights.
    lookaround: `Lookaround(n_heads=d, k)` with the same hyperparameters; evaluated at the mean of the heads.
    swa:        SGD with the SWA schedule (constant, then linear decay to swa_lr), weights averaged at the end of
                every epoch from `swa_start` on; BN recomputed for the average (`update_bn`).
After every epoch a callback records the evaluation weights' test accuracy and loss and their (clean, unaugmented)
training loss on a fixed subset. BN: running statistics as trained (shared by Lookaround's heads, fast-weight
statistics for Lookahead), except SWA's average, which needs `update_bn`.

Sizes: the profile's ``optim`` section (n_train, a class-balanced subset of its training split, and epochs) and
``optim_plane`` section (the Lookahead plane).
    smoke: 256 images, 2 epochs | cpu: the profile's 20,000 images, 8 epochs (3 views: 480k image-steps per
    method; a first run with 4,000 images x 4 epochs left Lookahead and Lookaround far from converged) |
    gpu: the profile's training split, 30 epochs.

The algorithms (`Lookahead`, `Lookaround`, `multiview_step`) live in the method family `lsdl_ens.optim`; the plane
helpers in `lsdl_ens.landscape`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .. import checks
from ..bn import update_bn
from ..cache import default_cache
from ..data import BatchLoader, balanced_subset, data_splits
from ..landscape import plane_basis, plane_grid, project
from ..landscape.plane import plane_point
from ..models import build_model
from ..optim import Lookahead, Lookaround, multiview_step
from ..profiles import Profile, get_profile
from ..recipe_types import DataSpec, TypedRecipe
from ..recipes import check_recipe, cifar10_data
from ..schedules import make_schedule
from ..state import average, parameter_keys
from ..train import Callback, default_device, evaluate, fit

__all__ = ["METHODS", "OptimizerRecipe", "optimizer_recipe", "train_optimizer", "evaluation_weights",
           "lookahead_plane", "lookahead_plane_key"]

METHODS = ("sgd", "lookahead", "lookaround", "swa")


@dataclass(frozen=True)
class OptimizerRecipe(TypedRecipe):
    """One matched-compute run: ``method`` (one of `METHODS`) on ``n_train`` images (a class-balanced subset of the
    ``data`` split; None: all of it) with ``views`` augmented views per batch, SGD momentum, Lookahead/Lookaround's
    ``k`` and ``alpha``, SWA's ``swa_start`` (1-based epoch) and ``swa_lr``, and ``n_eval_train`` training images for
    the per-epoch train metrics. Checked when built; `replace` changes fields."""

    method: str
    model: str
    n_train: int | None
    data: DataSpec
    epochs: int
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    views: int
    k: int
    alpha: float
    swa_start: int
    swa_lr: float
    n_eval_train: int
    seed: int

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if not isinstance(self.data, DataSpec):
            raise TypeError(f"data must be a DataSpec, got {self.data!r}")
        check_recipe({k: getattr(self, k) for k in ("model", "epochs", "lr", "weight_decay", "batch_size", "seed")})
        if self.n_train is not None:
            checks.positive_int("n_train", self.n_train)
        checks.positive_int("views", self.views)
        checks.positive_int("k", self.k)
        checks.number("alpha", self.alpha, low=0.0, high=1.0, low_open=True)
        checks.nonneg_float("momentum", self.momentum)
        checks.positive_int("swa_start", self.swa_start)
        checks.nonneg_float("swa_lr", self.swa_lr)
        checks.positive_int("n_eval_train", self.n_eval_train)


def optimizer_recipe(method: str, profile: Profile | str | None = None, seed: int = 0,
                     **overrides) -> OptimizerRecipe:
    """The recipe of one matched-compute run on the profile's ``optim`` sizes; `overrides` replace fields
    (unknown ones raise ValueError)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    p = get_profile(profile)
    epochs = p.optim.epochs
    recipe = OptimizerRecipe(method=method, model=p.model, n_train=p.optim.n_train, data=cifar10_data(p),
                             epochs=epochs, lr=p.lr, momentum=0.9, weight_decay=p.weight_decay,
                             batch_size=p.batch_size, views=3, k=5, alpha=0.5, swa_start=max(1, round(2 * epochs / 3)),
                             swa_lr=p.lr / 5, n_eval_train=2000, seed=seed)
    return recipe.replace(**overrides) if overrides else recipe


@contextlib.contextmanager
def evaluation_weights(model, optimizer, swa_state=None, bn_batches=None):
    """Context: the model holds the weights a method is evaluated at (slow / head mean / SWA average + BN)."""
    if isinstance(optimizer, Lookahead):
        with optimizer.swap_to_slow():
            yield model
    elif isinstance(optimizer, Lookaround):
        with optimizer.swap_to_average():
            yield model
    elif swa_state is not None:
        backup = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(swa_state)
        update_bn(model, bn_batches)
        try:
            yield model
        finally:
            model.load_state_dict(backup)
    else:
        yield model


class _Recorder(Callback):
    def __init__(self, recipe, test, train_eval, bn_batches):
        self.recipe, self.test, self.train_eval, self.bn_batches = recipe, test, train_eval, bn_batches
        self.swa_states, self.rows = [], []

    def swa_state(self):
        return average(self.swa_states) if self.swa_states else None

    def on_epoch_end(self, model, optimizer, step, history):
        epoch = step.epoch + 1
        if self.recipe.method == "swa" and epoch >= self.recipe.swa_start:
            self.swa_states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        with evaluation_weights(model, optimizer, self.swa_state(), self.bn_batches):
            te, tr = evaluate(model, self.test), evaluate(model, self.train_eval)
        self.rows.append({"epoch": epoch, "test_accuracy": te["accuracy"], "test_loss": te["loss"],
                          "train_loss": tr["loss"], "train_accuracy": tr["accuracy"]})


def _optimizer(recipe, model):
    m, wd, lr = recipe.momentum, recipe.weight_decay, recipe.lr
    if recipe.method == "lookaround":
        return Lookaround(model.parameters(), lr=lr, n_heads=recipe.views, k=recipe.k, momentum=m,
                          weight_decay=wd)
    sgd = torch.optim.SGD(model.parameters(), lr=lr, momentum=m, weight_decay=wd)
    return Lookahead(sgd, k=recipe.k, alpha=recipe.alpha) if recipe.method == "lookahead" else sgd


def train_optimizer(recipe: OptimizerRecipe, *, cache=None, device=None, progress: bool | None = None):
    """Run (or load) one matched-compute run. Returns (model holding the evaluation weights, info) with
    info = {"epochs": per-epoch rows of test/train accuracy and loss, "history": fit's history,
    "final": test accuracy/loss of the final evaluation weights with BN recomputed}.

    Deliberate: these runs train in fp32 with contiguous weights (the multi-view step `multiview_step` is a custom
    step of `fit`, which applies bf16 autocast only to its default step), whatever the profile's precision."""
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    train, _, test = data_splits(recipe.data)
    if recipe.n_train is not None and recipe.n_train < len(train):
        train = balanced_subset(train, recipe.n_train, seed=11)
    train_eval = balanced_subset(train, min(recipe.n_eval_train, len(train)), seed=12)

    def build():
        torch.manual_seed(recipe.seed)
        model = build_model(recipe.model).to(device)
        bn_batches = list(BatchLoader(train, 256, shuffle=True, augment=True, seed=99, device=device))[:8]
        recorder = _Recorder(recipe, test, train_eval, bn_batches)
        opt = _optimizer(recipe, model)
        if recipe.method == "swa":
            schedule = make_schedule("swa", epochs=recipe.epochs, lr=recipe.lr, swa_lr=recipe.swa_lr,
                                     swa_start=recipe.swa_start)
        else:
            schedule = make_schedule("cosine", epochs=recipe.epochs, lr=recipe.lr)
        loader = BatchLoader(train, recipe.batch_size, shuffle=True, augment=True, views=recipe.views,
                             drop_last=True, seed=recipe.seed)
        history = fit(model, loader, epochs=recipe.epochs, optimizer=opt, lr_schedule=schedule,
                      train_step=multiview_step, callbacks=[recorder], seed=recipe.seed, device=device,
                      progress=progress, desc=recipe.method)
        with evaluation_weights(model, opt, recorder.swa_state(), bn_batches):
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        final_model = build_model(recipe.model).to(device)
        final_model.load_state_dict(state)
        update_bn(final_model, bn_batches)
        final = evaluate(final_model, test)
        return state, {"epochs": recorder.rows, "history": history.as_dict(),
                       "final": {"test_accuracy_bn": final["accuracy"], "test_loss_bn": final["loss"]}}

    state, info = cache.get_or_create("optim_compare", recipe, build)
    model = build_model(recipe.model)
    model.load_state_dict(state)
    return model.to(device), info


def lookahead_plane_key(profile: Profile, k: int = 10, alpha: float = 0.5) -> dict:
    """The cache key of `lookahead_plane(profile, k, alpha)` (kind ``"lookahead_plane"``)."""
    sizes = profile.optim_plane
    return {"run": optimizer_recipe("lookahead", profile), "k": k, "alpha": alpha, "grid": sizes.grid,
            "n_eval": sizes.n_eval, "per_example": True}


def lookahead_plane(profile: Profile | str | None = None, k: int = 10, alpha: float = 0.5, *, cache=None,
                    device=None, progress: bool | None = None) -> dict:
    """One Lookahead outer iteration drawn on the test-accuracy surface (Zhang et al. 2019, Fig. 1), cached.

    From the trained Lookahead run of `optimizer_recipe("lookahead", profile)`, take k inner SGD steps (lr of the
    profile, momentum 0.9) on augmented training batches; the plane passes through the first, middle and last
    fast weights; the slow update phi + alpha (theta_k - phi) lies on it. BN statistics are recomputed at every
    grid point (2 training batches). Sizes: the profile's ``optim_plane`` section.

    Returns:
        {"xs", "ys", "accuracy" [G, G] (test, %), "fast" [k + 1, 2] projected fast weights, "slow" [2, 2]
        (phi_t, phi_t+1), "correct_start", "correct_fast_end", "correct_slow_new" (per test image, bool [n_eval]),
        "acc_fast_end", "acc_slow_new", "acc_start"}.
    """
    p = get_profile(profile)
    sizes = p.optim_plane
    recipe = lookahead_plane_key(p, k, alpha)
    base = recipe["run"]
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()

    def build():
        model, _ = train_optimizer(base, cache=cache, device=device, progress=progress)
        train, _, test = data_splits(base.data)
        test = balanced_subset(test, sizes.n_eval, seed=13)
        batches = list(BatchLoader(train, base.batch_size, shuffle=True, augment=True, seed=5, device=device))
        bn_batches = batches[:2]
        sgd = torch.optim.SGD(model.parameters(), lr=base.lr, momentum=0.9, weight_decay=base.weight_decay)
        states = [{n: v.detach().clone() for n, v in model.state_dict().items()}]
        model.train()
        for x, y in batches[2:2 + k]:
            sgd.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            sgd.step()
            states.append({n: v.detach().clone() for n, v in model.state_dict().items()})
        keys = parameter_keys(model)
        slow_new = {n: (states[0][n] + alpha * (states[-1][n] - states[0][n])) if n in keys else states[-1][n]
                    for n in states[0]}
        basis = plane_basis(states[0], states[k // 2], states[-1], keys=keys)
        grid = plane_grid(model, basis, test, bn_data=bn_batches, grid=sizes.grid, margin=0.3,
                          progress=progress)

        def correct(state):
            x0, y0 = project(state, basis)
            model.load_state_dict(plane_point(basis, x0, y0))
            update_bn(model, bn_batches)
            model.eval()
            with torch.no_grad():
                hits = [(model(xb).argmax(1) == yb).cpu() for xb, yb in BatchLoader(test, 500, device=device)]
            return torch.cat(hits)

        hits = {name: correct(st) for name, st in (("start", states[0]), ("fast_end", states[-1]),
                                                   ("slow_new", slow_new))}
        out = {"xs": torch.tensor(grid["xs"]), "ys": torch.tensor(grid["ys"]),
               "accuracy": torch.tensor(100 * (1 - grid["error"])),
               "fast": torch.tensor([project(s, basis) for s in states]),
               "slow": torch.tensor([project(states[0], basis), project(slow_new, basis)]),
               **{f"correct_{name}": h for name, h in hits.items()}}
        extra = {f"acc_{name}": 100 * float(h.float().mean()) for name, h in hits.items()}
        return out, extra

    state, extra = cache.get_or_create("lookahead_plane", recipe, build)
    return {**{k2: v.numpy() for k2, v in state.items()}, **extra}
