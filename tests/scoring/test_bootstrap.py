"""Seeded percentile-bootstrap intervals: they cover the mean, shrink with more
utterances, and a paired difference is resampled utterance by utterance."""

import pytest

from espnet2_bloomzmms.scoring.bootstrap import mean_ci, paired_difference_ci


def test_interval_covers_the_mean_and_shrinks_with_more_utterances():
    small = [1, 0, 1, 1, 0] * 4
    mean, low, high = mean_ci(small)
    assert mean == pytest.approx(0.6) and low < mean < high
    _, low_big, high_big = mean_ci(small * 10)
    assert high_big - low_big < (high - low) / 2
    assert mean_ci(small) == mean_ci(small)  # seeded
    assert mean_ci([1, 1, 1]) == (1.0, 1.0, 1.0)


def test_paired_difference_sees_a_consistent_gain_that_unpaired_intervals_would_not():
    # the same utterances are hard for both systems; b also solves 8 of a's 20 failures
    a = [1] * 20 + [0] * 20
    b = [1] * 28 + [0] * 12
    diff, low, high = paired_difference_ci(b, a)
    assert diff == pytest.approx(0.2) and 0.0 < low < high
    _, a_low, a_high = mean_ci(a)
    _, b_low, b_high = mean_ci(b)
    assert b_low < a_high  # the two intervals overlap: only pairing shows the gain
    with pytest.raises(ValueError, match="same utterances"):
        paired_difference_ci(a, b[:-1])
    with pytest.raises(ValueError):
        mean_ci([])
