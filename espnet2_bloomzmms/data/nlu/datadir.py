"""The files of an NLU data dir beyond a plain data dir.

Besides ``wav.scp`` (the spoken field), ``utt2spk``, ``utt2lang``, ``text`` (the gold
label word, or the STS-B score) and ``prefix``/``postfix`` (the task prompt around the
speech, the other fields written in), an NLU data dir holds:

    transcript  <uttid> <the spoken field as text>: what ``bin/text_baselines.py`` gives
                the LLM in place of the speech (the gold-transcript ceiling)
    answers     the task's label words, one per line: the answer constraint for
                decoding (``mapfile -t a < answers; ... --allowed_answers "${a[@]}"``)
    task        the task's name in ``prompts/nlu.yaml`` (``score_nlu --task``)

With both sentences of a two-sentence task spoken, ``wav.scp`` / ``transcript`` are the
first sentence (in the template's order) and the dir also holds

    wav2.scp     <uttid> <audio of the second sentence>
    transcript2  <uttid> <the second sentence as text>
    middle       <uttid> <the prompt text between the two sentences> (a JSON string)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Optional

from espnet2_bloomzmms.data.datadir import write_kv
from espnet2_bloomzmms.data.nlu.tasks import NLUTask
from espnet2_bloomzmms.utils.atomic_files import atomic_path

__all__ = ["gold_and_pair_prompt", "gold_and_prompt", "read_answers", "write_nlu_dir", "write_nlu_files"]


def gold_and_pair_prompt(task: NLUTask, label: str, where: str) -> tuple[str, str, str, str]:
    """(``text``, ``prefix``, ``middle``, ``postfix``) of one example whose two sentences
    are both spoken (see :meth:`NLUTask.instruction_pair`)."""
    try:
        gold = task.gold(label)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from e
    return (gold, *task.instruction_pair())


def gold_and_prompt(task: NLUTask, label: str, spoken: str, texts: Mapping[str, str], where: str) -> tuple[str, str, str]:
    """(``text``, ``prefix``, ``postfix``) of one example: the label word of ``label``, and
    the task prompt around the ``spoken`` field with the other ``texts`` written in.  A
    label the task does not have is an error naming ``where`` (file:line)."""
    try:
        gold = task.gold(label)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from e
    prefix, postfix = task.instruction(spoken, texts)
    return gold, prefix, postfix


def write_nlu_files(out_dir: Path, task: NLUTask, uttids: Iterable[str], transcripts: Mapping[str, str],
                    second: Optional[Mapping[str, tuple[str, str, str]]] = None) -> None:
    """The NLU files beside the data dir; ``second``: uttid -> (wav2.scp entry,
    transcript2, middle) of a spoken sentence pair."""
    out_dir = Path(out_dir)
    uttids = list(uttids)
    write_kv(out_dir / "transcript", {u: transcripts[u] for u in uttids})
    if second is not None:
        for i, name in enumerate(("wav2.scp", "transcript2", "middle")):
            write_kv(out_dir / name, {u: second[u][i] for u in uttids})
    for name, lines in (("answers", task.answers), ("task", [task.name])):
        with atomic_path(out_dir / name) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def read_answers(path: Path) -> list[str]:
    """The label words of an ``answers`` file (one per line; blank lines are an error)."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or any(not line.strip() for line in lines):
        raise ValueError(f"{path}: expected one non-empty answer per line")
    return lines


def write_nlu_dir(builder, task: NLUTask, seconds: Optional[Mapping[str, tuple]] = None):
    """Write the data dir a corpus reader queued in ``builder`` and its NLU files;
    ``seconds``: uttid -> (audio job, text, middle) of each pair's second sentence, whose
    audio is prepared first (a pair without usable second audio is dropped, counted)."""
    entries = builder.prepare_second_audio(job for job, _, _ in seconds.values()) if seconds else None
    report = builder.write()
    pairs = None
    if seconds:
        pairs = {u: (entries[u], seconds[u][1], seconds[u][2]) for u in builder.kept}
    write_nlu_files(builder.out_dir, task, builder.kept, builder.transcripts, pairs)
    return report
