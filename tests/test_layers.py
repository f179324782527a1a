"""The package's layers, read from its own imports: data flows one way (music -> data -> model ->
generate -> evaluate -> train -> serve -> web and the command line), so a module imports only from
its own layer or those below it, and no modules import each other in a circle. Imports inside
functions count too: they are arrows all the same."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "melody"
# Lowest first. The foundation (errors, the table of limits and defaults) is below everything; the
# surfaces (the page, the command line, the package's face) are above everything.
LAYERS = [("errors", "settings", "version"), ("music",), ("data",), ("model",), ("generation",), ("evaluate",), ("train",),
          ("serve",), ("web", "cli", "__main__", "__init__")]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def imports(path, known):
    """The melody modules ``path`` imports (at the top or inside a function), as module names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("melody"):
                continue
            for alias in node.names:  # "from . import plots" names a module; "from .x import f" a name in x
                child = f"{target}.{alias.name}"
                found.add(child if child in known else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("melody"))
    return {m for m in found if m in known and m != name}


def rank_of(module):
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    assert key in RANK, f"{module} is in no layer of tests/test_layers.py: put it in one"
    return RANK[key]


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def test_every_module_is_in_a_layer(graph):
    for module in graph:
        rank_of(module)


def test_no_module_imports_from_a_layer_above_its_own(graph):
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in targets if rank_of(b) > rank_of(a)]
    assert not upward, "imports that run against the flow of data:\n" + "\n".join(sorted(upward))


def test_no_modules_import_each_other_in_a_circle(graph):
    circles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_module_takes_a_private_name_from_another(graph):
    taken = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("melody")):
                taken += [f"{module_name(path)}: {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not taken, "private names used across modules:\n" + "\n".join(taken)
