"""Extra sizes of the transfer-ensembles chapter, keyed by run profile (see `lsdl_ens.profiles`).

| field | meaning |
|---|---|
| lr_mults | cycle max LR as multiples of the fine-tuning LR (reference grid: 0.25, 0.5, 1, 2, 4) |
| epoch_mults | cycle length as multiples of the fine-tuning epochs (reference grid: 0.5, 1, 2, 4; truncated with int) |
| n_ood | test images per (corruption, severity) set; every corruption of `lsdl_ens.data.CORRUPTIONS` at 1..5 |
| n_alphas | points on each interpolation path between consecutive members |
| plane_grid | points per axis of the loss plane through three members |
| n_landscape | test images used for the landscape evaluations (paths and planes) |
| n_global | members of the Global DE (each needs its own pre-training; the profile's ensemble_size on gpu) |

The cpu grid is 3 LRs x 3 cycle lengths (0.5x, 1x, 2x) instead of the reference's 5 x 4 and reaches further up
in LR (8x): our fine-tuning LR is already a fifth of the pre-training LR, so the reference's largest multiplier
might not reach the semi-local regime. The cpu Global DE has the profile's 5 members, as Local DE and the cycle
methods. (A first cpu run with cycles of 0.5x only and a 2-member Global DE left every method within about one
point and never left the pre-train basin.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import Profile, get_profile


@dataclass(frozen=True)
class TransferSizes:
    lr_mults: tuple
    epoch_mults: tuple
    n_ood: int
    n_alphas: int
    plane_grid: int
    n_landscape: int
    n_global: int


SIZES = {
    "smoke": TransferSizes((0.5, 4.0), (1.0,), 40, 3, 3, 200, 2),
    "cpu": TransferSizes((0.5, 2.0, 8.0), (0.5, 1.0, 2.0), 50, 5, 5, 500, 5),
    "gpu": TransferSizes((0.25, 0.5, 1.0, 2.0, 4.0, 8.0), (0.5, 1.0, 2.0, 4.0), 1000, 11, 15, 5000, 5),
}


def transfer_sizes(profile: Profile | str | None = None) -> TransferSizes:
    """The chapter's extra sizes for `profile` (default: the current profile)."""
    p = get_profile(profile)
    if p.name not in SIZES:
        raise ValueError(f"no transfer sizes for profile {p.name!r}; known: {', '.join(SIZES)}")
    return SIZES[p.name]
