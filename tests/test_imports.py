"""voltlib's modules import each other without a cycle (every import counts, also those inside functions)."""

import ast
import re
from pathlib import Path

import voltlib

PACKAGE = Path(voltlib.__file__).resolve().parent


def imports_of(path: Path) -> set[str]:
    """The voltlib modules one source file imports, anywhere in it (relative or absolute)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or node.module == "voltlib" or (node.module or "").startswith("voltlib."):
                base = (node.module or "").removeprefix("voltlib").lstrip(".")
                if base:
                    found.add(base.split(".")[0])
                else:  # `from . import a, b` / `from voltlib import a`
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("voltlib."))
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: voltlib modules it imports}, over voltlib/*.py."""
    modules = {p.stem for p in package.glob("*.py")}
    return {p.stem: (imports_of(p) & modules) - {p.stem} for p in package.glob("*.py")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_sees_relative_and_lazy_imports(tmp_path):
    (tmp_path / "a.py").write_text("from . import b\ndef f():\n    from .c import x\n")
    (tmp_path / "b.py").write_text("import voltlib.c\n")
    (tmp_path / "c.py").write_text("")
    assert import_graph(tmp_path) == {"a": {"b", "c"}, "b": {"c"}, "c": set()}


def test_voltlib_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, (
        f"voltlib import cycle: {' -> '.join(cycle)}; move the shared piece into a module both can import"
    )


def test_the_readme_layout_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    missing = [m for m in sorted(import_graph()) if m != "__init__" and not re.search(rf"\b{m}\b", layout)]
    assert not missing, f"README.md's Layout does not name voltlib modules {missing}: add them with their concern"
