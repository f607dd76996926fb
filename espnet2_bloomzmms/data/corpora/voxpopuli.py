"""VoxPopuli (Wang et al., ACL 2021) transcribed speech: European Parliament, 16 languages.

Layout read: what ``python -m voxpopuli.get_asr_data --root <root> --lang <lang>``
writes (``<root>`` may also be its ``transcribed_data`` folder)::

    <root>/transcribed_data/<lang>/asr_{train,dev,test}.tsv
    <root>/transcribed_data/<lang>/<year>/<id>.ogg        (<year>: the id's first 4 characters)

The TSVs have a header (``id raw_text normalized_text speaker_id split gender``, newer
versions add ``is_gold_transcript accent``); the columns used are named.  Ids: speaker
``voxpopuli_<lang>_<speaker_id>``, utterance ``<speaker>-<id>``; a segment without a
speaker (``None``) is its own speaker ``voxpopuli_<lang>_<id>``.  ``text`` is the raw
text (cased, punctuated) or, with ``text_field="normalized"``, the normalised one.  The
Ogg Vorbis segments are decoded once to 16 kHz WAV files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

from espnet2_bloomzmms.data.corpora.audio import AudioJob
from espnet2_bloomzmms.data.corpora.preparation import (
    PathLike,
    PrepReport,
    UtteranceTable,
    language_dirs,
    new_preparer,
    read_tsv,
    speaker_id,
    utterance_id,
    write_prepared,
)
from espnet2_bloomzmms.data.datadir import DataDirError

__all__ = ["ASR_LANGUAGES", "prepare_voxpopuli"]

#: the 16 languages with transcribed data (VoxPopuli's ``ASR_LANGUAGES``)
ASR_LANGUAGES = ("en", "de", "fr", "es", "pl", "it", "ro", "hu", "cs", "nl", "fi", "hr",
                 "sk", "sl", "et", "lt")
SPLITS = ("train", "dev", "test")
TEXT_FIELDS = {"raw": "raw_text", "normalized": "normalized_text"}
REQUIRED_COLUMNS = ("id", "raw_text", "normalized_text", "speaker_id")
_NO_SPEAKER = frozenset({"", "None", "none"})


def _transcribed_dir(root: Path) -> Path:
    return root / "transcribed_data" if (root / "transcribed_data").is_dir() else root


def prepare_voxpopuli(
    root: PathLike,
    split: str,
    out_dir: PathLike,
    langs: Optional[Sequence[str]] = None,
    audio_dir: Optional[PathLike] = None,
    text_field: str = "raw",
    max_duration: Optional[float] = 30.0,
    lang_map: Optional[Mapping[str, str]] = None,
    nj: int = 1,
    check_audio: bool = False,
) -> PrepReport:
    """Write the data dir of one split for ``langs`` (default: those of the 16 on disk)."""
    if split not in SPLITS:
        raise ValueError(f"VoxPopuli split must be one of {SPLITS}, got {split!r}")
    if text_field not in TEXT_FIELDS:
        raise ValueError(f"text_field must be one of {sorted(TEXT_FIELDS)}, got {text_field!r}")
    root, out_dir, lang_map = Path(root), Path(out_dir), dict(lang_map or {})
    base = _transcribed_dir(root)
    if not base.is_dir():
        raise DataDirError(f"{root}: not a directory")
    found = {d.name: d for d in base.iterdir() if (d / f"asr_{split}.tsv").is_file()}
    if langs is None:
        found = {lang: d for lang, d in found.items() if lang in ASR_LANGUAGES}
    lang_dirs = language_dirs(base, langs, found, f"VoxPopuli asr_{split}.tsv")
    report = PrepReport(out_dir, max_duration)
    table = UtteranceTable(report)
    preparer = new_preparer(out_dir, audio_dir, max_duration, nj)
    for lang, lang_dir in lang_dirs.items():
        tsv = lang_dir / f"asr_{split}.tsv"
        jobs = []
        for lineno, row in read_tsv(tsv):
            missing = [c for c in REQUIRED_COLUMNS if c not in row]
            if missing:
                raise DataDirError(f"{tsv}: no column {', '.join(missing)}; is it a VoxPopuli asr TSV?")
            where, seg = f"{tsv}:{lineno}", row["id"]
            if row["speaker_id"] in _NO_SPEAKER:
                spk = uttid = speaker_id("voxpopuli", lang, seg, where)
            else:
                spk = speaker_id("voxpopuli", lang, row["speaker_id"], where)
                uttid = utterance_id(spk, seg, where)
            text = row[TEXT_FIELDS[text_field]].strip()
            if not text:
                report.skipped["empty_text"] += 1
                continue
            if table.add(uttid, {"text": text, "spk": spk, "lang": lang_map.get(lang, lang)}):
                jobs.append(AudioJob(uttid, lang_dir / seg[:4] / f"{seg}.ogg", f"{split}/{lang}/{uttid}"))
        table.settle(preparer.prepare_all(jobs))
    return write_prepared(table, check_audio)
