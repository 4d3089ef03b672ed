"""The code keeps its shape: the import contracts in pyproject.toml hold, and no package has an import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# registry_proxy and runtime_agent join this list once their cycles are gone (issue 11).
ACYCLIC_PACKAGES = ["portal", "registry_proxy", "runtime_agent"]
NOT_WALKED = {"migrations", "tests"}


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def module_imports(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of `package` → the modules of the same package it imports.

    Every import statement counts, inside functions and under TYPE_CHECKING too: an import moved
    into a function to dodge a cycle is still a cycle a reader has to untangle.
    """
    paths = {
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (root / package).rglob("*.py")
        if not NOT_WALKED & set(path.relative_to(root).parts)
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                # `from a import b` imports a, and a.b too when b is a module.
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name].update(target for target in targets if target in paths and target != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another, directly or through others (sorted)."""
    reachable: dict[str, set[str]] = {}
    for start in graph:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for module in graph[todo.pop()] - seen:
                seen.add(module)
                todo.append(module)
        reachable[start] = seen
    groups = {
        frozenset(module for module in reachable[start] if start in reachable[module])
        for start in graph
        if start in reachable[start]
    }
    return sorted(sorted(group) for group in groups)


@pytest.mark.parametrize("package", ACYCLIC_PACKAGES)
def test_no_import_cycles(package: str) -> None:
    graph = module_imports(ROOT, package)
    assert len(graph) > 1, f"no modules found under {package}/"
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(group) for group in found)


def test_the_cycle_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "migrations").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.sub import b\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("def late():\n    from .. import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a\n")
    (tmp_path / "pkg" / "d.py").write_text("from pkg import a\n")
    (tmp_path / "pkg" / "migrations" / "m.py").write_text("from pkg import d\n")

    graph = module_imports(tmp_path, "pkg")

    assert "pkg.migrations.m" not in graph
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
