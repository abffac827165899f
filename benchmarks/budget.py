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

Writes ``budget.json`` (runs and conditions; the book's "Choosing the budget" page reads
``benchmarks/results/budget.json``), ``budget.md`` (the tables) and ``budget.png`` to ``--out``. The conditions and
their noise (a paired bootstrap over test images per seed) are computed by `lsdl_ens.experiments.budget`.
``--no-augment`` trains without crop+flip (the recipe "none" of the study).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

from lsdl_ens.cache import default_cache  # noqa: E402
from lsdl_ens.data import cifar10_splits  # noqa: E402
from lsdl_ens.experiments.budget import budget_conditions, conditions_frame, plot_budget, runs_frame  # noqa: E402
from lsdl_ens.metrics import accuracy, nll  # noqa: E402
from lsdl_ens.profiles import get_profile  # noqa: E402
from lsdl_ens.recipes import standard_recipe, train  # noqa: E402
from lsdl_ens.train import predict_probs  # noqa: E402

FULL_TRAIN = 45_000  # CIFAR-10 train minus the profile's validation images


def run_grid(sizes, epochs, seeds, model_kw, profile, out: Path, augment: bool = True) -> list[dict]:
    """Train (or read) every run of the grid; returns one row per run with its test metrics and wall time."""
    times_path = out / "budget_times.json"
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    test = cifar10_splits(profile.n_train, profile.n_val, None)[2]
    labels = test.labels
    rows = []
    for n in sizes:
        for e in epochs:
            for s in seeds:
                recipe = standard_recipe(profile, seed=s, epochs=e, model_kw=dict(model_kw), augment=augment,
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
                rows.append({"recipe": "crop+flip" if augment else "none", "n_train": n, "epochs": e, "seed": s,
                             "accuracy": accuracy(probs, labels),
                             "nll": nll(probs, labels), "seconds": times[key], "probs": probs})
                print(f"n={n:>6} epochs={e:>3} seed={s}: test acc {100 * rows[-1]['accuracy']:.2f}%, "
                      f"NLL {rows[-1]['nll']:.3f}, {_seconds(times[key])}", flush=True)
    return rows


def _seconds(value) -> str:
    return "trained elsewhere" if value is None else f"{value:.0f} s"


def write_report(rows, labels, out: Path) -> None:
    """budget.json (runs and conditions, read by the book's "Choosing the budget" page), budget.md and budget.png."""
    conds = []
    for recipe in sorted({r["recipe"] for r in rows}):
        probs = {(r["n_train"], r["epochs"], r["seed"]): r["probs"] for r in rows if r["recipe"] == recipe}
        conds += [{**c, "recipe": recipe} for c in budget_conditions(probs, labels)]
    plain = [{k: v for k, v in r.items() if k != "probs"} for r in rows]
    study = {"test_images": len(labels), "model": "the cpu profile's model", "runs": plain, "conditions": conds}
    (out / "budget.json").write_text(json.dumps(study, indent=1))
    runs_table = runs_frame(plain).assign(seconds=[_seconds(r["seconds"]) for r in plain])
    text = runs_table.to_markdown(index=False) + "\n\n" + conditions_frame(conds).to_markdown(index=False) + "\n"
    (out / "budget.md").write_text(text)
    plot_budget(plain).savefig(out / "budget.png", dpi=120)
    print(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, FULL_TRAIN],
                        help="training-set sizes (45000 or more: the whole train split)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[12, 24, 48])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--widths", type=int, nargs="+", default=None, help="VGG stage widths (default: the model's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-augment", action="store_true", help="train without crop+flip (the recipe 'none')")
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
    rows = run_grid(args.sizes, args.epochs, args.seeds, model_kw, profile, args.out, augment=not args.no_augment)
    labels = cifar10_splits(profile.n_train, profile.n_val, None)[2].labels
    write_report(rows, labels, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
