"""The library's layering rules, checked on the import graph of the source tree (parsed with ``ast``, never run).

Layers of ``lsdl_ens``:
    core: shared infrastructure (``CORE``); imports no method family and no app.
    method family (``FAMILIES``): imports only core and itself.
    app (``APPS``): may import anything.
Everywhere (library, tests, benchmarks, tools, notebook code cells):
    no import of another module's underscore name (``from a.b import _x``, or ``a.b._x`` on an imported module),
    no import of a private module (``_name.py``) from outside its package;
and no import cycle between the library's modules. Imports inside functions count like top-level ones.

``check_tree(root)`` returns every violation as ``"path:line: rule: message"``.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "lsdl_ens"
CORE = {"state", "bn", "metrics", "schedules", "train", "fit_checks", "checks", "cache", "paths", "data", "models",
        "profiles", "evaluation", "recipes", "recipe_types", "claims", "claims_page", "prediction"}
FAMILIES = {"averaging", "ensembles", "landscape", "optim", "simplex", "soups", "transfer", "tta"}
APPS = {"cli", "grading", "plotting", "lecture_plots", "experiments"}
#: folders of scripts (their own folder is on sys.path, so ``import helper`` finds ``folder/helper.py``)
SCRIPT_DIRS = ("tests", "benchmarks", "tools")
NOTEBOOK_GLOBS = ("book/*.ipynb", "solutions/**/*.ipynb")


@dataclass
class Source:
    """One parsed file: its dotted name, path relative to the root, and (tree, cell) pairs (cell None for .py)."""

    name: str
    path: str
    is_package: bool
    trees: list = field(default_factory=list)


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str
    where: str


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _notebook_trees(path: Path) -> list:
    cells = json.loads(path.read_text())["cells"]
    trees = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = ["#" + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
        trees.append((ast.parse("\n".join(lines), filename=f"{path} cell {index}"), index))
    return trees


def collect_sources(root: Path) -> dict[str, Source]:
    """Every module of the package, the script folders and the notebooks under ``root``, by dotted name."""
    sources = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = Source(name, str(path.relative_to(root)), is_package)
    for folder in SCRIPT_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            sources[name] = Source(name, str(path.relative_to(root)), False)
    for source in sources.values():
        source.trees = [(ast.parse((root / source.path).read_text(), filename=source.path), None)]
    for pattern in NOTEBOOK_GLOBS:
        for path in sorted(root.glob(pattern)):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            sources[name] = Source(name, str(path.relative_to(root)), False, _notebook_trees(path))
    return sources


def layer_of(module: str) -> str:
    """"core", "family:<name>", "app", "script" (outside the package) or "unclassified"."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return "script"
    if len(parts) == 1:
        return "core"  # the package root holds only metadata
    if parts[1] in CORE:
        return "core"
    if parts[1] in FAMILIES:
        return f"family:{parts[1]}"
    return "app" if parts[1] in APPS else "unclassified"


class _Imports(ast.NodeVisitor):
    """Import statements and private attribute accesses of one source, resolved against the known modules."""

    def __init__(self, source: Source, modules: set[str]):
        self.source, self.modules = source, modules
        self.edges: list[Edge] = []
        self.violations: list[str] = []
        self.aliases: dict[str, str] = {}  # local name -> module it is bound to
        self.cell = None

    def where(self, node) -> str:
        cell = "" if self.cell is None else f" (cell {self.cell})"
        return f"{self.source.path}:{node.lineno}{cell}"

    def _local(self, dotted: str) -> str:
        """The dotted name of a module importable as ``dotted`` from this source (its folder is on sys.path)."""
        if dotted.split(".")[0] != PACKAGE and "." in self.source.name and not self.source.name.startswith(PACKAGE):
            folder = self.source.name.rsplit(".", 1)[0]
            if f"{folder}.{dotted}" in self.modules:
                return f"{folder}.{dotted}"
        return dotted

    def _first_party(self, module: str) -> bool:
        return module in self.modules

    def _check_private_module(self, module: str, node) -> None:
        parts = module.split(".")
        for i, part in enumerate(parts):
            package = ".".join(parts[:i])
            if _is_private(part) and i > 0 and not (self.source.name == package
                                                     or self.source.name.startswith(package + ".")):
                self.violations.append(f"{self.where(node)}: private-module: imports {module}, a private module of "
                                       f"{package}; use the package's public names")
                return

    def _edge(self, target: str, node) -> None:
        self._check_private_module(target, node)
        if target != self.source.name:
            self.edges.append(Edge(self.source.name, target, self.where(node)))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            module = self._local(alias.name)
            if not self._first_party(module):
                continue
            self._edge(module, node)
            if alias.asname:
                self.aliases[alias.asname] = module
            else:
                head = module.split(".")[0] if module.startswith(PACKAGE) else module
                self.aliases[alias.name.split(".")[0]] = head

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.source.name if self.source.is_package else self.source.name.rsplit(".", 1)[0]
            package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = self._local(node.module)
        if not self._first_party(base):
            return
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in self.modules:
                self._edge(submodule, node)
                self.aliases[alias.asname or alias.name] = submodule
                continue
            self._edge(base, node)
            if _is_private(alias.name):
                self.violations.append(f"{self.where(node)}: private-name: imports {alias.name} from {base}; make "
                                       "it public if it is a real API, or use the public one")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain, inner = [], node
        while isinstance(inner, ast.Attribute):
            chain.append(inner.attr)
            inner = inner.value
        if isinstance(inner, ast.Name) and inner.id in self.aliases:
            module = self.aliases[inner.id]
            for attr in reversed(chain):
                if f"{module}.{attr}" in self.modules:
                    module = f"{module}.{attr}"
                    self._check_private_module(module, node)
                    continue
                if _is_private(attr) and module != self.source.name:
                    self.violations.append(f"{self.where(node)}: private-name: uses {module}.{attr}; make it public "
                                           "if it is a real API, or use the public one")
                break
            return  # the inner attributes of this chain were examined here
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``getattr(module, "_x")``, ``monkeypatch.setattr(module, "_x", ...)`` and ``setattr("a.b._x", ...)``."""
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        args = node.args
        if func in ("getattr", "setattr", "delattr", "hasattr") and args and isinstance(args[0], ast.Name) \
                and args[0].id in self.aliases and len(args) > 1 and isinstance(args[1], ast.Constant) \
                and isinstance(args[1].value, str) and _is_private(args[1].value):
            self.violations.append(f"{self.where(node)}: private-name: {func} of {self.aliases[args[0].id]}."
                                   f"{args[1].value}; use a public name")
        elif func in ("setattr", "delattr") and args and isinstance(args[0], ast.Constant) \
                and isinstance(args[0].value, str) and args[0].value.startswith(PACKAGE + ".") \
                and any(_is_private(part) for part in args[0].value.split(".")):
            self.violations.append(f"{self.where(node)}: private-name: {func} of {args[0].value}; use a public name")
        self.generic_visit(node)


def import_graph(sources: dict[str, Source]) -> tuple[list[Edge], list[str]]:
    """Every import edge between known modules, and the private-name / private-module violations."""
    modules = set(sources)
    edges, violations = [], []
    for source in sources.values():
        visitor = _Imports(source, modules)
        for tree, cell in source.trees:
            visitor.cell = cell
            visitor.visit(tree)
        edges += visitor.edges
        violations += visitor.violations
    return edges, violations


def layer_violations(sources: dict[str, Source], edges: list[Edge]) -> list[str]:
    """Modules in no layer; core importing a family or an app; a family importing another family or an app."""
    out = [f"{s.path}:1: unclassified: {name} is in no layer; add it to CORE, FAMILIES or APPS in {__name__}"
           for name, s in sources.items() if layer_of(name) == "unclassified"]
    for edge in edges:
        source_layer, target_layer = layer_of(edge.importer), layer_of(edge.target)
        if "unclassified" in (source_layer, target_layer):
            continue
        if source_layer == "core" and target_layer != "core":
            out.append(f"{edge.where}: core-imports-{target_layer.split(':')[0]}: {edge.importer} (core) imports "
                       f"{edge.target}; core must import only core")
        elif source_layer.startswith("family:") and target_layer not in ("core", source_layer):
            out.append(f"{edge.where}: family-imports-{target_layer.split(':')[0]}: {edge.importer} imports "
                       f"{edge.target}; a method family imports only core and itself")
    return out


def cycles(edges: list[Edge]) -> list[str]:
    """Each import cycle between library modules (strongly connected components of the graph), with its edges."""
    graph: dict[str, list[Edge]] = {}
    for edge in edges:
        if edge.importer.startswith(PACKAGE) and edge.target.startswith(PACKAGE):
            graph.setdefault(edge.importer, []).append(edge)
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph.get(node, []):
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    out = []
    for component in components:
        inside = list(dict.fromkeys(e for node in sorted(component) for e in graph[node] if e.target in component))
        detail = "; ".join(f"{e.importer} -> {e.target} at {e.where}" for e in inside)
        out.append(f"{inside[0].where}: cycle: {', '.join(sorted(component))} import each other ({detail})")
    return out


def check_tree(root: Path) -> list[str]:
    """Every violation of the rules above in the tree at ``root``, as ``"path:line: rule: message"``."""
    sources = collect_sources(Path(root))
    edges, violations = import_graph(sources)
    return sorted(set(violations + layer_violations(sources, edges) + cycles(edges)))
