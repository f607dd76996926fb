"""The mini recipe's ``local/*.py`` scripts, imported as modules by the tests (they are
scripts in a recipe dir, not part of the package)."""

import importlib.util
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "mini_multilingual" / "bloomzmms1"


def load_local_script(name: str):
    """``local/<name>.py`` of the mini recipe as a module (importing it has no side effects)."""
    spec = importlib.util.spec_from_file_location(name, RECIPE / "local" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
