"""Audio input for decoding: checking a waveform (mono, float, long enough, finite, not
too long), resampling it to 16 kHz, and the encoded batch that remembers which rows are
chunks of one long utterance (:mod:`espnet2_bloomzmms.inference.chunking` cuts them)."""

from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from espnet2_bloomzmms.audio_io import MIN_SAMPLES, SAMPLE_RATE
from espnet2_bloomzmms.audio_io import resample as resample_array
from espnet2_bloomzmms.inference.chunking import join_texts

Speech = Union[np.ndarray, torch.Tensor]


def resample(wave: torch.Tensor, fs: int, name: str = "utterance") -> torch.Tensor:
    """``wave`` at ``fs`` Hz resampled to 16 kHz (polyphase filter, scipy)."""
    if isinstance(fs, bool) or not isinstance(fs, (int, np.integer)) or fs <= 0:
        raise ValueError(f"{name}: fs must be a positive integer sample rate in Hz, got {fs!r}")
    if fs == SAMPLE_RATE:
        return wave
    return torch.from_numpy(resample_array(wave.double().cpu().numpy(), int(fs))).to(wave.dtype)


def check_waveform(speech: Speech, name: str = "utterance", fs: Optional[int] = None,
                   max_seconds: Optional[float] = None) -> torch.Tensor:
    """A 1-D float tensor of the waveform at 16 kHz (resampled from ``fs`` Hz when given),
    or a ValueError naming ``name`` that says what is wrong: not mono, empty, integer
    samples, shorter than one wav2vec2 frame, longer than ``max_seconds``, NaN/Inf."""
    x = torch.as_tensor(np.asarray(speech) if not isinstance(speech, torch.Tensor) else speech)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"{name}: speech must be a mono waveform (1-D), got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name}: speech is empty (0 samples)")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name}: speech must be float samples, got {x.dtype}")
    if fs is not None:
        x = resample(x, fs, name)
    if x.numel() < MIN_SAMPLES:
        raise ValueError(f"{name}: speech is {x.numel()} samples long, shorter than one wav2vec2 frame "
                         f"({MIN_SAMPLES} samples, 25 ms)")
    if max_seconds is not None and x.numel() > max_seconds * SAMPLE_RATE:
        raise ValueError(
            f"{name}: speech is {x.numel() / SAMPLE_RATE:.1f} s long, more than max_seconds={max_seconds:g}"
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: speech contains NaN or infinite samples")
    return x


class Encoded(NamedTuple):
    """Speech embeddings in the LLM's width, as the LLM reads them: (B, T, H) and the
    valid lengths (B,).

    ``chunks``: how many consecutive rows each utterance was cut into (long audio, see
    ``chunk_seconds``); None when every utterance is one row. ``adaptor``: the length
    adaptor's output and lengths, for the CTC head, where the LLM reads something else
    (``speech_input: ctc_compressed``); None where it is ``hs`` itself.
    """

    hs: torch.Tensor
    lengths: torch.Tensor
    chunks: Optional[Tuple[int, ...]] = None
    adaptor: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    @property
    def ctc_input(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.adaptor if self.adaptor is not None else (self.hs, self.lengths)

    def row_names(self) -> List[str]:
        """``utterance i`` (``utterance i, chunk j/n``) for each row, for error messages."""
        if self.chunks is None:
            return [f"utterance {i}" for i in range(len(self.hs))]
        return [f"utterance {i}" + (f", chunk {j + 1}/{n}" if n > 1 else "")
                for i, n in enumerate(self.chunks) for j in range(n)]

    def join(self, texts: Sequence[str]) -> List[str]:
        """One text per utterance from one per row (chunk answers joined)."""
        if self.chunks is None:
            return list(texts)
        out, start = [], 0
        for n in self.chunks:
            out.append(join_texts(texts[start : start + n]))
            start += n
        return out
