"""Careless calls across the public API: each raises TypeError/ValueError (or the documented exception) at the call,
and the message names the argument at fault.

Every case is ``(call, exception type, substring)``: ``call`` makes one bad call on tiny models and tensors, the
substring (usually the argument's name) must appear in the message. Good inputs still working is covered by each
module's own tests; ``test_good_inputs_pass_the_checks`` checks the conversions of ``lsdl_ens.checks``.
"""

from __future__ import annotations

import sys

import pytest
import torch
from _tiny import blob_images, one_thread, tiny_cnn, tiny_mlp  # noqa: F401
from torch import nn

from lsdl_ens import checks, metrics, schedules, state
from lsdl_ens.averaging import (
    random_directions,
    swa_model,
    swa_recipe,
    wise_ft,
    wise_ft_sweep,
)
from lsdl_ens.bn import update_bn
from lsdl_ens.cli import main as cli_main
from lsdl_ens.ensembles import (
    SWAG,
    CyclicalSGLD,
    DeepEnsemble,
    KFACLaplace,
    SnapshotCollector,
    dee,
)
from lsdl_ens.ensembles.csgld import csgld_recipe, csgld_sample_iterations
from lsdl_ens.ensembles.kfac_tuning import tune_prior_precision
from lsdl_ens.ensembles.snapshot_runs import fge_recipe, sse_recipe, trajectory_recipe
from lsdl_ens.ensembles.swag import SWAGCallback, swag_recipe
from lsdl_ens.grading import assert_close, call_student
from lsdl_ens.landscape import (
    CurveModel,
    barrier,
    bezier_coeffs,
    curve_lr,
    feature_l2,
    linear_cka,
    linear_path,
    plane_basis,
    plane_point,
    polychain_coeffs,
    stage_similarity,
    train_curve,
)
from lsdl_ens.models import build_model, replace_head
from lsdl_ens.optim import Lookahead, Lookaround
from lsdl_ens.optim.compare import optimizer_recipe
from lsdl_ens.profiles import get_profile
from lsdl_ens.recipes import check_recipe, finetune_recipe, standard_recipe, training_loader
from lsdl_ens.recipes import train as train_recipe
from lsdl_ens.simplex import (
    SimplexModel,
    barycentric_grid,
    cayley_menger_volume,
    dirichlet_weights,
    spro_recipe,
)
from lsdl_ens.soups import (
    greedy_ensemble,
    greedy_soup,
    learned_soup,
    state_evaluator,
    uniform_soup,
)
from lsdl_ens.train import Callback, evaluate, fit, predict_logits
from lsdl_ens.transfer import (
    barrier_of,
    cycle_lr,
    cycle_recipes,
    cycle_schedule,
    ensemble_curve,
    member_diversity,
    transfer_finetune_recipe,
)
from lsdl_ens.tta import (
    TENT,
    WATT,
    SimpleTokenizer,
    TinyCLIP,
    average_weights,
    entropy_loss,
    watt_loss,
)

NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------------------------------------- tiny ingredients
def mlp(seed=0):
    return tiny_mlp(seed, hidden=(4,))


def sd(seed=0):
    return mlp(seed).state_dict()


def other_sd():
    return tiny_mlp(0, hidden=(5,)).state_dict()


def missing_sd():
    s = sd()
    s.pop("head.bias")
    return s


def meta_sd():
    return {k: v.to("meta") for k, v in sd().items()}


def probs(n=4, c=3, seed=0):
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed)).softmax(1)


def labels(n=4):
    return torch.tensor([0, 1, 2, 0][:n] + [1] * max(0, n - 4))


def data(n=8, num_classes=10):
    return blob_images(n=n, size=8, num_classes=num_classes)


def cnn(num_classes=10):
    torch.manual_seed(0)
    return build_model("vgg", widths=(4, 8, 8, 8), num_classes=num_classes)


def sgd():
    return torch.optim.SGD(mlp().parameters(), lr=0.1)


def params():
    return mlp().parameters()


def clip():
    from lsdl_ens.data import CIFAR10_CLASSES
    from lsdl_ens.tta.templates import CAPTION_TEMPLATES

    torch.manual_seed(0)
    tok = SimpleTokenizer.from_texts([t.format(c) for t in CAPTION_TEMPLATES for c in CIFAR10_CLASSES[:3]])
    return TinyCLIP(tok, widths=(4, 8), embed_dim=8, text_width=8, text_heads=2)


CLASSES = ["airplane", "automobile", "bird"]


def fitted_kfac(**kw):
    model = mlp()
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    return KFACLaplace(model, 1.0, 8, **kw).fit([(x, y)]), model


def swag_with(n):
    model = mlp()
    swag = SWAG(model, max_rank=2)
    for _ in range(n):
        swag.collect(model)
    return swag


def with_env(name, value, call):
    import os

    before = os.environ.get(name)
    os.environ[name] = value
    try:
        return call()
    finally:
        if before is None:
            os.environ.pop(name)
        else:
            os.environ[name] = before


def fit_tiny(**kw):
    args = dict(epochs=1, batch_size=8, lr_schedule=0.05, progress=False)
    args.update(kw)
    model = args.pop("model", None) or cnn()
    return fit(model, args.pop("data", None) or data(), **args)


def nan_weights_step(model, batch, optimizer, step):
    """A training step whose update leaves NaN weights behind a finite loss (as a huge step on one batch can)."""
    with torch.no_grad():
        model.head.weight.fill_(NAN)
    return torch.tensor(1.0), torch.tensor(0), len(batch[1])


class Counting:
    """An evaluate(state) returning the next value of ``values`` at each call."""

    def __init__(self, *values):
        self.values = list(values)

    def __call__(self, state_):
        return self.values.pop(0)


def case(call, exc, text, id):
    return pytest.param(call, exc, text, id=id)


# ---------------------------------------------------------------------------------------------- cases
SCHEDULES = [
    case(lambda: schedules.sse_lr(0, 100, 5, -0.1), ValueError, "lr_max", "sse_lr-negative-lr"),
    case(lambda: schedules.sse_lr(0, 100, 5, NAN), ValueError, "lr_max", "sse_lr-nan-lr"),
    case(lambda: schedules.sse_lr(0, 100, 5, INF), ValueError, "lr_max", "sse_lr-inf-lr"),
    case(lambda: schedules.sse_lr(0, 100, 0, 0.1), ValueError, "n_cycles", "sse_lr-zero-cycles"),
    case(lambda: schedules.sse_lr(0, 100, 2.5, 0.1), TypeError, "n_cycles", "sse_lr-fractional-cycles"),
    case(lambda: schedules.sse_lr(0, 100, True, 0.1), TypeError, "n_cycles", "sse_lr-bool-cycles"),
    case(lambda: schedules.sse_lr(-1, 100, 5, 0.1), ValueError, "iteration", "sse_lr-negative-iteration"),
    case(lambda: schedules.sse_lr(0, 3, 5, 0.1), ValueError, "total_iterations", "sse_lr-fewer-iterations"),
    case(lambda: schedules.sse_lr("0", 100, 5, 0.1), TypeError, "iteration", "sse_lr-str-iteration"),
    case(lambda: schedules.fge_lr(0, 10, -0.1, 0.01), ValueError, "lr_1", "fge_lr-negative-lr_1"),
    case(lambda: schedules.fge_lr(0, 10, 0.1, -0.01), ValueError, "lr_2", "fge_lr-negative-lr_2"),
    case(lambda: schedules.fge_lr(0, 10, NAN, 0.01), ValueError, "lr_1", "fge_lr-nan-lr_1"),
    case(lambda: schedules.fge_lr(0, 1, 0.1, 0.01), ValueError, "cycle_iterations", "fge_lr-one-iteration-cycle"),
    case(lambda: schedules.fge_lr(0, True, 0.1, 0.01), TypeError, "cycle_iterations", "fge_lr-bool-cycle"),
    case(lambda: schedules.fge_lr(0, "10", 0.1, 0.01), TypeError, "cycle_iterations", "fge_lr-str-cycle"),
    case(lambda: schedules.swa_lr(0, 0.1, 0.01, 0), ValueError, "swa_start", "swa_lr-swa_start-0"),
    case(lambda: schedules.swa_lr(0, 0.1, 0.01, -5), ValueError, "swa_start", "swa_lr-negative-swa_start"),
    case(lambda: schedules.swa_lr(0, -0.1, 0.01, 10), ValueError, "lr_init", "swa_lr-negative-lr_init"),
    case(lambda: schedules.swa_lr(0, 0.0, 0.01, 10), ValueError, "lr_init", "swa_lr-zero-lr_init"),
    case(lambda: schedules.swa_lr(0, 0.1, -0.01, 10), ValueError, "swa_lr", "swa_lr-negative-swa_lr"),
    case(lambda: schedules.swa_lr(0, 0.1, NAN, 10), ValueError, "swa_lr", "swa_lr-nan-swa_lr"),
    case(lambda: schedules.swa_lr(-1, 0.1, 0.01, 10), ValueError, "epoch", "swa_lr-negative-epoch"),
    case(lambda: schedules.swa_lr(NAN, 0.1, 0.01, 10), ValueError, "epoch", "swa_lr-nan-epoch"),
    case(lambda: schedules.swa_lr(0, "0.1", 0.01, 10), TypeError, "lr_init", "swa_lr-str-lr_init"),
    case(lambda: schedules.cosine_lr(0, 10, -0.1), ValueError, "lr_max", "cosine_lr-negative-lr"),
    case(lambda: schedules.cosine_lr(0, 0, 0.1), ValueError, "epochs", "cosine_lr-zero-epochs"),
    case(lambda: schedules.cosine_lr(0, 10, 0.1, lr_min=-1), ValueError, "lr_min", "cosine_lr-negative-lr_min"),
    case(lambda: schedules.cosine_lr(NAN, 10, 0.1), ValueError, "epoch", "cosine_lr-nan-epoch"),
    case(lambda: schedules.make_schedule("swa", epochs=10, lr=0.1), ValueError, "swa_lr", "make-swa-without-swa_lr"),
    case(lambda: schedules.make_schedule("swa", epochs=10, lr=0.1, swa_lr=0.01), ValueError, "swa_start",
         "make-swa-without-swa_start"),
    case(lambda: schedules.make_schedule("swa", epochs=10, lr=0.1, swa_lr=0.01, swa_start=0), ValueError,
         "swa_start", "make-swa-swa_start-0"),
    case(lambda: schedules.make_schedule("swa", epochs=10, lr=0.1, swa_lr=-0.01, swa_start=5), ValueError,
         "swa_lr", "make-swa-negative-swa_lr"),
    case(lambda: schedules.make_schedule("sse", epochs=10, lr=0.1), ValueError, "n_cycles", "make-sse-no-cycles"),
    case(lambda: schedules.make_schedule("sse", epochs=10, lr=0.1, n_cycles=0), ValueError, "n_cycles",
         "make-sse-zero-cycles"),
    case(lambda: schedules.make_schedule("fge", epochs=10, lr=0.1, lr_2=0.01), ValueError, "cycle_epochs",
         "make-fge-no-cycle_epochs"),
    case(lambda: schedules.make_schedule("fge", epochs=10, lr=0.1, cycle_epochs=0, lr_2=0.01), ValueError,
         "cycle_epochs", "make-fge-zero-cycle_epochs"),
    case(lambda: schedules.make_schedule("constant", epochs=10, lr=-0.1), ValueError, "lr", "make-negative-lr"),
    case(lambda: schedules.make_schedule("constant", epochs=10, lr=NAN), ValueError, "lr", "make-nan-lr"),
    case(lambda: schedules.make_schedule("constant", epochs=-1, lr=0.1), ValueError, "epochs",
         "make-negative-epochs"),
    case(lambda: schedules.make_schedule("cosine", epochs=0, lr=0.1), ValueError, "epochs", "make-cosine-0-epochs"),
    case(lambda: schedules.make_schedule("warp", epochs=10, lr=0.1), ValueError, "warp", "make-unknown-name"),
    case(lambda: schedules.make_schedule(["sse"], epochs=10, lr=0.1), ValueError, "schedule", "make-list-name"),
    case(lambda: schedules.make_schedule("constant", epochs=10, lr=0.1, n_cycles=3), TypeError, "n_cycles",
         "make-unused-keyword"),
]

TRAINING = [
    case(lambda: fit_tiny(epochs=-1), ValueError, "epochs", "fit-negative-epochs"),
    case(lambda: fit_tiny(epochs=2.5), TypeError, "epochs", "fit-fractional-epochs"),
    case(lambda: fit_tiny(epochs=True), TypeError, "epochs", "fit-bool-epochs"),
    case(lambda: fit_tiny(lr_schedule=-0.05), ValueError, "lr_schedule", "fit-negative-lr"),
    case(lambda: fit_tiny(lr_schedule=NAN), ValueError, "lr_schedule", "fit-nan-lr"),
    case(lambda: fit_tiny(lr_schedule="0.1"), TypeError, "lr_schedule", "fit-str-lr"),
    case(lambda: fit_tiny(lr_schedule=lambda s: -0.1), ValueError, "lr_schedule", "fit-schedule-negative"),
    case(lambda: fit_tiny(lr_schedule=lambda s: NAN), ValueError, "epoch 0", "fit-schedule-nan-names-step"),
    case(lambda: fit_tiny(lr_schedule=lambda s: None), ValueError, "lr_schedule", "fit-schedule-none"),
    case(lambda: fit_tiny(batch_size=0), ValueError, "batch_size", "fit-zero-batch"),
    case(lambda: fit_tiny(batch_size=2.5), TypeError, "batch_size", "fit-fractional-batch"),
    case(lambda: fit_tiny(batch_size="128"), TypeError, "batch_size", "fit-str-batch"),
    case(lambda: fit_tiny(weight_decay=-1e-4), ValueError, "weight_decay", "fit-negative-wd"),
    case(lambda: fit_tiny(label_smoothing=1.5), ValueError, "label_smoothing", "fit-label-smoothing-1.5"),
    case(lambda: fit_tiny(seed=-1), ValueError, "seed", "fit-negative-seed"),
    case(lambda: fit_tiny(seed="0"), TypeError, "seed", "fit-str-seed"),
    case(lambda: fit_tiny(model=cnn().state_dict()), TypeError, "model", "fit-state-dict-as-model"),
    case(lambda: fit_tiny(model=cnn(num_classes=3)), ValueError, "labels", "fit-labels-beyond-head"),
    case(lambda: fit_tiny(model=cnn(num_classes=3)), ValueError, "num_classes=8", "fit-labels-beyond-head-fix"),
    case(lambda: fit_tiny(model=cnn(num_classes=8), eval_data=data(10)), ValueError, "eval_data",
         "fit-eval-labels-beyond-head"),
    case(lambda: fit_tiny(data=[(torch.zeros(2, 3, 8, 8), torch.zeros(2).long())]), ValueError, "data",
         "fit-list-data"),
    case(lambda: fit_tiny(callbacks=[object()]), TypeError, "callbacks[0]", "fit-non-callback"),
    case(lambda: fit_tiny(callbacks=Callback()), TypeError, "callbacks", "fit-single-callback"),
    case(lambda: fit_tiny(train_step=3), TypeError, "train_step", "fit-non-callable-step"),
    case(lambda: fit_tiny(optimizer="adamw"), ValueError, "optimizer", "fit-unknown-optimizer"),
    case(lambda: fit_tiny(optimizer=sgd(), weight_decay=1e-4), ValueError, "weight_decay", "fit-instance-and-wd"),
    case(lambda: fit_tiny(lr_schedule=1e30, batch_size=4), FloatingPointError, "epoch 0, batches 0-1",
         "fit-diverges-names-step"),
    case(lambda: fit_tiny(lr_schedule=1e30, batch_size=4), FloatingPointError, "check the inputs",
         "fit-diverges-names-inputs"),
    case(lambda: fit_tiny(log_every=0), ValueError, "log_every", "fit-zero-log-every"),
    case(lambda: fit_tiny(precision="fp16"), ValueError, "precision", "fit-precision"),
    case(lambda: fit_tiny(lr_schedule=1e30, batch_size=4), FloatingPointError, "lower the learning rate",
         "fit-diverges-names-fix"),
    case(lambda: fit_tiny(train_step=nan_weights_step), FloatingPointError, "head.weight", "fit-nan-weights-at-end"),
    case(lambda: evaluate([], data()), ValueError, "models", "evaluate-empty"),
    case(lambda: evaluate(cnn().state_dict(), data()), TypeError, "model_or_models", "evaluate-state-dict"),
    case(lambda: evaluate(cnn(), data(), batch_size=0), ValueError, "batch_size", "evaluate-zero-batch"),
    case(lambda: evaluate([cnn(), "model"], data()), TypeError, "model_or_models[1]", "evaluate-str-member"),
    case(lambda: predict_logits(cnn(), data(), batch_size=2.5), TypeError, "batch_size", "predict-fractional"),
    case(lambda: predict_logits(cnn().state_dict(), data()), TypeError, "models", "predict-state-dict"),
    case(lambda: predict_logits([], data()), ValueError, "models", "predict-empty"),
]

METRICS = [
    case(lambda: metrics.accuracy(probs(), torch.tensor([0, 1, -1, 0])), ValueError, "labels", "accuracy-label-1"),
    case(lambda: metrics.accuracy(probs(), torch.tensor([0, 1, 3, 0])), ValueError, "labels", "accuracy-label-C"),
    case(lambda: metrics.accuracy(probs(), torch.tensor([0.0, 1, 2, 0])), ValueError, "labels", "accuracy-float"),
    case(lambda: metrics.accuracy("probs", labels()), ValueError, "probs", "accuracy-str-probs"),
    case(lambda: metrics.accuracy(probs(), labels(3)), ValueError, "labels", "accuracy-short-labels"),
    case(lambda: metrics.nll(torch.randn(4, 3), labels()), ValueError, "probs", "nll-logits"),
    case(lambda: metrics.nll(probs().T, labels()), ValueError, "probs", "nll-transposed"),
    case(lambda: metrics.nll(torch.full((4, 3), NAN), labels()), ValueError, "probs", "nll-nan"),
    case(lambda: metrics.brier(probs()[0], labels()), ValueError, "probs", "brier-1d"),
    case(lambda: metrics.brier(probs(), labels().float()), ValueError, "labels", "brier-float-labels"),
    case(lambda: metrics.ece(probs(), labels(), n_bins=0), ValueError, "n_bins", "ece-zero-bins"),
    case(lambda: metrics.ece(probs(), labels(), n_bins=2.5), ValueError, "n_bins", "ece-fractional-bins"),
    case(lambda: metrics.ece(probs(), labels(), n_bins=True), ValueError, "n_bins", "ece-bool-bins"),
    case(lambda: metrics.diversity([labels()], labels()), ValueError, "predictions", "diversity-one-member"),
    case(lambda: metrics.diversity([labels(), labels()], torch.tensor([0, 1, -1, 0])), ValueError, "labels",
         "diversity-label-minus-1"),
    case(lambda: metrics.diversity([torch.tensor([0, 1, -1, 0]), labels()], labels()), ValueError, "predictions[0]",
         "diversity-prediction-minus-1"),
    case(lambda: metrics.diversity(torch.stack([labels(), labels()]), labels()), ValueError, "predictions",
         "diversity-tensor"),
    case(lambda: metrics.diversity([probs(), probs()], labels()), ValueError, "predictions[0]",
         "diversity-probs-instead-of-labels"),
    case(lambda: metrics.disagreement(labels(), labels(3)), ValueError, "pred_b", "disagreement-lengths"),
    case(lambda: metrics.disagreement(labels(), torch.tensor([0, -1, 0, 0])), ValueError, "pred_b",
         "disagreement-minus-1"),
    case(lambda: metrics.fit_temperature(torch.full((4, 3), NAN), labels()), ValueError, "logits",
         "temperature-nan"),
    case(lambda: metrics.fit_temperature(torch.randn(4, 3), torch.tensor([0, 1, 5, 0])), ValueError, "labels",
         "temperature-label-range"),
    case(lambda: metrics.fit_temperature(torch.randn(4, 3), labels(), t_min=0), ValueError, "t_min",
         "temperature-t_min-0"),
    case(lambda: metrics.fit_temperature(torch.randn(4, 3), labels(), max_iters=0), ValueError, "max_iters",
         "temperature-max_iters-0"),
    case(lambda: metrics.fit_temperature(torch.randn(4, 3), labels(), tol=-1.0), ValueError, "tol",
         "temperature-negative-tol"),
    case(lambda: metrics.calibrated_nll(torch.randn(4, 3), labels(), n_splits=1), ValueError, "n_splits",
         "calibrated-one-split"),
    case(lambda: metrics.calibrated_nll(torch.randn(4, 3), labels(), n_runs=0), ValueError, "n_runs",
         "calibrated-zero-runs"),
    case(lambda: metrics.calibrated_nll(torch.randn(4, 3), labels(), seed="a"), TypeError, "seed",
         "calibrated-str-seed"),
    case(lambda: metrics.ensemble_probs([]), ValueError, "list_of_probs", "ensemble-empty"),
    case(lambda: metrics.ensemble_probs([probs(), probs(5)]), ValueError, "list_of_probs[1]", "ensemble-shapes"),
    case(lambda: metrics.ensemble_probs([probs(), torch.randn(4, 3)]), ValueError, "list_of_probs[1]",
         "ensemble-logits"),
    case(lambda: metrics.ensemble_probs(probs()), ValueError, "list_of_probs", "ensemble-single-tensor"),
    case(lambda: metrics.ensemble_log_probs([]), ValueError, "list_of_log_probs", "ensemble-log-empty"),
]

STATES = [
    case(lambda: state.interpolate(mlp(), mlp(1), 0.5), TypeError, "state_a", "interpolate-models"),
    case(lambda: state.interpolate(mlp(), mlp(1), 0.5), TypeError, "state_dict()", "interpolate-models-fix"),
    case(lambda: state.interpolate(sd(), mlp(1), 0.5), TypeError, "state_b", "interpolate-model-b"),
    case(lambda: state.interpolate(sd(), sd(1), NAN), ValueError, "alpha", "interpolate-nan-alpha"),
    case(lambda: state.interpolate(sd(), sd(1), "0.5"), TypeError, "alpha", "interpolate-str-alpha"),
    case(lambda: state.interpolate(sd(), sd(1), None), TypeError, "alpha", "interpolate-none-alpha"),
    case(lambda: state.interpolate(sd(), other_sd(), 0.5), ValueError, "hidden1", "interpolate-other-arch"),
    case(lambda: state.interpolate(sd(), missing_sd(), 0.5), ValueError, "head.bias", "interpolate-missing-key"),
    case(lambda: state.interpolate(sd(), meta_sd(), 0.5), ValueError, "device", "interpolate-devices"),
    case(lambda: state.interpolate(sd(), meta_sd(), 0.5), ValueError, "'hidden1.0.weight'", "interpolate-devices-key"),
    case(lambda: state.interpolate(sd(), {k: v.double() for k, v in sd(1).items()}, 0.5), ValueError, "dtype",
         "interpolate-dtypes"),
    case(lambda: state.interpolate(sd(), {"a": [1.0]}, 0.5), TypeError, "state_b['a']", "interpolate-list-entry"),
    case(lambda: state.average(sd()), TypeError, "states", "average-single-dict"),
    case(lambda: state.average(mlp()), TypeError, "states", "average-model"),
    case(lambda: state.average([]), ValueError, "states", "average-empty"),
    case(lambda: state.average([mlp(), mlp(1)]), TypeError, "states[0]", "average-list-of-models"),
    case(lambda: state.average([sd(), sd(1)], weights=[0.5]), ValueError, "weights", "average-short-weights"),
    case(lambda: state.average([sd(), sd(1)], weights=[0.7, 0.7]), ValueError, "weights", "average-sum"),
    case(lambda: state.average([sd(), sd(1)], weights=[NAN, 1.0]), ValueError, "weights", "average-nan-weight"),
    case(lambda: state.average([sd(), sd(1)], weights=[-0.5, 1.5]), ValueError, "weights", "average-negative"),
    case(lambda: state.average([sd(), sd(1)], weights=["a", "b"]), TypeError, "weights[0]", "average-str-weights"),
    case(lambda: state.average([sd(), sd(1)], weights=0.5), TypeError, "weights", "average-scalar-weights"),
    case(lambda: state.average([sd(), other_sd()]), ValueError, "states[1]", "average-other-arch"),
    case(lambda: state.average([sd(), meta_sd()]), ValueError, "device", "average-devices"),
    case(lambda: state.add(mlp(), sd()), TypeError, "state_a", "add-model"),
    case(lambda: state.subtract(sd(), mlp()), TypeError, "state_b", "subtract-model"),
    case(lambda: state.scale(sd(), NAN), ValueError, "factor", "scale-nan"),
    case(lambda: state.scale(mlp(), 2.0), TypeError, "state", "scale-model"),
    case(lambda: state.flatten(mlp()), TypeError, "state", "flatten-model"),
    case(lambda: state.flatten(sd(), keys=["nope"]), ValueError, "nope", "flatten-unknown-key"),
    case(lambda: state.unflatten(torch.zeros(3), sd()), ValueError, "flat", "unflatten-length"),
    case(lambda: state.unflatten([0.0] * 3, sd()), TypeError, "flat", "unflatten-list"),
    case(lambda: state.distance(sd(), mlp()), TypeError, "state_b", "distance-model"),
    case(lambda: state.cosine(mlp(), sd()), TypeError, "state_a", "cosine-model"),
    case(lambda: state.cosine(state.scale(sd(), 0.0), sd()), ValueError, "zero", "cosine-zero"),
]

SOUPS = [
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=0.5), TypeError, "evaluate", "greedy-evaluate-number"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=None), TypeError, "evaluate", "greedy-evaluate-none"),
    case(lambda: greedy_soup([], evaluate=lambda s: 1.0), ValueError, "states", "greedy-empty"),
    case(lambda: greedy_soup(sd(), evaluate=lambda s: 1.0), TypeError, "states", "greedy-single-dict"),
    case(lambda: greedy_soup([mlp(), mlp(1)], evaluate=lambda s: 1.0), TypeError, "states[0]", "greedy-models"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=lambda s: NAN), ValueError, "states[0]",
         "greedy-nan-score-names-ingredient"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=Counting(0.5, INF)), ValueError, "states[1]",
         "greedy-inf-score-names-ingredient"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=Counting(0.5, 0.4, NAN)), ValueError, "soup of states [0, 1]",
         "greedy-nan-soup-score"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=lambda s: "high"), TypeError, "evaluate", "greedy-str-score"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=lambda s: 1.0, accept="ge"), ValueError, "accept",
         "greedy-accept"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=lambda s: 1.0, order="random"), ValueError, "order",
         "greedy-order"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=lambda s: 1.0, scores=[1.0]), ValueError, "scores",
         "greedy-short-scores"),
    case(lambda: greedy_soup([sd(), sd(1)], evaluate=lambda s: 1.0, scores=[NAN, 1.0]), ValueError, "scores[0]",
         "greedy-nan-scores"),
    case(lambda: greedy_soup([sd(), other_sd()], evaluate=lambda s: 1.0), ValueError, "hidden1",
         "greedy-other-arch"),
    case(lambda: greedy_ensemble([], labels()), ValueError, "probs", "greedy-ensemble-empty"),
    case(lambda: greedy_ensemble(torch.zeros(0, 4, 3), labels()), ValueError, "probs", "greedy-ensemble-0-members"),
    case(lambda: greedy_ensemble([probs(), probs(seed=1)], torch.tensor([0, 1, 3, 0])), ValueError, "labels",
         "greedy-ensemble-labels-range"),
    case(lambda: greedy_ensemble([probs(), probs(seed=1)], torch.tensor([0, 1, -1, 0])), ValueError, "labels",
         "greedy-ensemble-labels-minus-1"),
    case(lambda: greedy_ensemble([probs(), probs(seed=1)], labels().float()), TypeError, "labels",
         "greedy-ensemble-float-labels"),
    case(lambda: greedy_ensemble([probs(), probs(seed=1)], labels(3)), ValueError, "probs", "greedy-ensemble-lengths"),
    case(lambda: greedy_ensemble([probs(), probs(seed=1)], labels(), accept="yes"), ValueError, "accept",
         "greedy-ensemble-accept"),
    case(lambda: greedy_ensemble(["a", "b"], labels()), TypeError, "probs[0]", "greedy-ensemble-strings"),
    case(lambda: uniform_soup([]), ValueError, "states", "uniform-empty"),
    case(lambda: uniform_soup(sd()), TypeError, "states", "uniform-single-dict"),
    case(lambda: uniform_soup([sd(), missing_sd()]), ValueError, "head.bias", "uniform-missing-key"),
    case(lambda: state_evaluator(mlp(), data(), metric="loss"), ValueError, "metric", "evaluator-metric"),
    case(lambda: state_evaluator(sd(), data()), TypeError, "model", "evaluator-state-dict"),
    case(lambda: state_evaluator(cnn(), data()), ValueError, "bn_data", "evaluator-bn-without-data"),
    case(lambda: state_evaluator(mlp(), data(), num_bn_batches=0), ValueError, "num_bn_batches",
         "evaluator-zero-bn-batches"),
]

MODELS = [
    case(lambda: build_model("vgg", num_classes=0), ValueError, "num_classes", "build-0-classes"),
    case(lambda: build_model("vgg", num_classes=2.5), TypeError, "num_classes", "build-fractional-classes"),
    case(lambda: build_model("vgg", num_classes=True), TypeError, "num_classes", "build-bool-classes"),
    case(lambda: build_model("mlp", num_classes=-1), ValueError, "num_classes", "build-mlp-negative-classes"),
    case(lambda: build_model("vgg", widths=(0, 8)), ValueError, "widths[0]", "build-vgg-zero-width"),
    case(lambda: build_model("vgg", widths=()), ValueError, "widths", "build-vgg-no-stage"),
    case(lambda: build_model("vgg", widths=(8.5, 8)), TypeError, "widths[0]", "build-vgg-fractional-width"),
    case(lambda: build_model("vgg", convs=0), ValueError, "convs", "build-vgg-zero-convs"),
    case(lambda: build_model("resnet8", width=0), ValueError, "width", "build-resnet-zero-width"),
    case(lambda: build_model("resnet8", depth=9), ValueError, "depth", "build-resnet-depth"),
    case(lambda: build_model("resnet8", depth=8.5), TypeError, "depth", "build-resnet-fractional-depth"),
    case(lambda: build_model("resnet8", shortcut="C"), ValueError, "shortcut", "build-resnet-shortcut"),
    case(lambda: build_model("wrn10_2", widen=0), ValueError, "widen", "build-wrn-widen"),
    case(lambda: build_model("wrn10_2", dropout=1.5), ValueError, "dropout", "build-wrn-dropout"),
    case(lambda: build_model("wrn10_2", dropout=NAN), ValueError, "dropout", "build-wrn-nan-dropout"),
    case(lambda: build_model("mlp", hidden=(0,)), ValueError, "hidden", "build-mlp-zero-hidden"),
    case(lambda: build_model("mlp", hidden=()), ValueError, "hidden", "build-mlp-no-hidden"),
    case(lambda: build_model("mlp", in_features=0), ValueError, "in_features", "build-mlp-in-features"),
    case(lambda: build_model("resnet9"), ValueError, "resnet9", "build-unknown-name"),
    case(lambda: build_model(["vgg"]), TypeError, "name", "build-list-name"),
    case(lambda: build_model("vgg", widht=8), TypeError, "widht", "build-misspelt-keyword"),
    case(lambda: replace_head(mlp(), 0), ValueError, "num_classes", "replace-head-0"),
    case(lambda: replace_head(sd(), 3), TypeError, "model", "replace-head-state-dict"),
    case(lambda: replace_head(nn.Sequential(nn.Linear(2, 2)), 3), TypeError, "head", "replace-head-no-head"),
]

PROFILES = [
    case(lambda: get_profile("cpu", epochs=-1), ValueError, "epochs", "profile-negative-epochs"),
    case(lambda: get_profile("cpu", epochs=0), ValueError, "epochs", "profile-zero-epochs"),
    case(lambda: get_profile("cpu", batch_size=0), ValueError, "batch_size", "profile-zero-batch"),
    case(lambda: get_profile("cpu", batch_size=2.5), TypeError, "batch_size", "profile-fractional-batch"),
    case(lambda: get_profile("cpu", batch_size="128"), TypeError, "batch_size", "profile-str-batch"),
    case(lambda: get_profile("cpu", lr="0.1"), TypeError, "lr", "profile-str-lr"),
    case(lambda: get_profile("cpu", lr=-0.1), ValueError, "lr", "profile-negative-lr"),
    case(lambda: get_profile("cpu", lr=NAN), ValueError, "lr", "profile-nan-lr"),
    case(lambda: get_profile("cpu", model="resnet9"), ValueError, "model", "profile-unknown-model"),
    case(lambda: get_profile("cpu", n_train=0), ValueError, "n_train", "profile-zero-train"),
    case(lambda: get_profile("cpu", weight_decay=-1.0), ValueError, "weight_decay", "profile-negative-wd"),
    case(lambda: get_profile("cpu", n_bn_batches=0), ValueError, "n_bn_batches", "profile-zero-bn-batches"),
    case(lambda: get_profile("cpu", ensemble_size=True), TypeError, "ensemble_size", "profile-bool-ensemble"),
    case(lambda: get_profile("cpu", finetune_lr=INF), ValueError, "finetune_lr", "profile-inf-finetune-lr"),
    case(lambda: get_profile("cpu", pretrain_epochs=-2), ValueError, "pretrain_epochs", "profile-negative-pep"),
    case(lambda: get_profile(get_profile("cpu"), epochs=-1), ValueError, "epochs", "profile-object-override"),
    case(lambda: get_profile("cpu", epoch=3), ValueError, "epoch", "profile-unknown-field"),
    case(lambda: get_profile("bogus"), ValueError, "bogus", "profile-unknown-name"),
    case(lambda: get_profile(3), TypeError, "name", "profile-int-name"),
    case(lambda: with_env("LSDL_PROFILE", "bogus", get_profile), ValueError, "LSDL_PROFILE", "profile-env-bogus"),
]

OPTIMIZERS = [
    case(lambda: Lookaround(params(), lr=NAN), ValueError, "lr", "lookaround-nan-lr"),
    case(lambda: Lookaround(params(), lr=-0.1), ValueError, "lr", "lookaround-negative-lr"),
    case(lambda: Lookaround(params(), lr="0.1"), TypeError, "lr", "lookaround-str-lr"),
    case(lambda: Lookaround(params(), lr=0.1, n_heads=0), ValueError, "n_heads", "lookaround-zero-heads"),
    case(lambda: Lookaround(params(), lr=0.1, n_heads=2.5), TypeError, "n_heads", "lookaround-fractional-heads"),
    case(lambda: Lookaround(params(), lr=0.1, k=0), ValueError, "k", "lookaround-zero-k"),
    case(lambda: Lookaround(params(), lr=0.1, k=True), TypeError, "k", "lookaround-bool-k"),
    case(lambda: Lookaround(params(), lr=0.1, momentum=-0.1), ValueError, "momentum", "lookaround-momentum"),
    case(lambda: Lookaround(params(), lr=0.1, momentum=NAN), ValueError, "momentum", "lookaround-nan-momentum"),
    case(lambda: Lookaround(params(), lr=0.1, weight_decay=INF), ValueError, "weight_decay", "lookaround-inf-wd"),
    case(lambda: Lookahead(sgd(), k=0), ValueError, "k", "lookahead-zero-k"),
    case(lambda: Lookahead(sgd(), k=True), TypeError, "k", "lookahead-bool-k"),
    case(lambda: Lookahead(sgd(), alpha=NAN), ValueError, "alpha", "lookahead-nan-alpha"),
    case(lambda: Lookahead(sgd(), alpha=0.0), ValueError, "alpha", "lookahead-zero-alpha"),
    case(lambda: Lookahead(sgd(), alpha=1.5), ValueError, "alpha", "lookahead-alpha-above-1"),
    case(lambda: Lookahead(sgd(), momentum="nesterov"), ValueError, "momentum", "lookahead-momentum-mode"),
    case(lambda: Lookahead(mlp()), ValueError, "base_optimizer", "lookahead-model"),
    case(lambda: Lookahead(Lookahead(sgd())), ValueError, "base_optimizer", "lookahead-twice"),
]

ENSEMBLES = [
    case(lambda: SWAG(mlp(), max_rank=-1), ValueError, "max_rank", "swag-negative-rank"),
    case(lambda: SWAG(mlp(), max_rank=2.5), TypeError, "max_rank", "swag-fractional-rank"),
    case(lambda: SWAG(sd()), TypeError, "model", "swag-state-dict"),
    case(lambda: SWAG(mlp()).sample(), ValueError, "collect", "swag-sample-before-collect"),
    case(lambda: swag_with(2).sample(scale=NAN), ValueError, "scale", "swag-nan-scale"),
    case(lambda: swag_with(2).sample(scale=-1.0), ValueError, "scale", "swag-negative-scale"),
    case(lambda: swag_with(1).collect(sd()), TypeError, "model", "swag-collect-state-dict"),
    case(lambda: swag_with(2).load_sample(mlp(), torch.zeros(3)), ValueError, "flat", "swag-load-wrong-size"),
    case(lambda: KFACLaplace(mlp(), prior_precision=0, n_data=10), ValueError, "prior_precision", "kfac-zero-prior"),
    case(lambda: KFACLaplace(mlp(), prior_precision=NAN, n_data=10), ValueError, "prior_precision", "kfac-nan-prior"),
    case(lambda: KFACLaplace(mlp(), 1.0, n_data=0), ValueError, "n_data", "kfac-zero-n"),
    case(lambda: KFACLaplace(mlp(), 1.0, n_data=True), TypeError, "n_data", "kfac-bool-n"),
    case(lambda: KFACLaplace(mlp(), 1.0, 10, subset="head"), ValueError, "subset", "kfac-subset"),
    case(lambda: KFACLaplace(mlp(), 1.0, 10, fisher="full"), ValueError, "fisher", "kfac-fisher"),
    case(lambda: KFACLaplace(sd(), 1.0, 10), TypeError, "model", "kfac-state-dict"),
    case(lambda: KFACLaplace(mlp(), 1.0, 10, subset="last_layer").predict([torch.randn(4, 2)]), ValueError,
         "call fit", "kfac-last-layer-predict-before-fit"),
    case(lambda: KFACLaplace(mlp(), 1.0, 10).predict([torch.randn(4, 2)]), ValueError, "call fit",
         "kfac-predict-before-fit"),
    case(lambda: KFACLaplace(mlp(), 1.0, 10).sample(mlp()), ValueError, "call fit", "kfac-sample-before-fit"),
    case(lambda: KFACLaplace(mlp(), 1.0, 10).fit([]), ValueError, "batches", "kfac-fit-no-batch"),
    case(lambda: fitted_kfac()[0].predict([torch.randn(4, 2)], n_samples=0), ValueError, "n_samples",
         "kfac-zero-samples"),
    case(lambda: fitted_kfac()[0].sample(mlp(), scale=-1.0), ValueError, "scale", "kfac-negative-scale"),
    case(lambda: fitted_kfac()[0].set_prior_precision(-1.0), ValueError, "prior_precision", "kfac-set-prior"),
    case(lambda: fitted_kfac()[0].predict([torch.randn(4, 2)], predictive="glm"), ValueError, "subset",
         "kfac-glm-all-weights"),
    case(lambda: fitted_kfac(subset="last_layer")[0].predict([torch.randn(4, 2)], predictive="linear"), ValueError,
         "predictive", "kfac-unknown-predictive"),
    case(lambda: fitted_kfac(subset="last_layer")[0].predict([torch.randn(4, 2)], predictive="glm", link="bridge"),
         ValueError, "link", "kfac-unknown-link"),
    case(lambda: fitted_kfac(subset="last_layer")[0].predict([torch.randn(4, 2)], link="probit"), ValueError, "link",
         "kfac-probit-nn"),
    case(lambda: fitted_kfac(subset="last_layer")[0].predict([torch.randn(4, 2)], predictive="glm", return_all=True),
         ValueError, "return_all", "kfac-probit-return-all"),
    case(lambda: fitted_kfac(subset="last_layer")[0].logit_distribution(torch.randn(3, 7)), ValueError, "features",
         "kfac-glm-feature-width"),
    case(lambda: fitted_kfac(subset="last_layer")[0].logit_distribution("phi"), TypeError, "features",
         "kfac-glm-features-str"),
    case(lambda: CyclicalSGLD(params(), lr=-1.0, n_data=10), ValueError, "lr", "csgld-negative-lr"),
    case(lambda: CyclicalSGLD(params(), lr=NAN, n_data=10), ValueError, "lr", "csgld-nan-lr"),
    case(lambda: CyclicalSGLD(params(), lr=INF, n_data=10), ValueError, "lr", "csgld-inf-lr"),
    case(lambda: CyclicalSGLD(params(), lr="0.1", n_data=10), TypeError, "lr", "csgld-str-lr"),
    case(lambda: CyclicalSGLD(params(), 0.1, n_data=0), ValueError, "n_data", "csgld-zero-n"),
    case(lambda: CyclicalSGLD(params(), 0.1, n_data=10, temperature=-1.0), ValueError, "temperature",
         "csgld-negative-temperature"),
    case(lambda: dee({}, {1: 1.0}), ValueError, "method_nll", "dee-empty-method"),
    case(lambda: dee({1: 1.0}, {2: 1.0}), ValueError, "ensemble_nll", "dee-no-size-1"),
    case(lambda: dee({1: NAN}, {1: 1.0}), ValueError, "method_nll", "dee-nan"),
    case(lambda: dee({0: 1.0}, {1: 1.0}), ValueError, "method_nll", "dee-size-0"),
    case(lambda: DeepEnsemble([]), ValueError, "members", "deep-ensemble-empty"),
    case(lambda: update_bn(cnn(), [], num_batches=0), ValueError, "num_batches", "update-bn-zero-batches"),
    case(lambda: update_bn(cnn(), []), ValueError, "batches", "update-bn-no-batch"),
]

LANDSCAPE = [
    case(lambda: linear_cka(torch.tensor([[1.0, NAN], [0.0, 1.0], [2.0, 2.0]]), torch.randn(3, 2)), ValueError,
         "features_a", "cka-nan"),
    case(lambda: linear_cka(torch.randn(3, 2), torch.full((3, 2), INF)), ValueError, "features_b", "cka-inf"),
    case(lambda: linear_cka(torch.randn(3, 2), torch.randn(4, 2)), ValueError, "features_b", "cka-examples"),
    case(lambda: linear_cka(torch.randn(3), torch.randn(3)), ValueError, "features_a", "cka-1d"),
    case(lambda: linear_cka(torch.ones(3, 2), torch.randn(3, 2)), ValueError, "constant", "cka-constant"),
    case(lambda: linear_cka("features", torch.randn(3, 2)), TypeError, "features_a", "cka-str"),
    case(lambda: feature_l2(torch.full((3, 2), NAN), torch.randn(3, 2)), ValueError, "features_a", "l2-nan"),
    case(lambda: feature_l2(torch.randn(3, 2), torch.randn(3, 4)), ValueError, "features_b", "l2-widths"),
    case(lambda: stage_similarity(sd(), mlp(), [torch.randn(4, 2)]), TypeError, "model_a", "similarity-state"),
    case(lambda: barrier([1.0, 2.0], [0.0, 0.5, 1.0]), ValueError, "values", "barrier-lengths"),
    case(lambda: barrier([1.0, NAN, 1.0], [0.0, 0.5, 1.0]), ValueError, "values", "barrier-nan"),
    case(lambda: barrier([1.0, 2.0, 1.0], [0.0, 0.5, 1.0], reference="max"), ValueError, "reference",
         "barrier-reference"),
    case(lambda: barrier([1.0, 2.0, 1.0], [0.0, 0.0, 1.0]), ValueError, "alphas", "barrier-repeated-alphas"),
    case(lambda: bezier_coeffs(1.5, 3), ValueError, "t", "bezier-t-above-1"),
    case(lambda: bezier_coeffs(0.5, 1), ValueError, "n_points", "bezier-one-point"),
    case(lambda: polychain_coeffs(0.5, 2.5), ValueError, "n_points", "polychain-fractional-points"),
    case(lambda: CurveModel(mlp(), sd(), sd(1), kind="spline"), ValueError, "kind", "curve-kind"),
    case(lambda: CurveModel(mlp(), sd(), sd(1), n_bends=-1), ValueError, "n_bends", "curve-negative-bends"),
]

TTA = [
    case(lambda: watt_loss(torch.randn(4, 8), torch.randn(4, 8), 100.0, tau=0), ValueError, "tau", "watt-loss-tau"),
    case(lambda: watt_loss(torch.randn(4, 8), torch.randn(4, 8), 100.0, tau=NAN), ValueError, "tau",
         "watt-loss-nan-tau"),
    case(lambda: watt_loss(torch.randn(4, 8), torch.randn(3, 8), 100.0), ValueError, "image_features",
         "watt-loss-shapes"),
    case(lambda: watt_loss("features", torch.randn(1, 1), 100.0), TypeError, "image_features", "watt-loss-str"),
    case(lambda: watt_loss(torch.randn(4, 8), torch.randn(4, 8), -1.0), ValueError, "logit_scale",
         "watt-loss-negative-scale"),
    case(lambda: WATT(clip(), CLASSES, templates=[]), ValueError, "templates", "watt-no-templates"),
    case(lambda: WATT(clip(), CLASSES, templates="a photo of a {}"), TypeError, "templates", "watt-str-templates"),
    case(lambda: WATT(clip(), CLASSES, templates=["a photo"]), ValueError, "templates[0]", "watt-template-no-slot"),
    case(lambda: WATT(clip(), CLASSES, n_iters=0), ValueError, "n_iters", "watt-zero-iters"),
    case(lambda: WATT(clip(), CLASSES, n_rounds=2.5), TypeError, "n_rounds", "watt-fractional-rounds"),
    case(lambda: WATT(clip(), ["cat"]), ValueError, "class_names", "watt-one-class"),
    case(lambda: WATT(clip(), "cat,dog"), TypeError, "class_names", "watt-str-classes"),
    case(lambda: WATT(clip(), CLASSES, lr=NAN), ValueError, "lr", "watt-nan-lr"),
    case(lambda: WATT(clip(), CLASSES, lr=0.0), ValueError, "lr", "watt-zero-lr"),
    case(lambda: WATT(clip(), CLASSES, mode="serial"), ValueError, "mode", "watt-mode"),
    case(lambda: WATT(clip(), CLASSES, tau=0.0), ValueError, "tau", "watt-zero-tau"),
    case(lambda: WATT(clip(), CLASSES).adapt(torch.randn(1, 3, 32, 32)), ValueError, "batch", "watt-one-image"),
    case(lambda: average_weights([]), ValueError, "weight_sets", "average-weights-empty"),
    case(lambda: TENT(clip(), CLASSES, n_steps=0), ValueError, "n_steps", "tent-zero-steps"),
]

MORE = [
    case(lambda: fit_tiny(device="tpu"), ValueError, "device", "fit-unknown-device"),
    case(lambda: fit_tiny(device=3.0), TypeError, "device", "fit-number-device"),
    case(lambda: predict_logits(cnn(), data(), device="gpu"), ValueError, "device", "predict-unknown-device"),
    case(lambda: evaluate(cnn(), data(), device="cuda:99"), ValueError, "device", "evaluate-missing-cuda"),
    case(lambda: wise_ft(mlp(), sd(), 0.5), TypeError, "state_0", "wise-ft-model"),
    case(lambda: wise_ft(sd(), sd(1), NAN), ValueError, "alpha", "wise-ft-nan-alpha"),
    case(lambda: wise_ft_sweep(sd(), sd(1), evaluate=0.5), TypeError, "evaluate", "wise-ft-sweep-evaluate"),
    case(lambda: wise_ft_sweep(sd(), sd(1), lambda s: 1.0, alphas=[]), ValueError, "alphas", "wise-ft-sweep-empty"),
    case(lambda: wise_ft_sweep(sd(), sd(1), lambda s: 1.0, alphas=[0.0, NAN]), ValueError, "alphas",
         "wise-ft-sweep-nan"),
    case(lambda: linear_path(mlp(), mlp(), sd(1), [(torch.randn(4, 2), labels(4) % 2)]), TypeError, "state_a",
         "linear-path-model-as-state"),
    case(lambda: linear_path(sd(), sd(), sd(1), [(torch.randn(4, 2), labels(4) % 2)]), TypeError, "model",
         "linear-path-state-as-model"),
    case(lambda: linear_path(mlp(), sd(), sd(1), [(torch.randn(4, 2), labels(4) % 2)], alphas=[NAN]), ValueError,
         "alphas", "linear-path-nan-alpha"),
    case(lambda: linear_path(mlp(), sd(), other_sd(), [(torch.randn(4, 2), labels(4) % 2)]), ValueError, "hidden1",
         "linear-path-other-arch"),
    case(lambda: plane_basis(mlp(), sd(), sd(1)), TypeError, "state_a", "plane-basis-model"),
    case(lambda: plane_basis(sd(), sd(), sd(1)), ValueError, "state_b", "plane-basis-identical"),
    case(lambda: random_directions(sd(), None, n=0), ValueError, "n", "random-directions-zero"),
    case(lambda: random_directions(sd(), None, n=2.5), TypeError, "n", "random-directions-fractional"),
    case(lambda: SimplexModel(sd()), TypeError, "base_model", "simplex-state-as-model"),
    case(lambda: SimplexModel(mlp(), other_sd()), ValueError, "hidden1", "simplex-other-state"),
    case(lambda: dirichlet_weights(0), ValueError, "n_vertices", "dirichlet-zero-vertices"),
    case(lambda: dirichlet_weights(3, n_samples=0), ValueError, "n_samples", "dirichlet-zero-samples"),
    case(lambda: dirichlet_weights(3, n_samples=2.5), TypeError, "n_samples", "dirichlet-fractional-samples"),
    case(lambda: barycentric_grid(3, 0), ValueError, "resolution", "grid-zero-resolution"),
    case(lambda: barycentric_grid(3, 2.5), TypeError, "resolution", "grid-fractional-resolution"),
    case(lambda: cayley_menger_volume(torch.randn(3)), ValueError, "vertices", "cayley-menger-1d"),
    case(lambda: update_bn(cnn().state_dict(), []), TypeError, "model", "update-bn-state-dict"),
    case(lambda: update_bn(cnn(), [], num_batches=1.5), TypeError, "num_batches", "update-bn-fractional"),
    case(lambda: DeepEnsemble([sd()]), TypeError, "members[0]", "deep-ensemble-state-dict"),
    case(lambda: SnapshotCollector([-1, 5]), ValueError, "iterations", "snapshots-negative"),
    case(lambda: SnapshotCollector(5), TypeError, "iterations", "snapshots-single-int"),
    case(lambda: SnapshotCollector([2.5]), TypeError, "iterations[0]", "snapshots-fractional"),
    case(lambda: learned_soup(mlp(), [], data()), ValueError, "states", "learned-soup-empty"),
    case(lambda: learned_soup(mlp(), sd(), data()), TypeError, "states", "learned-soup-single-dict"),
    case(lambda: learned_soup(mlp(), [sd()], data(), epochs=0), ValueError, "epochs", "learned-soup-zero-epochs"),
    case(lambda: learned_soup(mlp(), [sd()], data(), lr=NAN), ValueError, "lr", "learned-soup-nan-lr"),
    case(lambda: learned_soup(sd(), [sd()], data()), TypeError, "model", "learned-soup-state-as-model"),
    case(lambda: standard_recipe("cpu", epochs=-1), ValueError, "epochs", "recipe-negative-epochs"),
    case(lambda: standard_recipe("cpu", lr=0), ValueError, "lr", "recipe-zero-lr"),
    case(lambda: standard_recipe("cpu", batch_size=2.5), TypeError, "batch_size", "recipe-fractional-batch"),
    case(lambda: standard_recipe("cpu", schedule="swa"), ValueError, "swa_lr", "recipe-swa-without-kw"),
    case(lambda: standard_recipe("cpu", schedule="cosine", schedule_kw={"n_cycles": 2}), TypeError, "n_cycles",
         "recipe-wrong-schedule-kw"),
    case(lambda: standard_recipe("cpu", optimizer="adamw"), ValueError, "optimizer", "recipe-optimizer"),
    case(lambda: standard_recipe("cpu", augment="heavy"), ValueError, "augment", "recipe-augment"),
    case(lambda: standard_recipe("cpu", model="resnet9"), ValueError, "model", "recipe-model"),
    case(lambda: standard_recipe("cpu", seed=-1), ValueError, "seed", "recipe-negative-seed"),
    case(lambda: standard_recipe("cpu", epoch=3), ValueError, "epoch", "recipe-unknown-field"),
    case(lambda: standard_recipe("cpu").replace(data={"n_train": 0}), ValueError, "data.n_train", "recipe-zero-data"),
    case(lambda: standard_recipe("cpu").replace(data={"source": "imagenet"}), ValueError, "data.source",
         "recipe-data-source"),
    case(lambda: standard_recipe("cpu").replace(schedule_kw=[1]), TypeError, "schedule_kw", "recipe-kw-not-dict"),
    case(lambda: train_recipe(standard_recipe("cpu").as_dict()), TypeError, "Recipe", "train-a-dict"),
    case(lambda: training_loader({"batch_size": 8}), TypeError, "Recipe", "training-loader-a-dict"),
    case(lambda: standard_recipe("cpu", num_classes=0), ValueError, "num_classes", "recipe-zero-classes"),
    case(lambda: standard_recipe("cpu", label_smoothing=-0.1), ValueError, "label_smoothing", "recipe-smoothing"),
    case(lambda: standard_recipe("cpu", epoch=3), ValueError, "epoch", "recipe-unknown-field"),
    case(lambda: finetune_recipe("cpu", head="mlp"), ValueError, "head", "recipe-finetune-head"),
    case(lambda: check_recipe("recipe"), TypeError, "recipe", "recipe-not-a-dict"),
    case(lambda: swa_recipe("cpu", budget=-1), ValueError, "budget", "swa-recipe-budget"),
    case(lambda: swa_recipe("cpu", schedule="cyclic"), ValueError, "schedule", "swa-recipe-schedule"),
]

FAMILIES = [
    case(lambda: cycle_lr(0.5, 10, -0.1), ValueError, "lr_max", "cycle-lr-negative"),
    case(lambda: cycle_schedule(NAN), ValueError, "lr_max", "cycle-schedule-nan"),
    case(lambda: cycle_recipes(transfer_finetune_recipe("smoke"), "sse", 0, lr_mult=1.0, epoch_mult=1.0), ValueError,
         "n_members", "cycle-recipes-zero-members"),
    case(lambda: cycle_recipes(transfer_finetune_recipe("smoke"), "sse", 3, lr_mult=1.0, epoch_mult=NAN), ValueError,
         "epoch_mult", "cycle-recipes-nan-epochs"),
    case(lambda: ensemble_curve("probs", labels()), TypeError, "probs", "ensemble-curve-str"),
    case(lambda: member_diversity(torch.stack([probs(), probs(seed=1)]), torch.tensor([0, 1, -1, 0])), ValueError,
         "labels", "member-diversity-minus-1"),
    case(lambda: barrier_of({"alphas": [0.0, 1.0], "error": [0.1, 0.2]}, key="loss"), ValueError, "loss",
         "barrier-of-missing-key"),
    case(lambda: optimizer_recipe("sgd", "smoke", lr=-1.0), ValueError, "lr", "optimizer-recipe-negative-lr"),
    case(lambda: optimizer_recipe("lookahead", "smoke", alpha=0.0), ValueError, "alpha", "optimizer-recipe-alpha"),
    case(lambda: curve_lr(0, 0, 0.1), ValueError, "epochs", "curve-lr-zero-epochs"),
    case(lambda: train_curve(CurveModel(mlp(), sd(), sd(1)), [(torch.randn(4, 2), labels() % 2)], epochs=1, lr=-0.1,
                             weight_decay=0.0), ValueError, "lr", "train-curve-negative-lr"),
    case(lambda: train_curve(sd(), [], epochs=1, lr=0.1, weight_decay=0.0), TypeError, "curve", "train-curve-state"),
    case(lambda: CurveModel(sd(), sd(), sd(1)), TypeError, "base_model", "curve-model-state-as-model"),
    case(lambda: CurveModel(mlp(), mlp(), sd(1)), TypeError, "state_start", "curve-model-model-as-state"),
    case(lambda: plane_point(plane_basis(sd(0), sd(1), sd(2)), NAN, 0.0), ValueError, "x", "plane-point-nan"),
    case(lambda: csgld_sample_iterations(100, 4, 0.5, 0), ValueError, "samples_per_cycle", "csgld-zero-samples"),
    case(lambda: csgld_recipe("smoke", budget=0), ValueError, "budget", "csgld-recipe-budget"),
    case(lambda: sse_recipe("smoke", budget=0), ValueError, "budget", "sse-recipe-budget"),
    case(lambda: fge_recipe("smoke", budget=0.5), ValueError, "budget", "fge-recipe-budget"),
    case(lambda: trajectory_recipe("smoke", start_fraction=1.5), ValueError, "start_fraction", "trajectory-fraction"),
    case(lambda: swa_model(sd(), sd(), []), TypeError, "template", "swa-model-state-as-template"),
    case(lambda: SWAGCallback(mlp(), 1), TypeError, "swag", "swag-callback-model"),
    case(lambda: swag_recipe("smoke", bogus=1), ValueError, "swag.bogus", "swag-recipe-unknown-size"),
    case(lambda: spro_recipe("smoke", bogus=1), ValueError, "spro.bogus", "spro-recipe-unknown-size"),
    case(lambda: get_profile("cpu", swag={"epochs": -2}), ValueError, "swag.epochs", "profile-section-negative-epochs"),
    case(lambda: get_profile("cpu", swag=3), TypeError, "swag", "profile-section-not-a-dict"),
    case(lambda: assert_close(1.0, 1.0, what="x", atol=-1), ValueError, "atol", "assert-close-negative-atol"),
    case(lambda: assert_close(1.0, 1.0, what=None), TypeError, "what", "assert-close-no-what"),
    case(lambda: call_student(3), TypeError, "fn", "call-student-not-callable"),
    case(lambda: entropy_loss(torch.randn(3)), ValueError, "logits", "entropy-loss-1d"),
    case(lambda: tune_prior_precision(None, None), TypeError, "la", "tune-prior-not-kfac"),
    case(lambda: tune_prior_precision(KFACLaplace(mlp(), 1.0, 10), None), ValueError, "call fit",
         "tune-prior-before-fit"),
    case(lambda: tune_prior_precision(fitted_kfac()[0], [], grid=[]), ValueError, "grid", "tune-prior-empty-grid"),
    case(lambda: tune_prior_precision(fitted_kfac()[0], [], predictive="glm"), ValueError, "subset",
         "tune-prior-glm-all-weights"),
    case(lambda: tune_prior_precision(fitted_kfac()[0], [], predictive="map"), ValueError, "predictive",
         "tune-prior-unknown-predictive"),
]

CASES = (SCHEDULES + TRAINING + METRICS + STATES + SOUPS + MODELS + PROFILES + OPTIMIZERS + ENSEMBLES + LANDSCAPE + TTA
         + MORE + FAMILIES)


def test_at_least_150_cases():
    assert len(CASES) >= 150


@pytest.mark.parametrize("call, exception, text", CASES)
def test_bad_call_raises_a_clear_error(call, exception, text):
    with pytest.raises(exception) as info:
        call()
    assert type(info.value) is exception, f"expected exactly {exception.__name__}, got {type(info.value).__name__}"
    assert text in str(info.value), f"message does not name {text!r}: {info.value}"


def test_cli_unknown_profile_is_one_line_and_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("LSDL_PROFILE", "bogus")
    assert cli_main(["figures"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bogus" in err and "smoke, cpu, gpu" in err and "Traceback" not in err


def test_messages_show_the_value_and_the_fix():
    with pytest.raises(ValueError) as info:
        schedules.sse_lr(0, 100, 5, -0.05)
    assert "lr_max must be a finite number >= 0, got -0.05; pass a positive learning rate" in str(info.value)
    with pytest.raises(TypeError) as info:
        state.interpolate(mlp(), mlp(1), 0.5)
    assert "state_a.state_dict()" in str(info.value)


def test_good_inputs_pass_the_checks():
    import numpy as np

    assert checks.positive_int("n", np.int64(3)) == 3 and checks.positive_int("n", 4.0) == 4
    assert checks.nonneg_int("n", torch.tensor(0)) == 0
    assert checks.positive_float("lr", 1) == 1.0 and checks.probability("p", torch.tensor(0.5)) == 0.5
    assert checks.number("x", INF, allow_inf=True) == INF
    assert checks.non_empty("xs", (1, 2)) == [1, 2] and checks.callable_("f", len) is len
    assert checks.labels_in_range("y", [0, 2], 3).dtype == torch.long
    assert checks.device_of("m", mlp()) == torch.device("cpu") and checks.num_classes_of(cnn(4)) == 4
    checks.same_keys([sd(), sd(1)], ["a", "b"])
    assert get_profile("cpu", n_train=None, epochs=3.0).epochs == 3
    assert schedules.make_schedule("cosine", epochs=2, lr=0.1) is not None


# Deliberate behaviours: accepted on purpose, documented in the docstrings named here.
DOCUMENTED = [
    pytest.param(lambda: fit_tiny(lr_schedule=0.0).lr == [0.0], id="fit-lr-0-is-a-frozen-run"),  # fit
    pytest.param(lambda: schedules.make_schedule("constant", epochs=3, lr=0.0)(None) == 0.0,
                 id="make_schedule-lr-0"),  # make_schedule
    pytest.param(lambda: build_model("mlp", hidden=(4.0,)).hidden == (4,), id="integral-float-is-an-int"),  # checks
    pytest.param(lambda: torch.equal(state.interpolate(sd(), sd(1), 2.0)["head.bias"],
                                     2 * sd(1)["head.bias"] - sd()["head.bias"]),
                 id="interpolate-alpha-outside-0-1-extrapolates"),  # interpolate
    pytest.param(lambda: float(watt_loss([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], 100.0)) >= 0,
                 id="watt_loss-accepts-nested-lists"),  # watt_loss
    pytest.param(lambda: fit_tiny(model=cnn(num_classes=3), train_step=lambda m, b, o, s: (torch.tensor(0.0),
                                                                                           torch.tensor(0), 8)).epoch
                 == [1], id="fit-custom-step-skips-label-check"),  # fit
    pytest.param(lambda: schedules.fge_lr(3, 4.5, 0.1, 0.01) > 0, id="fge-fractional-cycle"),  # fge_lr
]


@pytest.mark.parametrize("call", DOCUMENTED)
def test_documented_behaviours(call):
    assert call()


def test_fit_takes_a_schedule_returning_numpy_or_tensor_values():
    import numpy as np

    history = fit_tiny(lr_schedule=lambda s: np.float32(0.01))
    assert history.lr == [pytest.approx(0.01)]
    history = fit_tiny(lr_schedule=lambda s: torch.tensor(0.02))
    assert history.lr == [pytest.approx(0.02)]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
