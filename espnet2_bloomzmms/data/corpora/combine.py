"""Merge data dirs, including ones other ESPnet or Kaldi recipes wrote, for training.

A source is read the way Kaldi writes it: lines in any order; wav.scp values that are
paths, ``cmd ... |`` pipes or ``file.ark:offset``; utt2spk optional (each utterance its
own speaker then, as ESPnet's asr.sh does).  It must have wav.scp and text, and a
language: its own utt2lang, or the code given with it, which is then written for every
utterance (replacing any utt2lang it has).

Relative paths in wav.scp (audio files and arks) are relative to the recipe directory
the dir was made in (``path_root``, default the current directory, as in Kaldi); they
are made absolute, so the merged dir works from anywhere.  Pipe commands are kept
verbatim.  Everything is checked before anything is written, and every defect is
reported with the file and the utterances: ids unique within and across sources, every
file holding wav.scp's ids, audio files, arks and a pipe's program present, no
``segments`` file (its wav.scp would hold recordings, not utterances).  The merged dir
is written sorted (spk2utt regenerated) and validated; files other than those in
``datadir.FIELD_FILES`` are not carried (``data/format.py`` recomputes
utt2num_samples).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from espnet2_bloomzmms.data.corpora.preparation import PathLike, PrepReport
from espnet2_bloomzmms.data.datadir import (
    FIELD_FILES,
    DataDirError,
    _few,
    read_kv,
    validate_data_dir,
    write_data_dir,
)

__all__ = ["Source", "combine_sources", "read_source"]

_OPTIONAL_FIELDS = ("prefix", "postfix")
# ``file.ark:offset`` with an optional ``[slice]`` (kaldiio's syntax)
_ARK_ENTRY = re.compile(r"^(?P<ark>.+):(?P<offset>\d+(\[[^\]]*\])?)$")


@dataclass(frozen=True)
class Source:
    """A data dir to merge, with the language of all its utterances (None: its utt2lang)
    and the directory its relative wav.scp paths are relative to (None: the current one)."""

    path: Path
    lang: Optional[str] = None
    path_root: Optional[Path] = None


def _absolute(path: str, root: Path) -> str:
    return path if os.path.isabs(path) else os.path.normpath(root / path)


def _resolve_entry(value: str, root: Path) -> tuple[str, Optional[str], Optional[str]]:
    """(entry with absolute paths, file that must exist, program that must exist)."""
    v = value.strip()
    if v.endswith("|") or v.startswith("|"):
        try:
            words = shlex.split(v.strip("|"))
        except ValueError as e:
            raise ValueError(f"cannot parse the pipe command ({e})") from None
        program = next((w for w in words if "=" not in w), None)  # skip VAR=value prefixes
        return value, None, program
    ark = _ARK_ENTRY.match(v)
    if ark:
        path = _absolute(ark["ark"], root)
        return f"{path}:{ark['offset']}", path, None
    path = _absolute(v, root)
    return path, path, None


def read_source(src: Source) -> tuple[dict[str, dict[str, str]], list[str], list[str]]:
    """``({uttid: fields}, problems, files not carried)`` of one source dir."""
    d = Path(src.path)
    if not d.is_dir():
        return {}, [f"{d}: data directory does not exist"], []
    problems = []
    if (d / "segments").is_file():
        problems.append(
            f"{d / 'segments'}: wav.scp holds recordings cut by segments; cut them into one "
            "file per utterance first (e.g. ESPnet's scripts/audio/format_wav_scp.sh --segments)"
        )
    for name in ("wav.scp", "text"):
        if not (d / name).is_file():
            problems.append(f"{d / name}: required file is missing")
    if src.lang is None and not (d / "utt2lang").is_file():
        problems.append(f"{d / 'utt2lang'}: missing; give the language code of this dir")
    if problems:
        return {}, problems, []
    columns: dict[str, dict[str, str]] = {}
    for field, name in FIELD_FILES.items():
        if field == "lang" and src.lang is not None:
            continue
        if (d / name).is_file():
            try:
                columns[field] = read_kv(d / name)
            except (DataDirError, UnicodeDecodeError) as e:
                problems.append(str(e) if isinstance(e, DataDirError) else f"{d / name}: not UTF-8 ({e})")
    if problems:
        return {}, problems, []
    wav = columns["wav"]
    for field, column in columns.items():
        if field == "wav":
            continue
        absent = [u for u in wav if u not in column]
        extra = [u for u in column if u not in wav]
        if absent:
            problems.append(f"{d / FIELD_FILES[field]}: {len(absent)} of {len(wav)} utterances "
                            f"of wav.scp have no line ({_few(absent)})")
        if extra:
            problems.append(f"{d / FIELD_FILES[field]}: {len(extra)} ids are not in wav.scp ({_few(extra)})")
    root = Path(src.path_root) if src.path_root is not None else Path.cwd()
    missing_files, missing_programs, bad = [], {}, []
    utts = {}
    for uttid, value in wav.items():
        try:
            entry, must_exist, program = _resolve_entry(value, root)
        except ValueError as e:
            bad.append(f"{uttid} ({e})")
            continue
        if must_exist is not None and not os.path.isfile(must_exist):
            missing_files.append(f"{uttid}: {must_exist}")
        if program is not None and shutil.which(program) is None and not os.path.isfile(program):
            missing_programs.setdefault(program, []).append(uttid)
        utts[uttid] = {"wav": entry, **{f: c[uttid] for f, c in columns.items() if f != "wav" and uttid in c}}
        utts[uttid].setdefault("spk", uttid)
        if src.lang is not None:
            utts[uttid]["lang"] = src.lang
    if bad:
        problems.append(f"{d / 'wav.scp'}: {len(bad)} entries cannot be read ({_few(bad)})")
    if missing_files:
        problems.append(f"{d / 'wav.scp'}: {len(missing_files)} utterances point to missing "
                        f"files ({_few(missing_files, 3)}); relative paths were taken from {root}")
    for program, ids in missing_programs.items():
        problems.append(f"{d / 'wav.scp'}: {len(ids)} pipe commands run '{program}', which is "
                        f"not installed ({_few(ids)})")
    known = set(FIELD_FILES.values()) | {"spk2utt"}
    not_carried = sorted(p.name for p in d.iterdir() if p.is_file() and p.name not in known)
    return utts, problems, not_carried


def combine_sources(sources: Sequence[Source], dst: PathLike, check_audio: bool = False) -> PrepReport:
    """Merge ``sources`` into ``dst`` (see the module docstring); ``dst`` may be a source."""
    if not sources:
        raise ValueError("combine_sources needs at least one source")
    dst = Path(dst)
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, Path] = {}
    problems: list[str] = []
    report = PrepReport(dst, hours=None)
    fields_of: dict[Path, set] = {}
    for src in sources:
        utts, found, not_carried = read_source(src)
        problems += found
        if not_carried:
            report.notes.append(f"{src.path}: not carried: {', '.join(not_carried)}")
        dups = [u for u in utts if u in merged]
        if dups:
            problems.append(f"{src.path}: {len(dups)} utterance ids are already in "
                            f"{origin[dups[0]]} ({_few(dups)}); ids must be unique across dirs")
        for uttid, fields in utts.items():
            merged.setdefault(uttid, fields)
            origin.setdefault(uttid, Path(src.path))
        if utts:
            fields_of[Path(src.path)] = {f for f in _OPTIONAL_FIELDS if f in next(iter(utts.values()))}
    for field in _OPTIONAL_FIELDS:
        having = [p for p, fields in fields_of.items() if field in fields]
        if having and len(having) != len(fields_of):
            lacking = [str(p) for p in fields_of if p not in having]
            problems.append(f"{FIELD_FILES[field]}: in {', '.join(map(str, having))} but not in "
                            f"{', '.join(lacking)}; cannot combine")
    if problems:
        raise DataDirError(problems)
    write_data_dir(dst, merged)
    validate_data_dir(dst, check_audio=check_audio)
    for fields in merged.values():
        report.kept[fields["lang"]] += 1
    return report
