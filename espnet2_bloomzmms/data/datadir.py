"""Kaldi/ESPnet data directories as our recipes use them.

A data directory holds one-line-per-utterance files keyed by utterance id:

    wav.scp   <uttid> <audio path | "cmd ... |" | file.ark:offset>
    text      <uttid> <transcript / target text>
    utt2spk   <uttid> <speaker id>          (spk2utt is derived from it)
    utt2lang  <uttid> <language code>
    prefix    <uttid> <instruction put before the speech>
    postfix   <uttid> <instruction put after the speech>

(every file a data dir may hold, and what each step does with it: ``data/files.py``)

File format (all files, UTF-8): ``<uttid><one space or tab><value>\\n``.  The value is
everything after the single separator, **verbatim**: leading/trailing spaces are kept
(an instruction such as ``"Translate to French: "`` keeps its trailing space); only the
line's final ``\\n`` is removed.  A line holding just ``<uttid>`` has the empty value.

``prefix`` and ``postfix`` (and ``middle``, the text between two spoken sentences of an
NLU set; ``ESCAPED_FILES``) hold instructions, which may end with a
space or contain newlines, so each value there is a JSON string
(``utt1 "Repeat the sentence: "``): ESPnet's own text reader, which the training data
loader uses, strips trailing whitespace from lines, but keeps a JSON string whole.
Other files are never escaped (a backslash in a wav.scp command must stay as it is)
and their values must not contain newlines.

Lines are sorted by utterance id in C/byte order (``LC_ALL=C sort``), as Kaldi and
ESPnet tools expect.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from espnet2_bloomzmms.audio_io import MIN_SAMPLES, is_kaldi_entry, read_entry
from espnet2_bloomzmms.data.files import ESCAPED_FILES, FIELD_FILES, REQUIRED_FILES, TOKEN_FILES
from espnet2_bloomzmms.utils.atomic_files import atomic_path

__all__ = [
    "DataDirError",
    "ESCAPED_FILES",
    "FIELD_FILES",
    "escape_value",
    "read_data_dir",
    "read_kv",
    "unescape_value",
    "validate_data_dir",
    "write_data_dir",
    "write_kv",
]

PathLike = Union[str, "os.PathLike[str]"]

_SEPARATORS = (" ", "\t")
_FEW = 5


class DataDirError(ValueError):
    """A data directory is malformed; ``problems`` lists every defect found (one per line)."""

    def __init__(self, problems: Union[str, Sequence[str]]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# ----------------------------------------------------------------------------- helpers


def escape_value(value: str) -> str:
    """An instruction as one line that survives whitespace stripping: a JSON string."""
    return json.dumps(value, ensure_ascii=False)


def unescape_value(value: str) -> str:
    """Inverse of ``escape_value``."""
    decoded = json.loads(value)
    if not isinstance(decoded, str):
        raise ValueError(f"not a JSON string: {value!r}")
    return decoded


def _few(ids: Sequence[str], n: int = _FEW) -> str:
    return ", ".join(ids[:n]) + (", ..." if len(ids) > n else "")


def _id_key(uttid: str) -> bytes:
    return uttid.encode("utf-8")


def _is_escaped(path: PathLike, escape: Optional[bool]) -> bool:
    return Path(path).name in ESCAPED_FILES if escape is None else escape


class _Line(NamedTuple):
    lineno: int
    uttid: str
    value: str  # raw, not unescaped


def _parse_lines(path: Path) -> list[_Line]:
    """Split each line at its first space/tab; the rest (minus the final newline) is the value."""
    lines = []
    # bytes split at b"\n" only: no universal-newline translation, so a stray \r stays in the value
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataDirError(f"{path}:{lineno}: not valid UTF-8 ({e}); save the file as UTF-8") from e
            if line.endswith("\n"):
                line = line[:-1]
            cut = min((i for i in (line.find(s) for s in _SEPARATORS) if i >= 0), default=-1)
            if cut < 0:
                lines.append(_Line(lineno, line, ""))
            else:
                lines.append(_Line(lineno, line[:cut], line[cut + 1 :]))
    return lines


# ------------------------------------------------------------------------ read / write


def read_kv(path: PathLike, escape: Optional[bool] = None) -> dict[str, str]:
    """Read ``<uttid> <value>`` lines into a dict in file order.

    ``escape=None`` unescapes exactly the ``ESCAPED_FILES`` (prefix, postfix), by name.
    Empty ids and duplicate ids raise DataDirError (a dict cannot hold both values).
    """
    path = Path(path)
    unesc = _is_escaped(path, escape)
    out: dict[str, str] = {}
    dups: list[str] = []
    for ln in _parse_lines(path):
        if not ln.uttid:
            raise DataDirError(f"{path}:{ln.lineno}: line has no utterance id")
        if ln.uttid in out:
            dups.append(ln.uttid)
        try:
            out[ln.uttid] = unescape_value(ln.value) if unesc else ln.value
        except ValueError as e:
            raise DataDirError(
                f"{path}:{ln.lineno}: utterance {ln.uttid}: an instruction must be a JSON "
                f'string, e.g. {ln.uttid} "Repeat the sentence: " ({e})'
            ) from e
    if dups:
        raise DataDirError(f"{path}: {len(dups)} duplicate utterance ids ({_few(dups)})")
    return out


def write_kv(path: PathLike, mapping: Mapping[str, str], escape: Optional[bool] = None) -> None:
    """Atomically write ``<id> <value>`` lines sorted by id in C/byte order.

    ``escape=None`` escapes exactly the ``ESCAPED_FILES`` (by name); an unescaped value
    containing a newline is refused, since it would silently become two lines.
    """
    path = Path(path)
    esc = _is_escaped(path, escape)
    lines = []
    for uttid in sorted(mapping, key=_id_key):
        value = mapping[uttid]
        if not isinstance(uttid, str) or not uttid or uttid.split() != [uttid]:
            raise ValueError(f"{path}: invalid id {uttid!r} (must be non-empty, no whitespace)")
        if not isinstance(value, str):
            raise TypeError(f"{path}: value for {uttid!r} must be str, got {type(value).__name__}")
        if esc:
            value = escape_value(value)
        elif "\n" in value or "\r" in value:
            raise ValueError(
                f"{path}: value for {uttid!r} contains a line break; only "
                f"{sorted(ESCAPED_FILES)} (or escape=True) may hold multi-line values"
            )
        lines.append(f"{uttid} {value}\n" if value else f"{uttid}\n")
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)


def _spk2utt(utt2spk: Mapping[str, str]) -> dict[str, str]:
    spk2utts: dict[str, list[str]] = {}
    for utt, spk in utt2spk.items():
        spk2utts.setdefault(spk, []).append(utt)
    return {spk: " ".join(sorted(utts, key=_id_key)) for spk, utts in spk2utts.items()}


def write_data_dir(data_dir: PathLike, utts: Mapping[str, Mapping[str, object]]) -> list[Path]:
    """Write a data dir from ``{uttid: {wav=, text=, spk=, lang=, prefix=, postfix=}}``.

    A field's file is written when any utterance has the field (None counts as absent);
    then every utterance must have it, else the dir would fail validation.  spk2utt is
    derived from utt2spk.  Field files (and spk2utt) left over from an earlier write that
    are not written now are removed, so the directory stays consistent.
    Returns the files written.
    """
    data_dir = Path(data_dir)
    if not utts:
        raise ValueError(f"{data_dir}: no utterances to write")
    columns: dict[str, dict[str, str]] = {}
    for uttid, fields in utts.items():
        unknown = sorted(set(fields) - set(FIELD_FILES))
        if unknown:
            raise ValueError(
                f"utterance {uttid!r}: unknown field(s) {unknown}; known: {list(FIELD_FILES)}"
            )
        for field, value in fields.items():
            if value is None:
                continue
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str):
                raise TypeError(
                    f"utterance {uttid!r}: field {field!r} must be str, got {type(value).__name__}"
                )
            columns.setdefault(field, {})[uttid] = value
    for field, column in columns.items():
        if len(column) != len(utts):
            missing = [u for u in sorted(utts, key=_id_key) if u not in column]
            raise ValueError(
                f"{data_dir / FIELD_FILES[field]}: field {field!r} is given for "
                f"{len(column)} of {len(utts)} utterances; missing for {_few(missing)}"
            )
    if "wav" not in columns:
        raise ValueError(f"{data_dir}: every utterance needs a 'wav' entry")
    for field in ("spk", "lang"):
        bad = [u for u, v in columns.get(field, {}).items() if v.split() != [v]]
        if bad:
            raise ValueError(
                f"{data_dir / FIELD_FILES[field]}: {field!r} must be one token without "
                f"whitespace; bad for {_few(bad)}"
            )

    data_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for field, name in FIELD_FILES.items():
        if field in columns:
            write_kv(data_dir / name, columns[field])
            written.append(data_dir / name)
        elif (data_dir / name).exists():
            (data_dir / name).unlink()
    if "spk" in columns:
        write_kv(data_dir / "spk2utt", _spk2utt(columns["spk"]))
        written.append(data_dir / "spk2utt")
    elif (data_dir / "spk2utt").exists():
        (data_dir / "spk2utt").unlink()
    return written


def read_data_dir(data_dir: PathLike) -> dict[str, dict[str, str]]:
    """Inverse of ``write_data_dir``: ``{uttid: {field: value}}`` in wav.scp order.

    Does not validate; call ``validate_data_dir`` first if the dir may be malformed.
    """
    data_dir = Path(data_dir)
    utts: dict[str, dict[str, str]] = {}
    for field, name in FIELD_FILES.items():
        if (data_dir / name).is_file():
            for uttid, value in read_kv(data_dir / name).items():
                utts.setdefault(uttid, {})[field] = value
    return utts


# -------------------------------------------------------------------------- validation


def _check_lines(path: Path, lines: list[_Line]) -> list[str]:
    """Per-file checks: ids present, byte-sorted, unique; token files single tokens."""
    problems = []
    no_id = [str(ln.lineno) for ln in lines if not ln.uttid]
    if no_id:
        problems.append(f"{path}: {len(no_id)} lines have no utterance id (lines {_few(no_id)})")
    lines = [ln for ln in lines if ln.uttid]
    crlf = [ln.uttid.rstrip("\r") for ln in lines if (ln.value or ln.uttid).endswith("\r")]
    if crlf:
        problems.append(
            f"{path}: {len(crlf)} lines end in CRLF (Windows line endings) ({_few(crlf)})"
        )
    unsorted = [
        cur.uttid
        for prev, cur in zip(lines, lines[1:])
        if _id_key(cur.uttid) < _id_key(prev.uttid)
    ]
    if unsorted:
        problems.append(
            f"{path}: not sorted by utterance id in C/byte order (LC_ALL=C sort): "
            f"{len(unsorted)} of {len(lines)} lines come after a larger id ({_few(unsorted)})"
        )
    seen: set[str] = set()
    dups: list[str] = []
    for ln in lines:
        if ln.uttid in seen and ln.uttid not in dups:
            dups.append(ln.uttid)
        seen.add(ln.uttid)
    if dups:
        problems.append(f"{path}: {len(dups)} utterance ids occur more than once ({_few(dups)})")
    if path.name == "wav.scp" or path.name in TOKEN_FILES:
        empty = [ln.uttid for ln in lines if not ln.value.strip()]
        if empty:
            problems.append(f"{path}: {len(empty)} utterances have an empty value ({_few(empty)})")
    if path.name == "text":
        empty = [ln.uttid for ln in lines if not ln.value.strip()]
        if empty:
            problems.append(f"{path}: {len(empty)} utterances have an empty transcript ({_few(empty)})")
    if path.name in ESCAPED_FILES:
        not_json = []
        for ln in lines:
            try:
                unescape_value(ln.value)
            except ValueError:
                not_json.append(f"{ln.uttid} (line {ln.lineno})")
        if not_json:
            problems.append(
                f"{path}: {len(not_json)} values are not JSON strings ({_few(not_json)}); write each "
                'instruction as a JSON string, e.g. utt1 "Repeat the sentence: "'
            )
    if path.name in TOKEN_FILES:
        multi = [ln.uttid for ln in lines if ln.value.strip() and ln.value.split() != [ln.value]]
        if multi:
            problems.append(
                f"{path}: {len(multi)} values are not one token without whitespace ({_few(multi)})"
            )
    return problems


def _check_languages(path: Path, lines: list[_Line], languages: Optional[Mapping[str, str]]) -> list[str]:
    from espnet2_bloomzmms.data.languages import base_code

    tables = ([languages] if languages else []) + [None]  # None: the packaged table
    unknown: dict[str, list[str]] = {}
    for ln in lines:
        code = ln.value.strip()
        if code and all(base_code(code, t) is None for t in tables):
            unknown.setdefault(code, []).append(ln.uttid)
    return [
        f"{path}: unknown language code {code!r} ({len(ids)} utterances: {_few(ids)}); add it to the "
        "languages file or to the packaged prompts/languages.tsv"
        for code, ids in unknown.items()
    ]


def _check_spk2utt(path: Path, utt2spk: list[_Line]) -> list[str]:
    expected = _spk2utt({ln.uttid: ln.value for ln in utt2spk})
    try:
        found = {ln.uttid: ln.value for ln in _parse_lines(path)}
    except DataDirError as e:
        return e.problems
    bad = sorted(
        (s for s in set(expected) | set(found)
         if sorted(expected.get(s, "").split()) != sorted(found.get(s, "").split())),
        key=_id_key,
    )
    if bad:
        return [
            f"{path}: does not match utt2spk for {len(bad)} speakers ({_few(bad)}); "
            "regenerate it from utt2spk"
        ]
    return []


def _check_audio(wav_scp: Path, lines: list[_Line], sample_rate: int, min_samples: int = MIN_SAMPLES) -> list[str]:
    """Read every entry as ESPnet training does (``audio_io.read_entry``: soundfile for
    files, ESPnet's ``sound`` type; kaldiio for pipes and ``ark:offset`` entries, its
    ``kaldi_ark`` type); check non-empty, mono, long enough, finite, at ``sample_rate``.
    Relative paths are relative to the current directory, as in Kaldi.
    """
    problems = []
    for ln in lines:
        uttid, value = ln.uttid, ln.value.strip()
        where = f"{wav_scp}: {uttid}: {value!r}"
        try:
            array, rate = read_entry(value)
        except Exception as e:  # noqa: BLE001 - every failure becomes a reported problem
            reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            if value.endswith("|") or value.startswith("|"):
                reason += " (did the command fail? its stderr went to this process's stderr)"
            problems.append(f"{where}: cannot read audio: {reason}")
            continue
        if array.ndim not in (1, 2):
            problems.append(f"{where}: audio has {array.ndim} dimensions, expected 1 (mono)")
            continue
        channels = 1 if array.ndim == 1 else array.shape[1]
        if channels != 1:
            problems.append(f"{where}: audio has {channels} channels, must be mono")
        if array.shape[0] == 0:
            problems.append(f"{where}: audio is empty (0 samples)")
        elif array.shape[0] < min_samples * rate / sample_rate:
            problems.append(f"{where}: audio is {array.shape[0]} samples long, shorter than "
                            f"{min_samples} samples at {sample_rate} Hz"
                            + (" (one wav2vec2 frame)" if min_samples == MIN_SAMPLES else ""))
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            problems.append(f"{where}: audio contains NaN or infinite samples")
        if rate != sample_rate:
            problems.append(f"{where}: sample rate is {rate} Hz, expected {sample_rate} Hz")
        if not is_kaldi_entry(value):
            cut = wav_truncation(value)
            if cut:
                problems.append(f"{where}: {cut}")
    return problems


def wav_truncation(path) -> Optional[str]:
    """Why a RIFF/WAVE file is truncated (its data chunk holds fewer bytes than its header
    says: an interrupted copy or download, which soundfile reads silently), else None.
    Streamed WAVs (sizes 0 or 0xFFFFFFFF in the header) are not judged."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            offset = 12
            while offset + 8 <= size:
                f.seek(offset)
                chunk = f.read(8)
                declared = int.from_bytes(chunk[4:8], "little")
                if chunk[:4] == b"data":
                    if declared in (0, 0xFFFFFFFF):
                        return None
                    have = size - offset - 8
                    if have < declared:
                        return (f"WAV file is truncated: its data chunk holds {have} of the {declared} bytes "
                                "its header announces")
                    return None
                offset += 8 + declared + (declared & 1)
    except OSError:
        return None
    return None


def validate_data_dir(
    data_dir: PathLike,
    required: Iterable[str] = REQUIRED_FILES,
    check_audio: bool = True,
    sample_rate: int = 16000,
    languages: Optional[Mapping[str, str]] = None,
    min_samples: int = MIN_SAMPLES,
) -> int:
    """Check a data dir before training rather than failing hours in; returns #utterances.

    wav.scp is always required and is the reference id list.  Every file present among
    ``FIELD_FILES`` (and any other name in ``required``) must be byte-sorted, free of
    duplicate ids and have exactly wav.scp's ids; spk2utt, if present, must match
    utt2spk.  ``text`` values must not be empty, ``prefix``/``postfix`` values must be
    JSON strings, and every ``utt2lang`` code must resolve in ``languages`` ({code: English
    name}, e.g. a recipe's languages file) or the packaged language table, since the
    instructions name languages.  With ``check_audio`` each wav.scp entry is read (see
    ``_check_audio``) and must be finite mono audio at ``sample_rate`` of at least
    ``min_samples`` (default: one wav2vec2 frame; 0 where formatting drops short
    utterances or decoding skips them), and a WAV file must hold the samples its header announces.  All
    defects found are reported together in one DataDirError, each naming the file and
    the utterances.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataDirError(f"{data_dir}: data directory does not exist")
    required = [required] if isinstance(required, str) else list(required)
    required = list(dict.fromkeys(["wav.scp", *required]))
    missing = [n for n in required if not (data_dir / n).is_file()]
    if missing:
        raise DataDirError([f"{data_dir / n}: required file is missing" for n in missing])

    problems: list[str] = []
    parsed: dict[str, list[_Line]] = {}
    for name in dict.fromkeys([*FIELD_FILES.values(), *required]):
        path = data_dir / name
        if not path.is_file():
            continue
        try:
            lines = _parse_lines(path)
        except DataDirError as e:
            problems += e.problems
            continue
        problems += _check_lines(path, lines)
        parsed[name] = [ln for ln in lines if ln.uttid]

    wav_scp = data_dir / "wav.scp"
    ref = list(dict.fromkeys(ln.uttid for ln in parsed.get("wav.scp", [])))
    ref_set = set(ref)
    if "wav.scp" in parsed and not ref:
        problems.append(f"{wav_scp}: has no utterances")
    if "wav.scp" in parsed:
        for name, lines in parsed.items():
            if name == "wav.scp":
                continue
            ids = {ln.uttid for ln in lines}
            absent = [u for u in ref if u not in ids]
            if absent:
                problems.append(
                    f"{data_dir / name}: {len(absent)} of {len(ref)} utterances have no line "
                    f"({_few(absent)})"
                )
            extra = list(dict.fromkeys(ln.uttid for ln in lines if ln.uttid not in ref_set))
            if extra:
                problems.append(
                    f"{data_dir / name}: {len(extra)} ids are not in {wav_scp} ({_few(extra)})"
                )
    if "utt2lang" in parsed:
        problems += _check_languages(data_dir / "utt2lang", parsed["utt2lang"], languages)
    if (data_dir / "spk2utt").is_file() and "utt2spk" in parsed:
        problems += _check_spk2utt(data_dir / "spk2utt", parsed["utt2spk"])
    if problems:
        raise DataDirError(problems)

    if check_audio:
        problems = _check_audio(wav_scp, parsed["wav.scp"], sample_rate, min_samples)
        if problems:
            raise DataDirError(problems)
    return len(ref)
