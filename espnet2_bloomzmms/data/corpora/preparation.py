"""What every corpus preparer shares: reading the corpus's TSV files, naming
utterances, tallying what was skipped and why, writing and validating the data dir.

Ids follow one rule across corpora, so that prepared dirs combine without clashes and
sort as Kaldi wants (speaker ids are prefixes of their utterance ids)::

    speaker    <corpus>_<corpus language code>_<corpus speaker id>
    utterance  <speaker>-<corpus utterance id>

A corpus without speaker labels (FLEURS) makes each utterance its own speaker, as
ESPnet's recipes do then.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence, Union

from espnet2_bloomzmms.data.corpora.audio import KEPT, AudioPreparer, PreparedAudio
from espnet2_bloomzmms.data.datadir import (
    DataDirError,
    validate_data_dir,
    write_data_dir,
)

__all__ = [
    "PrepReport",
    "UtteranceTable",
    "language_dirs",
    "new_preparer",
    "read_lang_map",
    "read_tsv",
    "speaker_id",
    "utterance_id",
    "write_prepared",
]

PathLike = Union[str, "os.PathLike[str]"]

#: why utterances are skipped, as the report words it
SKIP_REASONS = {
    "too_long": "longer than the maximum duration",
    "missing_audio": "audio file missing",
    "empty_audio": "empty audio",
    "unreadable_audio": "audio could not be decoded",
    "empty_text": "empty transcript",
    "duplicate": "listed twice",
    "not_in_subset": "not in the utterance list",
}


def read_tsv(path: PathLike, columns: Optional[Sequence[str]] = None) -> Iterator[tuple[int, dict]]:
    """``(line number, {column: value})`` for each row of a tab-separated corpus file.

    ``columns`` names the columns of a header-less file (FLEURS); otherwise the first
    line is the header (Common Voice, VoxPopuli).  No quoting: transcripts keep their
    quotes.  A row with another number of fields than columns is an error naming the
    line, since it means the file is not the layout expected.
    """
    path = Path(path)
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = (line.rstrip("\n").rstrip("\r") for line in f)
        if columns is None:
            header = next(lines, None)
            if header is None:
                raise DataDirError(f"{path}: empty file, expected a header line")
            columns, first = header.split("\t"), 2
        else:
            first = 1
        for lineno, line in enumerate(lines, first):
            if not line:
                continue
            values = line.split("\t")
            if len(values) != len(columns):
                raise DataDirError(
                    f"{path}:{lineno}: expected {len(columns)} tab-separated fields "
                    f"({', '.join(columns)}), got {len(values)}"
                )
            yield lineno, dict(zip(columns, values))


def _token(value: str, what: str, where: str) -> str:
    if not value or value.split() != [value]:
        raise DataDirError(f"{where}: {what} {value!r} must be non-empty without whitespace")
    return value


def speaker_id(corpus: str, lang: str, speaker: str, where: str) -> str:
    """``<corpus>_<lang>_<speaker>``; ``where`` (file:line) is named if a part is bad."""
    return _token(f"{corpus}_{lang}_{speaker}", "speaker id", where)


def utterance_id(speaker: str, utterance: str, where: str) -> str:
    """``<speaker>-<utterance>``: speaker-prefixed, so both sort alike."""
    return _token(f"{speaker}-{utterance}", "utterance id", where)


def read_lang_map(path: Optional[PathLike]) -> dict[str, str]:
    """``corpus language code -> language id`` from a two-column TSV (None: empty)."""
    if path is None:
        return {}
    out = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1].strip() or fields[1].split() != [fields[1]]:
            raise DataDirError(f"{path}:{lineno}: expected '<corpus code><TAB><language id>'")
        out[fields[0]] = fields[1]
    return out


@dataclass
class PrepReport:
    """What a preparation kept (per language id) and skipped (per reason)."""

    out_dir: Path
    max_duration: Optional[float] = None
    kept: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    hours: Optional[float] = 0.0  # None: durations unknown (combined dirs)
    notes: list = field(default_factory=list)

    @property
    def n_kept(self) -> int:
        return sum(self.kept.values())

    def __str__(self) -> str:
        langs = ", ".join(f"{lang} {n}" for lang, n in sorted(self.kept.items()))
        hours = f", {self.hours:.2f} h" if self.hours is not None else ""
        lines = [f"{self.out_dir}: {self.n_kept} utterances{hours} ({langs})"]
        for reason, n in sorted(self.skipped.items()):
            what = SKIP_REASONS.get(reason, reason)
            if reason == "too_long" and self.max_duration is not None:
                what = f"longer than {self.max_duration:g} s"
            lines.append(f"  skipped {n}: {what}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


class UtteranceTable:
    """Fields of the utterances being prepared, until their audio has been seen."""

    def __init__(self, report: PrepReport):
        self.report = report
        self.pending: dict[str, dict] = {}
        self.done: dict[str, dict] = {}

    def add(self, uttid: str, fields: dict) -> bool:
        """Queue an utterance; False (counted) if its id was queued already."""
        if uttid in self.pending or uttid in self.done:
            self.report.skipped["duplicate"] += 1
            return False
        self.pending[uttid] = fields
        return True

    def settle(self, results: Iterator[PreparedAudio]) -> None:
        """Take the audio verdicts: kept utterances get their wav entry, others are counted."""
        for res in results:
            fields = self.pending.pop(res.uttid)
            if res.status == KEPT:
                self.done[res.uttid] = {**fields, "wav": res.entry}
                self.report.kept[fields["lang"]] += 1
                self.report.hours += res.duration / 3600
            else:
                self.report.skipped[res.status] += 1


def new_preparer(out_dir: Path, audio_dir: Optional[PathLike], max_duration: Optional[float],
                 nj: int) -> AudioPreparer:
    """The audio preparer of a data dir; converted audio goes to ``<out_dir>/wavs`` by default."""
    return AudioPreparer(Path(audio_dir) if audio_dir is not None else out_dir / "wavs",
                         max_duration=max_duration, nj=nj)


def write_prepared(table: UtteranceTable, check_audio: bool = False) -> PrepReport:
    """Write the kept utterances as a data dir, validate it, log and return the report."""
    report = table.report
    if table.pending:
        raise RuntimeError(f"{len(table.pending)} utterances never got an audio verdict")
    if not table.done:
        raise DataDirError(f"{report.out_dir}: no utterance was kept\n{report}")
    write_data_dir(report.out_dir, table.done)
    validate_data_dir(report.out_dir, check_audio=check_audio)
    logging.info(str(report))
    return report


def language_dirs(base: Path, wanted: Optional[Sequence[str]], found: Mapping[str, Path],
                  what: str) -> dict[str, Path]:
    """The language dirs to prepare: all ``found`` when ``wanted`` is None, else exactly
    ``wanted`` (each must exist: the error lists what does)."""
    if wanted is None:
        if not found:
            raise DataDirError(f"{base}: no {what} found")
        return dict(sorted(found.items()))
    missing = [lang for lang in wanted if lang not in found]
    if missing:
        raise DataDirError(
            f"{base}: no {what} for {', '.join(missing)}; found: {', '.join(sorted(found)) or 'none'}"
        )
    return {lang: found[lang] for lang in wanted}
