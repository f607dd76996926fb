"""Fixtures for the corpus preparers: espeak-ng speech, synthesised once per session."""

import numpy as np
import pytest
from corpus_fixtures import SENTENCES


@pytest.fixture(scope="session")
def speech():
    """``speech(lang, i)``: sentence ``i`` of ``SENTENCES[lang]`` spoken, float32 16 kHz."""
    from espnet2_bloomzmms.data.synthesize import synthesize

    cache = {}

    def get(lang: str, i: int) -> np.ndarray:
        if (lang, i) not in cache:
            cache[lang, i] = synthesize(SENTENCES[lang][i], lang, rate=220)
        return cache[lang, i]

    return get
