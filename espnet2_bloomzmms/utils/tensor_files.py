"""Reading a ``torch.save`` file that may come from anywhere (a hub download, a shared
disk): tensors only, so that loading it never runs code, and a clear error naming the
file when it is truncated, zeroed or of another kind."""

import pickle
import zipfile
from pathlib import Path
from typing import Union


def read_tensors(path: Union[str, Path], device: str = "cpu", mmap: bool = False):
    """``torch.load(path, weights_only=True)``; a ``ValueError`` naming ``path`` where it is
    not a readable PyTorch file or holds more than tensors (and plain containers/strings).
    ``mmap``: map the tensors instead of reading them (multi-GB files)."""
    import torch

    path = Path(path)
    if not zipfile.is_zipfile(path):  # torch.save's format; catches truncated/zeroed files
        raise ValueError(
            f"{path}: not a PyTorch model file (no torch.save zip structure; {path.stat().st_size} bytes): "
            "truncated, zeroed or another kind of file?"
        )
    try:  # tensors only: a downloaded file never runs code while it loads
        return torch.load(path, map_location=device, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"{path}: refused to load: it holds more than tensors (weights_only=True), as a training "
            "checkpoint (checkpoint.pth) or a file carrying code does; use valid.*.best.pth, valid.*.ave*.pth "
            f"or <N>epoch.pth ({str(e).splitlines()[0]})"
        ) from e
    except (RuntimeError, EOFError, OSError, KeyError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable PyTorch model file (truncated or corrupt?): {e}") from e
