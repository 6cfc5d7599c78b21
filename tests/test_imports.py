"""No import circle among mmaudit's modules (local imports counted): each module can be read, tested and changed
from the leaves up. A package that registers its own plugins (`checks`, `backbones`) may import them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mmaudit"


def _imports() -> dict[str, set[str]]:
    graph = {}
    for file in PACKAGE.rglob("*.py"):
        module = ".".join(file.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        package = module if file.name == "__init__.py" else module.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([node.module] if node.module else []))
                found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        graph[module] = found
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def test_no_module_imports_itself_through_others():
    graph = _imports()
    registries = {m: {d for d in deps if d.startswith(m + ".")} for m, deps in graph.items()}  # a package's own plugins
    edges = {m: deps - registries[m] for m, deps in graph.items()}

    def reaches(start: str, target: str) -> list[str] | None:
        stack, seen = [(start, [start])], {start}
        while stack:
            node, path = stack.pop()
            for nxt in edges[node]:
                if nxt == target:
                    return path + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    circles = [path for m in sorted(edges) if (path := reaches(m, m))]
    assert not circles, " ; ".join(" -> ".join(p) for p in circles)
