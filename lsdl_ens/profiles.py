"""Run profiles: one table fixing data sizes, model sizes, epochs and ensemble sizes.

``LSDL_PROFILE=smoke|cpu|gpu`` chooses one (default: ``gpu`` when CUDA is available, else ``cpu``).

- ``smoke``: every notebook runs in about a minute on 2 CPU cores (CI); numbers are meaningless.
- ``cpu``: real, meaningful results on a 2-core laptop; a chapter takes minutes to about half an hour on a cold
  cache (the transfer chapter, the longest, took 1,388 s on 2 cores); re-runs load the cached models.
- ``gpu``: full CIFAR-10 with paper-like recipes scaled down; each chapter within about 30 minutes on one GPU.

The chapters read every size from the profile, so one notebook serves all three.

Choosing ``gpu`` through ``LSDL_PROFILE`` (or ``lsdl-ens figures --profile gpu``) on a machine without CUDA stops
with an error instead of running the GPU workload on the CPU for days; ``LSDL_ALLOW_GPU_PROFILE_ON_CPU=1`` (CLI:
``--allow-cpu``) overrides. `announce()` prints the profile and the device at the start of a chapter.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

from . import checks


@dataclass(frozen=True)
class Profile:
    """Sizes of one run profile (see the table `PROFILES`)."""

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
    n_alphas: int            # points on linear paths
    n_curve_points: int      # points along trained curves
    plane_grid: int          # grid side for loss planes
    curve_epochs: int
    n_bn_batches: int | None  # batches used by update_bn (None: a full pass)
    # transfer learning (source classes -> target classes)
    n_source: int | None
    n_target: int
    pretrain_epochs: int
    finetune_epochs: int
    finetune_lr: float


#            name      n_train n_val n_test model       bs  ep   lr    wd    ens alph crv grid cep  bn   nsrc   ntgt pep fep  flr
_TABLE = [
    Profile("smoke",   1_000,   500, 1_000, "vgg",      128,  2, 0.05, 5e-4,  2,  5,  5,  5,  1,   4,  1_000,  200,  2,  1, 0.01),
    Profile("cpu",    10_000, 2_000, 5_000, "vgg",      128, 12, 0.05, 5e-4,  5, 31, 61, 21, 10, 16, 10_000, 1_000, 10,  6, 0.01),
    Profile("gpu",      None, 5_000,  None, "resnet20", 128, 60, 0.1,  5e-4,  5, 31, 61, 21, 40, None,  None, 2_500, 40, 20, 0.01),
]
PROFILES: dict[str, Profile] = {p.name: p for p in _TABLE}


def default_profile_name() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | Profile | None = None, **overrides) -> Profile:
    """The profile `name` (default ``$LSDL_PROFILE``, else gpu with CUDA, else cpu), with optional overrides.

    A `Profile` passed as `name` is returned as it is (with the overrides applied), so every function taking
    ``profile: Profile | str | None`` resolves it with one call.

    Raises:
        ValueError: unknown profile name (the message lists the valid ones) or unknown override field, or an
            override out of range (sizes and epochs >= 1 or >= 0, learning rates > 0, ...).
        TypeError: ``name`` is not a str/Profile, or an override of the wrong type (``batch_size=2.5``, ``lr="0.1"``).
    """
    fields = {f.name for f in dataclasses.fields(Profile)}
    bad = sorted(set(overrides) - fields)
    if bad:
        raise ValueError(f"unknown profile field(s) {bad}; valid fields: {sorted(fields)}")
    overrides = {k: _check_field(k, v) for k, v in overrides.items()}
    if isinstance(name, Profile):
        return dataclasses.replace(name, **overrides) if overrides else name
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
    return dataclasses.replace(PROFILES[name], **overrides)


# Allowed values of each override: "pos" int >= 1, "nonneg" int >= 0, "lr" float > 0, "wd" float >= 0, with
# "|None" where the table itself uses None (all examples / a full pass).
_FIELD_KINDS = {
    "n_train": "pos|None", "n_val": "pos", "n_test": "pos|None", "batch_size": "pos", "epochs": "pos", "lr": "lr",
    "weight_decay": "wd", "ensemble_size": "pos", "n_alphas": "pos", "n_curve_points": "pos", "plane_grid": "pos",
    "curve_epochs": "nonneg", "n_bn_batches": "pos|None", "n_source": "pos|None", "n_target": "pos",
    "pretrain_epochs": "nonneg", "finetune_epochs": "nonneg", "finetune_lr": "lr",
}


def _check_field(field: str, value):
    """A profile override, checked against the field's kind (see `_FIELD_KINDS`)."""
    if field == "name":
        if not isinstance(value, str):
            raise TypeError(f"name must be a str, got {value!r}")
        return value
    if field == "model":
        from .models import MODEL_NAMES  # core -> core
        if not isinstance(value, str) or value not in MODEL_NAMES:
            raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {value!r}")
        return value
    kind = _FIELD_KINDS[field]
    if value is None and kind.endswith("|None"):
        return None
    kind = kind.split("|")[0]
    if kind == "pos":
        return checks.positive_int(field, value)
    if kind == "nonneg":
        return checks.nonneg_int(field, value)
    if kind == "lr":
        return checks.positive_float(field, value, "pass a positive learning rate such as 0.05")
    return checks.nonneg_float(field, value)


ALLOW_GPU_PROFILE_ON_CPU = "LSDL_ALLOW_GPU_PROFILE_ON_CPU"


def check_profile_device(profile: str | Profile) -> None:
    """Raise if the ``gpu`` profile was chosen but training would run on the CPU (no CUDA, no other
    ``LSDL_DEVICE``), unless ``LSDL_ALLOW_GPU_PROFILE_ON_CPU=1``.

    Raises:
        RuntimeError: naming the profile, the device and both ways out.
    """
    from .train import default_device

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
    from .train import default_device

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
    """The profile table as Markdown (for the book's intro and `lsdl-ens profiles`)."""
    fields = [f.name for f in dataclasses.fields(Profile)]
    rows = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for p in _TABLE:
        rows.append("| " + " | ".join(str(getattr(p, f)) for f in fields) + " |")
    return "\n".join(rows)
