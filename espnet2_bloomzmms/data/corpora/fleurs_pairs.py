"""FLEURS speech translation: pair one language's recordings with another language's
text of the same sentence (``prepare_fleurs_pairs``).

FLEURS (the speech version of FLORES) reads the same sentences in 102 languages; rows
of different languages with the same ``id`` are translations of each other. Layout read,
as released (``google/fleurs``, ``data/<lang>/``):

    ROOT/<lang>/<split>.tsv           split: train, dev, test; tab-separated, no header:
                                      id, file_name, raw_transcription, transcription,
                                      characters, num_samples, gender
    ROOT/<lang>/audio/<split>/<file>  the recordings (``audio/<split>.tar.gz`` unpacked),
                                      16 kHz WAV

Every recording of the source language whose ``id`` the target language has becomes one
utterance (a sentence is often read by several speakers); its reference translation is
the target language's ``raw_transcription`` of that ``id`` and its transcript the
source's own ``raw_transcription``. Ids that only one language has are counted.
FLEURS has no speaker labels: each utterance is its own speaker, named by its file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Optional

from espnet2_bloomzmms.data.corpora.preparation import (
    DataDirBuilder,
    PrepReport,
    Utterance,
    read_tsv,
    speaker_id,
    utterance_id,
)
from espnet2_bloomzmms.data.translation import instruction, write_st_files

__all__ = ["FLEURS_COLUMNS", "prepare_fleurs_pairs"]

FLEURS_COLUMNS = ("id", "file_name", "raw_transcription", "transcription", "characters", "num_samples", "gender")


def _tsv(root: Path, lang: str, split: str) -> Path:
    path = root / lang / f"{split}.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no FLEURS {split} list for {lang!r} (expected ROOT/<lang>/<split>.tsv)")
    return path


def prepare_fleurs_pairs(
    root: Path,
    src: str,
    tgt: str,
    out_dir: Path,
    split: str = "test",
    names: Optional[Mapping[str, str]] = None,
    audio_dir: Optional[Path] = None,
    nj: int = 1,
) -> PrepReport:
    """Write the ``src`` speech -> ``tgt`` text data dir of one FLEURS split (FLEURS
    codes, e.g. ``en_us``, ``de_de``)."""
    root, out_dir = Path(root), Path(out_dir)
    if src == tgt:
        raise ValueError(f"source and target are the same language ({src})")
    prefix, postfix = instruction(src, tgt, names)  # unknown language names fail before any work
    src_tsv, tgt_tsv = _tsv(root, src, split), _tsv(root, tgt, split)
    references: dict[str, str] = {}
    for _, row in read_tsv(tgt_tsv, FLEURS_COLUMNS):
        references.setdefault(row["id"], " ".join(row["raw_transcription"].split()))

    builder = DataDirBuilder(out_dir, audio_dir, nj=nj)
    unpaired = set()
    for lineno, row in read_tsv(src_tsv, FLEURS_COLUMNS):
        where = f"{src_tsv}:{lineno}"
        reference = references.get(row["id"])
        if reference is None:
            unpaired.add(row["id"])
            continue
        if not reference:  # before the id: a row without text is not checked further
            builder.skip("empty_text")
            continue
        name = Path(row["file_name"]).stem
        spk = speaker_id("fleurs", f"{src}_{tgt}", name, where)
        builder.queue(Utterance(utterance_id(spk, row["id"], where), reference, spk, src,
                                root / src / "audio" / split / row["file_name"], f"{src}/{name}", prefix, postfix,
                                transcript=" ".join(row["raw_transcription"].split())))
    if unpaired:
        builder.report.notes.append(f"{len(unpaired)} sentence ids of {src} have no {tgt} text in {tgt_tsv}")
        logging.warning(f"{src_tsv}: {len(unpaired)} sentence ids are not in {tgt_tsv}; their recordings are left out")
    report = builder.write()
    write_st_files(out_dir, builder.kept, src, tgt, builder.transcripts)
    return report
