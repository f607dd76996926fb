"""Atomic saves of ESPnet's training checkpoints.

ESPnet's trainer writes ``checkpoint.pth`` (and ``<N>epoch.pth``) in place with
``torch.save``; a job killed during that write (a cluster's time limit, a preemption)
leaves a truncated ``checkpoint.pth``, and ``--resume`` then fails on it: the run is lost
to the last epoch, not to the last checkpoint. While training runs, the trainer module's
``torch`` is a proxy whose ``save`` writes to a temporary file next to the target and
renames it into place, so a checkpoint on disk is always a complete one. Only the
trainer module sees the proxy; everything else it does goes to torch unchanged (no copy
of ESPnet's trainer, and ESPnet's DeepSpeed check for the default trainer class holds).
"""

import contextlib
import os
import types
import zipfile
from pathlib import Path

import torch

from espnet2_bloomzmms.data.datadir import atomic_path


class _TorchWithAtomicSave(types.ModuleType):
    """``torch``, except that ``save`` to a path is atomic."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return getattr(torch, name)

    def save(self, obj, f, *args, **kwargs):
        if not isinstance(f, (str, os.PathLike)):
            return torch.save(obj, f, *args, **kwargs)
        with atomic_path(f) as tmp:
            torch.save(obj, tmp, *args, **kwargs)


@contextlib.contextmanager
def atomic_trainer_saves():
    """Within this block, ESPnet's trainer saves checkpoints atomically."""
    import espnet2.train.trainer as trainer_module

    original = trainer_module.torch
    trainer_module.torch = _TorchWithAtomicSave()
    try:
        yield
    finally:
        trainer_module.torch = original


def prepare_output_dir(output_dir, resume: bool) -> None:
    """Remove the temporary files of saves a kill interrupted, and (``resume``) refuse a
    ``checkpoint.pth`` that cannot be complete (a kill during a save by a version without
    atomic saves) before ESPnet fails on it mid-start-up."""
    output_dir = Path(output_dir)
    for tmp in output_dir.glob(".*.pth.*.tmp"):
        tmp.unlink(missing_ok=True)
    checkpoint = output_dir / "checkpoint.pth"
    if resume and checkpoint.is_file() and not zipfile.is_zipfile(checkpoint):
        epochs = sorted(output_dir.glob("*epoch.pth"), key=lambda p: p.stat().st_mtime)
        hint = f" or start from the last epoch's weights with --init_param {epochs[-1]}" if epochs else ""
        raise RuntimeError(
            f"{checkpoint}: truncated or corrupt ({checkpoint.stat().st_size} bytes; was the job killed while "
            f"saving it?): cannot resume from it. Move it away to train from the start{hint}"
        )
