"""The runtime package does not depend on its test support (espnet2_bloomzmms.testing)."""

import ast
from pathlib import Path

import espnet2_bloomzmms

PACKAGE = Path(espnet2_bloomzmms.__file__).parent


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_runtime_modules_do_not_import_test_support():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py")) if "testing" not in path.relative_to(PACKAGE).parts
        for name in _imports(path) if name.startswith("espnet2_bloomzmms.testing")
    ]
    assert not offenders, offenders
    assert (PACKAGE / "testing" / "base_model_configs.py").is_file()  # the check looks where it should
