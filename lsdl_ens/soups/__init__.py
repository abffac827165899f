"""Model soups: averaging the weights of several fine-tuned models instead of their predictions.

``uniform_soup`` and ``greedy_soup`` (Wortsman et al., ICML 2022) operate on states (``lsdl_ens.state``);
``learned_soup`` optimises softmax mixing coefficients (one vector, or one per parameter tensor) on held-out data
with ``torch.func.functional_call``; ``greedy_ensemble`` is the greedy selection loop on output ensembles.
``state_evaluator`` turns a template model and held-out data into the ``evaluate(state) -> float`` that
``greedy_soup`` needs (with the BatchNorm recompute that averaged states require).

Soups only make sense for ingredients that share their starting point (one pre-trained backbone with one
linear-probe head): independently trained networks sit in different basins and their soup collapses.
"""

from ..evaluation import state_evaluator
from .basic import greedy_ensemble, greedy_soup, uniform_soup
from .learned import learned_soup, learned_soup_step, mix_states, soup_logits

__all__ = ["uniform_soup", "greedy_soup", "greedy_ensemble", "state_evaluator", "learned_soup", "learned_soup_step",
           "mix_states", "soup_logits"]
