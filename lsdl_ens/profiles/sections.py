"""The per-chapter and per-family sections of a run profile: frozen, typed, checked when built.

Each section is a frozen dataclass whose fields carry their allowed values (``metadata["kind"]``); building one
with a value out of range raises a ``ValueError`` (``TypeError`` for a wrong kind) naming the field as
``<section>.<field>``, e.g. ``swag.epochs must be an int >= 1, got -2``. Tuples (not lists) keep every section,
and so every `Profile`, hashable: in-memory caches may be keyed by the profile object itself.

The values for the ``smoke``, ``cpu`` and ``gpu`` profiles are in `lsdl_ens.profiles.table`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from .. import checks

__all__ = ["Section", "SWASizes", "CyclicSizes", "CSGLDSizes", "SWAGSizes", "KFACSizes", "SPROSizes",
           "LandscapeSizes", "AveragingSizes", "SweepSizes", "TransferSizes", "OptimizerSizes", "OptimizerPlaneSizes",
           "CLIPSizes", "TTASizes", "SECTIONS", "check_value"]


def _f(kind: str, default=dataclasses.MISSING):
    return field(default=default, metadata={"kind": kind})


def check_value(name: str, kind: str, value):
    """``value`` checked against ``kind`` and returned (tuples for sequences). Kinds: ``pos`` (int >= 1),
    ``nonneg`` (int >= 0), ``lr`` (number > 0), ``wd`` (number >= 0), ``frac`` (number in (0, 1]), ``str``,
    ``bool``, ``precision`` (one of `lsdl_ens.checks.PRECISIONS`);
    ``tuple:<kind>`` a non-empty sequence of that kind; a ``|None`` suffix also allows None."""
    if kind.endswith("|None"):
        if value is None:
            return None
        kind = kind[:-5]
    if kind.startswith("tuple:"):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
            raise TypeError(f"{name} must be a non-empty list or tuple, got {value!r}")
        return tuple(check_value(f"{name}[{i}]", kind[6:], v) for i, v in enumerate(value))
    if kind == "pos":
        checks.positive_int(name, value)
    elif kind == "nonneg":
        checks.nonneg_int(name, value)
    elif kind == "lr":
        checks.positive_float(name, value, "pass a positive value such as 0.05")
    elif kind == "wd":
        checks.nonneg_float(name, value)
    elif kind == "frac":
        checks.number(name, value, low=0.0, high=1.0, low_open=True)
    elif kind == "bool":
        checks.flag(name, value)
    elif kind == "precision":
        checks.one_of(name, value, checks.PRECISIONS)
    elif kind == "str":
        if not isinstance(value, str) or not value:
            raise TypeError(f"{name} must be a non-empty str, got {value!r}")
    else:
        raise AssertionError(f"unknown field kind {kind!r}")
    return value  # as given (1 stays 1, not 1.0), so recipes built from it keep their cache keys


class Section:
    """Base of the sections: checks (and normalises) every field when the section is built."""

    section: ClassVar[str] = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = check_value(f"{self.section}.{f.name}", f.metadata["kind"], getattr(self, f.name))
            object.__setattr__(self, f.name, value)


@dataclass(frozen=True)
class SWASizes(Section):
    """SWA (chapter 03): ``swa_start`` the 1-based epoch of the first averaged iterate (about 0.75 of one budget,
    as the paper's 161 of 200 epochs) and ``swa_lr`` the constant LR of the averaging phase; ``cyclic_lr`` the
    alpha_1 of the cyclical-LR run (one cycle per epoch from alpha_1 down to alpha_2 = ``swa_lr``)."""
    section: ClassVar[str] = "swa"
    swa_start: int = _f("pos")
    swa_lr: float = _f("lr")
    cyclic_lr: float = _f("lr")


@dataclass(frozen=True)
class AveragingSizes(Section):
    """Landscape evaluations of the weight-averaging chapter (03): plane grid side, random rays, distances per ray,
    evaluation images, points on the SGD-SWA line, soup pairs for the angle plot, WiSE-FT mixing weights, the
    largest distance along a ray (``ray_distance``, in parameter-space units) and the epochs of the learned soups.
    The claims need at least 3 rays (an interval over rays) and 3 pairs (a correlation)."""
    section: ClassVar[str] = "averaging"
    grid: int = _f("pos")
    rays: int = _f("pos")
    n_dist: int = _f("pos")
    n_eval: int = _f("pos")
    line: int = _f("pos")
    n_pairs: int = _f("pos")
    alphas: int = _f("pos")
    ray_distance: float = _f("lr")
    learned_epochs: int = _f("pos")


@dataclass(frozen=True)
class SweepSizes(Section):
    """The fine-tuning sweep of the model-soups section: a grid of ``lrs`` x ``n_seeds`` seeds."""
    section: ClassVar[str] = "sweep"
    lrs: tuple = _f("tuple:lr")
    n_seeds: int = _f("pos")


@dataclass(frozen=True)
class CyclicSizes(Section):
    """Snapshot runs (chapter 04): SSE cycles per budget B and peak LR as a multiple of the standard LR (2x, as
    Huang et al.); FGE cycle length as a fraction of B and lr_1, lr_2 as fractions of the standard LR (Garipov et
    al.'s VGG16: pre-training 0.05, lr_1 1e-2, lr_2 5e-4); checkpoints of the standard run every ``every_epochs``;
    ``table_budgets``: the budgets of the equal-budget error table (Ind / SSE / FGE; Garipov et al. use 1, 2, 3 B;
    each needs at most ``ensemble_size`` independent networks)."""
    section: ClassVar[str] = "cyclic"
    sse_cycles: int = _f("pos")
    sse_lr_factor: float = _f("lr")
    fge_cycle: float = _f("frac")
    fge_lr_1: float = _f("lr")
    fge_lr_2: float = _f("lr")
    every_epochs: int = _f("pos")
    table_budgets: tuple = _f("tuple:pos")


@dataclass(frozen=True)
class CSGLDSizes(Section):
    """cSGLD (chapter 04): cycles per budget, alpha_0 as a multiple of the standard LR (no momentum, so about
    1/(1 - 0.9) times larger), the exploration fraction beta, samples per cycle, the temperature, and a second,
    warmer temperature at which the Langevin noise matters (shown beside the first)."""
    section: ClassVar[str] = "csgld"
    cycles: int = _f("pos")
    lr_factor: float = _f("lr")
    beta: float = _f("frac")
    samples_per_cycle: int = _f("pos")
    temperature: float = _f("lr")
    warm_temperature: float = _f("lr")


@dataclass(frozen=True)
class SWAGSizes(Section):
    """SWAG (chapter 05): epochs of the run on the SWA schedule (2 budgets: the chapter compares methods at 2B; the
    paper's runs are 1.5B), ``swa_start`` / ``swa_lr`` of that schedule, rank K, BMA samples, and the iterates
    collected per epoch after ``swa_start`` (the reference: 1; more when the run is too short to collect K)."""
    section: ClassVar[str] = "swag"
    epochs: int = _f("pos")
    swa_start: int = _f("pos")
    swa_lr: float = _f("lr")
    max_rank: int = _f("pos")
    n_samples: int = _f("pos")
    collections_per_epoch: int = _f("pos")


@dataclass(frozen=True)
class KFACSizes(Section):
    """KFAC-Laplace (chapter 05): MC samples of the all-weights predictive (the last-layer one is the deterministic
    probit GLM predictive), samples per grid point when tuning the all-weights prior precision on the validation
    split, and that grid (multiples of the MAP-consistent wd * N)."""
    section: ClassVar[str] = "kfac"
    n_samples: int = _f("pos")
    tune_samples: int = _f("pos")
    grid: tuple = _f("tuple:lr")


@dataclass(frozen=True)
class SPROSizes(Section):
    """SPRO simplices (chapter 05): vertices in total (v_0 included), epochs per new vertex, simplex points per
    batch, LR and volume regulariser of the vertex training; points per ensemble and barycentric grid resolution."""
    section: ClassVar[str] = "spro"
    n_vertices: int = _f("pos")
    epochs: int = _f("pos")
    n_samples: int = _f("pos")
    lr: float = _f("lr")
    lam: float = _f("wd")
    n_points: int = _f("pos")
    grid: int = _f("pos")


@dataclass(frozen=True)
class LandscapeSizes(Section):
    """Mode connectivity (chapter 02): test and training images per landscape point, points on segments and
    transfer paths, t's along each trained curve, spawn epochs k of the second child and points per spawn path,
    the planes' grid side, epochs of the random-init target models, target test images for CKA, epochs of the
    mode-connecting triangle's trained vertex and the steps per edge of its barycentric evaluation grid, and the
    corruptions (at ``domain_severity``) that make further target domains for the feature-distance table."""
    section: ClassVar[str] = "landscape"
    n_eval: int = _f("pos")
    n_train_eval: int = _f("pos")
    n_alphas: int = _f("pos")
    n_curve_points: int = _f("pos")
    spawn_epochs: tuple = _f("tuple:nonneg")
    n_spawn_alphas: int = _f("pos")
    plane_grid: int = _f("pos")
    ri_epochs: int = _f("pos")
    n_similarity: int = _f("pos")
    simplex_epochs: int = _f("pos")
    simplex_grid: int = _f("pos")
    domains: tuple = _f("tuple:str")
    domain_severity: int = _f("pos")


@dataclass(frozen=True)
class TransferSizes(Section):
    """Transfer ensembles (chapter 06): cycle max LR and length as multiples of the fine-tuning LR and epochs (the
    reference grids are 0.25-4 and 0.5-4), test images per corruption and severity, points per interpolation path,
    the plane's grid side, test images of the landscape evaluations, Global-DE members, and the fine-tuning epochs
    and LR of every member (None: the profile's ``finetune_epochs`` / ``finetune_lr``; the cpu profile fine-tunes
    longer so that model 1 is converged, as the paper assumes)."""
    section: ClassVar[str] = "transfer"
    lr_mults: tuple = _f("tuple:lr")
    epoch_mults: tuple = _f("tuple:lr")
    n_ood: int = _f("pos")
    n_alphas: int = _f("pos")
    plane_grid: int = _f("pos")
    n_landscape: int = _f("pos")
    n_global: int = _f("pos")
    finetune_epochs: int | None = _f("pos|None", None)
    finetune_lr: float | None = _f("lr|None", None)


@dataclass(frozen=True)
class OptimizerSizes(Section):
    """The matched-compute optimizer comparison (chapter 07): training images (a class-balanced subset of the
    profile's training split; None: all of it) and epochs."""
    section: ClassVar[str] = "optim"
    n_train: int | None = _f("pos|None")
    epochs: int = _f("pos")


@dataclass(frozen=True)
class OptimizerPlaneSizes(Section):
    """The Lookahead plane (chapter 07): grid points per axis and test images."""
    section: ClassVar[str] = "optim_plane"
    grid: int = _f("pos")
    n_eval: int = _f("pos")


@dataclass(frozen=True)
class CLIPSizes(Section):
    """The tiny CLIP of chapter 07: epochs of contrastive training on the profile's training split."""
    section: ClassVar[str] = "clip"
    epochs: int = _f("pos")


@dataclass(frozen=True)
class TTASizes(Section):
    """Test-time adaptation (chapter 07): test images per corruption, the adaptation batch, WATT's L
    (``n_iters``) and M (``n_rounds``), TENT's steps per batch, steps per template in the averaging-strategy
    comparison, and the corruptions of the per-corruption table (severity 5)."""
    section: ClassVar[str] = "tta"
    n_images: int = _f("pos")
    batch_size: int = _f("pos")
    n_iters: int = _f("pos")
    n_rounds: int = _f("pos")
    tent_steps: int = _f("pos")
    strategy_steps: int = _f("pos")
    corruptions: tuple = _f("tuple:str")


#: section name (the `Profile` field) -> its class
SECTIONS = {cls.section: cls for cls in (LandscapeSizes, SWASizes, AveragingSizes, SweepSizes, CyclicSizes,
                                         CSGLDSizes, SWAGSizes, KFACSizes, SPROSizes, TransferSizes, OptimizerSizes,
                                         OptimizerPlaneSizes, CLIPSizes, TTASizes)}
