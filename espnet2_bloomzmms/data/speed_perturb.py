"""Speed perturbation of a data directory (Kaldi's ``utils/perturb_data_dir_speed.sh``).

Kaldi's scripts are not part of ESPnet's pip package, so this does the same in Python:
for every speed factor ``f`` each utterance is resampled as sox ``speed f`` does
(duration divided by ``f``, pitch shifted with it; same sample rate) and written as a
16-bit WAV file; the new data dir uses Kaldi's naming: utterance ``sp0.9-<uttid>``,
speaker ``sp0.9-<spk>``, and factor 1.0 keeps the original id and audio entry (no copy).
text, utt2lang, prefix, postfix and transcript are copied per utterance, spk2utt
derived, utt2num_samples (where the source has it) recomputed for the new lengths, and
``utt2uniq`` (perturbed id -> original id, as Kaldi writes it; composed with the
source's own utt2uniq) added; ``files.DATA_FILES`` says which file gets what
(``speed_perturb``), other files are not carried (a warning names them).

Unlike Kaldi, the audio is materialised rather than left as ``sox ... |`` pipes: sox is
not a dependency, and training then reads plain files.  Re-running is cheap: audio
files already present with the expected length and sample rate are kept.
"""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import soundfile

from espnet2_bloomzmms.audio_io import is_kaldi_entry, read_entry, resample
from espnet2_bloomzmms.data import files
from espnet2_bloomzmms.data.datadir import (
    FIELD_FILES,
    DataDirError,
    read_data_dir,
    read_kv,
    validate_data_dir,
    write_data_dir,
    write_kv,
)

__all__ = ["change_speed", "factor_prefix", "perturb_data_dir", "speed_ratio"]

PathLike = Union[str, "os.PathLike[str]"]
_MAX_DENOMINATOR = 1000
# Files that this module knows how to carry over (others are listed in a warning).
_KNOWN_FILES = frozenset(f.name for f in files.DATA_FILES if f.speed_perturb is not None)
# utts-dict fields whose value gets the factor's prefix too (utt2spk: Kaldi's sp0.9-<spk>)
_PREFIXED_FIELDS = tuple(f.field for f in files.DATA_FILES if f.field and f.speed_perturb == files.SP_PREFIX)
# files beside the utts-dict fields: copied per factor, or recomputed (utt2num_samples)
_SIDE_FILES = tuple(f for f in files.DATA_FILES if f.field is None
                    and f.speed_perturb in (files.SP_COPY, files.SP_RECOMPUTE))


def speed_ratio(factor: float) -> tuple[int, int]:
    """``(up, down)`` for ``resample_poly``: speed ``f`` = p/q gives up q, down p.

    0.9 -> (10, 9), 1.1 -> (10, 11), 0.95 -> (20, 19).
    """
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"speed factor must be a positive number, got {factor!r}")
    # str(): 1.1 is 11/10 as the user wrote it, not the binary float's huge fraction.
    frac = Fraction(str(float(factor))).limit_denominator(_MAX_DENOMINATOR)
    return frac.denominator, frac.numerator


def factor_prefix(factor: float) -> str:
    """Kaldi's id prefix: ``sp0.9-``; ``""`` for 1.0."""
    return "" if float(factor) == 1.0 else f"sp{float(factor):g}-"


def change_speed(wav: np.ndarray, factor: float) -> np.ndarray:
    """Audio played ``factor`` times as fast at the same sample rate (sox ``speed``).

    Length ``ceil(n / factor)`` (``resample_poly``'s length for up/down).
    """
    up, down = speed_ratio(factor)
    if up == down:
        return np.asarray(wav)
    # speed p/q: the samples read as if at p Hz, resampled to q Hz
    return resample(np.asarray(wav, dtype=np.float32), down, up).astype(np.float32)


def _expected_len(n: int, factor: float) -> int:
    up, down = speed_ratio(factor)
    return -(-n * up // down)  # ceil, as resample_poly


def _side_value(f: files.DataFile, src: Path, uttid: str, value: str, factor: float) -> str:
    """A side file's value for the ``factor`` copy: copied, or (utt2num_samples) the
    perturbed audio's length."""
    if f.speed_perturb != files.SP_RECOMPUTE:
        return value
    try:
        n = int(value)
    except ValueError:
        raise DataDirError(f"{src / f.name}: {uttid}: {value!r} is not a number of samples") from None
    return str(_expected_len(n, factor))


def _source_frames(value: str) -> tuple[int, int]:
    """(frames, sample rate) without decoding a plain file; pipes/arks are read."""
    if not is_kaldi_entry(value):
        info = soundfile.info(value.strip())
        return int(info.frames), int(info.samplerate)
    array, rate = read_entry(value)
    return int(array.shape[0]), rate


def _is_done(path: Path, frames: int, rate: int) -> bool:
    try:
        info = soundfile.info(str(path))
    except Exception:  # noqa: BLE001 - missing or unreadable: recompute
        return False
    return int(info.frames) == frames and int(info.samplerate) == rate and info.channels == 1


def _perturb_one(job: tuple[str, str, str, list[tuple[float, str]]]) -> tuple[str, int, int]:
    """Write every perturbed copy of one utterance; returns (uttid, #written, #kept)."""
    scp, uttid, value, targets = job
    try:
        frames, rate = _source_frames(value)
        todo = [
            (f, Path(p)) for f, p in targets
            if not _is_done(Path(p), _expected_len(frames, f), rate)
        ]
        if not todo:
            return uttid, 0, len(targets)
        wav, rate = read_entry(value)
    except Exception as e:  # noqa: BLE001 - re-raised naming the utterance
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise DataDirError(f"{scp}: {uttid}: {value!r}: cannot read audio: {reason}") from None
    if wav.ndim != 1 or wav.shape[0] == 0:
        raise DataDirError(
            f"{scp}: {uttid}: {value!r}: audio must be mono and non-empty, got shape {wav.shape}"
        )
    from espnet2_bloomzmms.data.synthesize import write_wav

    for factor, path in todo:
        out = change_speed(wav, factor)
        write_wav(path, out, rate)
    return uttid, len(todo), len(targets) - len(todo)


def perturb_data_dir(
    src: PathLike,
    dst: PathLike,
    factors: Sequence[float] = (0.9, 1.0, 1.1),
    audio_dir: Optional[PathLike] = None,
    num_workers: int = 1,
) -> int:
    """Write ``dst``: ``src`` speed-perturbed by each of ``factors``; returns #utterances.

    ``src`` is validated (structure; each audio file is then read here, an unreadable one
    raising a DataDirError naming the utterance).  Perturbed audio goes to
    ``audio_dir/<new id>.wav`` (default ``dst/wavs``), 16-bit PCM at the source's sample
    rate, written atomically; files already there with the expected length are kept, so
    an interrupted run resumes.  Paths in ``dst/wav.scp`` are written as given (a relative
    ``dst`` gives paths relative to the current directory, as in Kaldi).  ``dst`` is
    validated (structure) at the end.  ``num_workers`` > 1 uses a process pool.
    """
    src, dst = Path(src), Path(dst)
    audio_dir = dst / "wavs" if audio_dir is None else Path(audio_dir)
    factors = [float(f) for f in factors]
    if not factors:
        raise ValueError("give at least one speed factor")
    ratios = [speed_ratio(f) for f in factors]
    if len(set(ratios)) != len(ratios):
        raise ValueError(f"speed factors repeat: {factors}")
    if src.resolve() == dst.resolve():
        raise ValueError(f"{dst}: destination must differ from the source directory")
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")

    side = [f for f in _SIDE_FILES if (src / f.name).is_file()]
    n_src = validate_data_dir(src, required=("wav.scp", *(f.name for f in side)), check_audio=False)
    if (src / "segments").exists():
        raise DataDirError(
            f"{src / 'segments'}: data dirs with segments are not supported; extract the "
            "segments to audio files first"
        )
    other = sorted(
        p.name for p in src.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name not in _KNOWN_FILES
    )
    if other:
        logging.warning(f"{src}: not carried over to {dst}: {', '.join(other)}")
    utts = read_data_dir(src)
    # A source that is itself perturbed maps its ids to the originals already (Kaldi).
    src_uniq = read_kv(src / "utt2uniq") if (src / "utt2uniq").is_file() else {}
    bad = [u for u in utts if "/" in u or u in (".", "..")]
    if bad:
        raise DataDirError(f"{src}: utterance ids cannot name audio files: {', '.join(bad[:5])}")

    out: dict[str, dict[str, str]] = {}
    utt2uniq: dict[str, str] = {}
    jobs: dict[str, list[tuple[float, str]]] = {}
    for factor in factors:
        prefix = factor_prefix(factor)
        for uttid, fields in utts.items():
            new_id = prefix + uttid
            if new_id in out:
                raise DataDirError(
                    f"{src}: perturbed id {new_id} collides with another utterance's id"
                )
            new = dict(fields)
            if prefix:
                new["wav"] = os.fspath(audio_dir / f"{new_id}.wav")
                jobs.setdefault(uttid, []).append((factor, new["wav"]))
                for field in _PREFIXED_FIELDS:
                    if field in new:
                        new[field] = prefix + new[field]
            out[new_id] = new
            utt2uniq[new_id] = src_uniq.get(uttid, uttid)

    side_out = {  # (before the audio work: a bad value fails fast)
        f.name: {factor_prefix(factor) + u: _side_value(f, src, u, v, factor)
                 for factor in factors for u, v in read_kv(src / f.name).items()}
        for f in side
    }

    scp = os.fspath(src / "wav.scp")
    work = [(scp, u, utts[u]["wav"], targets) for u, targets in jobs.items()]
    written = kept = 0
    if work:
        audio_dir.mkdir(parents=True, exist_ok=True)
        if num_workers > 1 and len(work) > 1:
            import multiprocessing

            with multiprocessing.Pool(min(num_workers, len(work))) as pool:
                results = list(pool.imap_unordered(_perturb_one, work, chunksize=4))
        else:
            results = [_perturb_one(job) for job in work]
        written = sum(r[1] for r in results)
        kept = sum(r[2] for r in results)

    write_data_dir(dst, out)
    write_kv(dst / "utt2uniq", utt2uniq)
    for f in _SIDE_FILES:
        if f.name in side_out:
            write_kv(dst / f.name, side_out[f.name])
        elif (dst / f.name).exists():  # left from an earlier run on another source
            (dst / f.name).unlink()
    required = [FIELD_FILES[f] for f in next(iter(utts.values()))] + [f.name for f in side]
    n = validate_data_dir(dst, required=required, check_audio=False)
    logging.info(
        f"{dst}: {n} utterances ({n_src} x {len(factors)} factors); "
        f"audio files written: {written}, already present: {kept}"
    )
    return n
