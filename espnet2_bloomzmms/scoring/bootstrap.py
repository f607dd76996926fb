"""Percentile-bootstrap confidence intervals over utterances, seeded (a rerun gives the
same interval), for agreement rates and for the paired difference of two systems scored
on the same utterances."""

from typing import Sequence, Tuple

import numpy as np

N_RESAMPLES = 1000


def _resampled_means(values: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    return values[idx].mean(axis=1)


def mean_ci(values: Sequence[float], level: float = 0.95, n: int = N_RESAMPLES, seed: int = 0) -> Tuple[float, float, float]:
    """``(mean, low, high)``: the mean of per-utterance ``values`` and its ``level`` interval."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("no values to bootstrap")
    means = _resampled_means(v, n, seed)
    tail = 100 * (1 - level) / 2
    return float(v.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def paired_difference_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95, n: int = N_RESAMPLES,
                         seed: int = 0) -> Tuple[float, float, float]:
    """``mean(a - b)`` and its interval; ``a[i]`` and ``b[i]`` are the same utterance's scores,
    resampled together (a paired bootstrap)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same utterances, got {a.size} and {b.size}")
    return mean_ci(a - b, level, n, seed)
