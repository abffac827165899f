"""`get_profile`, `announce` and `profile_table`: the profiles of `table` looked up by name, with overrides (see the
package docstring of `lsdl_ens.profiles`)."""

from __future__ import annotations

import dataclasses
import os

import torch

from . import sections
from .base import Profile, check_profile_device, default_profile_name, section_names
from .table import PROFILES

__all__ = ["get_profile", "announce", "profile_table"]


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
