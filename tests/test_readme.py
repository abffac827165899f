"""The README's newcomer commands exist as written, and .ci/run calls the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_commands_are_make_targets_and_ci_uses_them():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make (\w+)\s+#", readme, flags=re.M)
    assert commands[:2] == ["book", "test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("book", "test", "venv", "figures"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()
