"""The mini recipe's ``local/*.py`` scripts, imported as modules by the tests (they are
scripts in a recipe dir, not part of the package)."""

import importlib.util
import sys
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "mini_multilingual" / "bloomzmms1"


def load_local_script(name: str):
    """``local/<name>.py`` of the mini recipe as a module (importing it has no side effects);
    its sibling modules import as when it runs (Python puts a script's dir on sys.path)."""
    if str(RECIPE / "local") not in sys.path:
        sys.path.insert(0, str(RECIPE / "local"))
    spec = importlib.util.spec_from_file_location(name, RECIPE / "local" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
