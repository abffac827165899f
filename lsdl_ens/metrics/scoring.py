"""Accuracy and the proper scoring rules (NLL, Brier) of averaged probabilities.

Each takes ``probs`` (N x C, rows summing to 1) and integer ``labels`` (N,), computes in float64 on the CPU and
returns a Python float; fractions are in [0, 1], never percent. Reference: Ashukha et al., ICLR 2020,
https://arxiv.org/abs/2002.06470, and bayesgroup/pytorch-ensembles@76b71c9: metrics.py.
"""

import torch

from .inputs import as_probs

__all__ = ["accuracy", "error", "nll", "brier"]


def accuracy(probs, labels):
    """Fraction (in [0, 1], not percent) of examples whose argmax class equals the label.

    Formula: acc = (1/N) sum_i 1[argmax_c p_ic = y_i]. Ties go to the lowest class index (torch.argmax).
    """
    probs, labels = as_probs(probs, labels)
    return (probs.argmax(dim=1) == labels).double().mean().item()


def error(probs, labels):
    """Error rate as a fraction in [0, 1] (not percent): 1 - accuracy(probs, labels)."""
    return 1.0 - accuracy(probs, labels)


def nll(probs, labels, eps=1e-12):
    """Mean negative log-likelihood per example, natural log.

    Formula: NLL = -(1/N) sum_i log(p_{i, y_i} + eps), eps = 1e-12 as in pytorch-ensembles metrics.py.
    """
    probs, labels = as_probs(probs, labels)
    picked = probs.gather(1, labels[:, None]).squeeze(1)
    return -torch.log(picked + eps).mean().item()


def brier(probs, labels):
    """Brier score, summed over classes (no division by C), averaged over examples.

    Formula: BS = (1/N) sum_i sum_c (p_ic - 1[y_i = c])^2, in [0, 2].
    """
    probs, labels = as_probs(probs, labels)
    one_hot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return ((probs - one_hot) ** 2).sum(dim=1).mean().item()
