"""Corpus audio made into 16 kHz mono files that training reads, once.

Corpora ship WAV/FLAC (FLEURS, MLS), Ogg Vorbis (VoxPopuli), Ogg Opus (MLS ``_opus``)
or MP3 (Common Voice).  Training reads plain files through ESPnet's ``sound`` type, so
each utterance gets its wav.scp entry here:

* a WAV or FLAC file that already is 16 kHz mono is referenced where it lies (no copy);
* anything else is decoded, down-mixed, resampled and written once as 16-bit WAV to
  ``<audio_dir>/<name>.wav`` (a re-run keeps the files already written).

Files rather than ``ffmpeg -i clip.mp3 ... |`` pipes, as ESPnet's Common Voice recipe
writes: a pipe needs ffmpeg on every training node and decodes again every epoch, and
``data/format.py`` would write the pipes out as files anyway.

Decoding goes through soundfile (libsndfile reads WAV, FLAC, Ogg Vorbis/Opus, and MP3
since libsndfile 1.1) and falls back to ffmpeg for what the installed libsndfile cannot
read; if ffmpeg is needed and not installed, :class:`MissingToolError` names it and
the file.  Utterances longer than ``max_duration`` (30 s in the paper) are dropped and
counted, as are missing, empty and undecodable files (a warning names each), so that
a preparation of a whole corpus goes on.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

import numpy as np
import soundfile

from espnet2_bloomzmms.audio_io import resample
from espnet2_bloomzmms.data.synthesize import write_wav

__all__ = [
    "AudioDecodeError",
    "AudioJob",
    "AudioPreparer",
    "MissingToolError",
    "PreparedAudio",
    "decode_audio",
    "soundfile_reads",
]

FFMPEG = "ffmpeg"
_FFMPEG_TIMEOUT_S = 600
# extension -> (libsndfile major format, subtype needed or None)
_SOUNDFILE_FORMATS = {
    ".wav": ("WAV", None),
    ".flac": ("FLAC", None),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", None),
}
# formats referenced in place when already at the target rate and mono
_IN_PLACE_FORMATS = frozenset({"WAV", "WAVEX", "FLAC"})

#: statuses of a prepared utterance; all but KEPT are reasons for skipping it
KEPT = "kept"
TOO_LONG = "too_long"
MISSING = "missing_audio"
EMPTY = "empty_audio"
UNREADABLE = "unreadable_audio"


class MissingToolError(RuntimeError):
    """A system tool needed to decode a file (ffmpeg) is not installed."""


class AudioDecodeError(ValueError):
    """A file could not be decoded (corrupt, or a format no installed decoder reads)."""


def soundfile_reads(name: Union[str, os.PathLike]) -> bool:
    """Whether the installed libsndfile is known to read files with this suffix (wav,
    flac, ogg, opus, mp3); for other suffixes (m4a, webm, ...) ffmpeg is the decoder."""
    fmt = _SOUNDFILE_FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        return False
    major, subtype = fmt
    if major not in soundfile.available_formats():
        return False
    return subtype is None or subtype in soundfile.available_subtypes(major)


def _ffmpeg_decode(source: Union[Path, bytes], name: str, sample_rate: int, why: str) -> np.ndarray:
    """Mono float32 at ``sample_rate`` from ffmpeg (which resamples and down-mixes)."""
    exe = shutil.which(FFMPEG)
    if exe is None:
        if soundfile_reads(name):
            raise AudioDecodeError(f"{name}: cannot decode: {why}")
        raise MissingToolError(
            f"{name}: the installed libsndfile ({soundfile.__libsndfile_version__}) cannot "
            f"read {Path(name).suffix or 'this'} files ({why}) and '{FFMPEG}', needed for "
            f"them, is not on PATH. Install ffmpeg (e.g. `apt-get install ffmpeg`) or a "
            "soundfile whose libsndfile reads the format (libsndfile >= 1.1 reads MP3)."
        )
    from_stdin = isinstance(source, bytes)
    args = [exe, "-hide_banner", "-loglevel", "error", *([] if from_stdin else ["-nostdin"]),
            "-i", "pipe:0" if from_stdin else str(source),
            "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "pipe:1"]
    try:
        proc = subprocess.run(args, input=source if from_stdin else None, capture_output=True,
                              timeout=_FFMPEG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise AudioDecodeError(f"{name}: ffmpeg timed out after {_FFMPEG_TIMEOUT_S} s") from e
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip() or "(no stderr)"
        raise AudioDecodeError(f"{name}: cannot decode with soundfile ({why}) nor ffmpeg: {stderr}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def decode_audio(
    source: Union[str, os.PathLike, bytes], sample_rate: int = 16000, name: Optional[str] = None
) -> np.ndarray:
    """Mono float32 audio at ``sample_rate`` from a file or a file's bytes.

    soundfile first; ffmpeg when soundfile fails (see the module docstring).
    ``name`` is the file named in errors (default: the path).
    """
    if not isinstance(source, bytes):
        source = Path(source)
    name = name or str(source)
    try:
        data, rate = soundfile.read(
            io.BytesIO(source) if isinstance(source, bytes) else str(source),
            dtype="float32", always_2d=True,
        )
    except (RuntimeError, OSError, ValueError) as e:  # LibsndfileError is a RuntimeError
        return _ffmpeg_decode(source, name, sample_rate, f"{type(e).__name__}: {e}")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(resample(mono, int(rate), sample_rate), dtype=np.float32)


@dataclass(frozen=True)
class AudioJob:
    """One utterance's audio: a corpus file, or (archive members) its bytes."""

    uttid: str
    source: Path  # the file; for an archive member, ``archive/member`` (named in messages)
    out_name: str  # path under the audio dir, without ``.wav``, if it must be converted
    data: Optional[bytes] = None


@dataclass(frozen=True)
class PreparedAudio:
    uttid: str
    status: str  # KEPT, TOO_LONG, MISSING, EMPTY or UNREADABLE
    entry: Optional[str] = None  # the wav.scp value, when kept
    duration: float = 0.0


class AudioPreparer:
    """Turn :class:`AudioJob` s into wav.scp entries (see the module docstring).

    ``nj`` threads decode in parallel (libsndfile, scipy and ffmpeg release the GIL).
    """

    def __init__(self, audio_dir: Union[str, os.PathLike], sample_rate: int = 16000,
                 max_duration: Optional[float] = 30.0, nj: int = 1):
        if max_duration is not None and max_duration <= 0:
            raise ValueError(f"max_duration must be positive (seconds), got {max_duration}")
        if nj < 1:
            raise ValueError(f"nj must be >= 1, got {nj}")
        self.audio_dir = Path(audio_dir)
        self.sample_rate = int(sample_rate)
        self.max_duration = max_duration
        self.nj = nj

    def _verdict(self, job: AudioJob, frames: int, entry: str) -> PreparedAudio:
        duration = frames / self.sample_rate
        if frames == 0:
            logging.warning(f"{job.source}: utterance {job.uttid}: empty audio, skipped")
            return PreparedAudio(job.uttid, EMPTY, duration=0.0)
        if self.max_duration is not None and duration > self.max_duration:
            return PreparedAudio(job.uttid, TOO_LONG, duration=duration)
        return PreparedAudio(job.uttid, KEPT, entry, duration)

    def _usable_frames(self, path: Path, formats=None) -> Optional[int]:
        """#frames of ``path`` if it is readable, mono, at the target rate (and of ``formats``)."""
        try:
            info = soundfile.info(str(path))
        except (RuntimeError, OSError):
            return None
        if info.samplerate != self.sample_rate or info.channels != 1:
            return None
        if formats is not None and info.format not in formats:
            return None
        return int(info.frames)

    def prepare(self, job: AudioJob) -> PreparedAudio:
        """The wav.scp entry of one utterance, or why it is skipped."""
        if job.data is None:
            if not job.source.is_file():
                logging.warning(f"{job.source}: utterance {job.uttid}: audio file missing, skipped")
                return PreparedAudio(job.uttid, MISSING)
            frames = self._usable_frames(job.source, _IN_PLACE_FORMATS)
            if frames is not None:
                return self._verdict(job, frames, os.path.abspath(job.source))
        out = self.audio_dir / f"{job.out_name}.wav"
        frames = self._usable_frames(out) if out.is_file() else None
        if frames is not None:
            return self._verdict(job, frames, os.path.abspath(out))
        try:
            wav = decode_audio(job.data if job.data is not None else job.source,
                               self.sample_rate, name=str(job.source))
        except AudioDecodeError as e:
            logging.warning(f"utterance {job.uttid}: {e}; skipped")
            return PreparedAudio(job.uttid, UNREADABLE)
        verdict = self._verdict(job, len(wav), os.path.abspath(out))
        if verdict.status == KEPT:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_wav(out, wav, self.sample_rate)
        return verdict

    def prepare_all(self, jobs: Iterable[AudioJob]) -> Iterator[PreparedAudio]:
        """``prepare`` over ``jobs`` in order; with ``nj > 1`` a bounded window of jobs
        runs at once, so a stream of archive members is never held whole in memory."""
        if self.nj == 1:
            yield from map(self.prepare, jobs)
            return
        with ThreadPoolExecutor(self.nj) as pool:
            window: deque = deque()
            for job in jobs:
                window.append(pool.submit(self.prepare, job))
                if len(window) >= 4 * self.nj:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
