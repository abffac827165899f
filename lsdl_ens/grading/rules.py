"""What each assignment allows: modules refused in the grading sandbox because they solve the task.

`lsdl_ens` (the course library, which holds every reference answer) is refused everywhere. The intro of each
assignment notebook states the same rules to the students; `tests/test_grading.py` checks that it does.
"""

from __future__ import annotations

ALWAYS_REFUSED = ("lsdl_ens",)
REFUSED = {
    "metrics": ("torchmetrics",),
    "weight_averaging": ("torch.optim.swa_utils", "torchmetrics"),
    "mode_connectivity": ("torch.optim.swa_utils",),
    "ensembles": ("torchmetrics",),
    "transfer_ensembles": ("torch.optim.swa_utils", "torchmetrics"),
    "basins": ("torch.optim.swa_utils",),
    "optimizers_tta": ("torch.optim.swa_utils",),
}


def refused_modules(assignment: str) -> list[str]:
    """Modules the student's code may not import in `assignment` (unknown assignments: only `lsdl_ens`)."""
    return [*ALWAYS_REFUSED, *REFUSED.get(assignment, ())]


def rules_text(assignment: str) -> str:
    """The sentence the assignment's intro uses to state its rules."""
    names = ", ".join(f"`{m}`" for m in refused_modules(assignment))
    return (f"Allowed: `torch`, `numpy`, `math` and the Python standard library. Refused (they solve the task, so "
            f"using them fails at grading time): {names}.")
