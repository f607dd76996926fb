"""Cutting long audio at low-energy points, on real (espeak-ng) speech joined by pauses."""

import numpy as np
import pytest

from espnet2_bloomzmms.inference.chunking import chunk_bounds, join_texts, short_time_energy, split_long_audio
from espnet2_bloomzmms.data.synthesize import synthesize

RATE = 16000
GAP = 0.6  # seconds of silence between sentences
SENTENCES = [("en", "The weather is nice today."), ("en", "Where is the nearest train station?"),
             ("de", "Das Wetter ist heute schön.")]


@pytest.fixture(scope="module")
def speech_with_pauses():
    """Three spoken sentences separated by 0.6 s pauses; the pauses' sample spans."""
    parts, gaps, pos = [], [], 0
    for i, (lang, text) in enumerate(SENTENCES):
        wave = synthesize(text, lang, rate=190)
        parts.append(wave)
        pos += len(wave)
        if i < len(SENTENCES) - 1:
            parts.append(np.zeros(int(GAP * RATE), dtype=np.float32))
            gaps.append((pos, pos + int(GAP * RATE)))
            pos += int(GAP * RATE)
    return np.concatenate(parts), gaps


def in_a_pause(cut, gaps):
    return any(a <= cut < b for a, b in gaps)


def test_short_time_energy_is_the_framed_mean_square():
    x = np.arange(10, dtype=np.float32)
    energy = short_time_energy(x, 4)
    assert energy[5] == pytest.approx(np.mean(x[3:7] ** 2))
    assert energy[0] == pytest.approx(np.mean(x[0:2] ** 2))  # clipped at the start
    assert energy.shape == x.shape


@pytest.mark.parametrize("noise", [0.0, 0.003])
def test_cuts_fall_into_the_pauses(speech_with_pauses, noise):
    wave, gaps = speech_with_pauses
    if noise:
        wave = wave + np.random.default_rng(0).standard_normal(len(wave)).astype(np.float32) * noise
    max_seconds = 2.5  # each limit lands past a sentence, within 1 s of a pause
    bounds = chunk_bounds(wave, RATE, max_seconds, search_seconds=1.0)
    assert len(bounds) == 3
    assert bounds[0][0] == 0 and bounds[-1][1] == len(wave)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, nothing lost
    assert all(b - a <= max_seconds * RATE for a, b in bounds)
    for (_, cut), gap in zip(bounds, gaps):
        assert gap[0] <= cut < gap[1], f"cut at {cut / RATE:.2f} s, pause at {gap[0] / RATE:.2f}-{gap[1] / RATE:.2f} s"
    chunks = split_long_audio(wave, RATE, max_seconds, search_seconds=1.0)
    np.testing.assert_array_equal(np.concatenate(chunks), wave)


def test_without_a_pause_the_limit_still_holds(speech_with_pauses):
    wave = speech_with_pauses[0]
    speech_only = np.concatenate([wave[: 20000]] * 4)
    bounds = chunk_bounds(speech_only, RATE, 1.0, search_seconds=0.3, min_seconds=0.2)
    assert sum(b - a for a, b in bounds) == len(speech_only)
    assert all(b - a <= RATE for a, b in bounds)
    assert all(b - a >= 0.7 * RATE for a, b in bounds[:-1])  # cut within the last 0.3 s
    assert bounds[-1][1] - bounds[-1][0] >= 0.2 * RATE


def test_the_last_chunk_is_not_a_sliver():
    wave = np.random.default_rng(1).standard_normal(int(2.05 * RATE)).astype(np.float32)
    bounds = chunk_bounds(wave, RATE, 2.0, search_seconds=1.0, min_seconds=0.5)
    assert len(bounds) == 2 and bounds[1][1] - bounds[1][0] >= 0.5 * RATE


def test_short_audio_is_one_chunk(speech_with_pauses):
    wave = speech_with_pauses[0]
    assert chunk_bounds(wave, RATE, 30.0) == [(0, len(wave))]
    assert len(split_long_audio(wave, RATE, 30.0)) == 1


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="max_seconds must be positive"):
        chunk_bounds(np.zeros(100), RATE, 0)
    with pytest.raises(ValueError, match="too short to chunk"):
        chunk_bounds(np.zeros(100), RATE, 1e-5)


def test_join_texts():
    assert join_texts(["Hello there.", " ", "How are you? "]) == "Hello there. How are you?"
    assert join_texts(["你好", "世界"], separator="") == "你好世界"
    assert join_texts([]) == ""
