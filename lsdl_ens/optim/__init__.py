"""Weight-averaging optimizers: Lookahead (slow/fast weights) and Lookaround (multi-head, multi-view averaging).

Both subclass ``torch.optim.Optimizer``, keep all their state in ``state_dict()``, work with ``lsdl_ens.train.fit``
and LR schedulers, and put the averaged weights into the model for evaluation (``Lookahead.swap_to_slow()``,
``Lookaround.swap_to_average()``). Chapter 07's cached comparison at matched compute is in
`lsdl_ens.experiments.optimizers_tta`.
"""

from .lookahead import Lookahead
from .lookaround import Lookaround, multiview_step

__all__ = ["Lookahead", "Lookaround", "multiview_step"]
