"""Chapter 03's claims with their noise: SWA against SGD over seeds, width along random rays over rays, the
SGD-SWA line, the soup landscape and the angle correlation, the soup table and WiSE-FT by bootstraps over test
examples (`lsdl_ens.claims`).

What each claim measures (values in accuracy points unless said otherwise):

* ``swa_1b_vs_sgd`` / ``swa_15b_vs_sgd``: SWA after one (1.5) budgets minus SGD (cosine, one budget) on the test
  set, per seed with the same seed for both runs; mean over ``profile.claim_seeds`` seeds with a t-interval.
* ``swa_wider``: along each random ray (the same directions from both centres), the distance at which the test
  error first rises ``rise`` points above its value at the centre (`ray_widths`), SWA minus SGD, over the rays.
* ``line_shift``: on w(t) = t w_SGD + (1 - t) w_SWA, the t of the lowest training loss minus the t of the lowest
  test error (positive: the training-loss minimum lies further towards SGD); bootstrap over test and training
  examples (`argmin_shift`).
* ``pair_soup``: the midpoint of two same-learning-rate fine-tunings minus the better of the two, paired
  bootstrap over target test images.
* ``angle_correlation``: Pearson correlation of the angle between theta_i - theta_0 and theta_j - theta_0 with the
  interpolation advantage over pairs, bootstrap over the pairs (`pair_correlation`).
* ``soup_*``: greedy / uniform / learned soup minus the best individual (chosen on validation), clean (ID) and
  corrupted (OOD) target test images; ``soup_vs_ensemble``: greedy soup minus the ensemble of all ingredients.
* ``wise_*``: WiSE-FT at the alpha chosen on the validation split minus the fine-tuned end (ID, OOD) and minus the
  better end (ID).

References: Izmailov et al., UAI 2018 (Table 1, Figs. 4-5); Wortsman et al., ICML 2022 (Figs. 2-3, Table 3);
Wortsman, Ilharco et al., CVPR 2022.
"""

from __future__ import annotations

import numpy as np
import torch

from ..claims import Estimate, make_claim, paired_bootstrap, seed_estimate
from ..metrics import accuracy

__all__ = ["WIDTH_RISE", "ray_widths", "argmin_shift", "pair_correlation", "claims"]

N_BOOT = 1000
#: a ray's width: the distance at which its test error has risen this many points above its value at the centre
WIDTH_RISE = 5.0
SWA_TALK = "SWA talk, table \"SWA Results\", CIFAR-10 VGG-16 (200)"
LECTURE_SOUPS = "LSDL lecture 06, model-soups table (ImageNet / Dist. shifts)"
WISE_SOURCE = "WiSE-FT example of mlfoundations/model-soups (wise-ft-example.py), ViT-L/14"


def ray_widths(errors, distances, rise: float = WIDTH_RISE) -> np.ndarray:
    """Per ray, the distance at which the test error (in %, ``errors`` [rays, distances]) first exceeds its value
    at distance 0 by ``rise`` points, interpolated linearly between the sampled distances (the largest distance
    when it never does)."""
    errors = np.atleast_2d(np.asarray(errors, dtype=float))
    distances = np.asarray(distances, dtype=float)
    if errors.shape[1] != distances.size or distances.size < 2:
        raise ValueError(f"errors must have one column per distance (at least 2), got {errors.shape} for "
                         f"{distances.size} distances")
    out = []
    for err in errors:
        above = np.nonzero(err > err[0] + rise)[0]
        if len(above) == 0:
            out.append(float(distances[-1]))
            continue
        j = int(above[0])
        out.append(float(np.interp(err[0] + rise, [err[j - 1], err[j]], [distances[j - 1], distances[j]])))
    return np.array(out)


def _argmin_t(values: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The t of the minimum along the last-but-one axis (T) for each row; ties: the mean of the tied t."""
    low = values.min(axis=0, keepdims=True)
    tied = np.isclose(values, low, rtol=0, atol=1e-12)
    return (tied * ts[:, None]).sum(0) / tied.sum(0)


def argmin_shift(ts, test_correct, train_nll, *, n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """t of the lowest mean training NLL minus t of the lowest test error along a line, with a 95% percentile
    interval from resampling test and training examples (independently, with replacement).

    Args:
        ts: the T points of the line; test_correct: [T, N] 0/1 correctness; train_nll: [T, M] per-example NLL.
    """
    ts = np.asarray(ts, dtype=float)
    correct, nll = np.asarray(test_correct, dtype=float), np.asarray(train_nll, dtype=float)
    if correct.shape[0] != ts.size or nll.shape[0] != ts.size:
        raise ValueError(f"test_correct and train_nll need one row per t ({ts.size}), got {correct.shape[0]} and "
                         f"{nll.shape[0]}")
    rng = np.random.default_rng(seed)

    def shift(c, n):
        return _argmin_t(n.mean(1)[:, None], ts) - _argmin_t(1 - c.mean(1)[:, None], ts)

    full = float(shift(correct, nll)[0])
    resampled = [float(shift(correct[:, rng.integers(0, correct.shape[1], correct.shape[1])],
                             nll[:, rng.integers(0, nll.shape[1], nll.shape[1])])[0]) for _ in range(n_boot)]
    low, high = np.quantile(resampled, [0.025, 0.975])
    return Estimate(full, float(min(low, full)), float(max(high, full)),
                    f"bootstrap over {correct.shape[1]} test and {nll.shape[1]} training examples")


def pair_correlation(x, y, *, n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Pearson correlation of ``x`` and ``y`` (one value per pair) with a 95% percentile interval over resampled
    pairs; resamples with a constant coordinate are skipped (with none left the interval is [-1, 1])."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size != y.size or x.size < 3:
        raise ValueError(f"x and y must hold one value per pair, at least 3 pairs; got {x.size} and {y.size}")
    full = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else 0.0
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, x.size, x.size)
        if x[idx].std() > 0 and y[idx].std() > 0:
            values.append(float(np.corrcoef(x[idx], y[idx])[0, 1]))
    low, high = np.quantile(values, [0.025, 0.975]) if values else (-1.0, 1.0)
    return Estimate(full, float(min(low, full)), float(max(high, full)), f"bootstrap over {x.size} pairs")


def _diff(a, b, labels) -> Estimate:
    return paired_bootstrap(accuracy, torch.as_tensor(a), torch.as_tensor(b), torch.as_tensor(labels),
                            n_boot=N_BOOT).scaled(100)


def _swa_claims(r: dict) -> list:
    sgd = np.asarray(r["swa"]["sgd"], dtype=float)
    out = []
    for key, budget, paper in (("swa_1b", "one budget", "+0.34 (93.25 to 93.59)"),
                               ("swa_15b", "1.5 budgets", "+0.39 (93.25 to 93.64)")):
        diff = seed_estimate(np.asarray(r["swa"][key], dtype=float) - sgd)
        out.append(make_claim(f"{key}_vs_sgd", f"SWA after {budget} beats SGD trained for one budget",
                              paper=paper, paper_source=SWA_TALK, estimate=diff, expect="greater", unit="points",
                              what="SWA minus SGD"))
    widths = np.asarray(r["widths"]["SWA"], dtype=float) - np.asarray(r["widths"]["SGD"], dtype=float)
    out.append(make_claim("swa_wider", "SWA's test error rises later than SGD's along random rays (a wider optimum)",
                          paper="wider (Fig. 4)", paper_source="Izmailov et al. 2018, Fig. 4",
                          estimate=seed_estimate(widths), expect="greater", what="width of SWA minus SGD"))
    line = r["line"]
    out.append(make_claim("line_shift", "On the SGD-SWA line the training-loss minimum lies further towards SGD "
                          "than the test-error minimum", paper="shifted (Fig. 5)",
                          paper_source="SWA talk, \"SWA vs SGD\": \"Large shift between train and test\"",
                          estimate=argmin_shift(line["ts"], line["test_correct"], line["train_nll"]),
                          expect="greater", what="t of the train-loss minimum minus t of the test-error minimum"))
    return out


def _soup_claims(r: dict) -> list:
    ps = r["pair_soup"]
    ends = [accuracy(torch.as_tensor(p), torch.as_tensor(ps["labels"])) for p in ps["ends"]]
    out = [make_claim("pair_soup", "The soup of two fine-tunings beats the better of the two",
                      paper="lower error than either (Fig. 2)", paper_source="Wortsman et al. 2022, Fig. 2",
                      estimate=_diff(ps["soup"], ps["ends"][int(np.argmax(ends))], ps["labels"]), expect="greater",
                      unit="points", what="soup minus the better ingredient")]
    out.append(make_claim("angle_correlation", "The interpolation advantage grows with the angle between the "
                          "fine-tuned solutions", paper="correlated (Fig. 3)",
                          paper_source="Wortsman et al. 2022, Fig. 3",
                          estimate=pair_correlation(r["pairs"]["angles"], r["pairs"]["advantages"]),
                          expect="greater", what="correlation"))
    s = r["soups"]
    probs, labels = s["probs"], s["labels"]
    table = [("soup_greedy_id", "greedy", "id", "The greedy soup beats the best individual model", "greater",
              "81.03 vs 80.38"),
             ("soup_greedy_ood", "greedy", "ood", "The greedy soup beats the best individual model under "
              "distribution shift", "greater", "50.75 vs 47.83"),
             ("soup_uniform_id", "uniform", "id", "The uniform soup of all ingredients falls below the best "
              "individual model", "less", "79.97 vs 80.38"),
             ("soup_uniform_ood", "uniform", "ood", "The uniform soup beats the best individual model under "
              "distribution shift", "greater", "51.45 vs 47.83"),
             ("soup_learned_id", "learned", "id", "The learned soup beats the best individual model", "greater",
              "80.89 vs 80.38")]
    for cid, name, split, text, expect, paper in table:
        out.append(make_claim(cid, text, paper=paper, paper_source=LECTURE_SOUPS,
                              estimate=_diff(probs[name][split], probs["best"][split], labels[split]),
                              expect=expect, unit="points", what=f"{name} soup minus best individual"))
    out.append(make_claim("soup_vs_ensemble", "The greedy soup is within one point of the ensemble of all "
                          "ingredients, at the cost of one network", paper="81.03 vs 81.19",
                          paper_source=LECTURE_SOUPS,
                          estimate=_diff(probs["greedy"]["id"], probs["ensemble"]["id"], labels["id"]),
                          expect="near", tolerance=1.0, unit="points", what="greedy soup minus ensemble"))
    return out


def _wise_claims(r: dict) -> list:
    w = r["wise"]
    probs, labels = w["probs"], w["labels"]
    ends = {k: accuracy(torch.as_tensor(probs[k]["id"]), torch.as_tensor(labels["id"])) for k in ("start", "ft")}
    better = max(ends, key=ends.get)
    return [
        make_claim("wise_id_both_ends", "WiSE-FT beats both ends of the interpolation on the fine-tuning "
                   "distribution", paper="86.0 vs 85.5 / 75.5", paper_source=f"{WISE_SOURCE}, ImageNet",
                   estimate=_diff(probs["wise"]["id"], probs[better]["id"], labels["id"]), expect="greater",
                   unit="points", what="WiSE-FT minus the better end"),
        make_claim("wise_ood_vs_ft", "WiSE-FT beats the fine-tuned network under distribution shift",
                   paper="87.4 vs 84.3", paper_source=f"{WISE_SOURCE}, ImageNet-R",
                   estimate=_diff(probs["wise"]["ood"], probs["ft"]["ood"], labels["ood"]), expect="greater",
                   unit="points", what="WiSE-FT minus fine-tuned"),
        make_claim("wise_ood_vs_start", "WiSE-FT stays below the starting point under distribution shift",
                   paper="87.4 vs 87.8", paper_source=f"{WISE_SOURCE}, ImageNet-R",
                   estimate=_diff(probs["wise"]["ood"], probs["start"]["ood"], labels["ood"]), expect="less",
                   unit="points", what="WiSE-FT minus the starting point"),
    ]


def claims(results: dict, profile=None) -> list:
    """Every claim of chapter 03 (module docstring) from the chapter's ``results``:

    ``swa``: ``{"sgd", "swa_1b", "swa_15b"}`` test accuracies (%) per seed; ``widths``: ``{"SWA", "SGD"}`` per-ray
    widths; ``line``: ``{"ts", "test_correct" [T, N], "train_nll" [T, M]}``; ``pairs``: ``{"angles",
    "advantages"}``; ``pair_soup``: ``{"soup", "ends": [a, b], "labels"}`` probabilities; ``soups``: ``{"probs":
    {name: {"id", "ood"}}, "labels": {"id", "ood"}}`` for best, uniform, greedy, learned, ensemble; ``wise``: the
    same for start, wise, ft. ``profile`` is accepted for symmetry with the other chapters and not read.
    """
    missing = {"swa", "widths", "line", "pairs", "pair_soup", "soups", "wise"} - set(results)
    if missing:
        raise ValueError(f"results is missing {sorted(missing)}; compute them as chapter 03 does")
    return _swa_claims(results) + _soup_claims(results) + _wise_claims(results)
