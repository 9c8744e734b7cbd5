"""The layers hold: prompts/ stands alone, tools/ is the bottom layer, graphs/ never reaches up into agent/, and
no module imports itself round a cycle (package `__init__` files included).

Read from the source with `ast`, so a lazy import inside a function counts the same as one at the top.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "tools", "graphs", "prompts")


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str], root: Path = REPO) -> set[str]:
    """The project modules `path` imports: `from a.b import c` names a.b.c when that is a module, else a.b."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def _graph(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    files = {_module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    return {name: _imports(path, set(files), root) for name, path in files.items()}


def test_tools_import_nothing_from_agent_or_graphs():
    bad = sorted(
        f"{m} -> {d}"
        for m, deps in _graph().items()
        if m.startswith("tools")
        for d in deps
        if d.split(".")[0] in ("agent", "graphs")
    )
    assert not bad, bad


def test_graphs_never_import_agent():
    bad = sorted(
        f"{m} -> {d}"
        for m, deps in _graph().items()
        if m.startswith("graphs")
        for d in deps
        if d.split(".")[0] == "agent"
    )
    assert not bad, bad


def test_prompts_use_the_standard_library_only():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in (REPO / "prompts").rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level]
        assert {n.split(".")[0] for n in names} <= stdlib, (path, names)


def test_no_import_cycles():
    """Tarjan's strongly connected components over the module graph: every component is a single module."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_package_inits_import_nothing_from_their_own_package():
    """A package's `__init__` that imports its submodules makes every submodule import the package back."""
    for init in (p for pkg in PACKAGES for p in (REPO / pkg).rglob("__init__.py")):
        package = _module_name(init)
        modules = {_module_name(p) for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
        own = {m for m in _imports(init, modules) if m.startswith(package + ".")}
        assert not own, (init, own)


def test_the_import_graph_sees_both_kinds_of_import(tmp_path):
    """The checks above can fail: `from pkg import module` and `from pkg.module import name` are both edges."""
    pkg = tmp_path / "tools"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from tools import b\n")
    (pkg / "b.py").write_text("def f():\n    from tools.a import x\n")
    graph = _graph(tmp_path, ("tools",))
    assert graph == {"tools": set(), "tools.a": {"tools.b"}, "tools.b": {"tools.a"}}
