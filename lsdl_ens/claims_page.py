"""Each chapter's claims as a file, and the book's "What reproduces" page that gathers them.

A chapter shows its claims with ``claims_frame(claims)`` (a DataFrame, rendered as an HTML table), puts their
numbers into its text with ``glue_claims(claims)`` (myst-nb glue names ``<id>_ours``, ``<id>_paper``,
``<id>_verdict``, used as ``{glue:}`<id>_ours``` in markdown; ``{glue:text}`` would parse "+0.8" as a number)
and ends with ``write_claims("04", claims, book_dir)``, which writes ``book/claims/04.json``::

    {"chapter": "04", "claims": [{"id": ..., "claim": ..., "paper": ..., "paper_source": ..., "ours": ...,
                                  "uncertainty": [low, high], "verdict": ..., "reason": ..., "unit": ...}, ...]}

``build_reproduces_page(book_dir)`` reads every ``claims/NN.json`` and writes ``what_reproduces.md``: the number of
claims per verdict, then per chapter a table with one row per claim (claim, the paper's value and its source, ours
with its 95% interval, verdict and reason). ``lsdl-ens figures`` rebuilds the page after running the chapters;
without any claims file the page says that no claim has been measured yet, so the book builds either way.

Core module: imports only the standard library and ``lsdl_ens.claims``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .claims import VERDICTS, Claim

__all__ = ["claims_path", "write_claims", "read_claims", "claims_frame", "GluedText", "glue_claims",
           "reproduces_markdown", "build_reproduces_page"]

PAGE = "what_reproduces.md"


def _chapter_id(chapter) -> str:
    if isinstance(chapter, bool) or not isinstance(chapter, (int, str)):
        raise TypeError(f"chapter must be a chapter number such as 4 or '04', got {chapter!r}")
    text = str(chapter)
    if not re.fullmatch(r"\d{1,2}", text):
        raise ValueError(f"chapter must be a chapter number such as 4 or '04', got {chapter!r}")
    return f"{int(text):02d}"


def claims_path(chapter, book_dir) -> Path:
    """``book_dir/claims/NN.json`` for chapter ``NN``."""
    return Path(book_dir) / "claims" / f"{_chapter_id(chapter)}.json"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_claims(chapter, claims, book_dir, *, profile=None) -> Path | None:
    """Write a chapter's claims to ``book_dir/claims/NN.json`` (atomically: a reader never sees half a file).

    Claims measured in the ``smoke`` profile (``profile``, a `Profile` or its name; default: the run's profile,
    `lsdl_ens.profiles.get_profile()`) are checked but not written, and None is returned: a test run on a few
    hundred images must not replace the book's claims."""
    path = claims_path(chapter, book_dir)
    claims = list(claims) if not isinstance(claims, (str, bytes, dict)) else claims
    if not isinstance(claims, list) or not all(isinstance(c, Claim) for c in claims):
        raise TypeError("claims must be a list of lsdl_ens.claims.Claim; build them with make_claim")
    ids = [c.id for c in claims]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"claims must have distinct ids, got {duplicated} more than once; rename them")
    payload = {"chapter": _chapter_id(chapter), "claims": [c.to_dict() for c in claims]}
    from .profiles import get_profile

    if get_profile(profile).name == "smoke":
        return None
    _atomic_write(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    return path


def read_claims(path) -> list[Claim]:
    """The claims of one ``claims/NN.json`` file (a ValueError names the file when it is not one)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return [Claim(**{**c, "uncertainty": tuple(c["uncertainty"])}) for c in payload["claims"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path} is not a claims file ({exc}); rerun its chapter to write it again") from None


def claims_frame(claims):
    """The claims as a pandas DataFrame for the chapter's closing table: claim, paper (source), ours [95% interval],
    verdict and reason; indexed by claim id."""
    import pandas as pd

    rows = [{"claim": c.claim, "paper (source)": f"{c.paper} ({c.paper_source})", "ours": c.measured,
             "verdict": c.verdict, "reason": _why(c.reason)} for c in claims]
    return pd.DataFrame(rows, index=pd.Index([c.id for c in claims], name="id"))


class GluedText:
    """Text glued into a page as itself: its plain representation has no quotes (a glued ``str`` would show them
    in ``{glue:}`` and ``{glue:text}`` roles)."""

    def __init__(self, text: str):
        self.text = str(text)

    def __repr__(self) -> str:
        return self.text


def glue_claims(claims, glue=None) -> list[str]:
    """Glue each claim's numbers for the chapter's text: ``<id>_ours`` (our value with its interval),
    ``<id>_paper`` (the paper's value) and ``<id>_verdict``; returns the names glued.

    ``glue`` defaults to ``myst_nb.glue``; where myst-nb is not installed (Colab, Binder) nothing is glued, as the
    names are only read when the book is built. Ids are turned into valid names (``-`` and spaces become ``_``).
    """
    if glue is None:
        try:
            from myst_nb import glue
        except ImportError:
            return []
    names = []
    for c in claims:
        key = re.sub(r"\W", "_", c.id)
        for suffix, text in (("ours", c.measured), ("paper", c.paper), ("verdict", c.verdict)):
            glue(f"{key}_{suffix}", GluedText(text), display=False)
            names.append(f"{key}_{suffix}")
    return names


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _chapter_titles(book_dir: Path) -> dict[str, str]:
    """Chapter number -> the first heading of its notebook ``NN_*.ipynb`` (when there is one)."""
    titles = {}
    for nb in sorted(book_dir.glob("[0-9][0-9]_*.ipynb")):
        try:
            cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        except (ValueError, KeyError):
            continue
        for cell in cells:
            source = "".join(cell.get("source", ""))
            match = re.search(r"^#\s+(.+)$", source, flags=re.M) if cell.get("cell_type") == "markdown" else None
            if match:
                titles[nb.name[:2]] = match.group(1).strip()
                break
    return titles


def _why(reason: str) -> str:
    """The reason without its leading measured value (``judge`` writes "value ...: why"; the table shows the value
    in its own column)."""
    head, sep, tail = reason.partition(": ")
    return tail if sep and any(ch.isdigit() for ch in head) else reason


def _counts(claims: list[Claim]) -> str:
    n = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    return (f"{n['holds']} {'holds' if n['holds'] == 1 else 'hold'}, {n['within noise']} within noise, "
            f"{n['does not hold']} {'does' if n['does not hold'] == 1 else 'do'} not hold")


def reproduces_markdown(by_chapter: dict[str, list[Claim]], titles: dict[str, str] | None = None) -> str:
    """The "What reproduces" page as MyST markdown (``by_chapter``: chapter number -> its claims): the counts per
    verdict, then one section per chapter with a table (claim, paper value and source, ours with its 95% interval,
    verdict and reason)."""
    titles = titles or {}
    lines = ["# What reproduces", "",
             "Every chapter ends by checking the papers' claims against its own measurements. This page gathers",
             "them: the paper's value and where it comes from, ours with its 95% interval (over training seeds,",
             "or over test images by a paired bootstrap), and a verdict that takes the interval into account:",
             "a claim *holds* when the whole interval agrees with it, *does not hold* when the whole interval",
             "contradicts it, and is *within noise* when the interval allows both.", ""]
    all_claims = [c for ch in sorted(by_chapter) for c in by_chapter[ch]]
    if not all_claims:
        lines += ["No claim has been measured yet: each chapter adds its claims here when it is run.", ""]
        return "\n".join(lines)
    n = len(all_claims)
    lines += [f"Of {n} claim{'' if n == 1 else 's'}, {_counts(all_claims)}.", ""]
    for ch in sorted(by_chapter):
        claims = by_chapter[ch]
        if not claims:
            continue
        lines += [f"## {ch} {titles[ch]}" if ch in titles else f"## Chapter {ch}", "", f"{_counts(claims)}.", "",
                  "| claim | paper (source) | ours | verdict |", "|---|---|---|---|"]
        for c in claims:
            cells = (c.claim, f"{c.paper} ({c.paper_source})", c.measured, f"**{c.verdict}**: {_why(c.reason)}")
            lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def build_reproduces_page(book_dir) -> Path:
    """Read every ``book_dir/claims/NN.json`` and write ``book_dir/what_reproduces.md``; returns its path."""
    book_dir = Path(book_dir)
    by_chapter = {p.stem: read_claims(p) for p in sorted((book_dir / "claims").glob("[0-9][0-9].json"))}
    path = book_dir / PAGE
    _atomic_write(path, reproduces_markdown(by_chapter, _chapter_titles(book_dir)))
    return path
