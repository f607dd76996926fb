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
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

from espnet2_bloomzmms.data.corpora.audio import AudioJob
from espnet2_bloomzmms.data.corpora.preparation import (
    DataDirBuilder,
    PathLike,
    PrepReport,
    Utterance,
    check_one_of,
    language_dirs,
    read_tsv,
    speaker_id,
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


def _archive_jobs(archive: Path, utts: Mapping[str, Utterance], seen: set) -> Iterator[AudioJob]:
    """Jobs for the archive members that the TSV lists (``utts``: file name -> utterance)."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or name not in utts or name in seen:
                continue
            seen.add(name)
            utt = utts[name]
            data = tar.extractfile(member).read()
            yield AudioJob(utt.uttid, archive / member.name, utt.out_name, data)


def _audio_jobs(lang_dir: Path, split: str, utts: Sequence[Utterance]) -> Iterator[AudioJob]:
    """Each utterance's extracted file, else its member of the split's archive (streamed)."""
    folder, archive = lang_dir / "audio" / split, lang_dir / "audio" / f"{split}.tar.gz"
    if folder.is_dir():
        yield from (utt.job for utt in utts)
    elif archive.is_file():
        by_name = {os.fspath(utt.audio.relative_to(folder)): utt for utt in utts}
        seen: set = set()
        yield from _archive_jobs(archive, by_name, seen)
        for name, utt in by_name.items():  # listed but not in the archive: reported missing
            if name not in seen:
                yield AudioJob(utt.uttid, archive / split / name, utt.out_name)
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
    check_one_of(split, SPLITS, "FLEURS split")
    check_one_of(text_field, sorted(TEXT_FIELDS), "text_field")
    root, out_dir, lang_map = Path(root), Path(out_dir), dict(lang_map or {})
    data = _data_dir(root)
    if not data.is_dir():
        raise DataDirError(f"{root}: not a directory")
    lang_dirs = language_dirs(data, langs, _found_languages(data, split), f"FLEURS {split}.tsv")
    unknown = [lang for lang in lang_dirs if lang not in fleurs_languages()]
    if unknown:
        raise DataDirError(f"{data}: {', '.join(unknown)} are not FLEURS language codes")
    builder = DataDirBuilder(out_dir, audio_dir, max_duration, nj)
    for lang, lang_dir in lang_dirs.items():
        tsv = lang_dir / f"{split}.tsv"
        for lineno, row in read_tsv(tsv, FLEURS_COLUMNS):
            text = row[TEXT_FIELDS[text_field]].strip()
            if not text:  # before the id: a row without text is not checked further
                builder.skip("empty_text")
                continue
            uttid = speaker_id("fleurs", lang, Path(row["file_name"]).stem, f"{tsv}:{lineno}")
            builder.queue(Utterance(uttid, text, uttid, lang_map.get(lang, lang),
                                    lang_dir / "audio" / split / row["file_name"], f"{split}/{lang}/{uttid}"))
        builder.prepare_audio(functools.partial(_audio_jobs, lang_dir, split))
    return builder.write(check_audio)
