"""Classification metrics for ensembles: accuracy, NLL, Brier, ECE, diversity, temperature scaling.

All metrics take averaged probabilities ``probs`` (N x C, rows summing to 1) and integer ``labels`` (N,),
as in bayesgroup/pytorch-ensembles@76b71c9: metrics.py. Inputs may be float32 or float64 tensors (or
anything ``torch.as_tensor`` accepts); computations run in float64 on CPU and scalar metrics are returned
as Python floats. Fractions are fractions in [0, 1], never percent (except ``diversity``, which is x100 by
its definition). Bad input raises at the call: ``TypeError`` for the wrong kind (e.g. float labels, a
fractional ``n_bins``), ``ValueError`` for a bad value, naming the argument.

Modules: ``scoring`` (accuracy, error, NLL, Brier), ``calibration`` (reliability bins, ECE, temperature
scaling, calibrated NLL), ``ensembles`` (disagreement, diversity, averaged predictions), ``inputs`` (the
shared input checks).

References:
    Ashukha et al., "Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning",
    ICLR 2020, https://arxiv.org/abs/2002.06470.
    Reference implementation: bayesgroup/pytorch-ensembles@76b71c9: metrics.py.
"""

from .calibration import calibrated_nll, ece, fit_temperature, reliability_bins
from .ensembles import disagreement, diversity, ensemble_log_probs, ensemble_probs
from .scoring import accuracy, brier, error, nll

__all__ = [
    "accuracy", "error", "nll", "brier", "ece", "reliability_bins", "diversity", "disagreement",
    "fit_temperature", "calibrated_nll", "ensemble_probs", "ensemble_log_probs",
]
