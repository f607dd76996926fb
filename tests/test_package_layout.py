"""The package's shape: the runtime modules do not depend on the test support
(espnet2_bloomzmms.testing), and no two modules import each other, even lazily (a cycle
works only while one side imports inside a function, and breaks when someone tidies it)."""

import ast
from pathlib import Path

import espnet2_bloomzmms

PACKAGE = Path(espnet2_bloomzmms.__file__).parent


def _modules() -> dict:
    """module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path):
    """Every absolute import in a file (module level or inside functions)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def _import_graph() -> dict:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imports(path):
            while imported and imported not in modules:  # `from pkg.mod import func` -> pkg.mod
                imported = imported.rpartition(".")[0]
            if imported and imported not in (name, "espnet2_bloomzmms"):
                deps.add(imported)
        graph[name] = deps
    return graph


def test_runtime_modules_do_not_import_test_support():
    offenders = [f"{name} imports {dep}" for name, deps in _import_graph().items()
                 if not name.startswith("espnet2_bloomzmms.testing")
                 for dep in deps if dep.startswith("espnet2_bloomzmms.testing")]
    assert not offenders, offenders
    assert "espnet2_bloomzmms.testing.base_model_configs" in _modules()  # the check looks where it should


def test_no_import_cycles():
    graph = _import_graph()
    assert "espnet2_bloomzmms.hub" in graph["espnet2_bloomzmms.inference.loading"]  # edges are seen
    cycles, state, path = [], {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, cycles
