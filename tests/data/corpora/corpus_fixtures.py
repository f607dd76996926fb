"""Helpers for the corpus fixture trees: audio files in each corpus's format."""

from pathlib import Path

import numpy as np
import soundfile

#: what the fixture speakers say, per espeak-ng language
SENTENCES = {
    "en": ["The weather is nice today.", "Where is the nearest train station?"],
    "de": ["Das Wetter ist heute schön.", "Wir fahren morgen nach München."],
    "fr": ["Il fait beau aujourd'hui.", "Où est la gare la plus proche ?"],
    "es": ["Hace buen tiempo hoy.", "Tengo tres hermanos y dos hermanas."],
    "pl": ["Dzisiaj jest ładna pogoda.", "Gdzie jest najbliższy dworzec?"],
}


def write_audio(path: Path, wav: np.ndarray, rate: int = 16000, fmt: str = "WAV",
                subtype: str = "PCM_16", channels: int = 1) -> Path:
    """Write a fixture audio file in a corpus's format (resampled/duplicated as asked)."""
    if rate != 16000:
        from scipy.signal import resample_poly

        wav = resample_poly(wav, rate // 1000, 16).astype(np.float32)
    data = np.stack([wav] * channels, axis=1) if channels > 1 else wav
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), data, rate, format=fmt, subtype=subtype)
    return path


def lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def can_write(fmt: str, subtype: str) -> bool:
    return fmt in soundfile.available_formats() and subtype in soundfile.available_subtypes(fmt)
