"""SpeechGLUE (Ashihara et al., Interspeech 2023) validation sets as NLU data dirs.

Layout read, as SpeechGLUE's ``downstream/speechglue/data_prep.py`` writes it
(https://github.com/ashi-ta/speechGLUE):

    ROOT/<glue task>/<split>/data.csv
        the GLUE rows as CSV (``datasets``' ``to_csv``, header line): the task's text
        fields (normalised for TTS: exactly what is spoken), ``label``, ``idx`` and
        ``file_<field>`` / ``length_<field>`` per text field
    ROOT/<glue task>/<split>/<field>/<idx // 10000 * 10000>/<idx>.wav
        the TTS speech of each field, 16 kHz

GLUE tasks are cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli; our ``mnli_matched``
and ``mnli_mismatched`` read mnli's ``validation_matched`` / ``validation_mismatched``.
Test labels are hidden in GLUE, so the default (and useful) split is validation.

``spoken`` picks what is given as speech: ``all`` (Denisov & Vu 2024: every field; for a
two-sentence task ``prefix + speech 1 + middle + speech 2 + postfix``, the sentences in
the template's order, written as ``wav.scp`` + ``wav2.scp``, see ``nlu.datadir``), or one
field, ``first`` (default: the task's first field, as SpeechGLUE lists it -- premise,
sentence1, question1, and question for qnli), ``second`` or a field name, the other
field going into the prompt as its (TTS-normalised) text.

Audio is taken from the layout under ROOT (``data.csv`` holds absolute paths of the
machine that synthesised it), else from the path in ``data.csv``; rows whose audio is
missing are skipped and counted. Each utterance is its own speaker (one TTS voice).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

from espnet2_bloomzmms.data.corpora.preparation import (
    DataDirBuilder,
    PrepReport,
    Utterance,
    speaker_id,
    utterance_id,
)
from espnet2_bloomzmms.data.corpora.audio import AudioJob
from espnet2_bloomzmms.data.nlu.datadir import gold_and_pair_prompt, gold_and_prompt, write_nlu_dir
from espnet2_bloomzmms.data.nlu.tasks import NLUTask, get_task

__all__ = ["GLUE_SOURCES", "prepare_speechglue", "spoken_field"]

#: our task -> (SpeechGLUE task dir, its validation split)
GLUE_SOURCES = {
    "cola": ("cola", "validation"),
    "sst2": ("sst2", "validation"),
    "mrpc": ("mrpc", "validation"),
    "qqp": ("qqp", "validation"),
    "stsb": ("stsb", "validation"),
    "mnli_matched": ("mnli", "validation_matched"),
    "mnli_mismatched": ("mnli", "validation_mismatched"),
    "qnli": ("qnli", "validation"),
    "rte": ("rte", "validation"),
    "wnli": ("wnli", "validation"),
}


def spoken_field(task: NLUTask, spoken: str) -> str:
    """The field named by ``spoken``: ``first``, ``second`` or a field name."""
    if spoken in task.fields:
        return spoken
    order = {"first": 0, "second": 1}
    if spoken not in order or order[spoken] >= len(task.fields):
        raise ValueError(f"task {task.name}: cannot speak {spoken!r}; fields are {list(task.fields)}")
    return task.fields[order[spoken]]


def _audio(root: Path, glue_task: str, split: str, field: str, row: dict) -> Path:
    idx = int(row["idx"])
    local = root / glue_task / split / field / str(idx // 10000 * 10000) / f"{idx}.wav"
    listed = Path(row.get(f"file_{field}") or local)
    return local if local.is_file() or not listed.is_file() else listed


def prepare_speechglue(
    root: Path,
    task_name: str,
    out_dir: Path,
    split: Optional[str] = None,
    spoken: str = "first",
    audio_dir: Optional[Path] = None,
    nj: int = 1,
) -> PrepReport:
    """Write the NLU data dir of one SpeechGLUE task (see the module docstring)."""
    root, out_dir = Path(root), Path(out_dir)
    if task_name not in GLUE_SOURCES:
        raise ValueError(f"unknown SpeechGLUE task {task_name!r}; known: {', '.join(GLUE_SOURCES)}")
    task = get_task(task_name)
    glue_task, default_split = GLUE_SOURCES[task_name]
    split = split or default_split
    pair = spoken == "all" and len(task.fields) == 2
    first, second = task.spoken_pair() if pair else (spoken_field(task, "first" if spoken == "all" else spoken), None)
    csv_path = root / glue_task / split / "data.csv"
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: no SpeechGLUE data (expected ROOT/<glue task>/<split>/data.csv)")
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in (*task.fields, "label", "idx") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path}: no column(s) {missing}; its header has {reader.fieldnames}")
        rows = list(reader)

    builder = DataDirBuilder(out_dir, audio_dir, nj=nj)
    seconds = {}  # uttid -> (its second sentence's audio job, text, the middle of the prompt)
    for lineno, row in enumerate(rows, 2):
        where = f"{csv_path}:{lineno}"
        texts = {k: " ".join((row[k] or "").split()) for k in task.fields}
        if not texts[first] or (pair and not texts[second]):  # before the label: no speech text, no check
            builder.skip("empty_text")
            continue
        spk = speaker_id("speechglue", "en", f"{task_name}_{row['idx']}", where)
        uttid = utterance_id(spk, "pair" if pair else first, where)
        if pair:
            gold, prefix, middle, postfix = gold_and_pair_prompt(task, row["label"], where)
            job = AudioJob(uttid, _audio(root, glue_task, split, second, row), f"{task_name}/{row['idx']}_{second}")
            seconds[uttid] = (job, texts[second], middle)
        else:
            gold, prefix, postfix = gold_and_prompt(task, row["label"], first, texts, where)
        builder.queue(Utterance(uttid, gold, spk, "en", _audio(root, glue_task, split, first, row),
                                f"{task_name}/{row['idx']}", prefix, postfix, transcript=texts[first]))
    return write_nlu_dir(builder, task, seconds if pair else None)
