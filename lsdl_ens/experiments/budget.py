"""Choosing the training budget: is one standard run converged enough for "equal budget" comparisons?

A comparison of ensembles at equal cost (a deep ensemble of k networks trained for one budget B against one
network trained for k·B) is only fair when the single network no longer gains much from training longer. For a
grid of runs of the standard recipe (training-set size × epochs × seeds, each scored on the same test images) this
module measures two conditions, each with its noise, for every size and budget E whose double 2E is in the grid:

    (a) converged enough: test accuracy at 2E minus accuracy at E is below 1 point;
    (b) ensembling pays: a deep ensemble of 2 networks trained for E (seeds 0 and 1, probabilities averaged)
        beats one network trained for 2E on test accuracy AND on NLL.

Noise: every comparison is a paired bootstrap over the test examples (`lsdl_ens.claims.paired_bootstrap`), made
once against each seed of the longer run; a condition **holds** when it holds against every seed (for (b): on both
metrics), **does not hold** when it fails clearly against any seed on any metric, and is **within noise** otherwise.
This is the verdict rule of `lsdl_ens.claims.judge` applied seed by seed.

The training itself (cached runs through `lsdl_ens.recipes.train`) lives in ``benchmarks/budget.py``; this module
only turns the runs' test probabilities into the conditions, the tables and the figure the book shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ..claims import judge, paired_bootstrap
from ..metrics import accuracy, nll

__all__ = ["RESULTS", "load_results", "budget_conditions", "combine_verdicts", "runs_frame", "conditions_frame",
           "plot_budget"]


RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "budget.json"


def load_results(path=None) -> dict:
    """The stored study (``benchmarks/results/budget.json`` of the checkout, or ``path``): ``{"runs": [...],
    "conditions": [...], "machine": ...}`` as written by ``benchmarks/budget.py``."""
    path = Path(path) if path is not None else RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"no budget study at {path}; run `python benchmarks/budget.py` in a checkout of the "
                                "course repository, or pass the path of its budget.json")
    return json.loads(path.read_text())


def _neg_nll(probs, labels) -> float:
    return -nll(probs, labels)


def combine_verdicts(verdicts) -> str:
    """One verdict from several: holds if all hold, does not hold if any does not, else within noise."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("verdicts must not be empty")
    if all(v == "holds" for v in verdicts):
        return "holds"
    return "does not hold" if "does not hold" in verdicts else "within noise"


def budget_conditions(probs: Mapping, labels, *, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Conditions (a) and (b) (module docstring) for every (n_train, E) with 2E in ``probs``.

    Args:
        probs: ``{(n_train, epochs, seed): test probabilities (N, C)}``, all on the same N test images.
        labels: the N test labels.
        n_boot, seed: bootstrap resamples and their seed.

    Returns one dict per (n_train, E): the mean accuracies and NLLs, the ensemble's, and for each condition the
    per-seed estimates (in points of accuracy or nats), the per-seed verdicts and the combined verdict.
    """
    by_cell: dict = {}
    for (n, e, s), p in probs.items():
        by_cell.setdefault((n, e), {})[s] = p
    out = []
    for (n, e), runs in sorted(by_cell.items()):
        longer = by_cell.get((n, 2 * e))
        if not longer or len(runs) < 2:
            continue
        seeds = sorted(runs)[:2]
        ens = (runs[seeds[0]] + runs[seeds[1]]) / 2
        row = {"n_train": n, "E": e, "seeds_E": seeds, "seeds_2E": sorted(longer),
               "single_E_acc": _mean(accuracy(runs[s], labels) for s in runs),
               "single_E_nll": _mean(nll(runs[s], labels) for s in runs),
               "single_2E_acc": _mean(accuracy(p, labels) for p in longer.values()),
               "single_2E_nll": _mean(nll(p, labels) for p in longer.values()),
               "de2_E_acc": accuracy(ens, labels), "de2_E_nll": nll(ens, labels), "a": [], "b": []}
        for s, p_long in sorted(longer.items()):
            if s in runs:  # (a): the same seed trained for 2E against E
                gain = paired_bootstrap(accuracy, p_long, runs[s], labels, n_boot=n_boot, seed=seed).scaled(100)
                verdict, reason = judge(gain, expect="less", threshold=1.0, unit=" points", what="gain of 2E")
                row["a"].append({"seed": s, "value": gain.value, "low": gain.low, "high": gain.high,
                                 "verdict": verdict, "reason": reason})
            acc = paired_bootstrap(accuracy, ens, p_long, labels, n_boot=n_boot, seed=seed).scaled(100)
            fit = paired_bootstrap(_neg_nll, ens, p_long, labels, n_boot=n_boot, seed=seed)
            v_acc, r_acc = judge(acc, expect="greater", unit=" points", what="accuracy gain of DE-2")
            v_nll, r_nll = judge(fit, expect="greater", what="NLL reduction of DE-2")
            row["b"].append({"seed": s, "acc": [acc.value, acc.low, acc.high], "nll": [fit.value, fit.low, fit.high],
                             "verdict": combine_verdicts([v_acc, v_nll]), "reason": f"{r_acc}; {r_nll}"})
        row["a_verdict"] = combine_verdicts(r["verdict"] for r in row["a"]) if row["a"] else "not measured"
        row["b_verdict"] = combine_verdicts(r["verdict"] for r in row["b"])
        out.append(row)
    return out


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values)


def runs_frame(runs):
    """The runs as a DataFrame: size, epochs, seed, test accuracy (%), NLL, wall time (s) where measured."""
    import pandas as pd

    return pd.DataFrame([{"recipe": r.get("recipe", "crop+flip"), "train images": r["n_train"],
                          "epochs": r["epochs"], "seed": r["seed"], "test acc %": round(100 * r["accuracy"], 2),
                          "NLL": round(r["nll"], 3)} for r in runs])


def conditions_frame(conditions):
    """The conditions as a DataFrame, one row per (recipe, size, E)."""
    import pandas as pd

    rows = []
    for c in conditions:
        gains = ", ".join(f"{r['value']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]" for r in c["a"])
        rows.append({"recipe": c.get("recipe", "crop+flip"), "train images": c["n_train"], "E": c["E"],
                     "single E %": round(100 * c["single_E_acc"], 2), "single 2E %": round(100 * c["single_2E_acc"], 2),
                     "DE-2 at E %": round(100 * c["de2_E_acc"], 2), "NLL single 2E": round(c["single_2E_nll"], 3),
                     "NLL DE-2 at E": round(c["de2_E_nll"], 3), "2E gain, points (95% CI per seed)": gains,
                     "(a) gain < 1 point": c["a_verdict"], "(b) DE-2 beats 2E": c["b_verdict"]})
    return pd.DataFrame(rows)


def plot_budget(runs):
    """Test accuracy and NLL against epochs, one line per (recipe, training-set size), mean of seeds with each seed
    as a dot; 8 inches wide."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    groups = sorted({(r.get("recipe", "crop+flip"), r["n_train"]) for r in runs})
    for recipe, n in groups:
        mine = [r for r in runs if r.get("recipe", "crop+flip") == recipe and r["n_train"] == n]
        xs = sorted({r["epochs"] for r in mine})
        label = f"{n // 1000}k images, {recipe}"
        for ax, key, scale in ((axes[0], "accuracy", 100), (axes[1], "nll", 1)):
            means = [_mean(scale * r[key] for r in mine if r["epochs"] == x) for x in xs]
            (line,) = ax.plot(xs, means, marker="o", label=label)
            ax.scatter([r["epochs"] for r in mine], [scale * r[key] for r in mine], s=10, color=line.get_color())
    for ax, name in zip(axes, ["test accuracy (%)", "test NLL"]):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["epochs"] for r in runs}), [str(e) for e in sorted({r["epochs"] for r in runs})])
        ax.set_xlabel("epochs")
        ax.set_ylabel(name)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig
