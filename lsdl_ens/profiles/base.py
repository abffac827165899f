"""`Profile` and the profile checks (see the package docstring of `lsdl_ens.profiles`; `get_profile` is in
`lookup`)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

from . import sections


@dataclass(frozen=True)
class Profile:
    """Every size of one run profile: the standard run's fields and one section per chapter or method family.

    Built and checked at once: a size out of range raises ``ValueError`` naming the field (``batch_size``,
    ``swag.epochs``, ...), a value of the wrong kind ``TypeError``. Frozen and hashable. The values of the three
    profiles are in `lsdl_ens.profiles.table`; `get_profile` returns one of them with overrides.
    """

    name: str
    n_train: int | None      # training images drawn class-balanced from the 45k train split (None: all 45k)
    n_val: int               # validation images held out from CIFAR-10 train
    n_test: int | None       # test images (None: all 10k)
    model: str               # `lsdl_ens.models.build_model` name
    batch_size: int
    epochs: int              # one standard training budget ("1B")
    lr: float                # peak learning rate of the standard SGD recipe
    weight_decay: float
    ensemble_size: int       # members of deep ensembles / snapshots per method
    curve_epochs: int        # epochs of a trained mode-connecting curve
    n_bn_batches: int | None  # batches used by update_bn (None: a full pass)
    # transfer learning (source classes -> target classes)
    n_source: int | None
    n_target: int
    pretrain_epochs: int
    finetune_epochs: int
    finetune_lr: float
    # how every recipe trains (`lsdl_ens.train.fit`): "fp32" or "bf16" autocast, channels_last memory format
    precision: str
    channels_last: bool
    # augmentation of the standard CIFAR-10 run (`standard_recipe`): True (crop+flip), False, or a strength of
    # `lsdl_ens.data.AUGMENT_STRENGTHS`; the transfer recipes keep crop+flip
    augment: bool | str
    # seeds behind every claim that training decides (`lsdl_ens.claims.seed_estimate` needs at least 3)
    claim_seeds: int
    # the images: "cifar10" (the CIFAR-10 copy found) or "synthetic" (blob images, `lsdl_ens.data.synthetic`)
    data_source: str
    # sections: the sizes of one chapter or method family each (`lsdl_ens.profiles.sections`)
    landscape: sections.LandscapeSizes
    swa: sections.SWASizes
    averaging: sections.AveragingSizes
    sweep: sections.SweepSizes
    cyclic: sections.CyclicSizes
    csgld: sections.CSGLDSizes
    swag: sections.SWAGSizes
    kfac: sections.KFACSizes
    spro: sections.SPROSizes
    transfer: sections.TransferSizes
    optim: sections.OptimizerSizes
    optim_plane: sections.OptimizerPlaneSizes
    clip: sections.CLIPSizes
    tta: sections.TTASizes

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in sections.SECTIONS:
                cls = sections.SECTIONS[f.name]
                if not isinstance(value, cls):
                    raise TypeError(f"profile section {f.name} must be a {cls.__name__}, got {value!r}")
            else:
                _check_field(f.name, value)


#: values of `Profile.data_source`
DATA_SOURCES = ("cifar10", "synthetic")


def section_names() -> tuple[str, ...]:
    """The sections of a `Profile`, in order."""
    return tuple(f.name for f in dataclasses.fields(Profile) if f.name in sections.SECTIONS)


def default_profile_name() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


# Allowed values of each top-level field: "pos" int >= 1, "nonneg" int >= 0, "lr" float > 0, "wd" float >= 0, "bool",
# "precision" ("fp32" | "bf16"), with "|None" where the table itself uses None (all examples / a full pass).
_FIELD_KINDS = {
    "n_train": "pos|None", "n_val": "pos", "n_test": "pos|None", "batch_size": "pos", "epochs": "pos", "lr": "lr",
    "weight_decay": "wd", "ensemble_size": "pos", "curve_epochs": "nonneg", "n_bn_batches": "pos|None",
    "n_source": "pos|None", "n_target": "pos", "pretrain_epochs": "nonneg", "finetune_epochs": "nonneg",
    "finetune_lr": "lr", "precision": "precision", "channels_last": "bool",
    "claim_seeds": "pos",
}


def _check_field(field: str, value):
    """A top-level profile field, checked against the field's kind (see `_FIELD_KINDS`)."""
    if field == "name":
        if not isinstance(value, str):
            raise TypeError(f"name must be a str, got {value!r}")
        return value
    if field == "data_source":
        if value not in DATA_SOURCES:
            raise ValueError(f"data_source must be one of {', '.join(DATA_SOURCES)}, got {value!r}")
        return value
    if field == "augment":
        from ..data import AUGMENT_STRENGTHS  # core -> core
        if not isinstance(value, bool) and value not in AUGMENT_STRENGTHS:
            raise ValueError(f"augment must be True, False or one of {', '.join(AUGMENT_STRENGTHS)}, got {value!r}")
        return value
    if field == "claim_seeds":
        sections.check_value(field, "pos", value)
        if value < 3:
            raise ValueError(f"claim_seeds must be at least 3 (a seed interval needs 3 values), got {value}")
        return value
    if field == "model":
        from ..models import MODEL_NAMES  # core -> core
        if not isinstance(value, str) or value not in MODEL_NAMES:
            raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {value!r}")
        return value
    return sections.check_value(field, _FIELD_KINDS[field], value)


ALLOW_GPU_PROFILE_ON_CPU = "LSDL_ALLOW_GPU_PROFILE_ON_CPU"


def check_profile_device(profile: str | Profile) -> None:
    """Raise if the ``gpu`` profile was chosen but training would run on the CPU (no CUDA, no other
    ``LSDL_DEVICE``), unless ``LSDL_ALLOW_GPU_PROFILE_ON_CPU=1``.

    Raises:
        RuntimeError: naming the profile, the device and both ways out.
    """
    from ..train import default_device

    name = profile.name if isinstance(profile, Profile) else profile
    if name != "gpu" or os.environ.get(ALLOW_GPU_PROFILE_ON_CPU) == "1" or default_device().type != "cpu":
        return
    raise RuntimeError(
        f"the gpu profile was chosen (LSDL_PROFILE or --profile) but no CUDA device is available "
        f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); it would train full CIFAR-10 on the CPU "
        f"for days. Use the cpu profile (LSDL_PROFILE=cpu), or set {ALLOW_GPU_PROFILE_ON_CPU}=1 "
        f"(lsdl-ens figures --allow-cpu) to run it on the CPU anyway.")
