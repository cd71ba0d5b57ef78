"""The package's layers, kept by the code: every import of ``src/bcnmf`` points to its own layer or
a lower one, and the modules import each other without a cycle.

Read statically with ``ast``, imports inside functions included: a deferred import is still an
arrow between layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bcnmf

PACKAGE_ROOT = Path(bcnmf.__file__).parent

#: Lowest first. A module may import modules of its own layer and of the layers listed before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("bcnmf._version", "bcnmf.utils", "bcnmf.datasets")),
    ("statistics", ("bcnmf.enrichment", "bcnmf.evaluation")),
    ("backend", ("bcnmf.backend",)),
    ("losses", ("bcnmf.losses",)),
    ("engine", ("bcnmf.engine",)),
    ("solvers", ("bcnmf.solvers",)),
    ("models", ("bcnmf.models",)),
    ("selection", ("bcnmf.selection",)),
    ("estimators", ("bcnmf.estimators",)),
    ("front", ("bcnmf", "bcnmf.tl", "bcnmf.pl", "bcnmf.get", "bcnmf.io", "bcnmf.cli")),
]
#: The layers that must never reach the front end (command line, tl/pl/get, report, readers).
BELOW_FRONT = ("models", "solvers", "engine", "losses", "backend")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the longest prefix that names ``module``'s layer."""
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    if best is None:
        raise LookupError(module)
    return best


def imported_modules(module: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source. ``from a import b``
    points to the module ``a.b`` when there is one, else to ``a``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imported_modules(module) for module in MODULES}


def test_every_module_belongs_to_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except LookupError:
            unplaced.append(module)
    assert not unplaced, f"place these modules in a layer of LAYERS: {unplaced}"


def test_imports_point_down_or_sideways():
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for module, targets in GRAPH.items() for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_lower_layer_imports_the_front_end():
    names = [name for name, _ in LAYERS]
    front = names.index("front")
    below = {names.index(name) for name in BELOW_FRONT}
    offending = [f"{module} imports {target}" for module, targets in GRAPH.items() if layer_of(module) in below
                 for target in targets if layer_of(target) == front]
    assert not offending, "\n".join(offending)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert find_cycle(graph) == expected


def test_the_layer_check_sees_a_deferred_upward_import(tmp_path, monkeypatch):
    # A function-local import is an arrow like any other: the check must not miss it.
    source = MODULES["bcnmf.models.contrastive"].read_text() + "\n\ndef _late():\n    from bcnmf import tl\n"
    fake = tmp_path / "contrastive.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "bcnmf.models.contrastive", fake)
    assert "bcnmf.tl" in imported_modules("bcnmf.models.contrastive")
