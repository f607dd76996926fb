"""The data files shipped in ``espnet2_bloomzmms/data/prompts``.

Prompts, label words, language names and refusal phrases live in data files, not in
code, so they can be read, reviewed and changed without touching the readers and
scorers that use them.
"""

from importlib import resources
from pathlib import Path

__all__ = ["prompt_file"]


def prompt_file(name: str) -> Path:
    """Path of the packaged data file ``prompts/<name>``."""
    path = Path(str(resources.files("espnet2_bloomzmms.data") / "prompts" / name))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: packaged data file is missing (reinstall espnet2-bloomzmms)")
    return path
