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
import logging
import os
import types
import zipfile
from pathlib import Path

import torch

from espnet2_bloomzmms.utils.atomic_files import atomic_path


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


def load_training_checkpoint(path) -> dict:
    """ESPnet's ``checkpoint.pth`` (model, reporter, optimizer and scheduler states) with
    ``weights_only=True``: besides tensors it holds numpy scalars and the reporter's
    timedeltas, allowed here by name; nothing else can run while it loads."""
    import datetime

    import numpy as np

    allowed = [np._core.multiarray.scalar, np.dtype, datetime.timedelta,
               *{type(np.dtype(t)) for t in ("float64", "float32", "int64")}]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def prepare_output_dir(output_dir, resume: bool) -> None:
    """Before training starts in ``output_dir``: remove the temporary files of saves a
    kill interrupted; with ``resume``, refuse a ``checkpoint.pth`` that cannot be complete
    (a kill during a save by a version without atomic saves) before ESPnet fails on it,
    and write the last epoch's ``<N>epoch.pth`` from the checkpoint when a kill came
    between the two saves (the n-best averaging at the end needs every kept epoch)."""
    output_dir = Path(output_dir)
    for tmp in output_dir.glob(".*.pth.*.tmp"):
        tmp.unlink(missing_ok=True)
    checkpoint = output_dir / "checkpoint.pth"
    if not (resume and checkpoint.is_file()):
        return
    if not zipfile.is_zipfile(checkpoint):
        epochs = sorted(output_dir.glob("*epoch.pth"), key=lambda p: p.stat().st_mtime)
        hint = f" or start from the last epoch's weights with --init_param {epochs[-1]}" if epochs else ""
        raise RuntimeError(
            f"{checkpoint}: truncated or corrupt ({checkpoint.stat().st_size} bytes; was the job killed while "
            f"saving it?): cannot resume from it. Move it away to train from the start{hint}"
        )
    state = load_training_checkpoint(checkpoint)
    epoch_file = output_dir / f"{state['reporter']['epoch']}epoch.pth"
    if not epoch_file.exists():
        logging.warning("%s is missing (the job was killed between saving %s and it): writing it from the checkpoint",
                        epoch_file, checkpoint)
        with atomic_path(epoch_file) as tmp:
            torch.save(state["model"], tmp)
