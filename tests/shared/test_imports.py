"""Imports run one way: shared <- apps <- pipelines, no app imports another, and no cycles.

Every import counts, also one inside a function and a module named in an ``import_module``
string: a lazy import still ties two modules together. Imports under ``if TYPE_CHECKING:``
do not (they are never executed).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "apps", "pipelines")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (a submodule, else its package), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _runtime_nodes(tree: ast.AST):
    """Every node, except those under ``if TYPE_CHECKING:`` (annotations only, never imported at run time)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None) if isinstance(child, ast.If) else None
            if test is not None and (getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _imports(module: str, path: Path) -> set[str]:
    """Project modules ``module`` imports, by any route."""
    names: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return {r for r in map(_resolve, names) if r and r != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def test_shared_names_nothing_from_apps_or_pipelines_not_even_in_a_string():
    offenders = []
    for module, path in MODULES.items():
        if not module.startswith("shared"):
            continue
        offenders += [f"{module} imports {target}" for target in GRAPH[module] if not target.startswith("shared")]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.startswith(("apps.", "pipelines.", "apps/", "pipelines/")):
                offenders.append(f"{module} names {node.value!r}")
    assert not offenders, "\n".join(offenders)


def test_an_app_imports_shared_and_itself_only():
    offenders = []
    for module, targets in GRAPH.items():
        if not module.startswith("apps."):
            continue
        app = module.split(".")[1]
        offenders += [f"{module} imports {t}" for t in targets
                      if not (t.startswith("shared") or t == "apps" or t.startswith(f"apps.{app}"))]
    assert not offenders, "\n".join(offenders)


def test_no_import_cycle_anywhere():
    """Tarjan's strongly connected components: every one must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_the_graph_sees_lazy_and_string_imports():
    assert "pipelines.fanout" in GRAPH["pipelines.template"]  # imported inside a function
    assert "shared.app" in GRAPH["pipelines.flows"]
