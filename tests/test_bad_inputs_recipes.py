"""Bad devices, weight-space paths, recipes, profile sections and family helpers raise TypeError or ValueError
at the call, naming the argument at fault (cases: see ``bad_inputs_common``).
"""

from __future__ import annotations

import pytest
import torch
from _tiny import one_thread  # noqa: F401  (autouse: one intra-op thread)
from bad_inputs_common import (NAN, case, assert_clear_error, mlp, sd, other_sd, probs, labels, data, cnn, fitted_kfac,
                               fit_tiny, swag_with)

from lsdl_ens.averaging import random_directions, swa_model, wise_ft, wise_ft_sweep
from lsdl_ens.bn import update_bn
from lsdl_ens.ensembles import DeepEnsemble, KFACLaplace, SnapshotCollector
from lsdl_ens.data import BatchLoader
from lsdl_ens.ensembles.csgld import csgld_sample_iterations, run_csgld
from lsdl_ens.experiments.ensembles_csgld import csgld_recipe
from lsdl_ens.experiments.ensembles_members import member_recipe, train_deep_ensemble
from lsdl_ens.ensembles.kfac_tuning import tune_prior_precision
from lsdl_ens.experiments.ensembles_snapshots import fge_recipe, sse_recipe, trajectory_recipe
from lsdl_ens.experiments import ensembles as chapter04
from lsdl_ens.experiments import ensembles_budget as budget_table
from lsdl_ens.ensembles.swag import SWAGCallback
from lsdl_ens.ensembles.dee_curves import ensemble_cnll
from lsdl_ens.experiments.basin_sampling import spro_recipe, swag_recipe, train_spro, train_swag
from lsdl_ens.experiments.weight_averaging import SWARun, cyclic_swa_recipe, swa_recipe
from lsdl_ens.grading import assert_close, call_student
from lsdl_ens.landscape import CurveModel, curve_lr, linear_path, plane_basis, plane_point, train_curve
from lsdl_ens.experiments.optimizers_tta import optimizer_recipe
from lsdl_ens.profiles import get_profile
from lsdl_ens.recipes import check_recipe, finetune_recipe, standard_recipe, training_loader
from lsdl_ens.recipes import train as train_recipe
from lsdl_ens.landscape import trajectory_plane
from lsdl_ens.simplex import mode_connecting
from lsdl_ens.simplex import SimplexModel, barycentric_grid, cayley_menger_volume, dirichlet_weights
from lsdl_ens.soups import learned_soup
from lsdl_ens.train import evaluate, predict_logits
from lsdl_ens.experiments.transfer import barrier_of, transfer_finetune_recipe
from lsdl_ens.transfer import cycle_lr, cycle_recipes, cycle_schedule, ensemble_curve, member_diversity
from lsdl_ens.tta import entropy_loss

# ---------------------------------------------------------------------------------------------- cases
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
    case(lambda: learned_soup(mlp(), torch.zeros(2, 3), data()), TypeError, "states", "learned-soup-tensor"),
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
    case(lambda: SWARun(swa_recipe("cpu").as_dict()), TypeError, "recipe", "swa-run-a-dict"),
    case(lambda: SWARun(swa_recipe("cpu"), (99,)), ValueError, "report_epochs", "swa-run-report-after-end"),
    case(lambda: cyclic_swa_recipe("cpu", budget=0.5), ValueError, "swa_start", "cyclic-swa-start-after-end"),
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
    case(lambda: member_recipe("smoke", -1), ValueError, "index", "member-recipe-negative-index"),
    case(lambda: member_recipe("smoke", 1.5), TypeError, "index", "member-recipe-fractional-index"),
    case(lambda: train_deep_ensemble("smoke", n_members=0), ValueError, "n_members", "deep-ensemble-zero-members"),
    case(lambda: train_deep_ensemble("smoke", n_members=2.5), TypeError, "n_members", "deep-ensemble-fractional"),
    case(lambda: sse_recipe("smoke", budget=0), ValueError, "budget", "sse-recipe-budget"),
    case(lambda: fge_recipe("smoke", budget=0.5), ValueError, "budget", "fge-recipe-budget"),
    case(lambda: trajectory_recipe("smoke", start_fraction=1.5), ValueError, "start_fraction", "trajectory-fraction"),
    case(lambda: swa_model(sd(), sd(), []), TypeError, "template", "swa-model-state-as-template"),
    case(lambda: SWAGCallback(mlp(), 1), TypeError, "swag", "swag-callback-model"),
    case(lambda: SWAGCallback(swag_with(1), 1, per_epoch=0), ValueError, "per_epoch", "swag-callback-per-epoch-0"),
    case(lambda: budget_table.budget_errors("smoke", budgets=(3,)), ValueError, "ensemble_size",
         "budget-errors-beyond-ensemble"),
    case(lambda: budget_table.ensemble_error(torch.rand(0, 3, 2), torch.zeros(3)), ValueError, "probs",
         "ensemble-error-no-member"),
    case(lambda: budget_table.budget_errors("smoke", seeds=[]), ValueError, "seeds", "budget-errors-no-seed"),
    case(lambda: budget_table.budget_errors("smoke", seeds=[-1]), ValueError, "seeds", "budget-errors-negative-seed"),
    case(lambda: chapter04.runs("smoke"), TypeError, "profile", "chapter04-runs-profile-name"),
    case(lambda: chapter04.chapter_results("smoke"), TypeError, "profile", "chapter04-results-profile-name"),
    case(lambda: chapter04.claims({}, "smoke"), TypeError, "profile", "chapter04-claims-profile-name"),
    case(lambda: trajectory_plane(mlp(), [sd(), sd(1)], []), ValueError, "states", "trajectory-plane-two-states"),
    case(lambda: mode_connecting.mode_connecting_simplex(mlp(), {}), ValueError, "state_b", "mode-simplex-state-b"),
    case(lambda: swag_recipe("smoke", bogus=1), ValueError, "swag.bogus", "swag-recipe-unknown-size"),
    case(lambda: spro_recipe("smoke", bogus=1), ValueError, "spro.bogus", "spro-recipe-unknown-size"),
    case(lambda: train_swag(spro_recipe("smoke")), TypeError, "recipe must be a SWAGRecipe", "train-swag-wrong-recipe"),
    case(lambda: train_spro(swag_recipe("smoke")), TypeError, "recipe must be a SPRORecipe", "train-spro-wrong-recipe"),
    case(lambda: ensemble_cnll(torch.rand(5, 3), torch.zeros(5)), ValueError, "member_probs",
         "ensemble-cnll-needs-members"),
    case(lambda: get_profile("cpu", swag={"epochs": -2}), ValueError, "swag.epochs", "profile-section-negative-epochs"),
    case(lambda: get_profile("cpu", swag=3), TypeError, "swag", "profile-section-not-a-dict"),
    case(lambda: get_profile("cpu", precision="half"), ValueError, "precision", "profile-precision"),
    case(lambda: get_profile("cpu", channels_last="yes"), TypeError, "channels_last", "profile-channels-last"),
    case(lambda: standard_recipe("cpu", precision="fp16"), ValueError, "precision", "recipe-precision"),
    case(lambda: standard_recipe("cpu", channels_last=1), TypeError, "channels_last", "recipe-channels-last"),
    case(lambda: run_csgld(cnn(), BatchLoader(data(), 4), epochs=1, n_cycles=1, lr_0=0.1, beta=0.5,
                           samples_per_cycle=1, precision="fp16"), ValueError, "precision", "csgld-run-precision"),
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

CASES = MORE + FAMILIES


@pytest.mark.parametrize("call, exception, text", CASES)
def test_bad_call_raises_a_clear_error(call, exception, text):
    assert_clear_error(call, exception, text)
