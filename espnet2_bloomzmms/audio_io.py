"""Audio input, in one place: the model's sample rate, what makes a ``wav.scp`` entry a
Kaldi entry, reading one entry, resampling, and the ``wav.scp`` reader of every decoding
CLI. Plain audio files (any format soundfile reads, as ESPnet's ``sound`` type) and Kaldi
``cmd |`` pipes and ``file.ark:offset`` entries (through kaldiio, as ESPnet's
``kaldi_ark`` type) are read alike; integer PCM comes back as float in [-1, 1)."""

import math
import re
from typing import Tuple

import kaldiio
import numpy as np
import soundfile
from espnet2.fileio.sound_scp import SoundScpReader

SAMPLE_RATE = 16000  #: what wav2vec2/MMS checkpoints are trained on
MIN_SAMPLES = 400  #: one wav2vec2 frame (25 ms at 16 kHz); shorter audio makes a NaN loss
_ARK_OFFSET = re.compile(r"^.+:\d+(\[[^\]]*\])?$")


def is_kaldi_entry(entry: str) -> bool:
    """A pipe (``cmd |``) or an ark offset (``x.ark:123``, maybe sliced): what only kaldiio reads."""
    v = entry.strip()
    return v.endswith("|") or v.startswith("|") or _ARK_OFFSET.match(v) is not None


def read_kaldi_entry(entry: str) -> Tuple[np.ndarray, int]:
    """(samples as stored, e.g. int16, and the sample rate) of a pipe or ark entry."""
    got = kaldiio.load_mat(entry.strip())
    if not isinstance(got, tuple):
        raise ValueError(f"is a bare matrix {np.shape(got)} without a sample rate, not audio "
                         "(write audio arks with kaldiio's write_function='soundfile')")
    rate, array = got if isinstance(got[0], (int, np.integer)) else got[::-1]  # extended arks: (array, rate)
    return np.asarray(array), int(rate)


def read_entry(entry: str) -> Tuple[np.ndarray, int]:
    """(float32 samples, sample rate) of any ``wav.scp`` entry: a file, pipe or ark."""
    if not is_kaldi_entry(entry):
        array, rate = soundfile.read(entry.strip(), dtype="float32", always_2d=False)
        return array, int(rate)
    array, rate = read_kaldi_entry(entry)
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(-np.iinfo(array.dtype).min)
    return array.astype(np.float32, copy=False), rate


def resample(wave: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` (samples along axis 0) from ``rate`` to ``target`` Hz with scipy's polyphase
    filter, computed in the input's precision; the input itself where the rates agree."""
    if int(rate) == int(target):
        return wave
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    return resample_poly(wave, int(target) // g, int(rate) // g, axis=0)


def _check_lines(path) -> None:
    """Every line ``<uttid> <entry>``, UTF-8: else an error naming the file and line (the
    reader underneath would say only "not enough values to unpack")."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({e})") from e
            if len(line.split(maxsplit=1)) != 2:
                what = "is blank" if not line.strip() else f"has no audio entry after the id {line.strip()!r}"
                raise ValueError(f"{path}:{lineno}: line {what}; each line must be '<uttid> <audio>'")


class WavScpReader(SoundScpReader):
    """``SoundScpReader`` that also reads pipes and ark entries (``uttid -> (rate, wave)``)."""

    def __init__(self, path):
        _check_lines(path)
        super().__init__(str(path), dtype="float32", always_2d=False)

    def __getitem__(self, key):
        entry = self.data[key]
        if not is_kaldi_entry(entry):
            return super().__getitem__(key)
        try:
            wave, rate = read_entry(entry)
        except Exception as e:  # noqa: BLE001 - say which utterance and entry failed
            raise ValueError(f"utterance {key}: cannot read {entry!r}: {type(e).__name__}: {e}") from e
        return rate, wave


def open_wav_scp(path) -> WavScpReader:
    return WavScpReader(path)


def num_samples(reader: WavScpReader, uttid: str) -> int:
    """Length without reading the samples where the entry is a plain audio file."""
    path = reader.get_path(uttid)
    if is_kaldi_entry(path):
        return len(reader[uttid][1])
    try:
        return soundfile.info(path).frames
    except Exception:  # noqa: BLE001 - anything soundfile cannot open is read in full
        return len(reader[uttid][1])


def read_mono(reader: WavScpReader, uttid: str, resample: bool = True) -> Tuple[np.ndarray, int]:
    """(mono waveform, its sample rate); another rate than 16 kHz is refused unless
    ``resample`` (the caller resamples, e.g. ``BloomzMMS.check_speech(wave, fs=rate)``)."""
    rate, wave = reader[uttid]
    if rate != SAMPLE_RATE and not resample:
        raise ValueError(f"utterance {uttid} ({reader.get_path(uttid)}): sample rate {rate} Hz, expected "
                         f"{SAMPLE_RATE} Hz (resample the data, or pass --resample true)")
    if wave.ndim == 2:
        if wave.shape[1] != 1:
            raise ValueError(f"utterance {uttid}: {wave.shape[1]} channels, expected mono")
        wave = wave[:, 0]
    return wave, rate
