"""Loss landscapes and representation similarity: linear paths and barriers, mode-connecting curves, planes
through three networks, and per-stage CKA / feature distances.

Every evaluation of a landscape point recomputes BatchNorm statistics on training batches when the model has BN
(``lsdl_ens.bn.update_bn``); pass ``bn_data`` for BN models.
"""

from .curves import CurveModel, bezier_coeffs, curve_lr, evaluate_curve, polychain_coeffs, train_curve
from .linear import barrier, linear_path
from .plane import PlaneBasis, plane_basis, plane_grid, plane_point, project
from .similarity import feature_l2, linear_cka, stage_similarity
from .trajectory_plane import trajectory_plane

__all__ = [
    "linear_path", "barrier",
    "bezier_coeffs", "polychain_coeffs", "CurveModel", "curve_lr", "train_curve", "evaluate_curve",
    "PlaneBasis", "plane_basis", "project", "plane_point", "plane_grid", "trajectory_plane",
    "linear_cka", "feature_l2", "stage_similarity",
]
