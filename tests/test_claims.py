"""Claims with their noise: the intervals against independent computations, the verdict rules on planted cases,
the claims files and the "What reproduces" page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

from lsdl_ens import metrics
from lsdl_ens.claims import (Claim, Estimate, bootstrap, format_measure, judge, make_claim, paired_bootstrap,
                             seed_estimate, t_quantile)
from lsdl_ens.claims_page import (build_reproduces_page, claims_frame, glue_claims, read_claims, reproduces_markdown,
                                  write_claims)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 29, 60])
@pytest.mark.parametrize("p", [0.025, 0.5, 0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy(df, p):
    assert t_quantile(p, df) == pytest.approx(scipy.stats.t.ppf(p, df), abs=1e-8)


def test_seed_estimate_is_the_t_interval_of_scipy():
    values = [91.2, 90.7, 91.9, 91.4, 90.8]
    est = seed_estimate(values)
    low, high = scipy.stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=scipy.stats.sem(values))
    assert est.value == pytest.approx(np.mean(values))
    assert (est.low, est.high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    with pytest.raises(ValueError, match="at least 3"):
        seed_estimate([1.0, 2.0])


def _two_predictors(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 5, (n,), generator=g)
    logits = torch.randn(n, 5, generator=g)
    a = (logits + 3.0 * torch.nn.functional.one_hot(labels, 5)).softmax(-1)
    b = (logits + 1.0 * torch.nn.functional.one_hot(labels, 5)).softmax(-1)
    return a, b, labels


def test_paired_bootstrap_matches_a_hand_loop_and_is_seeded():
    a, b, labels = _two_predictors()
    est = paired_bootstrap(metrics.accuracy, a, b, labels, n_boot=300, seed=7)
    # independent computation: numpy resampling with the same indices, accuracy by hand
    idx = torch.randint(0, len(labels), (300, len(labels)), generator=torch.Generator().manual_seed(7)).numpy()
    correct_a = (a.argmax(1) == labels).numpy().astype(float)
    correct_b = (b.argmax(1) == labels).numpy().astype(float)
    diffs = correct_a[idx].mean(1) - correct_b[idx].mean(1)
    assert est.value == pytest.approx(correct_a.mean() - correct_b.mean())
    assert est.low == pytest.approx(np.quantile(diffs, 0.025)) and est.high == pytest.approx(np.quantile(diffs, 0.975))
    assert paired_bootstrap(metrics.accuracy, a, b, labels, n_boot=300, seed=7) == est
    assert paired_bootstrap(metrics.accuracy, a, b, labels, n_boot=300, seed=8) != est


def test_bootstrap_interval_covers_the_binomial_spread_of_accuracy():
    a, _, labels = _two_predictors(n=2000)
    est = bootstrap(metrics.accuracy, a, labels, n_boot=500, seed=0)
    p = est.value
    normal_half = 1.96 * np.sqrt(p * (1 - p) / len(labels))  # the normal approximation of a binomial proportion
    assert est.half_width == pytest.approx(normal_half, rel=0.15)
    assert est.low < p < est.high


def _est(value, low, high):
    return Estimate(value, low, high, "planted")


@pytest.mark.parametrize("estimate, expect, verdict", [
    (_est(1.0, 0.4, 1.6), "greater", "holds"),
    (_est(-0.3, -0.8, 0.2), "greater", "within noise"),
    (_est(-1.0, -1.5, -0.5), "greater", "does not hold"),
    (_est(-1.0, -1.5, -0.5), "less", "holds"),
    (_est(0.1, -0.2, 0.4), "less", "within noise"),
    (_est(1.0, 0.4, 1.6), "less", "does not hold"),
    (_est(0.0, 0.0, 0.0), "greater", "does not hold"),
    (_est(0.0, 0.0, 0.0), "less", "does not hold"),
    (_est(-0.5, -1.0, 0.0), "greater", "does not hold"),
    (_est(0.5, 0.0, 1.0), "greater", "within noise"),
    (_est(0.5, 0.0, 1.0), "less", "does not hold"),
])
def test_directional_verdicts_on_planted_intervals(estimate, expect, verdict):
    got, reason = judge(estimate, expect=expect, unit="points", what="difference")
    assert got == verdict
    assert reason.startswith("difference ") and "points" in reason


def test_near_verdicts_and_reason_text():
    assert judge(_est(0.1, -0.2, 0.3), expect="near", tolerance=0.5)[0] == "holds"
    assert judge(_est(0.4, 0.1, 0.7), expect="near", tolerance=0.5)[0] == "within noise"
    assert judge(_est(2.0, 1.5, 2.5), expect="near", tolerance=0.5)[0] == "does not hold"
    verdict, reason = judge(_est(-0.3, -0.8, 0.2), expect="greater", unit="points", what="difference")
    assert reason == "difference -0.30 ± 0.50 points: the interval contains 0"
    with pytest.raises(ValueError, match="tolerance"):
        judge(_est(0.0, -1, 1), expect="near")
    with pytest.raises(ValueError, match="expect"):
        judge(_est(0.0, -1, 1), expect="bigger")
    with pytest.raises(TypeError, match="estimate"):
        judge((0.0, -1, 1), expect="greater")


def test_a_real_difference_holds_and_a_null_one_is_within_noise():
    a, b, labels = _two_predictors(n=1000)
    noise = torch.randn(1000, 5, generator=torch.Generator().manual_seed(1))
    twin = (noise + 3.0 * torch.nn.functional.one_hot(labels, 5)).softmax(-1)  # as good as A, own errors
    better = make_claim("a-beats-b", "A is more accurate than B", paper="+2", paper_source="planted",
                        estimate=paired_bootstrap(metrics.accuracy, a, b, labels, seed=0).scaled(100),
                        expect="greater", unit="points")
    same = make_claim("a-equals-twin", "A is more accurate than an equally good twin", paper="+2",
                      paper_source="planted", expect="greater", unit="points",
                      estimate=paired_bootstrap(metrics.accuracy, a, twin, labels, seed=0).scaled(100))
    itself = make_claim("a-equals-a", "A is more accurate than a copy of A", paper="+2", paper_source="planted",
                        estimate=paired_bootstrap(metrics.accuracy, a, a, labels, seed=0).scaled(100),
                        expect="greater", unit="points")
    assert better.verdict == "holds" and same.verdict == "within noise"
    assert itself.verdict == "does not hold" and "exactly 0" in itself.reason


def test_format_measure():
    assert format_measure(-0.004, (-1.1, 1.1), "points", decimals=1) == "0.0 ± 1.1 points"
    assert format_measure(-0.3, 0.5, "points") == "-0.30 ± 0.50 points"
    assert format_measure(87.81, (87.4, 88.22), "%") == "87.81 ± 0.41%"
    assert format_measure(87.81, (87.4, 88.2), "%") == "87.81% (95% interval 87.40 to 88.20%)"
    assert format_measure(1.25, (0.9, 1.7)) == "1.25 (95% interval 0.90 to 1.70)"
    assert format_measure(0.123456, 0.004) == "0.1235 ± 0.0040"
    with pytest.raises(ValueError, match="interval"):
        format_measure(1.0, -0.1)


def _claim(i="c1", verdict="holds"):
    return Claim(id=i, claim="A | B beats C", paper="27.4 / 26.4", paper_source="FGE talk", ours=1.2,
                 uncertainty=(0.7, 1.7), verdict=verdict, reason="difference 1.20 ± 0.50 points", unit="points")


def test_claims_file_round_trip_and_checks(tmp_path):
    path = write_claims(4, [_claim("c1"), _claim("c2", "within noise")], tmp_path, profile="cpu")
    assert path == tmp_path / "claims" / "04.json"
    payload = json.loads(path.read_text())
    assert payload["chapter"] == "04"
    assert set(payload["claims"][0]) >= {"id", "claim", "paper", "paper_source", "ours", "uncertainty", "verdict",
                                         "reason"}
    assert read_claims(path) == [_claim("c1"), _claim("c2", "within noise")]
    assert not list((tmp_path / "claims").glob(".*tmp"))
    with pytest.raises(ValueError, match="distinct ids"):
        write_claims(4, [_claim("c1"), _claim("c1")], tmp_path, profile="cpu")
    with pytest.raises(ValueError, match="chapter"):
        write_claims("ch4", [_claim()], tmp_path, profile="cpu")
    with pytest.raises(ValueError, match="verdict"):
        _claim(verdict="probably")
    (tmp_path / "claims" / "05.json").write_text("{not json")
    with pytest.raises(ValueError, match="05.json"):
        read_claims(tmp_path / "claims" / "05.json")


def test_reproduces_page_counts_verdicts_and_escapes_cells(tmp_path):
    assert "No claim has been measured yet" in reproduces_markdown({})
    write_claims("01", [_claim("c1"), _claim("c2", "does not hold")], tmp_path, profile="cpu")
    made = make_claim("c1", "A beats B", paper="+1", paper_source="planted", estimate=_est(-0.3, -0.8, 0.2),
                      expect="greater", unit="points", what="difference")
    write_claims("03", [made], tmp_path, profile="cpu")
    (tmp_path / "01_intro.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown",
                                                                     "source": ["# Predictions\n", "text"]}]}))
    page = build_reproduces_page(tmp_path).read_text()
    assert "Of 3 claims, 1 holds, 1 within noise, 1 does not hold." in page
    assert "## 01 Predictions" in page and "## Chapter 03" in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| claim")]
    assert len(rows) == 3 and rows[0].startswith("| A \\| B beats C | 27.4 / 26.4 (FGE talk) | 1.20 ± 0.50 points |")
    assert rows[2] == "| A beats B | +1 (planted) | -0.30 ± 0.50 points | **within noise**: the interval contains 0 |"
    write_claims("04", [_claim("c1"), _claim("c2")], tmp_path, profile="cpu")
    assert "Of 5 claims, 3 hold, 1 within noise, 1 does not hold." in build_reproduces_page(tmp_path).read_text()


def test_cli_reproduces_rebuilds_the_page(tmp_path, capsys):
    from lsdl_ens.cli import main

    write_claims("02", [_claim("c1", "within noise")], tmp_path, profile="cpu")
    assert main(["reproduces", "--book", str(tmp_path)]) == 0
    assert "Of 1 claim, 0 hold, 1 within noise, 0 do not hold." in (tmp_path / "what_reproduces.md").read_text()
    assert "claims of 1 chapter(s)" in capsys.readouterr().out
    assert main(["reproduces", "--book", str(tmp_path / "missing")]) == 2


def test_the_book_page_is_up_to_date(tmp_path):
    """book/what_reproduces.md is what the builder makes of the book's claims files (run `lsdl-ens reproduces`)."""
    book = Path(__file__).resolve().parent.parent / "book"
    for notebook in book.glob("[0-9][0-9]_*.ipynb"):
        (tmp_path / notebook.name).symlink_to(notebook)
    if (book / "claims").is_dir():
        (tmp_path / "claims").symlink_to(book / "claims")
    assert build_reproduces_page(tmp_path).read_text() == (book / "what_reproduces.md").read_text(), \
        "book/what_reproduces.md is stale: run lsdl-ens reproduces"


@pytest.mark.parametrize("call, exc, name", [
    (lambda: seed_estimate([1.0, "2", 3.0]), TypeError, "values[1]"),
    (lambda: seed_estimate(5.0), TypeError, "values"),
    (lambda: bootstrap("accuracy", *_two_predictors()[::2]), TypeError, "metric"),
    (lambda: bootstrap(metrics.accuracy, *_two_predictors()[::2], n_boot=10), ValueError, "n_boot"),
    (lambda: bootstrap(metrics.accuracy, _two_predictors()[0], torch.zeros(3, dtype=torch.long)), ValueError,
     "labels"),
    (lambda: paired_bootstrap(metrics.accuracy, _two_predictors()[0], _two_predictors()[0][:10],
                              _two_predictors()[2]), ValueError, "probs_b"),
    (lambda: paired_bootstrap(metrics.accuracy, *_two_predictors(), seed=-1), ValueError, "seed"),
    (lambda: t_quantile(1.0, 3), ValueError, "p"),
    (lambda: format_measure("1.0", 0.1), TypeError, "value"),
    (lambda: format_measure(1.0, (2.0, 1.0)), ValueError, "interval"),
    (lambda: write_claims(1, [{"id": "x"}], "/tmp"), TypeError, "claims"),
    (lambda: write_claims(True, [], "/tmp"), TypeError, "chapter"),
])
def test_bad_inputs_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=name.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_claims_frame_and_glue_names():
    made = make_claim("swa-beats-sgd", "SWA beats SGD", paper="+0.8", paper_source="SWA paper, Table 1",
                      estimate=_est(0.6, 0.2, 1.0), expect="greater", unit="points", what="difference")
    frame = claims_frame([made, _claim("c2", "within noise")])
    assert list(frame.index) == ["swa-beats-sgd", "c2"]
    assert list(frame.columns) == ["claim", "paper (source)", "ours", "verdict", "reason"]
    assert frame.loc["swa-beats-sgd", "ours"] == "0.60 ± 0.40 points"
    assert frame.loc["swa-beats-sgd", "reason"] == "the whole interval is > 0"
    glued = {}
    names = glue_claims([made], glue=lambda name, value, display: glued.setdefault(name, (value, display)))
    assert names == ["swa_beats_sgd_ours", "swa_beats_sgd_paper", "swa_beats_sgd_verdict"]
    assert [(repr(v), d) for v, d in glued.values()] == [("0.60 ± 0.40 points", False), ("+0.8", False),
                                                         ("holds", False)]


def test_smoke_claims_are_checked_but_not_written(tmp_path):
    assert write_claims("04", [_claim("c1")], tmp_path, profile="smoke") is None
    assert not (tmp_path / "claims").exists()
    with pytest.raises(ValueError, match="distinct ids"):
        write_claims("04", [_claim("c1"), _claim("c1")], tmp_path, profile="smoke")


def test_every_claim_id_of_the_intro_table_is_measured_in_the_book():
    """The intro's table names, for each chapter, the ids of the claims that test its statement; each must be a
    row of that chapter's `book/claims/NN.json`, and every chapter must have its claims file."""
    import re

    book = Path(__file__).resolve().parent.parent / "book"
    table = (book / "intro.md").read_text().split("## What the course covers")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| chapter")]
    named = {cid for row in rows for cid in re.findall(r"`([\w-]+)`", row.split(" | ")[-1])}
    assert len(rows) == 7 and len(named) >= 20, (len(rows), sorted(named))
    files = sorted((book / "claims").glob("[0-9][0-9].json"))
    assert [f.stem for f in files] == [f"{n:02d}" for n in range(1, 8)]
    measured = {c.id for f in files for c in read_claims(f)}
    assert named <= measured, f"intro names claims no chapter measures: {sorted(named - measured)}"
