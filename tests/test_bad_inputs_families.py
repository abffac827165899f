"""Bad calls into the method families (soups, optimizers, ensembles, landscape, test-time adaptation) raise
TypeError or ValueError at the call, naming the argument at fault (cases: see ``bad_inputs_common``).
"""

from __future__ import annotations

import pytest
import torch
from _tiny import one_thread  # noqa: F401  (autouse: one intra-op thread)
from bad_inputs_common import (NAN, INF, CLASSES, Counting, case, assert_clear_error, mlp, sd, other_sd, missing_sd,
                               probs, labels, data, cnn, sgd, params, clip, fitted_kfac, swag_with)

from lsdl_ens.bn import update_bn
from lsdl_ens.ensembles import SWAG, CyclicalSGLD, DeepEnsemble, KFACLaplace, dee
from lsdl_ens.landscape import (CurveModel, barrier, bezier_coeffs, feature_l2, linear_cka, polychain_coeffs,
                                stage_similarity)
from lsdl_ens.optim import Lookahead, Lookaround
from lsdl_ens.soups import greedy_ensemble, greedy_soup, state_evaluator, uniform_soup
from lsdl_ens.tta import TENT, WATT, average_weights, watt_loss

# ---------------------------------------------------------------------------------------------- cases
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
    case(lambda: uniform_soup(torch.zeros(2, 3)), TypeError, "states", "uniform-tensor"),
    case(lambda: uniform_soup([sd(), missing_sd()]), ValueError, "head.bias", "uniform-missing-key"),
    case(lambda: state_evaluator(mlp(), data(), metric="loss"), ValueError, "metric", "evaluator-metric"),
    case(lambda: state_evaluator(sd(), data()), TypeError, "model", "evaluator-state-dict"),
    case(lambda: state_evaluator(cnn(), data()), ValueError, "bn_data", "evaluator-bn-without-data"),
    case(lambda: state_evaluator(mlp(), data(), num_bn_batches=0), ValueError, "num_bn_batches",
         "evaluator-zero-bn-batches"),
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
    case(lambda: CyclicalSGLD(params(), 0.1, n_data=10.5), TypeError, "n_data", "csgld-fractional-n"),
    case(lambda: CyclicalSGLD(params(), 0.1, n_data=10, temperature=-1.0), ValueError, "temperature",
         "csgld-negative-temperature"),
    case(lambda: dee({}, {1: 1.0}), ValueError, "method_nll", "dee-empty-method"),
    case(lambda: dee({1: 1.0}, {2: 1.0}), ValueError, "ensemble_nll", "dee-no-size-1"),
    case(lambda: dee({1: NAN}, {1: 1.0}), ValueError, "method_nll", "dee-nan"),
    case(lambda: dee({0: 1.0}, {1: 1.0}), ValueError, "method_nll", "dee-size-0"),
    case(lambda: dee({1.5: 1.0}, {1: 1.0}), TypeError, "method_nll", "dee-fractional-size"),
    case(lambda: dee([1.0], {1: 1.0}), TypeError, "method_nll", "dee-list-curve"),
    case(lambda: dee({1: 1.0}, {1: "low"}), TypeError, "ensemble_nll[1]", "dee-str-value"),
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
    case(lambda: polychain_coeffs(0.5, 2.5), TypeError, "n_points", "polychain-fractional-points"),
    case(lambda: bezier_coeffs(0.5, "3"), TypeError, "n_points", "bezier-str-points"),
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

CASES = SOUPS + OPTIMIZERS + ENSEMBLES + LANDSCAPE + TTA


@pytest.mark.parametrize("call, exception, text", CASES)
def test_bad_call_raises_a_clear_error(call, exception, text):
    assert_clear_error(call, exception, text)
