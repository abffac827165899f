"""Evaluation helpers of chapter 03: test accuracies of the SWA / SGD seeds from their tracked runs, the
probabilities of a state with its BatchNorm statistics recomputed, and the SGD-SWA line with per-example results
(for bootstrap intervals).

Every averaged or interpolated state gets its BN statistics recomputed (`lsdl_ens.bn.update_bn`) on the batches
passed in, the same batches for every state, before it is scored.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..bn import update_bn
from ..prediction import predict_probs
from ..profiles import Profile
from ..state import distance, interpolate, parameter_keys
from .weight_averaging import swa_run, train_swa

__all__ = ["swa_seed_accuracies", "state_probs", "line_results"]


def swa_seed_accuracies(profile: Profile) -> dict[str, list[float]]:
    """Test accuracy (%) per seed ``0 .. profile.claim_seeds - 1`` of SGD (cosine, one budget) and of SWA after
    one and 1.5 budgets, read from the runs' per-epoch tracking (BN of the average recomputed)."""
    out = {"seed": [], "sgd": [], "swa_1b": [], "swa_15b": []}
    for seed in range(profile.claim_seeds):
        _, swa_info = train_swa(swa_run(profile, seed, budget=1.5))
        _, sgd_info = train_swa(swa_run(profile, seed, budget=1.0, schedule="cosine"))
        by_epoch = {row["epoch"]: row for row in swa_info["rows"]}
        out["seed"].append(seed)
        out["sgd"].append(100 * sgd_info["rows"][-1]["sgd_test_accuracy"])
        out["swa_1b"].append(100 * by_epoch[profile.epochs]["swa_test_accuracy"])
        out["swa_15b"].append(100 * swa_info["rows"][-1]["swa_test_accuracy"])
    return out


def state_probs(template: torch.nn.Module, state: dict, data_sets: dict, bn_batches) -> dict[str, torch.Tensor]:
    """``{name: probabilities [N, C]}`` of ``state`` (loaded into a copy of ``template``, BN recomputed on
    ``bn_batches``) on each ``ImageSet`` of ``data_sets``."""
    model = copy.deepcopy(template)
    model.load_state_dict(state)
    update_bn(model, bn_batches)
    model.eval()
    return {name: predict_probs(model, data) for name, data in data_sets.items()}


def line_results(template: torch.nn.Module, swa_state: dict, sgd_state: dict, test, train, *, ts, bn_batches) -> dict:
    """The SGD-SWA line w(t) = t w_SGD + (1 - t) w_SWA (BN recomputed at every t) with per-example results.

    Returns:
        ``ts``, ``distances`` (t * ||w_SGD - w_SWA|| over the parameters), ``sgd_distance``, ``error`` [T] (test,
        fraction), ``train_loss`` [T] (mean NLL), ``test_correct`` [T, N] and ``train_nll`` [T, M].
    """
    ts = np.asarray(ts, dtype=float)
    correct, nll = [], []
    for t in ts:
        probs = state_probs(template, interpolate(swa_state, sgd_state, float(t)), {"test": test, "train": train},
                            bn_batches)
        correct.append((probs["test"].argmax(1) == test.labels).double().numpy())
        picked = probs["train"].gather(1, train.labels.view(-1, 1)).squeeze(1).clamp_min(1e-12)
        nll.append((-picked.log()).double().numpy())
    correct, nll = np.stack(correct), np.stack(nll)
    d = distance(swa_state, sgd_state, parameter_keys(template))
    return {"ts": ts, "distances": ts * d, "sgd_distance": d, "error": 1 - correct.mean(1),
            "train_loss": nll.mean(1), "test_correct": correct, "train_nll": nll}
