"""Chapter 07 (weight-averaging optimizers and test-time adaptation): its cached runs, results and claims.

    p = get_profile()
    for run in runs(p): run.train()          # what `lsdl-ens warm` does: every cached run of the chapter
    results = chapter_results(p)             # reads them (trains on a miss)
    table = claims(results, p)               # the chapter's claims, each with its noise

Runs (parents first): SGD, Lookahead and Lookaround at matched compute with ``profile.claim_seeds`` seeds (the
claims compare them seed by seed), SWA with seed 0 (the training-curve figure), the Lookahead plane (from the
Lookahead run of seed 0), the tiny CLIP, and every adaptation run of the two tables (averaging strategies on clean,
gaussian-noise and contrast images; no adaptation, TENT, WATT-P and WATT-S on each of the profile's corruptions).
The runs themselves are in `optimizers_tta_optim` and `optimizers_tta_clip`; both are re-exported here.
"""

from __future__ import annotations

import torch

from ..claims import bootstrap, make_claim, paired_bootstrap, seed_estimate
from ..profiles import Profile, get_profile
from .optimizers_tta_clip import (CLIPRecipe, TTAEval, clip_recipe, evaluate_tta, pretrained_clip, run_tta_eval,
                                  strategy_settings, test_images, tta_eval, tta_eval_key)
from .optimizers_tta_optim import (METHODS, OptimizerRecipe, evaluation_weights, lookahead_plane, lookahead_plane_key,
                                   optimizer_recipe, train_optimizer)
from .runs import CachedRun

__all__ = ["runs", "chapter_results", "accuracy_estimate", "optimizer_results", "strategy_results",
           "corruption_results", "claims",
           "SEEDED_METHODS", "STRATEGY_SETS", "CORRUPTION_METHODS", "plane_run", "watt_paths",
           "lookaround_reading", "strategy_reading",
           "METHODS", "OptimizerRecipe", "optimizer_recipe", "train_optimizer", "evaluation_weights",
           "lookahead_plane", "lookahead_plane_key", "CLIPRecipe", "clip_recipe", "pretrained_clip", "TTAEval",
           "tta_eval", "tta_eval_key", "run_tta_eval", "evaluate_tta", "strategy_settings", "test_images"]

#: the optimizers compared seed by seed (SWA is trained with seed 0 only, for the curves)
SEEDED_METHODS = ("sgd", "lookahead", "lookaround")
#: the test sets of the averaging-strategy table: label -> corruption (None: clean)
STRATEGY_SETS = {"CIFAR-10": None, "gaussian noise (s5)": "gaussian_noise", "contrast (s5)": "contrast"}
#: the methods of the per-corruption table: label -> method of `evaluate_tta`
CORRUPTION_METHODS = {"no adaptation": "none", "TENT (entropy)": "tent", "WATT-P": "parallel", "WATT-S": "sequential"}


def _optimizer_recipes(p: Profile) -> list[OptimizerRecipe]:
    seeded = [optimizer_recipe(m, p, seed=s) for s in range(p.claim_seeds) for m in SEEDED_METHODS]
    return seeded + [optimizer_recipe("swa", p, seed=0)]


def plane_run(p: Profile) -> dict:
    """`lookahead_plane` of the profile (a module-level trainer for `CachedRun`)."""
    return lookahead_plane(p)


def _strategy_specs(p: Profile) -> dict:
    rows = {"no adaptation": ("none", {})} | strategy_settings(p.tta.strategy_steps)
    return {label: {name: tta_eval(method, c, p, **kw) for name, c in STRATEGY_SETS.items()}
            for label, (method, kw) in rows.items()}


def _corruption_specs(p: Profile) -> dict:
    return {c: {label: tta_eval(m, c, p) for label, m in CORRUPTION_METHODS.items()} for c in p.tta.corruptions}


def runs(profile: Profile) -> list[CachedRun]:
    """Every cached run chapter 07 reads under `profile`, parents first."""
    p = get_profile(profile)
    out = [CachedRun("optim_compare", r, train_optimizer, label=f"{r.method} seed {r.seed}")
           for r in _optimizer_recipes(p)]
    out.append(CachedRun("lookahead_plane", p, plane_run, key=lookahead_plane_key(p), label="Lookahead plane"))
    out.append(CachedRun("tiny_clip", clip_recipe(p), pretrained_clip, label="tiny CLIP"))
    specs = [s for row in _strategy_specs(p).values() for s in row.values()]
    specs += [s for row in _corruption_specs(p).values() for s in row.values()]
    seen = set()
    for spec in specs:
        if spec not in seen:
            seen.add(spec)
            out.append(CachedRun("tta_eval", spec, run_tta_eval, key=tta_eval_key(spec),
                                 label=f"{spec.method} on {spec.corruption or 'clean'}"))
    return out


def optimizer_results(profile: Profile) -> dict:
    """{method: [info of seed 0, 1, ...]} (`train_optimizer`'s info; SWA: seed 0 only)."""
    p = get_profile(profile)
    out: dict = {}
    for r in _optimizer_recipes(p):
        out.setdefault(r.method, []).append(train_optimizer(r)[1])
    return out


def strategy_results(profile: Profile) -> dict:
    """{strategy label: {test-set label: `run_tta_eval` result}} of the averaging-strategy table."""
    return {label: {name: run_tta_eval(spec) for name, spec in row.items()}
            for label, row in _strategy_specs(get_profile(profile)).items()}


def corruption_results(profile: Profile) -> dict:
    """{corruption: {method label: `run_tta_eval` result}} of the per-corruption table."""
    return {c: {label: run_tta_eval(spec) for label, spec in row.items()}
            for c, row in _corruption_specs(get_profile(profile)).items()}


def chapter_results(profile: Profile) -> dict:
    """Everything the claims read: {"optim", "plane", "strategies", "corruptions"}."""
    p = get_profile(profile)
    return {"optim": optimizer_results(p), "plane": plane_run(p), "strategies": strategy_results(p),
            "corruptions": corruption_results(p)}


def _hits(correct) -> torch.Tensor:
    """Per-example correctness as a one-column "probability" matrix, for the bootstrap helpers."""
    return torch.as_tensor(correct).float().reshape(-1, 1)


def _percent_correct(hits, _labels) -> float:
    return 100 * float(hits[:, 0].mean())


def _gain(a, b) -> object:
    """Paired bootstrap of accuracy(a) - accuracy(b) in points, over the test images a and b share."""
    a, b = _hits(a), _hits(b)
    return paired_bootstrap(_percent_correct, a, b, torch.zeros(len(a), dtype=torch.long))


def _pooled(table: dict, label: str) -> torch.Tensor:
    """Correctness of method `label` over every test set of a per-corruption table ({set: {method: result}})."""
    return torch.cat([torch.as_tensor(row[label]["correct"]) for row in table.values()])


def _pooled_row(table: dict, label: str) -> torch.Tensor:
    """Correctness of strategy `label` over every test set of the strategy table ({strategy: {set: result}})."""
    return torch.cat([torch.as_tensor(r["correct"]) for r in table[label].values()])


LOOKAROUND_SOURCE = "Zhang et al. 2023 (Lookaround), Table 1, CIFAR-100 ResNet-50 top-1 %"
WATT_SOURCE = "lecture 06, WATT results table (CLIP, TENT, WATT-S), CIFAR-10-C accuracy %"
STRATEGY_SOURCE = "lecture 06, WATT Table 5 (averaging strategies, weight average 2 x 5), CIFAR-10-C accuracy %"


def claims(results: dict, profile: Profile) -> list:
    """The chapter's claims from `chapter_results(profile)`: the Lookahead step (paired bootstrap over the plane's
    test images), Lookahead and Lookaround against SGD (per-seed differences of the final test accuracy, BN
    recomputed, ``claim_seeds`` seeds), WATT against no adaptation and TENT, and weight against text and output
    averaging (paired bootstraps over the pooled test images)."""
    p = get_profile(profile)
    out = []
    plane = results["plane"]
    out.append(make_claim(
        "ch07_lookahead_step", "One Lookahead slow update beats the last fast weights of its k steps",
        paper="slow weights nearer the optimum (qualitative)", paper_source="Zhang et al. 2019 (Lookahead), Fig. 1",
        estimate=_gain(plane["correct_slow_new"], plane["correct_fast_end"]), expect="greater", unit="points",
        what="accuracy gain"))
    opt = results["optim"]
    acc = {m: [100 * info["final"]["test_accuracy_bn"] for info in opt[m]] for m in SEEDED_METHODS}
    n = min(len(acc[m]) for m in SEEDED_METHODS)
    if n < p.claim_seeds:
        raise ValueError(f"results must hold {p.claim_seeds} seeds of each of {SEEDED_METHODS}, got {n}; "
                         "pass chapter_results(profile)")
    paper = {"lookahead": "+0.45 (80.06 vs 79.61)", "lookaround": "+1.99 (81.60 vs 79.61)"}
    for m, name in (("lookahead", "Lookahead"), ("lookaround", "Lookaround")):
        diffs = [a - b for a, b in zip(acc[m][:n], acc["sgd"][:n])]
        out.append(make_claim(
            f"ch07_{m}_vs_sgd", f"{name} beats SGD at matched compute (test accuracy, same seeds)",
            paper=paper[m], paper_source=LOOKAROUND_SOURCE, estimate=seed_estimate(diffs), expect="greater",
            unit="points", what="accuracy gain"))
    table = results["corruptions"]
    watt_s, none, tent = (_pooled(table, k) for k in ("WATT-S", "no adaptation", "TENT (entropy)"))
    out.append(make_claim(
        "ch07_watt_vs_none", "WATT-S beats no adaptation on corrupted images (mean over corruptions)",
        paper="+14.60 (73.82 vs 59.22)", paper_source=WATT_SOURCE, estimate=_gain(watt_s, none), expect="greater",
        unit="points", what="accuracy gain"))
    out.append(make_claim(
        "ch07_watt_vs_tent", "WATT-S beats TENT on corrupted images (mean over corruptions)",
        paper="+6.26 (73.82 vs 67.56)", paper_source=WATT_SOURCE, estimate=_gain(watt_s, tent), expect="greater",
        unit="points", what="accuracy gain"))
    strategies = results["strategies"]
    weight = _strategy_weight_label(strategies)
    w = _pooled_row(strategies, weight)
    for other, key, paper_value in (("text average", "text", "+2.41 (73.82 vs 71.41)"),
                                    ("output average", "output", "+1.22 (73.82 vs 72.60)")):
        out.append(make_claim(
            f"ch07_weights_vs_{key}", f"Weight averaging ({weight.split()[-1]}) beats {key} averaging of the templates",
            paper=paper_value, paper_source=STRATEGY_SOURCE, estimate=_gain(w, _pooled_row(strategies, other)),
            expect="greater", unit="points", what="accuracy gain"))
    return out


def _strategy_weight_label(strategies: dict) -> str:
    """The weight-averaging row compared in the claims: the L x M split with several rounds and several steps
    (the paper's 2 x 5), else the one with most rounds."""
    labels = [k for k in strategies if k.startswith("weight average")]
    if not labels:
        raise ValueError("strategies must hold weight-average rows; pass strategy_results(profile)")
    split = [k for k in labels if all(int(v) > 1 for v in k.split()[-1].split("x"))]
    return split[0] if split else max(labels, key=lambda k: int(k.split()[-1].split("x")[1]))


def watt_paths(profile: Profile, n_rounds: int = 2) -> dict:
    """WATT-P and WATT-S adapting one batch of gaussian-noise test images (severity 5) of the profile's tiny CLIP,
    recording the adapted LayerNorm weights after every step (not cached: a few seconds).

    Returns {mode: {"trace", "averages", "accuracy" (% on the batch)}} for mode "parallel" and "sequential"."""
    from ..data import CIFAR10_CLASSES
    from ..tta import WATT

    p = get_profile(profile)
    model, _ = pretrained_clip(clip_recipe(p))
    x, y = test_images(p, "gaussian_noise")
    x, y = x[: p.tta.batch_size], y[: p.tta.batch_size]
    out = {}
    for mode in ("parallel", "sequential"):
        watt = WATT(model, CIFAR10_CLASSES, mode=mode, n_iters=max(2, p.tta.n_iters), n_rounds=n_rounds)
        watt.record_weights = True
        watt.adapt(x.to(next(model.parameters()).device))
        acc = 100 * float((watt.predict(x).cpu() == y).float().mean())
        out[mode] = {"trace": watt.trace, "averages": watt.averages, "accuracy": acc}
        watt.reset()
    return out


def lookaround_reading(claims: list, optim: dict) -> str:
    """One or two sentences that read the Lookaround-vs-SGD claim for the text, from its verdict and the final
    training losses (mean over seeds) of `optimizer_results`."""
    claim = next((c for c in claims if c.id == "ch07_lookaround_vs_sgd"), None)
    if claim is None:
        raise ValueError("claims must hold ch07_lookaround_vs_sgd; pass claims(results, profile)")
    loss = {m: sum(i["epochs"][-1]["train_loss"] for i in optim[m]) / len(optim[m]) for m in ("sgd", "lookaround")}
    if claim.verdict == "holds":
        return "The gain is larger than the spread between seeds: Lookaround beats SGD here, as in the paper."
    if claim.verdict == "within noise":
        return ("The interval contains zero: with these seeds, Lookaround and SGD cannot be told apart at this "
                "budget.")
    fit = (f"Its training loss is higher too ({loss['lookaround']:.3f} against {loss['sgd']:.3f} for SGD), so "
           "Lookaround is still fitting the training set: " if loss["lookaround"] > loss["sgd"] else
           "Its training loss is no higher than SGD's, so under-training alone does not explain the gap: ")
    return ("The claim does not hold at our scale. " + fit + "at matched compute each of its three heads takes "
            "one step per batch where SGD takes three sequential steps, and a short run far from convergence "
            "loses more from the fewer sequential steps than it gains from averaging. The paper trains for 200 "
            "epochs, until every method has converged.")


def strategy_reading(strategies: dict) -> str:
    """A sentence for the text on how often the weight average and the output average of the templates differ:
    the number of pooled test images that one classifies correctly and the other does not."""
    weight = _strategy_weight_label(strategies)
    w, o = _pooled_row(strategies, weight).bool(), _pooled_row(strategies, "output average").bool()
    differ, total = int((w != o).sum()), len(w)
    if differ == 0:
        return (f"The two are right on exactly the same {total:,} images: after a few small steps per template the "
                "per-template models stay so close to each other that averaging their weights and averaging their "
                "outputs get the same images right (the linearisation argument of the weight-averaging chapter).")
    return (f"The two disagree on whether the prediction is right for {differ:,} of {total:,} images; the gap "
            "between them is the balance of those few images.")


def accuracy_estimate(correct) -> object:
    """Accuracy (%) of per-example correctness with its bootstrap interval over the test images."""
    hits = _hits(correct)
    return bootstrap(_percent_correct, hits, torch.zeros(len(hits), dtype=torch.long))
