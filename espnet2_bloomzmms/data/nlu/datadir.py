"""The files of an NLU data dir beyond a plain data dir.

Besides ``wav.scp`` (the spoken field), ``utt2spk``, ``utt2lang``, ``text`` (the gold
label word, or the STS-B score) and ``prefix``/``postfix`` (the task prompt around the
speech, the other fields written in), an NLU data dir holds:

    transcript  <uttid> <the spoken field as text>: what ``bin/text_baselines.py`` gives
                the LLM in place of the speech (the gold-transcript ceiling)
    answers     the task's label words, one per line: the answer constraint for
                decoding (``mapfile -t a < answers; ... --allowed_answers "${a[@]}"``)
    task        the task's name in ``prompts/nlu.yaml`` (``score_nlu --task``)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from espnet2_bloomzmms.data.datadir import atomic_path, write_kv
from espnet2_bloomzmms.data.nlu.tasks import NLUTask

__all__ = ["gold_and_prompt", "read_answers", "write_nlu_files"]


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


def write_nlu_files(out_dir: Path, task: NLUTask, uttids: Iterable[str], transcripts: Mapping[str, str]) -> None:
    out_dir = Path(out_dir)
    write_kv(out_dir / "transcript", {u: transcripts[u] for u in uttids})
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
