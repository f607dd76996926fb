"""Multilingual LibriSpeech (Pratap et al., Interspeech 2020): read audiobooks in 8
languages (the paper's MLS test sets).

Layout read (``<root>`` holds the extracted ``mls_<language>`` folders)::

    <root>/mls_<language>/{train,dev,test}/transcripts.txt    <spk>_<book>_<seg> TAB text
    <root>/mls_<language>/<split>/audio/<spk>/<book>/<spk>_<book>_<seg>.flac
    <root>/mls_<language>_opus/...                             the same with .opus files

``<language>`` is the English name in lower case (``german``); the language id is its
ISO 639-1 code (``de``) or that code's value in ``lang_map``.  The FLAC release is used
when both are there.  Ids: speaker ``mls_<code>_<spk>``, utterance
``<speaker>-<spk>_<book>_<seg>``.  The 16 kHz FLAC files are referenced where they lie;
Opus files are decoded once to 16 kHz WAV files.  Transcripts are MLS's own (lower case,
no punctuation).
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
    speaker_id,
    utterance_id,
)
from espnet2_bloomzmms.data.datadir import DataDirError

__all__ = ["MLS_LANGUAGES", "prepare_mls"]

#: ISO 639-1 code -> the language's name in MLS folder names
MLS_LANGUAGES = {"de": "german", "en": "english", "es": "spanish", "fr": "french",
                 "it": "italian", "nl": "dutch", "pl": "polish", "pt": "portuguese"}
SPLITS = ("train", "dev", "test")


def _found(root: Path, split: str) -> dict[str, tuple[Path, str]]:
    """code -> (language folder, audio suffix); FLAC preferred over Opus."""
    found = {}
    for code, name in MLS_LANGUAGES.items():
        for folder, suffix in ((root / f"mls_{name}", ".flac"), (root / f"mls_{name}_opus", ".opus")):
            if (folder / split / "transcripts.txt").is_file():
                found[code] = (folder, suffix)
                break
    return found


def prepare_mls(
    root: PathLike,
    split: str,
    out_dir: PathLike,
    langs: Optional[Sequence[str]] = None,
    audio_dir: Optional[PathLike] = None,
    max_duration: Optional[float] = 30.0,
    lang_map: Optional[Mapping[str, str]] = None,
    nj: int = 1,
    check_audio: bool = False,
) -> PrepReport:
    """Write the data dir of one split for ``langs`` (ISO codes; default: all on disk)."""
    check_one_of(split, SPLITS, "MLS split")
    unknown = [lang for lang in langs or () if lang not in MLS_LANGUAGES]
    if unknown:
        raise ValueError(f"not MLS languages: {unknown}; MLS has {sorted(MLS_LANGUAGES)}")
    root, out_dir, lang_map = Path(root), Path(out_dir), dict(lang_map or {})
    if not root.is_dir():
        raise DataDirError(f"{root}: not a directory")
    found = _found(root, split)
    folders = language_dirs(root, langs, found, f"mls_<language>[_opus]/{split}/transcripts.txt")
    builder = DataDirBuilder(out_dir, audio_dir, max_duration, nj)
    for lang, (folder, suffix) in folders.items():
        transcripts = folder / split / "transcripts.txt"
        with open(transcripts, encoding="utf-8", newline="\n") as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                where = f"{transcripts}:{lineno}"
                utt, _, text = line.partition("\t")
                parts = utt.split("_")
                if len(parts) != 3:
                    raise DataDirError(f"{where}: expected '<speaker>_<book>_<segment><TAB>text', got {line[:80]!r}")
                spk = speaker_id("mls", lang, parts[0], where)
                uttid = utterance_id(spk, utt, where)
                audio = folder / split / "audio" / parts[0] / parts[1] / f"{utt}{suffix}"
                builder.queue(Utterance(uttid, text.strip(), spk, lang_map.get(lang, lang), audio,
                                        f"{split}/{lang}/{uttid}"))
        builder.prepare_audio()
    return builder.write(check_audio)
