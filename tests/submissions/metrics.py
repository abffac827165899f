"""Prepared submissions for the "metrics" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "nll_answer": '''
def nll(probs, labels, eps=1e-12):
    p_true = probs[torch.arange(len(labels)), labels]
    return float(-(p_true.double() + eps).log().mean())
''',
    "brier_answer": '''
def brier(probs, labels):  # mistake: divides by the number of classes
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return float(((probs.double() - onehot) ** 2).mean())
''',
    "ece_answer": '''
def ece(probs, labels, n_bins=15):  # mistake: unweighted mean over bins
    conf, pred = probs.double().max(1)
    correct = (pred == labels).double()
    gaps = []
    for s in range(n_bins):
        m = (conf > s / n_bins) & (conf <= (s + 1) / n_bins)
        if m.any():
            gaps.append(float((correct[m].mean() - conf[m].mean()).abs()))
    return sum(gaps) / max(len(gaps), 1)
''',
    "temperature_answer": '''
def fit_temperature(logits, labels):  # mistake: a coarse grid
    grid = [0.5, 1.0, 2.0]
    losses = [float(torch.nn.functional.cross_entropy(logits / t, labels)) for t in grid]
    return grid[losses.index(min(losses))]
''',
    "diversity_answer": '''
def diversity(predictions, labels):
    errors = [float((p != labels).double().mean()) for p in predictions]
    terms = []
    for a in range(len(predictions)):
        for b in range(len(predictions)):
            if a != b:
                worst = max(errors[a], errors[b])
                d = float((predictions[a] != predictions[b]).double().mean())
                terms.append(0.0 if worst == 0 else d / worst)
    return 100 * sum(terms) / len(terms)
''',
}

SHORTCUT = {
    "nll_answer": '''
from lsdl_ens.metrics import nll as _nll
def nll(probs, labels, eps=1e-12):
    return _nll(probs, labels, eps)
''',
    "brier_answer": '''
import lsdl_ens.metrics
def brier(probs, labels):
    return lsdl_ens.metrics.brier(probs, labels)
''',
    "ece_answer": '''
from lsdl_ens import metrics as _m
def ece(probs, labels, n_bins=15):
    return _m.ece(probs, labels, n_bins)
''',
    "temperature_answer": '''
from lsdl_ens.metrics import fit_temperature as _ft
def fit_temperature(logits, labels):
    return _ft(logits, labels)
''',
    "diversity_answer": '''
from lsdl_ens.metrics import diversity as _div
def diversity(predictions, labels):
    return _div(predictions, labels)
''',
}
