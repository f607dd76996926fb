"""The language inter-CTC: predicts the utterance's language inside the encoder, and
its posteriors condition the later blocks (self-conditioned CTC, Nozaki & Komatsu 2021).

Two structures, by ``stride``:
    0: ESPnet's CTC on the encoder frames (a linear layer to the language classes).
    2: the authors' (Denisov & Vu 2024): its own length adaptor (Conv1d kernel 2,
       stride 2, ReLU) before the linear layer; for the conditioning its softmax is
       repeated back to the encoder's frame rate (nearest-neighbour interpolation).
and two targets, by ``target``:
    ``utterance``: the language label once.
    ``per_token``: the label once per transcript token (the authors').
"""

from typing import Tuple

import torch
import torch.nn.functional as F
from espnet2.asr.ctc import CTC

TARGETS = ("utterance", "per_token")


class LanguageCTC(CTC):
    """ESPnet's CTC over the language classes (blank 0), with an optional length adaptor.

    Args:
        odim: number of languages + 1 (the blank).
        encoder_output_size: width of the encoder block it reads.
        stride: 0 for none, else the length adaptor's kernel and stride.
        target: ``utterance`` or ``per_token`` (see the module docstring).
    """

    def __init__(self, odim: int, encoder_output_size: int, stride: int = 0, target: str = "utterance",
                 dropout_rate: float = 0.0, zero_infinity: bool = True):
        super().__init__(odim=odim, encoder_output_size=encoder_output_size, dropout_rate=dropout_rate,
                         zero_infinity=zero_infinity)
        if stride < 0:
            raise ValueError(f"language CTC: stride must be >= 0, not {stride}")
        if target not in TARGETS:
            raise ValueError(f"language CTC: target must be one of {TARGETS}, not {target!r}")
        self.stride = stride
        self.target = target
        if stride:
            self.length_adaptor = torch.nn.Sequential(
                torch.nn.Conv1d(encoder_output_size, encoder_output_size, stride, stride), torch.nn.ReLU()
            )

    def _adapted_frames(self, hs_pad: torch.Tensor) -> torch.Tensor:
        if hs_pad.size(1) < self.stride:
            hs_pad = F.pad(hs_pad, (0, 0, 0, self.stride - hs_pad.size(1)))
        return self.length_adaptor(hs_pad.transpose(1, 2)).transpose(1, 2)

    def adapt(self, hs_pad: torch.Tensor, hlens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The frames the classifier reads, and their lengths."""
        if not self.stride:
            return hs_pad, hlens
        return self._adapted_frames(hs_pad), torch.div(hlens, self.stride, rounding_mode="floor").clamp(min=1)

    def targets(self, lang: torch.Tensor, lang_lengths: torch.Tensor,
                token_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The CTC target of each utterance from its language label (B, 1)."""
        if self.target == "utterance":
            return lang, lang_lengths
        lengths = token_lengths.clamp(min=1)
        padding = torch.arange(int(lengths.max()), device=lang.device)[None, :] >= lengths[:, None]
        return lang[:, :1].expand(-1, padding.size(1)).masked_fill(padding, -1), lengths

    def forward(self, hs_pad, hlens, ys_pad, ys_lens):
        hs, lengths = self.adapt(hs_pad, hlens)
        return super().forward(hs, lengths, ys_pad, ys_lens)

    def softmax(self, hs_pad: torch.Tensor) -> torch.Tensor:
        """Posteriors at the rate of ``hs_pad`` (what the conditioning layer adds)."""
        if not self.stride:
            return super().softmax(hs_pad)
        probs = super().softmax(self._adapted_frames(hs_pad))
        return F.interpolate(probs.transpose(1, 2), size=hs_pad.size(1), mode="nearest").transpose(1, 2)
