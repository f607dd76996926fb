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
from typing import Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

from espnet2_bloomzmms.data.corpora.audio import KEPT, AudioJob, AudioPreparer, PreparedAudio
from espnet2_bloomzmms.data.datadir import (
    DataDirError,
    validate_data_dir,
    write_data_dir,
)

__all__ = [
    "DataDirBuilder",
    "PrepReport",
    "Utterance",
    "UtteranceTable",
    "check_one_of",
    "language_dirs",
    "new_preparer",
    "read_lang_map",
    "read_tsv",
    "require_columns",
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


def require_columns(path: PathLike, row: Mapping[str, str], columns: Sequence[str], what: str) -> None:
    """A row of ``path`` (read by :func:`read_tsv`) must have ``columns``, else the file is
    not ``what`` (e.g. "Common Voice TSV")."""
    missing = [c for c in columns if c not in row]
    if missing:
        raise DataDirError(f"{path}: no column {', '.join(missing)}; is it a {what}?")


def check_one_of(value: str, allowed: Sequence[str], what: str) -> None:
    """A ``ValueError`` naming ``what`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, got {value!r}")


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


@dataclass(frozen=True)
class Utterance:
    """One corpus row read as an utterance: its data-dir fields and where its audio is."""

    uttid: str
    text: str
    spk: str
    lang: str
    audio: Path  # the corpus file
    out_name: str  # its path under the audio dir, without ``.wav``, if it must be converted
    prefix: Optional[str] = None  # instruction around the speech (test sets)
    postfix: Optional[str] = None
    transcript: Optional[str] = None  # what is spoken, where ``text`` is something else

    @property
    def fields(self) -> dict:
        """The data-dir fields before the audio is seen (no ``wav`` yet)."""
        fields = {"text": self.text, "spk": self.spk, "lang": self.lang}
        if self.prefix is not None:
            fields["prefix"] = self.prefix
        if self.postfix is not None:
            fields["postfix"] = self.postfix
        return fields

    @property
    def job(self) -> AudioJob:
        return AudioJob(self.uttid, self.audio, self.out_name)


class DataDirBuilder:
    """One data dir in the making, as every corpus reader makes it: rows are queued as
    utterances or counted as skipped, their audio is prepared a batch (a language) at a
    time, and the kept utterances are written as a validated data dir."""

    def __init__(self, out_dir: PathLike, audio_dir: Optional[PathLike] = None,
                 max_duration: Optional[float] = None, nj: int = 1):
        self.out_dir = Path(out_dir)
        self.report = PrepReport(self.out_dir, max_duration)
        self.table = UtteranceTable(self.report)
        self.preparer = new_preparer(self.out_dir, audio_dir, max_duration, nj)
        self.queued: list[Utterance] = []  # waiting for their audio
        self.transcripts: dict[str, Optional[str]] = {}  # uttid -> Utterance.transcript

    def skip(self, reason: str) -> None:
        """Count a row left out (``reason``: a key of ``SKIP_REASONS``)."""
        self.report.skipped[reason] += 1

    def queue(self, utt: Utterance) -> bool:
        """Queue an utterance for audio; False (counted) if its text is empty or its id repeats."""
        if not utt.text:
            self.skip("empty_text")
            return False
        if not self.table.add(utt.uttid, utt.fields):
            return False
        self.queued.append(utt)
        self.transcripts[utt.uttid] = utt.transcript
        return True

    def prepare_audio(self, jobs: Optional[Callable[[list[Utterance]], Iterable[AudioJob]]] = None) -> None:
        """Prepare the audio of the utterances queued so far: each one's own file, or the
        jobs ``jobs`` makes of them (FLEURS streams members of an archive)."""
        queued, self.queued = self.queued, []
        self.table.settle(self.preparer.prepare_all(jobs(queued) if jobs is not None else (u.job for u in queued)))

    def prepare_second_audio(self, jobs: Iterable[AudioJob]) -> dict[str, str]:
        """A second recording per kept utterance (the second sentence of a spoken pair):
        the wav.scp entries of those whose second audio is usable; the others are dropped
        from the data dir and counted, as a missing first recording would be."""
        if self.queued:
            self.prepare_audio()
        entries = {}
        for res in self.preparer.prepare_all(j for j in jobs if j.uttid in self.table.done):
            if res.status == KEPT:
                entries[res.uttid] = res.entry
                self.report.hours += res.duration / 3600
            else:
                fields = self.table.done.pop(res.uttid)
                self.report.kept[fields["lang"]] -= 1
                self.report.skipped[res.status] += 1
        return entries

    def write(self, check_audio: bool = False) -> PrepReport:
        """Prepare what is still queued, then write the data dir (see :func:`write_prepared`)."""
        if self.queued:
            self.prepare_audio()
        return write_prepared(self.table, check_audio)

    @property
    def kept(self) -> dict[str, dict]:
        """uttid -> data-dir fields of the utterances kept so far."""
        return self.table.done
