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

from espnet2_bloomzmms.data.corpora.preparation import (
    DataDirBuilder,
    PathLike,
    PrepReport,
    Utterance,
    check_one_of,
    language_dirs,
    read_tsv,
    require_columns,
    speaker_id,
    utterance_id,
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
    check_one_of(split, SPLITS, "VoxPopuli split")
    check_one_of(text_field, sorted(TEXT_FIELDS), "text_field")
    root, out_dir, lang_map = Path(root), Path(out_dir), dict(lang_map or {})
    base = _transcribed_dir(root)
    if not base.is_dir():
        raise DataDirError(f"{root}: not a directory")
    found = {d.name: d for d in base.iterdir() if (d / f"asr_{split}.tsv").is_file()}
    if langs is None:
        found = {lang: d for lang, d in found.items() if lang in ASR_LANGUAGES}
    lang_dirs = language_dirs(base, langs, found, f"VoxPopuli asr_{split}.tsv")
    builder = DataDirBuilder(out_dir, audio_dir, max_duration, nj)
    for lang, lang_dir in lang_dirs.items():
        tsv = lang_dir / f"asr_{split}.tsv"
        for lineno, row in read_tsv(tsv):
            require_columns(tsv, row, REQUIRED_COLUMNS, "VoxPopuli asr TSV")
            where, seg = f"{tsv}:{lineno}", row["id"]
            if row["speaker_id"] in _NO_SPEAKER:
                spk = uttid = speaker_id("voxpopuli", lang, seg, where)
            else:
                spk = speaker_id("voxpopuli", lang, row["speaker_id"], where)
                uttid = utterance_id(spk, seg, where)
            builder.queue(Utterance(uttid, row[TEXT_FIELDS[text_field]].strip(), spk, lang_map.get(lang, lang),
                                    lang_dir / seg[:4] / f"{seg}.ogg", f"{split}/{lang}/{uttid}"))
        builder.prepare_audio()
    return builder.write(check_audio)
