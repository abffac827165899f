"""Tests for lsdl_ens.metrics: every metric against an independent computation (numpy loops / torch /
torchmetrics), hand-made diversity cases, temperature scaling against a grid search, and argument checks."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _tiny import one_thread  # noqa: F401  (one intra-op thread per test module)
from lsdl_ens import metrics


def _random_probs(n=300, c=5, seed=0, scale=2.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    probs = (scale * torch.randn(n, c, generator=g, dtype=torch.float64)).softmax(dim=1).to(dtype)
    labels = torch.randint(0, c, (n,), generator=g)
    return probs, labels


def _synthetic_logits(t_true, n=3000, c=10, seed=0):
    """Logits whose calibrated temperature is t_true: labels ~ softmax(z), logits = t_true * z."""
    g = torch.Generator().manual_seed(seed)
    z = 2.0 * torch.randn(n, c, generator=g, dtype=torch.float64)
    labels = torch.multinomial(z.softmax(dim=1), 1, generator=g).squeeze(1)
    return t_true * z, labels


def _numpy_nll_at(logits, labels, t):
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_accuracy_error_nll_brier_match_numpy_loops(dtype):
    probs, labels = _random_probs(dtype=dtype)
    p, y = probs.double().numpy(), labels.numpy()
    correct, log_lik, squares = 0, 0.0, 0.0
    for i in range(len(y)):
        correct += int(np.argmax(p[i]) == y[i])
        log_lik += math.log(p[i, y[i]] + 1e-12)
        squares += sum((p[i, c] - (1.0 if c == y[i] else 0.0)) ** 2 for c in range(p.shape[1]))
    assert metrics.accuracy(probs, labels) == pytest.approx(correct / len(y), abs=1e-12)
    assert metrics.error(probs, labels) == pytest.approx(1 - correct / len(y), abs=1e-12)
    assert metrics.nll(probs, labels) == pytest.approx(-log_lik / len(y), rel=1e-9)
    assert metrics.brier(probs, labels) == pytest.approx(squares / len(y), rel=1e-9)
    assert isinstance(metrics.nll(probs, labels), float)


def test_nll_matches_torch_nll_loss_and_brier_matches_one_hot_formula():
    probs, labels = _random_probs(seed=1)
    expected_nll = F.nll_loss(torch.log(probs + 1e-12), labels).item()
    assert metrics.nll(probs, labels) == pytest.approx(expected_nll, rel=1e-12)
    one_hot = torch.eye(probs.shape[1], dtype=probs.dtype)[labels]
    expected_brier = (probs - one_hot).pow(2).sum(dim=1).mean().item()
    assert metrics.brier(probs, labels) == pytest.approx(expected_brier, rel=1e-12)


def _numpy_ece(p, y, n_bins, upper_closed=True):
    """ECE with bins (lo, hi] (confidence 0 in the first bin), or [lo, hi) (1 in the last) if not upper_closed."""
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        if upper_closed:
            in_bin = (conf > edges[b]) & (conf <= edges[b + 1]) | ((b == 0) & (conf == 0.0))
        else:
            in_bin = (conf >= edges[b]) & (conf < edges[b + 1]) | ((b == n_bins - 1) & (conf == 1.0))
        if in_bin.any():
            total += in_bin.mean() * abs((pred[in_bin] == y[in_bin]).mean() - conf[in_bin].mean())
    return total


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ece_matches_numpy_loop_and_torchmetrics_away_from_edges(dtype):
    from torchmetrics.classification import MulticlassCalibrationError

    probs, labels = _random_probs(n=500, c=4, seed=2, scale=1.5, dtype=dtype)
    confidence = probs.double().max(dim=1).values
    edges = torch.linspace(0, 1, 16, dtype=torch.float64)
    # Bin conventions differ only on edges ((lo, hi] here, [lo, hi) in torchmetrics): make sure none is hit.
    assert (confidence[:, None] - edges[None, :]).abs().min() > 1e-6
    ours = metrics.ece(probs, labels, n_bins=15)
    assert ours == pytest.approx(_numpy_ece(probs.double().numpy(), labels.numpy(), 15), abs=1e-12)
    reference = MulticlassCalibrationError(num_classes=4, n_bins=15, norm="l1")(probs.float(), labels).item()
    assert ours == pytest.approx(reference, abs=1e-5)
    assert ours > 0.01  # a non-trivial value, so the comparison means something


def test_ece_puts_confidence_on_an_edge_into_the_lower_bin_unlike_torchmetrics():
    from torchmetrics.classification import MulticlassCalibrationError

    # n_bins = 4 has exactly representable edges 0, .25, .5, .75, 1; confidences 0.5 and 0.75 sit on edges.
    probs = torch.tensor([[0.5, 0.5], [0.75, 0.25], [0.75, 0.25], [0.9, 0.1]], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 0])
    p, y = probs.numpy(), labels.numpy()
    bins = metrics.reliability_bins(probs, labels, n_bins=4)
    assert bins["count"].tolist() == [0, 1, 2, 1]  # 0.5 -> (.25, .5], 0.75 -> (.5, .75]
    ours = metrics.ece(probs, labels, n_bins=4)
    assert ours == pytest.approx(_numpy_ece(p, y, 4))
    # torchmetrics bins [lo, hi): on edges it differs from us, and matches the [lo, hi) loop.
    reference = MulticlassCalibrationError(num_classes=2, n_bins=4, norm="l1")(probs.float(), labels).item()
    assert reference == pytest.approx(_numpy_ece(p, y, 4, upper_closed=False), abs=1e-6)
    assert abs(ours - reference) > 0.01


def test_reliability_bins_agree_with_ece():
    probs, labels = _random_probs(n=400, c=3, seed=3)
    bins = metrics.reliability_bins(probs, labels, n_bins=10)
    count = bins["count"]
    assert count.sum().item() == 400 and bins["edges"].numel() == 11
    filled = count > 0
    assert torch.isnan(bins["confidence"][~filled]).all() and torch.isnan(bins["accuracy"][~filled]).all()
    lo, hi = bins["edges"][:-1][filled], bins["edges"][1:][filled]
    assert ((bins["confidence"][filled] > lo) & (bins["confidence"][filled] <= hi)).all()
    from_bins = (count[filled].double() / 400.0 * (bins["accuracy"][filled] - bins["confidence"][filled]).abs()).sum()
    assert metrics.ece(probs, labels, n_bins=10) == pytest.approx(from_bins.item(), abs=1e-12)


def test_diversity_on_hand_made_predictions():
    labels = torch.zeros(10, dtype=torch.long)
    a = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])  # error 0.2
    b = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 0, 0])  # error 0.2; disagrees with a on 4 of 10
    c = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])  # error 0.1; disagrees with a on 1, with b on 3
    by_hand = 100 * (0.4 / 0.2 + 0.1 / 0.2 + 0.3 / 0.2) / 3
    assert metrics.diversity([a, b, c], labels) == pytest.approx(by_hand)
    assert metrics.diversity([a, b], labels) == pytest.approx(100 * 0.4 / 0.2)
    assert metrics.disagreement(a, b) == pytest.approx(0.4)


def test_diversity_of_two_perfect_members_is_zero_not_nan():
    labels = torch.tensor([0, 1, 2, 1, 0])
    wrong_once = torch.tensor([0, 1, 2, 1, 1])  # error 0.2, disagrees with labels once
    assert metrics.diversity([labels.clone(), labels.clone()], labels) == 0.0
    # pairs: (perfect, perfect) -> 0, twice (perfect, wrong_once) -> 0.2 / 0.2
    by_hand = 100 * (0.0 + 1.0 + 1.0) / 3
    assert metrics.diversity([labels, labels, wrong_once], labels) == pytest.approx(by_hand)


def test_diversity_matches_ordered_pair_loop_on_random_predictions():
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 3, (50,), generator=g)
    preds = [torch.randint(0, 3, (50,), generator=g) for _ in range(4)]
    p, y = [q.numpy() for q in preds], labels.numpy()
    terms = [np.mean(p[i] != p[j]) / max(np.mean(p[i] != y), np.mean(p[j] != y))
             for i in range(4) for j in range(4) if i != j]
    assert metrics.diversity(preds, labels) == pytest.approx(100 * np.mean(terms), rel=1e-12)


def test_fit_temperature_matches_a_fine_grid_search():
    logits, labels = _synthetic_logits(t_true=2.5, n=600, c=5, seed=5)
    z, y = logits.numpy(), labels.numpy()
    grid = np.exp(np.linspace(np.log(0.5), np.log(12.0), 801))
    losses = [_numpy_nll_at(z, y, t) for t in grid]
    assert 0 < int(np.argmin(losses)) < len(grid) - 1  # the optimum is inside the grid
    best = grid[int(np.argmin(losses))]
    fitted = metrics.fit_temperature(logits, labels)
    step = np.log(grid[1]) - np.log(grid[0])
    assert abs(math.log(fitted) - math.log(best)) <= step
    assert _numpy_nll_at(z, y, fitted) <= min(losses) + 1e-12


@pytest.mark.parametrize("t_true", [0.5, 3.0])
def test_fit_temperature_recovers_a_known_temperature(t_true):
    logits, labels = _synthetic_logits(t_true=t_true, seed=6)
    assert metrics.fit_temperature(logits.float(), labels) == pytest.approx(t_true, rel=0.1)


def test_fit_temperature_returns_bracket_ends_when_optimum_is_outside():
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0]])
    assert metrics.fit_temperature(logits, torch.tensor([0, 1]), t_min=1e-2) == 1e-2  # separable: T -> 0
    assert metrics.fit_temperature(logits, torch.tensor([1, 0]), t_max=50.0) == 50.0  # anti-correlated: T -> inf


def test_calibrated_nll_improves_overconfident_logits_and_is_deterministic():
    logits, labels = _synthetic_logits(t_true=4.0, n=400, seed=7)  # logits 4x too sharp
    log_probs = logits.log_softmax(dim=1)
    raw = F.cross_entropy(log_probs, labels).item()
    calibrated = metrics.calibrated_nll(log_probs, labels, seed=0)
    assert calibrated < raw - 0.1
    assert metrics.calibrated_nll(log_probs, labels, seed=0) == calibrated
    assert metrics.calibrated_nll(log_probs, labels, n_runs=1, seed=1) != metrics.calibrated_nll(
        log_probs, labels, n_runs=1, seed=0)


def test_calibrated_nll_fits_on_one_half_and_scores_the_other():
    logits, labels = _synthetic_logits(t_true=2.0, n=201, seed=8)
    perm = torch.randperm(201, generator=torch.Generator().manual_seed(3))
    halves = (perm[:101], perm[101:])
    total = 0.0
    for fit_idx, test_idx in (halves, halves[::-1]):
        t = metrics.fit_temperature(logits[fit_idx], labels[fit_idx])
        total += F.cross_entropy(logits[test_idx] / t, labels[test_idx], reduction="sum").item()
    result = metrics.calibrated_nll(logits, labels, n_splits=2, n_runs=1, seed=3)
    assert result == pytest.approx(total / 201, rel=1e-10)


def test_ensemble_probs_and_log_probs():
    members = [_random_probs(n=20, c=4, seed=s)[0] for s in range(3)]
    mean = metrics.ensemble_probs(members)
    assert torch.allclose(mean, (members[0] + members[1] + members[2]) / 3)
    log_mean = metrics.ensemble_log_probs([m.log() for m in members])
    assert torch.allclose(log_mean, mean.log())


BAD_ARGUMENTS = [  # (function, args, exception type, message pattern naming the argument)
    (metrics.nll, (torch.ones(4) / 4, torch.tensor([0])), ValueError, "probs must be a 2-D tensor"),
    (metrics.nll, (torch.empty(0, 3), torch.empty(0, dtype=torch.long)), ValueError, "probs is empty"),
    (metrics.nll, (torch.randn(3, 2), torch.tensor([0, 1, 0])), ValueError, "apply softmax first"),
    (metrics.nll, (torch.full((3, 2), 0.5), torch.tensor([0, 1])), ValueError, "labels has 2 entries"),
    (metrics.nll, (torch.full((3, 2), 0.5), torch.tensor([0, 1, 2])), ValueError,
     r"labels must hold class indices >= 0 and < 2 .*, got values in \[0, 2\]"),
    (metrics.nll, (torch.full((3, 2), 0.5), torch.tensor([0, -1, 0])), ValueError, "labels .* -1 .* not a class"),
    (metrics.nll, (torch.full((3, 2), 0.5), torch.tensor([0.0, 1.0, 0.0])), TypeError, "labels must be integer"),
    (metrics.nll, (torch.full((3, 2), 0.5), torch.tensor([[0, 1, 0]])), ValueError, "labels must be a 1-D tensor"),
    (metrics.nll, ("probs", torch.tensor([0, 1, 0])), TypeError, "probs must be a tensor"),
    (metrics.accuracy, (torch.ones(3, 2, dtype=torch.long), torch.tensor([0, 1, 0])), TypeError,
     "probs must be a floating-point tensor"),
    (metrics.ece, (torch.full((3, 2), 0.5), torch.tensor([0, 1, 0]), 0), ValueError, "n_bins must be an integer >= 1"),
    (metrics.reliability_bins, (torch.full((3, 2), 0.5), torch.tensor([0, 1, 0]), 2.5), TypeError,
     "n_bins must be an integer >= 1, got 2.5"),
    (metrics.ece, (torch.full((3, 2), 0.5), torch.tensor([0, 1, 0]), True), TypeError, "n_bins must be an integer"),
    (metrics.diversity, ([torch.tensor([0, 1])], torch.tensor([0, 1])), ValueError,
     "predictions must be a list of at least 2"),
    (metrics.diversity, (torch.zeros(2, 2, dtype=torch.long), torch.tensor([0, 1])), TypeError,
     "predictions must be a list"),
    (metrics.diversity, ([torch.tensor([0, 1]), torch.tensor([0])], torch.tensor([0, 1])), ValueError,
     r"predictions\[1\] has 1 entries"),
    (metrics.diversity, ([torch.rand(2, 2), torch.rand(2, 2)], torch.tensor([0, 1])), ValueError,
     r"predictions\[0\] must be a 1-D tensor"),
    (metrics.disagreement, (torch.tensor([0, 1]), torch.tensor([0, 1, 1])), ValueError, "pred_b has 3 entries"),
    (metrics.fit_temperature, (torch.tensor([[0.0, -math.inf]]), torch.tensor([0])), ValueError,
     "logits must be finite"),
    (metrics.fit_temperature, (torch.zeros(2, 2), torch.tensor([0, 1]), 2.0, 1.0), ValueError, "t_min and t_max"),
    (metrics.fit_temperature, (torch.zeros(2, 2), torch.tensor([0, 1]), 0.0), ValueError, "t_min must be"),
    (metrics.fit_temperature, (torch.zeros(2, 2), torch.tensor([0, 1]), 1e-3, 1e3, 1e-10, 2.5), TypeError,
     "max_iters must be an integer"),
    (metrics.calibrated_nll, (torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 1), ValueError,
     "n_splits must be an integer >= 2"),
    (metrics.calibrated_nll, (torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 2.5), TypeError,
     "n_splits must be an integer >= 2"),
    (metrics.calibrated_nll, (torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 2, 0), ValueError,
     "n_runs must be an integer >= 1"),
    (metrics.calibrated_nll, (torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 5), ValueError, "fewer than n_splits"),
    (metrics.calibrated_nll, (torch.zeros(4), torch.tensor([0, 1, 0, 1])), ValueError, "log_probs must be a 2-D"),
    (metrics.ensemble_probs, ([],), ValueError, "list_of_probs must be a non-empty list"),
    (metrics.ensemble_probs, ([torch.full((2, 2), 0.5), torch.full((3, 2), 0.5)],), ValueError,
     r"list_of_probs\[1\] has shape"),
    (metrics.ensemble_probs, ([torch.full((2, 2), 0.5), torch.ones(2, 2)],), ValueError,
     r"list_of_probs\[1\] rows must be"),
    (metrics.ensemble_log_probs, (torch.zeros(2, 2, 2),), TypeError, "list_of_log_probs must be a non-empty list"),
]


@pytest.mark.parametrize("function, args, exception, message", BAD_ARGUMENTS)
def test_argument_checks_raise_naming_the_argument(function, args, exception, message):
    """Wrong kind -> TypeError, wrong value -> ValueError; either way the message names the argument."""
    with pytest.raises(exception, match=message):
        function(*args)
