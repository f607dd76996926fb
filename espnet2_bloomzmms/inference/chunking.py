"""Split audio longer than a limit at its quietest points, so a long recording decodes in pieces.

The model is trained on utterances of at most ~30 s; a longer recording is decoded as
chunks of at most ``max_seconds`` whose answers are joined. Each cut is placed where the
short-time energy (mean square over a 25 ms frame) is lowest within a search window just
before the limit, so cuts fall into pauses between words rather than through them, and
the last chunk is never a sliver too short to encode.
"""

from typing import List, Sequence, Tuple

import numpy as np

__all__ = ["chunk_bounds", "join_texts", "short_time_energy", "split_long_audio"]

FRAME_SECONDS = 0.025
DEFAULT_SEARCH_SECONDS = 3.0
DEFAULT_MIN_SECONDS = 0.5


def short_time_energy(wave: np.ndarray, frame_length: int) -> np.ndarray:
    """Mean square amplitude of the ``frame_length`` samples centred on each sample
    (frames clipped at the edges), via one cumulative sum: O(N) for any frame length."""
    x = np.asarray(wave, dtype=np.float64).reshape(-1)
    n = x.size
    cum = np.concatenate([[0.0], np.cumsum(x * x)])
    half = frame_length // 2
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) - half + frame_length, 0, n)
    return (cum[hi] - cum[lo]) / np.maximum(hi - lo, 1)


def _quietest(energy: np.ndarray, lo: int, hi: int) -> int:
    """The middle of the first run of lowest energy in ``energy[lo:hi + 1]`` (a pause's
    centre, not its first sample, so both chunks keep a little silence)."""
    window = energy[lo : hi + 1]
    low = window.min()
    quiet = window <= low + 1e-12 * max(1.0, float(window.max()))
    first = int(np.argmax(quiet))
    last = first + int(np.argmin(quiet[first:])) - 1 if not quiet[first:].all() else len(window) - 1
    return lo + (first + last) // 2


def chunk_bounds(
    wave: np.ndarray,
    sample_rate: int,
    max_seconds: float,
    search_seconds: float = DEFAULT_SEARCH_SECONDS,
    min_seconds: float = DEFAULT_MIN_SECONDS,
) -> List[Tuple[int, int]]:
    """``[(start, end), ...]`` sample spans covering ``wave`` in order, each at most
    ``max_seconds`` long; one span when the audio fits.

    Each cut lies in the last ``search_seconds`` before the limit (at most half the
    limit) at the lowest short-time energy there, and leaves at least ``min_seconds``
    for what follows.
    """
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    n = int(np.asarray(wave).reshape(-1).size)
    max_len = int(max_seconds * sample_rate)
    search = min(int(search_seconds * sample_rate), max_len // 2)
    min_len = min(int(min_seconds * sample_rate), search)
    if max_len < 1 or search < 1:
        raise ValueError(f"max_seconds={max_seconds:g} is too short to chunk audio at {sample_rate} Hz")
    if n <= max_len:
        return [(0, n)]
    energy = short_time_energy(wave, max(1, int(FRAME_SECONDS * sample_rate)))
    bounds, start = [], 0
    while n - start > max_len:
        # cut at start + k, k in [max_len - search, max_len], leaving >= min_len after it
        cut = _quietest(energy, start + max_len - search, min(start + max_len, n - min_len))
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


def split_long_audio(
    wave: np.ndarray,
    sample_rate: int,
    max_seconds: float,
    search_seconds: float = DEFAULT_SEARCH_SECONDS,
    min_seconds: float = DEFAULT_MIN_SECONDS,
) -> list:
    """The chunks of ``wave`` (views, in order; see :func:`chunk_bounds`)."""
    return [wave[a:b] for a, b in chunk_bounds(wave, sample_rate, max_seconds, search_seconds, min_seconds)]


def join_texts(texts: Sequence[str], separator: str = " ") -> str:
    """The answers of consecutive chunks as one answer (empty answers dropped).

    A space suits languages written with spaces; pass ``separator=""`` for Chinese,
    Japanese or Thai output.
    """
    return separator.join(t.strip() for t in texts if t and t.strip())
