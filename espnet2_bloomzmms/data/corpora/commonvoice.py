"""Common Voice (Mozilla), any release; the paper trained on a fixed subsample of CV 12.

Layout read (``<root>`` is the release folder, e.g. ``cv-corpus-12.0-2022-12-07``)::

    <root>/<locale>/{train,dev,test,validated,other,...}.tsv
    <root>/<locale>/clips/<path>                  (MP3)

The TSVs have a header; the columns used are named (``client_id``, ``path``,
``sentence``), so the columns later releases added do not matter.  Ids: speaker
``cv_<locale>_<client_id>``, utterance ``<speaker>-<clip stem>`` (ESPnet's recipe uses
``<client_id>-<clip stem>``).  The MP3s are decoded once to 16 kHz WAV files.

``subset``: a file listing the utterances to keep, one per line, first field used (so an
earlier run's ``wav.scp`` or ``text`` serves): a clip name with or without ``.mp3``, an
utterance id of this preparer, or any id ending in ``-<clip stem>`` (ESPnet's, or
speed-perturbed ones).  Other utterances are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

from espnet2_bloomzmms.data.corpora.preparation import (
    DataDirBuilder,
    PathLike,
    PrepReport,
    Utterance,
    language_dirs,
    read_tsv,
    require_columns,
    speaker_id,
    utterance_id,
)
from espnet2_bloomzmms.data.datadir import DataDirError

__all__ = ["SubsetList", "prepare_commonvoice"]

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
_AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg")


class SubsetList:
    """The utterances of a subsample list, matched by clip name or id (see the module)."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.keys: dict[str, str] = {}  # match key -> the listed entry
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            entry = line.split()[0]
            base = entry[: -len(Path(entry).suffix)] if entry.endswith(_AUDIO_SUFFIXES) else entry
            for key in {entry, base, *(base[i + 1 :] for i, c in enumerate(base) if c == "-")}:
                self.keys.setdefault(key, entry)
        if not self.keys:
            raise DataDirError(f"{self.path}: the utterance list is empty")
        self.matched: set[str] = set()

    def match(self, *candidates: str) -> bool:
        """Whether any candidate (utterance id, clip path, clip stem) is listed; remembered."""
        hits = {self.keys[c] for c in candidates if c in self.keys}
        self.matched |= hits
        return bool(hits)

    @property
    def n_entries(self) -> int:
        return len(set(self.keys.values()))


def _found_locales(root: Path, split: str) -> dict[str, Path]:
    return {d.name: d for d in root.iterdir() if d.is_dir() and (d / f"{split}.tsv").is_file()}


def prepare_commonvoice(
    root: PathLike,
    split: str,
    out_dir: PathLike,
    langs: Optional[Sequence[str]] = None,
    subset: Optional[PathLike] = None,
    audio_dir: Optional[PathLike] = None,
    max_duration: Optional[float] = 30.0,
    lang_map: Optional[Mapping[str, str]] = None,
    nj: int = 1,
    check_audio: bool = False,
) -> PrepReport:
    """Write the data dir of ``<split>.tsv`` for the locales ``langs`` (default: all)."""
    root, out_dir, lang_map = Path(root), Path(out_dir), dict(lang_map or {})
    if not root.is_dir():
        raise DataDirError(f"{root}: not a directory")
    wanted = SubsetList(subset) if subset is not None else None
    locales = language_dirs(root, langs, _found_locales(root, split), f"Common Voice {split}.tsv")
    builder = DataDirBuilder(out_dir, audio_dir, max_duration, nj)
    for locale, locale_dir in locales.items():
        tsv = locale_dir / f"{split}.tsv"
        for lineno, row in read_tsv(tsv):
            require_columns(tsv, row, REQUIRED_COLUMNS, "Common Voice TSV")
            where = f"{tsv}:{lineno}"
            stem = Path(row["path"]).stem
            spk = speaker_id("cv", locale, row["client_id"], where)
            uttid = utterance_id(spk, stem, where)
            if wanted is not None and not wanted.match(uttid, row["path"], stem):
                builder.skip("not_in_subset")
                continue
            builder.queue(Utterance(uttid, row["sentence"].strip(), spk, lang_map.get(locale, locale),
                                    locale_dir / "clips" / row["path"], f"{locale}/{uttid}"))
        builder.prepare_audio()
    if wanted is not None:
        builder.report.notes.append(
            f"{len(wanted.matched)} of the {wanted.n_entries} entries of {wanted.path} matched "
            f"a clip of {split}.tsv"
        )
    return builder.write(check_audio)
