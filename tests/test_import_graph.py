"""No circle of imports among symgrad's modules.

Every module under symgrad/ is parsed with ``ast``; every ``import`` and
``from ... import`` it contains counts, at the top level and inside functions
alike (a deferred import still ties the two modules together), with relative
imports resolved against the module's package. ``from pkg import name`` is an
edge to ``pkg.name`` when that is a module, else to ``pkg``. Importing a
submodule also runs its parent packages' ``__init__``; that implicit edge is
not counted (it would make every package facade a circle with its members).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under root/package."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that the file imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:   # `import a.b.c` names a.b.c; keep the longest known prefix
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = module_names(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports as [a, b, ..., a], or None."""
    state: dict[str, int] = {}     # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_symgrad_has_no_import_cycle():
    graph = import_graph(ROOT, "symgrad")
    assert len(graph) > 40 and graph["symgrad.derive"], "the walk found symgrad's modules and their imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


#: The stages before the emitters (spec -> graph -> derive, the checks): none imports symgrad.emit;
#: Jupyter's display hooks attach at the package facade instead.
BELOW_EMIT = ("names", "errors", "escape", "runtime", "spec", "parse", "graph", "ir", "rules", "rewrite",
              "fuse", "derive", "evaluate", "points", "check")


def test_no_module_below_emit_imports_emit():
    graph = import_graph(ROOT, "symgrad")
    below = [m for m in graph if m.split(".")[1:2] and m.split(".")[1] in BELOW_EMIT]
    assert "symgrad.derive" in below and "symgrad.check.proof" in below and "symgrad.rules.core" in below
    offenders = {m: sorted(t for t in graph[m] if t.startswith("symgrad.emit")) for m in below}
    assert not {m: t for m, t in offenders.items() if t}


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path, "toy")


def test_checker_finds_a_cycle_through_a_function_level_relative_import(tmp_path):
    graph = _package(tmp_path, {
        "toy/__init__.py": "",
        "toy/a.py": "from .sub import b\n",
        "toy/sub/__init__.py": "",
        "toy/sub/b.py": "def f():\n    from ..c import g\n",
        "toy/c.py": "import toy.a\n",
    })
    assert graph["toy.a"] == {"toy.sub.b"}
    assert graph["toy.sub.b"] == {"toy.c"}
    assert graph["toy.c"] == {"toy.a"}
    assert find_cycle(graph) == ["toy.a", "toy.sub.b", "toy.c", "toy.a"]


def test_checker_accepts_a_chain_and_ignores_outside_imports(tmp_path):
    graph = _package(tmp_path, {
        "toy/__init__.py": "from .a import x\n",
        "toy/a.py": "import numpy\nfrom . import b\n",
        "toy/b.py": "from toy.c import y\n",
        "toy/c.py": "import os.path\n",
    })
    assert graph == {"toy": {"toy.a"}, "toy.a": {"toy.b"}, "toy.b": {"toy.c"}, "toy.c": set()}
    assert find_cycle(graph) is None
