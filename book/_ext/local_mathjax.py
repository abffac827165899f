"""Serve MathJax from the build instead of a CDN, so formulas render offline.

The MathJax 3 files come from the `django-static-mathjax` wheel (plain static files, no Django needed; it is in
the `book` extra). At build time the TeX->CHTML bundle and its fonts are copied to `_static/mathjax/` and Sphinx's
`mathjax_path` points there. Without the package the book still builds and falls back to the CDN.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _mathjax_es5() -> Path | None:
    try:
        import mathjax  # provided by django-static-mathjax
    except ImportError:
        return None
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    return es5 if (es5 / "tex-chtml.js").exists() else None


def _configure(app, config):
    if _mathjax_es5() is not None:
        config.mathjax_path = "mathjax/tex-chtml.js"


def _copy(app, exception):
    es5 = _mathjax_es5()
    if exception is not None or es5 is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(es5 / "tex-chtml.js", target / "tex-chtml.js")
    fonts = Path("output") / "chtml" / "fonts" / "woff-v2"
    shutil.copytree(es5 / fonts, target / fonts, dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
