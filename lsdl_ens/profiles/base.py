"""`Profile`, `get_profile` and the profile checks (see the package docstring of `lsdl_ens.profiles`)."""

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


def section_names() -> tuple[str, ...]:
    """The sections of a `Profile`, in order."""
    return tuple(f.name for f in dataclasses.fields(Profile) if f.name in sections.SECTIONS)


def default_profile_name() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | Profile | None = None, **overrides) -> Profile:
    """The profile `name` (default ``$LSDL_PROFILE``, else gpu with CUDA, else cpu), with optional overrides.

    A `Profile` passed as `name` is returned as it is (with the overrides applied), so every function taking
    ``profile: Profile | str | None`` resolves it with one call; resolve once and pass the object down.

    Overrides name a top-level field (``epochs=3``) or a section with a dict of its fields
    (``swag={"epochs": 3}``: the other fields of the section keep their values) or a whole section object.

    Raises:
        ValueError: unknown profile name (the message lists the valid ones), unknown field or section field, or a
            value out of range (sizes and epochs >= 1 or >= 0, learning rates > 0, ...), naming the field
            (``swag.epochs must be an int >= 1, got -2``).
        TypeError: ``name`` is not a str/Profile, or an override of the wrong type (``batch_size=2.5``, ``lr="0.1"``).
    """
    from .table import PROFILES

    if isinstance(name, Profile):
        base = name
    else:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a profile name ({', '.join(PROFILES)}), a Profile or None; got "
                            f"{type(name).__name__}")
        from_env = not name
        name = name or os.environ.get("LSDL_PROFILE") or default_profile_name()
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r} (from the name argument or LSDL_PROFILE); "
                             f"valid profiles: {', '.join(PROFILES)}")
        if from_env:  # the run's choice (an explicit name may just look the table up)
            check_profile_device(name)
        base = PROFILES[name]
    if not overrides:
        return base
    fields = {f.name for f in dataclasses.fields(Profile)}
    bad = sorted(set(overrides) - fields)
    if bad:
        raise ValueError(f"unknown profile field(s) {bad}; valid fields: {sorted(fields)}")
    changes = {k: _section_override(getattr(base, k), k, v) if k in sections.SECTIONS else v
               for k, v in overrides.items()}
    return dataclasses.replace(base, **changes)


def _section_override(current, name: str, value):
    """The section `name` with the override `value` (a dict of some of its fields, or a whole section)."""
    if isinstance(value, sections.SECTIONS[name]):
        return value
    if not isinstance(value, dict):
        raise TypeError(f"the override of profile section {name} must be a dict of its fields (e.g. "
                        f"{name}={{...}}) or a {sections.SECTIONS[name].__name__}; got {value!r}")
    valid = {f.name for f in dataclasses.fields(current)}
    bad = sorted(set(value) - valid)
    if bad:
        raise ValueError(f"unknown field(s) {[f'{name}.{b}' for b in bad]} of profile section {name}; "
                         f"valid: {sorted(valid)}")
    return dataclasses.replace(current, **value)


# Allowed values of each top-level field: "pos" int >= 1, "nonneg" int >= 0, "lr" float > 0, "wd" float >= 0, with
# "|None" where the table itself uses None (all examples / a full pass).
_FIELD_KINDS = {
    "n_train": "pos|None", "n_val": "pos", "n_test": "pos|None", "batch_size": "pos", "epochs": "pos", "lr": "lr",
    "weight_decay": "wd", "ensemble_size": "pos", "curve_epochs": "nonneg", "n_bn_batches": "pos|None",
    "n_source": "pos|None", "n_target": "pos", "pretrain_epochs": "nonneg", "finetune_epochs": "nonneg",
    "finetune_lr": "lr",
}


def _check_field(field: str, value):
    """A top-level profile field, checked against the field's kind (see `_FIELD_KINDS`)."""
    if field == "name":
        if not isinstance(value, str):
            raise TypeError(f"name must be a str, got {value!r}")
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


def announce(profile: str | Profile | None = None) -> Profile:
    """Print the run profile and the device, as the first cell of every chapter does; returns the profile.

    Raises:
        RuntimeError: the gpu profile without CUDA (see `check_profile_device`).
    """
    from ..train import default_device

    p = get_profile(profile)
    check_profile_device(p)
    device = default_device()
    where = (f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
             else f"{device} ({torch.get_num_threads()} CPU thread{'s' * (torch.get_num_threads() != 1)})")
    images = "all" if p.n_train is None else f"{p.n_train:,}"
    print(f"Profile {p.name}: {images} training images, {p.model}, {p.epochs} epochs; device {where}; "
          f"torch {torch.__version__.split('+')[0]}")
    return p


def profile_table() -> str:
    """Every size of the three profiles as Markdown tables (for the book's intro and `lsdl-ens profiles`): the
    standard run's fields, then one table per section (rows ``section.field``, one column per profile)."""
    from .table import PROFILES

    profiles = list(PROFILES.values())
    head = "| field | " + " | ".join(p.name for p in profiles) + " |\n|---|" + "---|" * len(profiles)
    top = [f.name for f in dataclasses.fields(Profile) if f.name not in sections.SECTIONS and f.name != "name"]
    rows = [head] + [f"| {f} | " + " | ".join(_show(getattr(p, f)) for p in profiles) + " |" for f in top]
    for sec in section_names():
        doc = " ".join((type(getattr(profiles[0], sec)).__doc__ or "").split())
        rows += ["", f"**{sec}**: {doc}", "", head]
        for f in dataclasses.fields(getattr(profiles[0], sec)):
            rows.append(f"| {sec}.{f.name} | " + " | ".join(_show(getattr(getattr(p, sec), f.name)) for p in profiles)
                        + " |")
    return "\n".join(rows)


def _show(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return "all" if value is None else str(value)
