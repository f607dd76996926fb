"""Corpus audio to 16 kHz mono files: decoding, in-place references, drops, ffmpeg."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile
from corpus_fixtures import can_write, write_audio

from espnet2_bloomzmms.data.corpora.audio import (
    EMPTY,
    KEPT,
    MISSING,
    TOO_LONG,
    UNREADABLE,
    AudioDecodeError,
    AudioJob,
    AudioPreparer,
    MissingToolError,
    decode_audio,
)

HAS_FFMPEG = shutil.which("ffmpeg") is not None


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_decode_downmixes_and_resamples(speech, tmp_path):
    wav = speech("en", 0)
    path = write_audio(tmp_path / "a.flac", wav, rate=48000, fmt="FLAC", channels=2)
    out = decode_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - len(wav)) <= 2
    assert _corr(out, wav) > 0.99


@pytest.mark.parametrize("fmt,subtype,suffix,rate", [
    ("OGG", "VORBIS", ".ogg", 16000), ("OGG", "OPUS", ".opus", 48000), ("MP3", "MPEG_LAYER_III", ".mp3", 16000),
])
def test_decode_lossy_formats_through_soundfile(speech, tmp_path, fmt, subtype, suffix, rate):
    if not can_write(fmt, subtype):
        pytest.skip(f"this libsndfile ({soundfile.__libsndfile_version__}) has no {fmt}/{subtype}")
    wav = speech("de", 0)
    out = decode_audio(write_audio(tmp_path / f"a{suffix}", wav, rate=rate, fmt=fmt, subtype=subtype))
    assert abs(len(out) - len(wav)) < 0.1 * 16000  # codec delay and padding only
    assert np.abs(out).max() > 0.05


def test_missing_ffmpeg_is_named_with_the_file(tmp_path, monkeypatch):
    """A format libsndfile does not read needs ffmpeg; without it, say so and name the file."""
    clip = tmp_path / "clip.m4a"
    clip.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError) as e:
        decode_audio(clip)
    assert "ffmpeg" in str(e.value) and str(clip) in str(e.value)


def test_corrupt_file_of_a_soundfile_format_is_a_decode_error(tmp_path, monkeypatch):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(AudioDecodeError, match="bad.wav"):
        decode_audio(bad)


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed; the fallback decoder "
                    "cannot be exercised (its missing-tool error is tested above)")
def test_ffmpeg_decodes_what_soundfile_cannot(speech, tmp_path):
    wav = speech("en", 1)
    src = write_audio(tmp_path / "a.wav", wav)
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(src), "-ar", "44100",
                    str(m4a)], check=True)
    out = decode_audio(m4a)
    assert abs(len(out) - len(wav)) < 0.1 * 16000
    assert _corr(out[:len(wav)], wav) > 0.9
    out_bytes = decode_audio(m4a.read_bytes(), name=str(m4a))
    np.testing.assert_allclose(out_bytes, out, atol=1e-4)


def test_preparer_references_converts_and_drops(speech, tmp_path):
    wav = speech("en", 0)
    in_place = write_audio(tmp_path / "src" / "a.flac", wav, fmt="FLAC")
    resampled = write_audio(tmp_path / "src" / "b.wav", wav, rate=8000)
    long = write_audio(tmp_path / "src" / "c.wav", np.tile(wav, 4), rate=8000)
    empty = write_audio(tmp_path / "src" / "d.wav", np.zeros(0, np.float32))
    corrupt = tmp_path / "src" / "e.wav"
    corrupt.write_bytes(b"RIFF0000WAVEjunk")
    max_s = 2.5 * len(wav) / 16000
    prep = AudioPreparer(tmp_path / "audio", max_duration=max_s)
    jobs = [AudioJob("a", in_place, "x/a"), AudioJob("b", resampled, "x/b"),
            AudioJob("c", long, "x/c"), AudioJob("d", empty, "x/d"),
            AudioJob("e", corrupt, "x/e"), AudioJob("f", tmp_path / "src" / "none.wav", "x/f"),
            AudioJob("g", tmp_path / "tar/g.wav", "x/g", data=in_place.read_bytes())]
    got = {r.uttid: r for r in prep.prepare_all(jobs)}
    assert {u: r.status for u, r in got.items()} == {
        "a": KEPT, "b": KEPT, "c": TOO_LONG, "d": EMPTY, "e": UNREADABLE, "f": MISSING, "g": KEPT}
    assert got["a"].entry == str(in_place)  # 16 kHz mono FLAC: no copy
    assert got["b"].entry == str(tmp_path / "audio" / "x" / "b.wav")
    assert got["g"].entry == str(tmp_path / "audio" / "x" / "g.wav")  # archive bytes: written out
    info = soundfile.info(got["b"].entry)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(got["b"].duration - len(wav) / 16000) < 0.01
    assert sorted(os.listdir(tmp_path / "audio" / "x")) == ["b.wav", "g.wav"]  # nothing for drops

    mtime = os.stat(got["b"].entry).st_mtime_ns
    again = {r.uttid: r for r in AudioPreparer(tmp_path / "audio", max_duration=max_s, nj=3).prepare_all(jobs)}
    assert again == got
    assert os.stat(got["b"].entry).st_mtime_ns == mtime  # kept, not rewritten
