"""Budget study: how far from converged is the standard CPU recipe, and where does ensembling start to pay?

For the cpu profile's standard recipe (its model, SGD-Nesterov, cosine schedule, crop + flip), trains one network
per (training-set size, epochs, seed) through the checkpoint cache, so an interrupted study resumes where it
stopped, and scores each on the whole CIFAR-10 test set (10,000 images). For every size and budget E whose
double 2E is also in the grid it checks the two conditions a course comparison at "equal budget" needs:

    (a) converged enough: mean test accuracy at 2E - mean at E < 1 point;
    (b) ensembling pays: a deep ensemble of 2 networks trained for E (seeds 0 and 1, probabilities averaged)
        beats one network trained for 2E (mean over seeds) on test accuracy AND on NLL.

Wall time of each run is measured around its training (a cache hit is reported with the time stored when it
was trained), so run it on a quiet machine: one job at a time, both cores.

    python benchmarks/budget.py                         # the full grid (about 75 minutes on 2 cores)
    python benchmarks/budget.py --sizes 1000 --epochs 1 2 --out /tmp/budget   # a quick check of the script

Writes ``budget.json`` (one row per run), ``budget.md`` (the tables) and ``budget.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from lsdl_ens.cache import default_cache  # noqa: E402
from lsdl_ens.data import cifar10_splits  # noqa: E402
from lsdl_ens.metrics import accuracy, nll  # noqa: E402
from lsdl_ens.profiles import get_profile  # noqa: E402
from lsdl_ens.recipes import standard_recipe, train  # noqa: E402
from lsdl_ens.train import predict_probs  # noqa: E402

FULL_TRAIN = 45_000  # CIFAR-10 train minus the profile's validation images


def run_grid(sizes, epochs, seeds, model_kw, profile, out: Path) -> list[dict]:
    """Train (or read) every run of the grid; returns one row per run with its test metrics and wall time."""
    times_path = out / "budget_times.json"
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    test = cifar10_splits(profile.n_train, profile.n_val, None)[2]
    labels = test.labels
    rows = []
    for n in sizes:
        for e in epochs:
            for s in seeds:
                recipe = standard_recipe(profile, seed=s, epochs=e, model_kw=dict(model_kw),
                                         data={"n_train": None if n >= FULL_TRAIN else n})
                key = recipe.key()
                cached = default_cache().path("train", recipe).exists()
                start = time.perf_counter()
                model, _ = train(recipe, device="cpu")
                elapsed = time.perf_counter() - start
                if key not in times:  # trained now, or a hit trained elsewhere (then its time is unknown)
                    times[key] = None if cached else elapsed
                    times_path.write_text(json.dumps(times, indent=1))
                probs = predict_probs(model, test)
                rows.append({"n_train": n, "epochs": e, "seed": s, "accuracy": accuracy(probs, labels),
                             "nll": nll(probs, labels), "seconds": times[key], "probs": probs})
                print(f"n={n:>6} epochs={e:>3} seed={s}: test acc {100 * rows[-1]['accuracy']:.2f}%, "
                      f"NLL {rows[-1]['nll']:.3f}, {_seconds(times[key])}", flush=True)
    return rows


def _seconds(value) -> str:
    return "trained elsewhere" if value is None else f"{value:.0f} s"


def conditions(rows, labels) -> list[dict]:
    """Conditions (a) and (b) for every (size, E) with 2E in the grid."""
    by = {}
    for r in rows:
        by.setdefault((r["n_train"], r["epochs"]), []).append(r)
    out = []
    for (n, e), runs in sorted(by.items()):
        longer = by.get((n, 2 * e))
        if not longer or len(runs) < 2:
            continue
        mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
        ens = torch.stack([r["probs"] for r in runs[:2]]).mean(0)
        ens_acc, ens_nll = accuracy(ens, labels), nll(ens, labels)
        gain = mean(longer, "accuracy") - mean(runs, "accuracy")
        out.append({"n_train": n, "E": e, "single_E_acc": mean(runs, "accuracy"),
                    "single_2E_acc": mean(longer, "accuracy"),
                    "single_2E_nll": mean(longer, "nll"), "de2_E_acc": ens_acc, "de2_E_nll": ens_nll,
                    "a_gain_points": 100 * gain, "a_holds": 100 * gain < 1.0,
                    "b_holds": ens_acc > mean(longer, "accuracy") and ens_nll < mean(longer, "nll")})
    return out


def write_report(rows, conds, out: Path) -> None:
    plain = [{k: v for k, v in r.items() if k != "probs"} for r in rows]
    (out / "budget.json").write_text(json.dumps({"runs": plain, "conditions": conds}, indent=1))
    lines = ["| train images | epochs | seed | test acc % | NLL | seconds |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['n_train']} | {r['epochs']} | {r['seed']} | {100 * r['accuracy']:.2f} | {r['nll']:.3f} | "
              f"{_seconds(r['seconds'])} |" for r in plain]
    lines += ["", "| train images | E | single E | single 2E | DE-2 at E | NLL single 2E | NLL DE-2 at E | "
                  "(a) 2E gain < 1 pt | (b) DE-2 beats 2E |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c['n_train']} | {c['E']} | {100 * c['single_E_acc']:.2f} | {100 * c['single_2E_acc']:.2f} | "
              f"{100 * c['de2_E_acc']:.2f} | {c['single_2E_nll']:.3f} | {c['de2_E_nll']:.3f} | "
              f"{c['a_gain_points']:+.2f} ({'yes' if c['a_holds'] else 'no'}) | {'yes' if c['b_holds'] else 'no'} |"
              for c in conds]
    (out / "budget.md").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for n in sorted({r["n_train"] for r in plain}):
        pts = sorted((r["epochs"], r["accuracy"], r["nll"]) for r in plain if r["n_train"] == n)
        xs = sorted({p[0] for p in pts})
        acc = [100 * sum(p[1] for p in pts if p[0] == x) / sum(1 for p in pts if p[0] == x) for x in xs]
        nl = [sum(p[2] for p in pts if p[0] == x) / sum(1 for p in pts if p[0] == x) for x in xs]
        axes[0].plot(xs, acc, marker="o", label=f"{n} images")
        axes[1].plot(xs, nl, marker="o", label=f"{n} images")
    for ax, name in zip(axes, ["test accuracy (%)", "test NLL"]):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("epochs")
        ax.set_ylabel(name)
    axes[0].legend(fontsize=9)
    fig.suptitle("Standard recipe: test metrics against budget (mean of seeds)")
    fig.tight_layout()
    fig.savefig(out / "budget.png", dpi=120)
    print("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, FULL_TRAIN],
                        help="training-set sizes (45000 or more: the whole train split)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[12, 24, 48])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--widths", type=int, nargs="+", default=None, help="VGG stage widths (default: the model's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    for name, values in (("--sizes", args.sizes), ("--epochs", args.epochs), ("--seeds", args.seeds)):
        if any(v < (0 if name == "--seeds" else 1) for v in values):
            parser.error(f"{name} takes positive numbers; got {values}")
    if len(args.seeds) < 2:
        parser.error("--seeds needs at least two seeds (condition (b) ensembles two networks)")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    profile = get_profile("cpu")
    model_kw = {"widths": tuple(args.widths)} if args.widths else {}
    rows = run_grid(args.sizes, args.epochs, args.seeds, model_kw, profile, args.out)
    labels = cifar10_splits(profile.n_train, profile.n_val, None)[2].labels
    write_report(rows, conditions(rows, labels), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
