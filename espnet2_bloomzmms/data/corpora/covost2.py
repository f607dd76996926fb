"""CoVoST 2 speech-translation test sets as data dirs (``prepare_covost2``).

Layout read, as released (https://github.com/facebookresearch/covost):

    COVOST_DIR/covost_v2.<src>_<tgt>.tsv
        from ``covost_v2.<src>_<tgt>.tsv.tar.gz``: tab-separated with a header line.
        Columns used: ``path`` (the Common Voice clip, e.g.
        ``common_voice_en_19664034.mp3``), ``translation``, ``split`` (train,
        train_covost, dev, test) and, where present, ``sentence`` and ``client_id``.
    or COVOST_DIR/covost_v2.<src>_<tgt>.<split>.tsv
        one split as the release's ``get_covost_splits.py`` writes it: ``path``,
        ``sentence``, ``translation``, ``client_id`` (no split column).
    CV_DIR/clips/<path>
        the Common Voice clips (mp3, 48 kHz), decoded once to 16 kHz WAV files by
        ``corpora.audio`` (under ``<out_dir>/wavs`` or ``audio_dir``; a shared
        ``audio_dir`` lets the pairs of one source language decode its clips once).
    CV_DIR/validated.tsv  (optional)
        Common Voice's own TSV (``client_id``, ``path``, ``sentence``, ...): the
        transcript and speaker of each clip where the CoVoST TSV has none.

Ids follow ``corpora.preparation``: speaker ``covost2_<src>_<tgt>_<client_id>`` (each
utterance its own speaker where the client is unknown), utterance ``<speaker>-<clip>``.
Test sets are kept whole (no duration limit). Missing or undecodable clips and rows
without a translation are skipped and counted.
"""

from __future__ import annotations

import re
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

__all__ = ["parse_tsv_name", "prepare_covost2"]

_TSV_NAME = re.compile(r"^covost_v2\.([^_.]+)_([^_.]+)(?:\.(train|dev|test))?\.tsv$")


def parse_tsv_name(path: Path) -> tuple[str, str, Optional[str]]:
    """(src, tgt, split or None) from ``covost_v2.<src>_<tgt>[.<split>].tsv``."""
    m = _TSV_NAME.match(Path(path).name)
    if m is None:
        raise ValueError(
            f"{path}: not a CoVoST 2 TSV name (covost_v2.<src>_<tgt>.tsv or covost_v2.<src>_<tgt>.<split>.tsv)"
        )
    return m.group(1), m.group(2), m.group(3)


def _in_split(row_split: str, split: str) -> bool:
    # as get_covost_splits.py (v2): train is "train" and "train_covost"
    return row_split == split or (split == "train" and row_split == "train_covost")


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    rows = list(read_tsv(path))
    header = rows[0][1].keys() if rows else ()
    missing = [c for c in required if rows and c not in header]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; its header has {list(header)}")
    return rows


def prepare_covost2(
    covost_tsv: Path,
    clips_dir: Path,
    out_dir: Path,
    split: str = "test",
    validated_tsv: Optional[Path] = None,
    names: Optional[Mapping[str, str]] = None,
    audio_dir: Optional[Path] = None,
    nj: int = 1,
) -> PrepReport:
    """Write the data dir of one CoVoST 2 split (see the module docstring)."""
    covost_tsv, clips_dir, out_dir = Path(covost_tsv), Path(clips_dir), Path(out_dir)
    src, tgt, file_split = parse_tsv_name(covost_tsv)
    if file_split is not None and file_split != split:
        raise ValueError(f"{covost_tsv}: holds the {file_split} split, not {split}")
    prefix, postfix = instruction(src, tgt, names)  # unknown language names fail before any work
    if not clips_dir.is_dir():
        raise FileNotFoundError(f"{clips_dir}: Common Voice clips directory does not exist")
    rows = _rows(covost_tsv, ("path", "translation") + (("split",) if file_split is None else ()))
    rows = [(n, r) for n, r in rows if file_split is not None or _in_split(r["split"], split)]
    if not rows:
        raise ValueError(f"{covost_tsv}: no rows in split {split!r}")
    cv = {}
    if validated_tsv is not None:
        cv = {r["path"]: r for _, r in _rows(Path(validated_tsv), ("client_id", "path", "sentence"))}

    builder = DataDirBuilder(out_dir, audio_dir, nj=nj)
    for lineno, row in rows:
        where = f"{covost_tsv}:{lineno}"
        info = {**cv.get(row["path"], {}), **{k: v for k, v in row.items() if v}}
        clip = Path(row["path"]).stem
        spk = speaker_id("covost2", f"{src}_{tgt}", info.get("client_id") or clip, where)
        uttid = utterance_id(spk, clip, where)
        builder.queue(Utterance(uttid, " ".join(row["translation"].split()), spk, src,
                                clips_dir / row["path"], f"{src}/{clip}", prefix, postfix,
                                transcript=" ".join(info.get("sentence", "").split())))
    report = builder.write()
    write_st_files(out_dir, builder.kept, src, tgt, builder.transcripts)
    return report
