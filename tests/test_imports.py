"""voltlib's layers: the top modules, then sim < forecast < paper < workflow, each importing only downwards.

Every import counts, also those inside functions; a module is named by its dotted path under voltlib
("sim.simulate", "config").
"""

import ast
import re
from pathlib import Path

import voltlib
from voltlib.paths import import_graph

PACKAGE = Path(voltlib.__file__).resolve().parent

# a module may import its own layer and those below it, never one above; the top modules
# (config, paths, store, display, device, cli) are shared by every layer and import only each other
LAYERS = {"": 0, "sim": 1, "forecast": 2, "paper": 3, "workflow": 4}


def layer(module: str) -> int:
    """0 for a top module (config), else its subpackage's rank ('sim.simulate' -> 1)."""
    return LAYERS.get(module.split(".")[0], LAYERS[""])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import of a module of a higher layer than the importer's."""
    return sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps if layer(b) > layer(a))


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


def test_import_graph_sees_relative_absolute_and_lazy_imports(tmp_path):
    (tmp_path / "a.py").write_text("from . import b\ndef f():\n    from .sim.c import x\n")
    (tmp_path / "b.py").write_text("import voltlib.sim.c\n")
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "__init__.py").write_text("")
    (tmp_path / "sim" / "c.py").write_text("from voltlib import b\nfrom ..a import f\nfrom . import d\n")
    (tmp_path / "sim" / "d.py").write_text("")
    assert import_graph(tmp_path) == {
        "a": {"b", "sim.c"},
        "b": {"sim.c"},
        "sim": set(),
        "sim.c": {"a", "b", "sim", "sim.d"},
        "sim.d": set(),
    }


def test_the_layer_rule_catches_an_upward_import():
    graph = {"config": set(), "sim.simulate": {"config", "forecast.data"}, "forecast.data": {"sim.simulate"}}
    assert upward_imports(graph) == ["sim.simulate -> forecast.data"]
    assert upward_imports({"store": {"sim.simulate"}, "sim.simulate": set()}) == ["store -> sim.simulate"]


def test_voltlib_imports_only_downwards():
    wrong = upward_imports(import_graph())
    assert not wrong, (
        f"voltlib imports against its layers (top < sim < forecast < paper < workflow): {wrong}; "
        "move the shared piece down to a layer both can import"
    )


def test_voltlib_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, (
        f"voltlib import cycle: {' -> '.join(cycle)}; move the shared piece into a module both can import"
    )


def test_every_subpackage_says_what_it_is():
    for sub in LAYERS:
        if sub:
            doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text()))
            assert doc and len(doc.splitlines()) == 1, f"voltlib/{sub}/__init__.py needs a one-line docstring"


def test_tests_mirror_the_package():
    """Every module's tests live in the folder of its subpackage (tests/sim/test_simulate.py)."""
    tests = PACKAGE.parent / "tests"
    misplaced = []
    for sub in (s for s in LAYERS if s):
        for f in (PACKAGE / sub).glob("*.py"):
            for elsewhere in tests.glob(f"**/test_{f.stem}.py"):
                if elsewhere.parent != tests / sub:
                    misplaced.append(str(elsewhere.relative_to(tests)))
    assert not misplaced, f"tests of a subpackage's module outside its tests/<subpackage>/: {misplaced}"


def imported_test_modules(source: str, test_modules: set[str]) -> set[str]:
    """The test modules (by name, as pytest's path makes them importable) that one source file imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found & test_modules


def test_the_test_import_finder_finds_a_planted_import():
    source = "import os\nfrom support import SIM\nfrom test_train import MODEL\ndef f():\n    import test_fanout as t\n"
    assert imported_test_modules(source, {"test_train", "test_fanout", "test_cli"}) == {"test_train", "test_fanout"}


def test_no_test_module_imports_another():
    """What several test modules share lives in tests/support.py: importing a test module instead would
    run its module-level setup in the importer, and fails when the importer runs alone."""
    tests = PACKAGE.parent / "tests"
    names = {p.stem for p in tests.rglob("test_*.py")}
    wrong = {
        f"{f.relative_to(tests)} imports {sorted(found)}"
        for f in tests.rglob("*.py")
        if (found := imported_test_modules(f.read_text(), names))
    }
    assert not wrong, (
        f"test modules importing other test modules (move what they share to tests/support.py): {sorted(wrong)}"
    )


def test_no_file_imports_an_old_flat_module_path():
    """Since the move to subpackages, voltlib.<module> names only the top modules or a subpackage."""
    root = PACKAGE.parent
    top = {p.stem for p in PACKAGE.glob("*.py")} | {s for s in LAYERS if s}
    wrong = []
    for f in [
        *root.glob("voltlib/**/*.py"),
        *root.glob("tests/**/*.py"),
        *root.glob("notebooks/*.py"),
        root / "Makefile",
    ]:
        for name in re.findall(r"\bvoltlib\.([a-z_]+)\b", f.read_text()):
            if name not in top and not name.startswith("__"):
                wrong.append(f"{f.relative_to(root)}: voltlib.{name}")
    assert not wrong, f"old module paths: {sorted(set(wrong))}"


def test_the_readme_layout_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    missing = [
        m
        for m in sorted(import_graph())
        if not m.endswith("__init__") and not re.search(rf"\b{m.split('.')[-1]}\b", layout)
    ]
    assert not missing, f"README.md's Layout does not name voltlib modules {missing}: add them with their concern"
