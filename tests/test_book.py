"""The reader's book build (offline, -W), no leak of solutions, and a rendered check in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from test_assignments import protected_lines

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.course
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc.get("parts", []) if part.get("caption") == "Chapters" for c in part["chapters"]]


def test_instructor_pages_exist():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [c["file"] for part in toc["parts"] if part.get("caption") == "For instructors" for c in part["chapters"]]
    assert "book/grading" in pages
    assert all((ROOT / f"{page}.md").exists() for page in pages), pages


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return out / "_build" / "html"


def test_every_toc_chapter_exists_and_has_stored_figures():
    """Chapters enter the ToC once their notebook holds the outputs of a real run; notebooks still waiting for
    that run stay out of the book (they are still executed by nbval in `make test`)."""
    chapters = toc_chapters()
    assert chapters, "the ToC lists no chapter"
    on_disk = {f"book/{p.stem}" for p in (ROOT / "book").glob("*.ipynb")}
    assert set(chapters) <= on_disk, f"the ToC names missing notebooks: {sorted(set(chapters) - on_disk)}"
    for chapter in chapters:
        nb = nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{chapter}: not every code cell was executed"
        pngs = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
        assert pngs >= 1, f"{chapter}: no stored PNG figure"
        errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{chapter}: stored outputs contain an error"


def test_book_builds_offline_with_warnings_as_errors(built_book):
    assert (built_book / "index.html").exists()
    for chapter in toc_chapters():
        page = (built_book / f"{chapter}.html").read_text()
        assert re.search(r'<img[^>]+\.png', page), f"{chapter}.html shows no figure"


def test_no_solution_or_hidden_test_text_in_the_site(built_book):
    assert not (built_book / "solutions").exists() and not (built_book / "assignments").exists()
    site = "\n".join(p.read_text(errors="ignore") for p in built_book.rglob("*.html"))
    assert "BEGIN SOLUTION" not in site and "BEGIN HIDDEN TESTS" not in site
    protected = [line for nb in (ROOT / "solutions").glob("*/*.ipynb") for line in protected_lines(nb)]
    assert protected, "found no protected lines to look for"
    leaked = [line for line in protected if line in site]
    assert not leaked, f"solution text in the built site: {leaked[:3]}"


def _screenshot(page: Path, out: Path, profile: Path, *extra: str) -> None:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={profile}", "--window-size=1280,4000", "--virtual-time-budget=5000", *extra,
                    f"--screenshot={out}", page.as_uri()], capture_output=True, timeout=120, check=True)


def test_first_chapter_renders_its_figure_in_chromium(built_book, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (optional outside CI; .ci/run installs it)")
    from PIL import Image, ImageChops

    page = built_book / f"{toc_chapters()[0]}.html"
    _screenshot(page, tmp_path / "with.png", tmp_path / "p1")
    _screenshot(page, tmp_path / "without.png", tmp_path / "p2", "--blink-settings=imagesEnabled=false")
    shown, hidden = (Image.open(tmp_path / n).convert("L") for n in ("with.png", "without.png"))
    assert shown.size == (1280, 4000)
    # the only difference between the two renderings is the figures: they must cover a visible area
    changed = sum(ImageChops.difference(shown, hidden).point(lambda v: 255 if v > 30 else 0).histogram()[255:])
    assert changed / (1280 * 4000) > 0.01, f"only {changed} pixels change when images load: no figure shown?"


def test_every_chapter_page_has_colab_and_binder_buttons_for_its_notebook(built_book):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, branch = config["repository"]["url"].rstrip("/"), config["repository"]["branch"]
    owner_repo = url.removeprefix("https://github.com/")
    for chapter in toc_chapters():
        page = (built_book / f"{chapter}.html").read_text()
        links = set(re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)/[^"]+)"', page))
        notebook = f"{chapter}.ipynb"
        colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook}"
        binder = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{notebook}"
        assert (ROOT / notebook).exists()
        assert colab in links, f"{chapter}.html: no Colab button for {notebook} (found {sorted(links)})"
        assert binder in links, f"{chapter}.html: no Binder button for {notebook} (found {sorted(links)})"
    assert f'href="{url}"' in (built_book / "book" / "intro.html").read_text(), "no repository button"
