"""Chapter 06's claims, measured with their noise: `claims(results, profile)`.

Training decides every claim of the chapter, so each is a spread over independent runs: the chapter's replicates
(`lsdl_ens.experiments.transfer_replicates`: ``profile.claim_seeds`` repeats of every compared method, each with its
own pre-trainings and fine-tuning seeds, at the cells chosen on the first replicate's validation scores). A claim
takes one value per replicate (a difference of test accuracy between two ensembles or soups of that replicate, of
mean accuracy over every corruption and severity, of member diversity, or the largest test-error barrier along
that replicate's SSE chain) and reports their mean with the 95% Student-t interval (`lsdl_ens.claims.seed_estimate`;
differences are paired by replicate).

The paper's side is the ordering stated on the slides of the authors' talk ("To Stay or Not to Stay in the
Pre-train Basin", Sadrtdinov, Pozdeev, Vetrov, Lobacheva, NeurIPS 2023; ResNet-50 with BYOL pre-training,
fine-tuned on CIFAR-100): the slides give the orderings, not the numbers behind them.
"""

from __future__ import annotations

from ..claims import Estimate, make_claim, seed_estimate
from ..profiles import Profile, get_profile

__all__ = ["claims", "TALK"]

TALK = 'Sadrtdinov et al., NeurIPS 2023, talk "To Stay or Not to Stay in the Pre-train Basin", slide'
_SETUP = "ResNet-50, CIFAR-100, BYOL pre-training"
_STAR = "Optimal StarSSE outperforms both optimal SSE and Local DE"
_SOUP = "Optimal StarSSE soup outperforms both optimal SSE soup and Local DE soup"


def _source(slide: str, setup: str = _SETUP) -> str:
    return f'{TALK} "{slide}"; {setup}'


def _replicates(results: dict, p: Profile) -> list:
    reps = results.get("replicates") if isinstance(results, dict) else None
    if not isinstance(reps, (list, tuple)) or len(reps) < p.claim_seeds:
        n = len(reps) if isinstance(reps, (list, tuple)) else 0
        raise ValueError(f"results must hold results['replicates'] with {p.claim_seeds} replicates "
                         f"(profile.claim_seeds), got {n}; pass lsdl_ens.experiments.transfer.results(profile)")
    return list(reps)


def claims(results: dict, profile: Profile | str | None = None) -> list:
    """The chapter's claims from `lsdl_ens.experiments.transfer.results` (see the module doc)."""
    p = get_profile(profile)
    reps = _replicates(results, p)

    def over_seeds(section: str, a: str, b: str | None = None, scale: float = 100.0) -> Estimate:
        return seed_estimate([scale * (m[section][a] - (m[section][b] if b is not None else 0.0)) for m in reps])

    def gap(a, b, section="accuracy"):
        return over_seeds(section, a, b)

    def claim(id, text, slide, estimate, *, paper, expect="greater", setup=_SETUP, tolerance=None, what=None,
              unit="points"):
        return make_claim(id, text, paper=paper, paper_source=_source(slide, setup), estimate=estimate,
                          expect=expect, tolerance=tolerance, unit=unit, what=what or "difference")

    ood_setup = "ResNet-50, CIFAR-100-C, BYOL pre-training"
    return [
        claim("global_vs_local_de", "Global DE beats Local DE of the same size",
              "Ensembles in transfer learning: Global DE", gap("Global DE", "Local DE, Global DE size"),
              paper="Global DE: diverse networks, higher quality"),
        claim("starsse_vs_sse", "Optimal StarSSE beats optimal SSE", "StarSSE results: ensembles",
              gap("StarSSE optimal", "SSE optimal"), paper=_STAR),
        claim("starsse_vs_local_de", "Optimal StarSSE beats Local DE", "StarSSE results: ensembles",
              gap("StarSSE optimal", "Local DE"), paper=_STAR),
        claim("sse_vs_local_de", "Optimal SSE is comparable to Local DE (within 1 point)", "SSE results",
              gap("SSE optimal", "Local DE"), expect="near", tolerance=1.0,
              paper="Optimal SSE: quality comparable to Local DE"),
        claim("semi_local_sse_degrades", "Semi-local SSE ensembles are worse than optimal SSE", "SSE results",
              gap("SSE optimal", "SSE semi-local"), paper="More semi-local SSE: low quality of ensembles"),
        claim("semi_local_starsse_vs_sse", "Semi-local StarSSE degrades less than semi-local SSE",
              "StarSSE results: ensembles", gap("StarSSE semi-local", "SSE semi-local"),
              paper="Semi-local StarSSE quality degrades less than semi-local SSE"),
        claim("semi_local_sse_barrier", "Semi-local SSE members lie in different basins (a test-error barrier)",
              "SSE analysis", over_seeds("barrier", "semi-local"), expect="greater",
              paper="accuracy drop in the middle, different basins", what="barrier"),
        claim("optimal_sse_no_barrier", "Optimal SSE members share a basin (no barrier above 1 point)",
              "SSE analysis", over_seeds("barrier", "optimal"), expect="near", tolerance=1.0,
              paper="no accuracy drop in the middle, same basin", what="barrier"),
        claim("starsse_diversity", "StarSSE members are more diverse than Local DE members",
              "StarSSE results: model soups", over_seeds("diversity", "StarSSE optimal", "Local DE", scale=1.0),
              paper="more diverse than Local DE", what="difference of diversity", unit=""),
        claim("soup_starsse_vs_sse", "The optimal StarSSE soup beats the optimal SSE soup",
              "StarSSE results: model soups", gap("StarSSE soup", "SSE soup"), paper=_SOUP),
        claim("soup_starsse_vs_local_de", "The optimal StarSSE soup beats the Local DE soup",
              "StarSSE results: model soups", gap("StarSSE soup", "Local DE soup"), paper=_SOUP),
        claim("ood_local_de_vs_starsse", "Under corruption, Local DE beats optimal StarSSE",
              "StarSSE results: OOD ensembles", gap("Local DE", "StarSSE optimal", "ood"), setup=ood_setup,
              paper="Optimal StarSSE and optimal SSE become inferior to Local DE"),
        claim("ood_local_de_vs_sse", "Under corruption, Local DE beats optimal SSE",
              "StarSSE results: OOD ensembles", gap("Local DE", "SSE optimal", "ood"), setup=ood_setup,
              paper="Optimal StarSSE and optimal SSE become inferior to Local DE"),
        claim("ood_soup_starsse_vs_sse", "Under corruption, the StarSSE soup beats the SSE soup",
              "StarSSE results: OOD soups", gap("StarSSE soup", "SSE soup", "ood"), setup=ood_setup,
              paper="Optimal StarSSE soup has the best OOD performance"),
        claim("ood_soup_starsse_vs_local_de", "Under corruption, the StarSSE soup beats the Local DE soup",
              "StarSSE results: OOD soups", gap("StarSSE soup", "Local DE soup", "ood"), setup=ood_setup,
              paper="Optimal StarSSE soup has the best OOD performance"),
    ]
