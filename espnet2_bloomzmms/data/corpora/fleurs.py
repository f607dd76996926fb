"""FLEURS (Conneau et al., SLT 2022): read speech in 102 languages, as released in the
``google/fleurs`` dataset repository on the Hugging Face hub.

Layout read (``<root>`` is the repository, or its ``data`` folder)::

    <root>/data/<lang>/{train,dev,test}.tsv
    <root>/data/<lang>/audio/{train,dev,test}.tar.gz     members <split>/<file name>
    <root>/data/<lang>/audio/<split>/<file name>         (the same, once extracted)

An extracted folder is used when present, the archive otherwise (streamed; its WAVs are
written once under the audio dir).  A TSV line (no header) holds: sentence id, file
name, raw transcription, normalised transcription, characters, #samples, gender.

FLEURS has no speaker labels, so each utterance is its own speaker:
``fleurs_<lang>_<file stem>``.  utt2lang holds the corpus code (``en_us``) or its value
in ``lang_map``.  ``text`` is the raw transcription (cased and punctuated, what the LLM
is to write) or, with ``text_field="normalized"``, the normalised one.  The English
names and ISO 639 codes of the 102 languages are in ``fleurs_languages.tsv`` (columns
code, name, ISO 639-3, ISO 639-1 or empty), readable as the recipes' ``languages.tsv``.
"""

from __future__ import annotations

import functools
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

from espnet2_bloomzmms.data.corpora.audio import AudioJob
from espnet2_bloomzmms.data.corpora.preparation import (
    PathLike,
    PrepReport,
    UtteranceTable,
    language_dirs,
    new_preparer,
    read_tsv,
    speaker_id,
    write_prepared,
)
from espnet2_bloomzmms.data.datadir import DataDirError

__all__ = ["FLEURS_COLUMNS", "LANGUAGES_TSV", "FleursLanguage", "fleurs_languages", "prepare_fleurs"]

FLEURS_COLUMNS = ("id", "file_name", "raw_transcription", "transcription", "characters",
                  "num_samples", "gender")
SPLITS = ("train", "dev", "test")
TEXT_FIELDS = {"raw": "raw_transcription", "normalized": "transcription"}
LANGUAGES_TSV = Path(__file__).with_name("fleurs_languages.tsv")


@dataclass(frozen=True)
class FleursLanguage:
    code: str  # FLEURS code, e.g. "cmn_hans_cn"
    name: str  # English name, e.g. "Mandarin Chinese"
    iso639_3: str  # e.g. "cmn"
    iso639_1: Optional[str]  # e.g. "zh"; None where the language has none


@functools.lru_cache(maxsize=1)
def fleurs_languages() -> dict[str, FleursLanguage]:
    """The 102 FLEURS languages by code, from the package's ``fleurs_languages.tsv``."""
    out = {}
    for line in LANGUAGES_TSV.read_text(encoding="utf-8").splitlines():
        code, name, iso3, iso1 = line.split("\t")
        out[code] = FleursLanguage(code, name, iso3, iso1 or None)
    return out


def _data_dir(root: Path) -> Path:
    return root / "data" if (root / "data").is_dir() else root


def _found_languages(data: Path, split: str) -> dict[str, Path]:
    return {d.name: d for d in data.iterdir() if d.is_dir() and (d / f"{split}.tsv").is_file()}


def _archive_jobs(archive: Path, sub: str, rows: Mapping[str, str], seen: set) -> Iterator[AudioJob]:
    """Jobs for the archive members that the TSV lists (``rows``: file name -> uttid)."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or name not in rows or name in seen:
                continue
            seen.add(name)
            uttid = rows[name]
            data = tar.extractfile(member).read()
            yield AudioJob(uttid, archive / member.name, f"{sub}/{uttid}", data)


def _audio_jobs(lang_dir: Path, split: str, rows: Mapping[str, str]) -> Iterator[AudioJob]:
    folder, archive = lang_dir / "audio" / split, lang_dir / "audio" / f"{split}.tar.gz"
    sub = f"{split}/{lang_dir.name}"  # converted audio: <audio dir>/<split>/<lang>/<uttid>.wav
    if folder.is_dir():
        for name, uttid in rows.items():
            yield AudioJob(uttid, folder / name, f"{sub}/{uttid}")
    elif archive.is_file():
        seen: set = set()
        yield from _archive_jobs(archive, sub, rows, seen)
        for name, uttid in rows.items():  # listed but not in the archive: reported missing
            if name not in seen:
                yield AudioJob(uttid, archive / split / name, f"{sub}/{uttid}")
    else:
        raise DataDirError(f"{lang_dir}: no audio for {split}: neither {folder} nor {archive} exists")


def prepare_fleurs(
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
    """Write the data dir of one FLEURS split for ``langs`` (default: all on disk)."""
    if split not in SPLITS:
        raise ValueError(f"FLEURS split must be one of {SPLITS}, got {split!r}")
    if text_field not in TEXT_FIELDS:
        raise ValueError(f"text_field must be one of {sorted(TEXT_FIELDS)}, got {text_field!r}")
    root, out_dir, lang_map = Path(root), Path(out_dir), dict(lang_map or {})
    data = _data_dir(root)
    if not data.is_dir():
        raise DataDirError(f"{root}: not a directory")
    lang_dirs = language_dirs(data, langs, _found_languages(data, split), f"FLEURS {split}.tsv")
    unknown = [lang for lang in lang_dirs if lang not in fleurs_languages()]
    if unknown:
        raise DataDirError(f"{data}: {', '.join(unknown)} are not FLEURS language codes")
    report = PrepReport(out_dir, max_duration)
    table = UtteranceTable(report)
    preparer = new_preparer(out_dir, audio_dir, max_duration, nj)
    for lang, lang_dir in lang_dirs.items():
        tsv = lang_dir / f"{split}.tsv"
        rows: dict[str, str] = {}  # file name -> uttid
        for lineno, row in read_tsv(tsv, FLEURS_COLUMNS):
            text = row[TEXT_FIELDS[text_field]].strip()
            if not text:
                report.skipped["empty_text"] += 1
                continue
            uttid = speaker_id("fleurs", lang, Path(row["file_name"]).stem, f"{tsv}:{lineno}")
            fields = {"text": text, "spk": uttid, "lang": lang_map.get(lang, lang)}
            if table.add(uttid, fields):
                rows[row["file_name"]] = uttid
        table.settle(preparer.prepare_all(_audio_jobs(lang_dir, split, rows)))
    return write_prepared(table, check_audio)
