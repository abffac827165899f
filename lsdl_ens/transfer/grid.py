"""Choosing SSE / StarSSE cycle hyperparameters on a grid of (cycle max LR, cycle length) multipliers.

The reference multiplies the fine-tuning LR by {0.25, 0.5, 1, 2, 4} and the fine-tuning epochs by {0.5, 1, 2, 4}
(isadrtdinov/ens-for-transfer@8984ccc: ``scripts/*/*sse*.py``). Each cell is scored by the accuracy of its full
ensemble (or of its soup) on the target *validation* set, and three cells are named as in the paper:

* ``"optimal"``: the best validation accuracy (ties go to the smaller lr_mult x epoch_mult);
* ``"local"``: the smallest hyperparameters (lowest lr_mult x epoch_mult, then lowest LR);
* ``"semi-local"``: the largest hyperparameters (highest lr_mult x epoch_mult, then highest LR).

The paper selects ensembles and soups separately, since soups need linearly connected members and prefer smaller
cycle LRs than ensembles; `select_settings` works on either kind of scores.

Deliberate simplification: "local" and "semi-local" are the corners of the grid rather than judged from each
cell's behaviour; a chapter checks their behaviour (interpolation barrier, member accuracy) afterwards.
"""

from __future__ import annotations

__all__ = ["grid_corners", "select_settings"]


def grid_corners(cells) -> dict:
    """``{"local", "semi-local"}`` -> the (lr_mult, epoch_mult) corner cells of `cells` (see module doc)."""
    cells = list(cells)
    if not cells:
        raise ValueError("cells is empty; pass the (lr_mult, epoch_mult) cells of the grid")
    return {"local": min(cells, key=lambda c: (c[0] * c[1], c[0])),
            "semi-local": max(cells, key=lambda c: (c[0] * c[1], c[0]))}


def select_settings(results: dict) -> dict:
    """``{"local", "optimal", "semi-local"}`` -> (lr_mult, epoch_mult) from ``{cell: {"val_acc": ...}}`` scores (a
    grid of ensembles or of soups; see module doc)."""
    if not results:
        raise ValueError("results is empty; score the grid's cells first")
    cells = list(results)
    corners = grid_corners(cells)
    return {"local": corners["local"],
            "optimal": max(cells, key=lambda c: (results[c]["val_acc"], -c[0] * c[1])),
            "semi-local": corners["semi-local"]}
