"""Reading a data dir's ``wav.scp`` for decoding: audio files (any format soundfile
reads, through ESPnet's ``SoundScpReader``), Kaldi ``cmd |`` pipes and ``file.ark:offset``
entries (through kaldiio, as Kaldi-style recipes write them). Every decoding CLI reads
audio through here; integer PCM comes back as float in [-1, 1)."""

import re
from typing import Tuple

import kaldiio
import numpy as np
import soundfile
from espnet2.fileio.sound_scp import SoundScpReader

SAMPLE_RATE = 16000  #: what wav2vec2/MMS checkpoints are trained on
_ARK_ENTRY = re.compile(r".+\.ark:\d+$")


def is_kaldi_entry(entry: str) -> bool:
    """A pipe (``cmd |``) or an ark offset (``x.ark:123``), which kaldiio reads."""
    return entry.rstrip().endswith("|") or bool(_ARK_ENTRY.match(entry.strip()))


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
            rate, wave = kaldiio.load_mat(entry)
        except Exception as e:  # noqa: BLE001 - say which utterance and entry failed
            raise ValueError(f"utterance {key}: cannot read {entry!r}: {type(e).__name__}: {e}") from e
        wave = np.asarray(wave)
        if np.issubdtype(wave.dtype, np.integer):
            wave = wave.astype(np.float32) / float(np.iinfo(wave.dtype).max + 1)
        return int(rate), wave.astype(np.float32, copy=False)


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
