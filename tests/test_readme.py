"""The README's newcomer commands exist as written, .ci/run calls the README's test command, and the README's
data example works in its relative form."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_readme_commands_are_make_targets_and_ci_uses_them():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make (\w+)\s+#", readme, flags=re.M)
    assert commands[:2] == ["book", "test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("book", "test", "venv", "figures"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _make_print_paths(env: dict) -> dict:
    """The data and cache folders that `make` passes to the tests and notebooks (the Makefile's print-paths)."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "print-paths"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def readme_data_example() -> str:
    """The relative data folder of the README's `LSDL_DATA=... make test` example."""
    found = re.findall(r"LSDL_DATA=(\S+) make test", (ROOT / "README.md").read_text())
    assert found, "the README has no `LSDL_DATA=<folder> make test` example"
    assert not Path(found[0]).is_absolute(), "the README example is meant to show a relative folder"
    return found[0]


def test_make_exports_relative_data_and_cache_folders_as_absolute_paths():
    env = {**os.environ, "LSDL_DATA": readme_data_example(), "LSDL_CACHE": "some/cache"}
    paths = _make_print_paths(env)
    assert paths["LSDL_DATA"] == os.path.abspath(ROOT / readme_data_example())
    assert paths["LSDL_CACHE"] == os.path.abspath(ROOT / "some" / "cache")


@pytest.mark.course
def test_readme_data_example_finds_cifar10_from_the_notebook_folder():
    """`LSDL_DATA=../shared/data make test` runs the notebooks from book/: the data must still be found there."""
    env = {**os.environ, "LSDL_DATA": readme_data_example(), "PYTHONPATH": str(ROOT)}
    env["LSDL_DATA"] = _make_print_paths(env)["LSDL_DATA"]
    probe = ("from lsdl_ens.paths import env_path\n"
             "root = env_path('LSDL_DATA')\n"
             "print([n for n in ('cifar10-jpeg.tar.gz', 'cifar10', 'cifar-10-batches-py') if (root / n).exists()])\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "book", env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() != "[]", (f"no CIFAR-10 source in {env['LSDL_DATA']} (the README's example folder, "
                                        "seen from book/)")


def _tiny_cifar_tree(root: Path) -> None:
    from PIL import Image

    for split in ("train", "test"):
        folder = root / "cifar10" / split / "airplane"
        folder.mkdir(parents=True)
        Image.new("RGB", (32, 32), (10, 20, 30)).save(folder / "0001.jpg")


def test_library_resolves_relative_data_and_cache_folders(tmp_path):
    """Relative LSDL_DATA / LSDL_CACHE are read against the working directory and reported as absolute paths."""
    _tiny_cifar_tree(tmp_path / "data")
    env = {**os.environ, "LSDL_DATA": "data", "LSDL_CACHE": "cache", "PYTHONPATH": str(ROOT)}
    probe = ("from lsdl_ens.data import load_cifar10\n"
             "from lsdl_ens.paths import cache_dir\n"
             "train, test = load_cifar10(download=False, allow_subset=True)\n"
             "print(len(train), len(test), cache_dir('data'))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    n_train, n_test, cache = out.stdout.split()
    assert (n_train, n_test) == ("1", "1")
    assert cache == str(tmp_path / "cache" / "data")
    assert list((tmp_path / "cache" / "data").glob("cifar10-*.npz")), "the decoded set was not cached"

    env["LSDL_DATA"] = "missing"
    probe = "from lsdl_ens.data import load_cifar10\nload_cifar10(download=False)\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0 and "DataNotFoundError" in out.stderr
    assert str(tmp_path / "missing") in out.stderr, "the error should name the absolute folder it looked in"


def test_light_book_environment_matches_the_book_extra_and_has_no_torch():
    """`make book` installs requirements-book.txt only: the same pins as the `book` extra, and nothing heavy."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
        import tomli as tomllib

    light = [line.strip() for line in (ROOT / "requirements-book.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert light, "requirements-book.txt lists nothing"
    book_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["book"]
    assert set(light) <= set(book_extra), f"pins differ from the book extra: {sorted(set(light) - set(book_extra))}"
    assert not any(re.match(r"(torch|torchvision|lsdl)", req) for req in light)
    makefile = (ROOT / "Makefile").read_text()
    book_rule = re.search(r"^book: (.*)\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert book_rule and "$(BOOK_STAMP)" in book_rule.group(1) and "$(BOOK_VENV)/bin/jupyter-book" in book_rule.group(2)
