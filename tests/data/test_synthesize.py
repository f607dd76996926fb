"""espeak-ng synthesis: real multilingual speech for tests and the tiny recipe."""

import os
import shutil
import stat

import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.data.synthesize import (
    available_languages,
    available_variants,
    synthesize,
    write_wav,
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)"
)

SENTENCES = {
    "en": "This is a short test of the speech encoder.",
    "de": "Das ist ein kurzer Test des Sprachkodierers.",
    "ru": "Это короткая проверка речевого кодировщика.",
    "hi": "यह वाक् एन्कोडर का एक छोटा परीक्षण है।",
}


def _frame_rms(wav: np.ndarray, frame: int = 400) -> np.ndarray:
    n = len(wav) // frame
    return np.sqrt((wav[: n * frame].reshape(n, frame) ** 2).mean(axis=1))


@needs_espeak
@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_speech_is_real_16k_mono(lang, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wav = synthesize(SENTENCES[lang], lang)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert np.isfinite(wav).all()
    seconds = len(wav) / 16000
    assert 1.0 < seconds < 10.0, seconds
    rms = _frame_rms(wav)
    # speech: clearly voiced frames, and a loudness envelope that moves (not a tone/noise)
    assert (rms > 0.02).mean() > 0.3, (rms > 0.02).mean()
    assert rms.std() > 0.01
    assert np.abs(wav).max() <= 1.0
    assert list(tmp_path.iterdir()) == []  # nothing left behind


@needs_espeak
def test_sample_rate_is_honoured():
    text = SENTENCES["en"]
    native = synthesize(text, "en", sample_rate=22050)  # espeak-ng's own rate
    at16 = synthesize(text, "en")
    at8 = synthesize(text, "en", sample_rate=8000)
    assert abs(len(at16) - len(native) * 16000 / 22050) <= 2
    assert abs(len(at8) - len(native) * 8000 / 22050) <= 2


@needs_espeak
def test_speaking_rate_changes_length():
    slow = synthesize(SENTENCES["de"], "de", rate=110)
    fast = synthesize(SENTENCES["de"], "de", rate=300)
    assert len(slow) > 1.6 * len(fast), (len(slow), len(fast))


@needs_espeak
def test_voice_variant_changes_audio():
    assert {"f3", "klatt"} <= available_variants()
    base = synthesize("Hello there.", "en")
    other = synthesize("Hello there.", "en", voice="f3")
    assert len(base) != len(other) or not np.allclose(base, other)


@needs_espeak
def test_languages_listed():
    langs = available_languages()
    assert {"en", "en-us", "de", "ru", "hi", "fr", "zh"} <= langs
    assert all(code == code.lower() for code in langs)
    synthesize("ok", "EN-US")  # codes are case-insensitive, like espeak-ng's


@needs_espeak
def test_unknown_language_names_code_and_suggestions():
    with pytest.raises(ValueError, match=r"'eng'.*close valid codes: en\b"):
        synthesize("hello", "eng")
    with pytest.raises(ValueError, match="'xx-nope'"):
        synthesize("hello", "xx-nope")


@needs_espeak
def test_unknown_variant_is_refused_not_ignored():
    # espeak-ng itself silently ignores an unknown variant
    with pytest.raises(ValueError, match=r"'alex'.*Alex"):
        synthesize("hello", "en", voice="alex")


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text(text):
    with pytest.raises(ValueError, match="non-empty"):
        synthesize(text, "en")


def test_missing_binary_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"espeak-ng.*apt-get install espeak-ng"):
        synthesize("hello", "en")
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        available_languages()


def test_espeak_failure_carries_stderr(tmp_path, monkeypatch):
    fake = tmp_path / "espeak-ng"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--voices" ]; then\n'
        '  printf "Pty Language       Age/Gender VoiceName          File          Other Languages\\n"\n'
        '  printf " 5  en-us           --/M      English_(America)  gmw/en-US     (en 3)\\n"\n'
        "  exit 0\n"
        "fi\n"
        'if [ "$1" = "--voices=variant" ]; then\n'
        '  printf "Pty Language       Age/Gender VoiceName          File          Other Languages\\n"\n'
        "  exit 0\n"
        "fi\n"
        'echo "phoneme data is corrupt" >&2\n'
        "exit 3\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert available_languages() == {"en", "en-us"}
    with pytest.raises(RuntimeError, match=r"exit code 3: phoneme data is corrupt"):
        synthesize("hello", "en")


def test_write_wav_atomic_pcm16(tmp_path):
    t = np.arange(8000) / 16000
    wav = (1.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # over full scale
    path = tmp_path / "sub" / "a.wav"
    write_wav(path, wav, 16000)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, 8000)
    assert info.subtype == "PCM_16" and info.format == "WAV"
    back, _ = soundfile.read(str(path), dtype="float32")
    assert back.max() > 0.99 and back.min() < -0.99  # clipped, not wrapped around
    assert os.listdir(path.parent) == ["a.wav"]  # no temp file left
    with pytest.raises(ValueError, match="mono"):
        write_wav(tmp_path / "b.wav", np.zeros((10, 2)), 16000)
    assert not (tmp_path / "b.wav").exists()
    assert sorted(os.listdir(tmp_path)) == ["sub"]
