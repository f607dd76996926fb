"""Running the training entry point (``espnet2_bloomzmms.bin.train``) from tests: data
options for a data dir, and an in-process run that hands the model ESPnet built (after
its own cast and device move) to a test hook before training it."""

from pathlib import Path
from typing import Callable, Iterable, List, Optional

DATA_FILES = ("wav.scp,speech,sound", "text,text,text", "utt2lang,lang,text", "prefix,prefix,text",
              "postfix,postfix,text")


def data_options(data_dir: Path, splits: Iterable[str] = ("train", "valid"), names=DATA_FILES) -> List[str]:
    options = []
    for split in splits:
        for spec in names:
            options += [f"--{split}_data_path_and_name_and_type", f"{data_dir}/{spec}"]
    return options


def shape_options(data_dir: Path, tmp_path: Path) -> List[str]:
    """Key files as shape files (``batch_type`` sorted/unsorted need no lengths)."""
    keys = tmp_path / "keys"
    keys.write_text("".join(line.split()[0] + "\n" for line in (data_dir / "wav.scp").open()))
    return ["--train_shape_file", str(keys), "--valid_shape_file", str(keys)]


def observing_trainer(before: Optional[Callable] = None, after: Optional[Callable] = None):
    """The task's trainer class, calling ``before(model)`` on the model it receives (what
    ``bin.train`` built, cast and moved) and ``after(model, optimizers)`` once it trained."""
    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    class Observed(BloomzMMSTask.trainer):
        @classmethod
        def run(cls, model, optimizers, *args, **kwargs):
            if before is not None:
                before(model)
            super().run(model, optimizers, *args, **kwargs)
            if after is not None:
                after(model, optimizers)

    return Observed


def train_in_process(cmd: List[str], monkeypatch, before: Optional[Callable] = None) -> None:
    """``bin.train.main(cmd)`` with ``before(model)`` called on the model the trainer
    receives, then training as usual."""
    from espnet2_bloomzmms.bin import train
    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    monkeypatch.setattr(BloomzMMSTask, "trainer", observing_trainer(before))
    train.main(cmd)


def load_training_checkpoint(path: Path) -> dict:
    """ESPnet's ``checkpoint.pth``, loaded as our training entry loads it (weights only)."""
    from espnet2_bloomzmms.train.atomic_checkpoints import load_training_checkpoint as load

    return load(path)
