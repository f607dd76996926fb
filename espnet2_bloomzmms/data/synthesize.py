"""Real (if robotic) multilingual speech from espeak-ng, for tests and the tiny recipe.

espeak-ng is a small system package with ~130 languages, so tests and the tiny recipe
get genuine speech in many languages without downloading any corpus.  Install it with
``apt-get install espeak-ng``.
"""

from __future__ import annotations

import difflib
import functools
import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Union

import numpy as np
import soundfile

from espnet2_bloomzmms.audio_io import resample
from espnet2_bloomzmms.utils.atomic_files import atomic_path

__all__ = [
    "ESPEAK_BINARY",
    "available_languages",
    "available_variants",
    "synthesize",
    "write_wav",
]

ESPEAK_BINARY = "espeak-ng"
_TIMEOUT_S = 120

# `espeak-ng --voices` line: "Pty Language Age/Gender VoiceName File (other 5)(langs 5)"
_VOICE_LINE = re.compile(r"^\s*\d+\s+(\S+)\s+\S+\s+\S+\s+(\S+)(.*)$")
_OTHER_LANG = re.compile(r"\(([^\s()]+)\s+\d+\)")


def _espeak() -> str:
    """Absolute path of espeak-ng, looked up on every call so a changed PATH is seen."""
    exe = shutil.which(ESPEAK_BINARY)
    if exe is None:
        raise RuntimeError(
            f"'{ESPEAK_BINARY}' was not found on PATH; it is needed to synthesise speech. "
            "Install it, e.g. `apt-get install espeak-ng` (Debian/Ubuntu) or "
            "`brew install espeak-ng` (macOS)."
        )
    return exe


def _run(args: list[str], stdin: bytes | None = None) -> bytes:
    """Run espeak-ng; a failure raises RuntimeError carrying its stderr."""
    try:
        proc = subprocess.run(
            args, input=stdin, capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{' '.join(args)} timed out after {_TIMEOUT_S} s") from e
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(
            f"{' '.join(args)} failed with exit code {proc.returncode}: "
            f"{stderr or '(no stderr)'}"
        )
    return proc.stdout


@functools.lru_cache(maxsize=None)
def _voices(exe: str) -> tuple[frozenset[str], frozenset[str]]:
    """(language codes, variant names) of one espeak-ng binary; cached per binary."""
    langs: set[str] = set()
    for line in _run([exe, "--voices"]).decode("utf-8", "replace").splitlines():
        m = _VOICE_LINE.match(line)
        if m is None:  # header
            continue
        langs.add(m.group(1).lower())
        # "(en 2)" etc.: shorter codes that espeak-ng also resolves, e.g. "en", "zh".
        langs.update(code.lower() for code in _OTHER_LANG.findall(m.group(3)))
    variants: set[str] = set()
    out = _run([exe, "--voices=variant"]).decode("utf-8", "replace")
    for line in out.splitlines():
        m = _VOICE_LINE.match(line)
        if m is not None and m.group(2).startswith("!v/"):
            variants.add(m.group(2)[len("!v/") :])
    return frozenset(langs), frozenset(variants)


def available_languages() -> set[str]:
    """Language codes accepted by ``synthesize(lang=...)`` (lower case, e.g. 'en', 'en-us')."""
    return set(_voices(_espeak())[0])


def available_variants() -> set[str]:
    """Voice variant names accepted by ``synthesize(voice=...)`` (case-sensitive, e.g. 'f3')."""
    return set(_voices(_espeak())[1])


def _suggest(name: str, choices: set[str], casefold: bool) -> list[str]:
    """A few valid names close to ``name``: same 2-letter stem first, then fuzzy matches."""
    key = name.lower() if casefold else name
    pool = sorted(choices)
    stem = key[:2].lower()
    same_stem = [c for c in pool if c.lower().startswith(stem)] if stem else []
    fuzzy = difflib.get_close_matches(key, pool, n=5, cutoff=0.5)
    out: list[str] = []
    for c in same_stem[:4] + fuzzy:
        if c not in out:
            out.append(c)
    return out[:6]


def synthesize(
    text: str,
    lang: str,
    voice: str | None = None,
    rate: int = 175,
    pitch: int = 50,
    sample_rate: int = 16000,
) -> np.ndarray:
    """Speak ``text`` in ``lang`` with espeak-ng; returns float32 mono at ``sample_rate``.

    ``voice`` is an espeak-ng variant (``available_variants()``), ``rate`` words per
    minute (espeak-ng clamps to about 80..450), ``pitch`` 0..99.  Text is passed on stdin,
    so text starting with '-' is never taken for an option.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text to synthesise must be a non-empty string, got {text!r}")
    if not 0 <= pitch <= 99:
        raise ValueError(f"pitch must be in 0..99, got {pitch}")
    if rate <= 0:
        raise ValueError(f"rate (words per minute) must be positive, got {rate}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    exe = _espeak()
    langs, variants = _voices(exe)
    if lang.lower() not in langs:
        close = _suggest(lang, set(langs), casefold=True)
        raise ValueError(
            f"unknown espeak-ng language code {lang!r}"
            + (f"; close valid codes: {', '.join(close)}" if close else "")
            + " (see available_languages())"
        )
    spec = lang
    if voice is not None:
        if voice not in variants:
            # espeak-ng silently ignores an unknown variant, so check here.
            close = _suggest(voice, set(variants), casefold=False)
            raise ValueError(
                f"unknown espeak-ng voice variant {voice!r}"
                + (f"; close valid variants: {', '.join(close)}" if close else "")
                + " (see available_variants())"
            )
        spec = f"{lang}+{voice}"

    # -b 1: input is UTF-8; the WAV goes to stdout, so no file is left behind.
    args = [exe, "--stdout", "-b", "1", "-v", spec, "-s", str(int(rate)), "-p", str(int(pitch))]
    data = _run(args, stdin=text.encode("utf-8"))
    try:
        # espeak-ng streams the WAV with placeholder sizes; libsndfile copes.
        wav, sr = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise RuntimeError(
            f"could not decode espeak-ng output ({len(data)} bytes) for {text!r}: {e}"
        ) from e
    wav = wav.mean(axis=1) if wav.shape[1] > 1 else wav[:, 0]
    if wav.size == 0:
        raise RuntimeError(f"espeak-ng produced no audio for {text!r} (lang={lang!r})")
    wav = resample(wav, sr, sample_rate)
    return np.ascontiguousarray(wav, dtype=np.float32)


def write_wav(path: Union[str, os.PathLike], wav: np.ndarray, sample_rate: int) -> None:
    """Write mono audio as 16-bit PCM WAV atomically (temp file + os.replace).

    Readers never see a half-written file, e.g. when a recipe is interrupted.
    Float input is clipped to [-1, 1] first (libsndfile would otherwise wrap around).
    """
    path = Path(path)
    arr = np.asarray(wav)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"write_wav expects mono audio (1-D), got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.clip(arr, -1.0, 1.0)
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), arr, int(sample_rate), format="WAV", subtype="PCM_16")
