"""Run profiles: one table fixing data sizes, model sizes, epochs and ensemble sizes.

``LSDL_PROFILE=smoke|cpu|gpu`` chooses one (default: ``gpu`` when CUDA is available, else ``cpu``).

- ``smoke``: every notebook runs in about a minute on 2 CPU cores (CI); numbers are meaningless.
- ``cpu``: real, meaningful results on a 2-core laptop; a chapter takes 8 to 29 minutes on a cold cache (the
  whole book 7,992 s on 2 cores, chapter 04 the longest at 1,714 s) and 12 s to 7.5 minutes once its models are
  cached.
- ``gpu``: full CIFAR-10 with paper-like recipes scaled down; each chapter within about 30 minutes on one GPU.

Every size any chapter or experiment uses lives here, in `table`: the standard run's fields (``p.epochs``) and one
frozen section per chapter or method family (``p.swa.swa_start``, ``p.landscape.plane_grid``; `sections`), so one
notebook serves all three profiles. ``get_profile("cpu", epochs=6, swag={"epochs": 3})`` overrides any of them;
functions take the resolved `Profile` and pass it down (a profile is never looked up again by name). The profile
also says how recipes train (``p.precision``: ``"fp32"`` or ``"bf16"`` autocast, ``p.channels_last``): ``smoke``
fp32, ``cpu`` and ``gpu`` bf16 with channels_last. ``p.data_source`` is ``"cifar10"`` in all three;
``get_profile("smoke", data_source="synthetic")`` runs the same code on synthetic blob images instead
(`lsdl_ens.data.synthetic`: seconds, no data set needed, cached under keys of their own).

Choosing ``gpu`` through ``LSDL_PROFILE`` (or ``lsdl-ens figures --profile gpu``) on a machine without CUDA stops
with an error instead of running the GPU workload on the CPU for days; ``LSDL_ALLOW_GPU_PROFILE_ON_CPU=1`` (CLI:
``--allow-cpu``) overrides. `announce()` prints the profile and the device at the start of a chapter.
"""

from .base import ALLOW_GPU_PROFILE_ON_CPU, Profile, check_profile_device, default_profile_name, section_names
from .lookup import announce, get_profile, profile_table
from .sections import SECTIONS
from .table import BENCHMARK_CORRUPTIONS, PROFILES, REFERENCE_TEMPERATURE

__all__ = ["ALLOW_GPU_PROFILE_ON_CPU", "BENCHMARK_CORRUPTIONS", "PROFILES", "Profile", "REFERENCE_TEMPERATURE",
           "SECTIONS", "announce", "check_profile_device", "default_profile_name", "get_profile", "profile_table",
           "section_names"]
