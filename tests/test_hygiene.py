"""Project metadata agrees with itself: licence, citation, changelog, project URLs and the linter setup all
follow pyproject.toml and the book's repository url."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def test_license_file_matches_pyproject():
    assert PYPROJECT["project"]["license"] == "MIT" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_citation_file_is_cff_1_2_0_and_agrees_with_the_project():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):  # the keys CFF 1.2.0 requires
        assert cff.get(key), f"CITATION.cff lacks {key}"
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    assert str(cff["version"]) == PYPROJECT["project"]["version"]
    assert cff["license"] == "MIT"
    assert cff["repository-code"].rstrip("/") == REPOSITORY


def test_project_urls_follow_the_book_repository():
    urls = PYPROJECT["project"]["urls"]
    assert urls["Homepage"].rstrip("/") == REPOSITORY and urls["Repository"].rstrip("/") == REPOSITORY
    assert all(u.startswith(REPOSITORY) for u in urls.values())


def test_changelog_has_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    version = PYPROJECT["project"]["version"]
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, flags=re.M)


def test_ruff_is_configured_and_run_by_ci():
    ruff = PYPROJECT["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert set(ruff["lint"]["select"]) <= {"E", "F", "W", "I", "B", "UP"}
    assert any(req.startswith("ruff") for req in PYPROJECT["project"]["optional-dependencies"]["dev"])
    assert re.search(r"^lint:.*\n\t.*ruff check", (ROOT / "Makefile").read_text(), flags=re.M)
    assert re.search(r"^make lint$", (ROOT / ".ci" / "run").read_text(), flags=re.M)
