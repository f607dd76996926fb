"""CTC whose output layer is the LLM's input-embedding matrix (frozen, no bias).

Scoring speech frames against the token embeddings teaches the encoder to put each
frame next to the embedding of the token it carries, i.e. to speak the LLM's input
language. The matrix is shared with the LLM (not copied), so it costs no memory and
no checkpoint space.
"""

import logging

import torch
import torch.nn.functional as F
from espnet2.asr.ctc import CTC

from espnet2_bloomzmms.utils.frozen_weights import exclude_frozen_from_state_dict


class TiedOutput(torch.nn.Module):
    """``x @ E.T`` with ``E`` an embedding matrix owned by another module."""

    def __init__(self, embedding: torch.nn.Embedding):
        super().__init__()
        self.weight = embedding.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(self.weight.dtype), self.weight).float()


BLANK_TWIN_COSINE = 0.9


@torch.no_grad()
def blank_twins(weight: torch.Tensor, blank_id: int, threshold: float = BLANK_TWIN_COSINE) -> int:
    """How many other tokens' embeddings point (cosine > ``threshold``) where the blank's does."""
    if not 0 <= blank_id < weight.size(0):
        raise ValueError(f"CTC blank_id {blank_id} is outside the LLM vocabulary (size {weight.size(0)})")
    blank = weight[blank_id].float()
    count = 0
    for rows in weight.split(16384):  # BLOOM's 250 880 x 4096 in slices, not one fp32 copy
        count += int((F.cosine_similarity(rows.float(), blank[None], dim=-1) > threshold).sum())
    return count - 1  # the blank itself


class LLMTiedCTC(CTC):
    """ESPnet's CTC over the LLM vocabulary with a configurable blank token.

    Args:
        embedding: the LLM's input embeddings (vocabulary x hidden size).
        blank_id: token used as CTC blank; BLOOM's ``<unk>`` (0) by default, a token
            that never occurs in transcripts. It must also have an embedding of its own:
            tokens a model never trained on (special tokens, byte fallbacks) tend to share
            one direction, and a blank among them can never win the softmax, so CTC stays
            on its blank plateau. :func:`blank_twins` counts them; the constructor warns.
    """

    def __init__(
        self,
        embedding: torch.nn.Embedding,
        blank_id: int = 0,
        dropout_rate: float = 0.0,
        zero_infinity: bool = True,
    ):
        vocab_size, hidden_size = embedding.weight.shape
        with torch.device("meta"):  # the Linear CTC builds is replaced right away
            super().__init__(
                odim=vocab_size,
                encoder_output_size=hidden_size,
                dropout_rate=dropout_rate,
                zero_infinity=zero_infinity,
            )
        if not embedding.weight.is_meta:
            twins = blank_twins(embedding.weight, blank_id)
            if twins:
                logging.warning(
                    f"CTC blank token {blank_id}: {twins} other tokens have embeddings within cosine "
                    f"{BLANK_TWIN_COSINE} of its own, so CTC can hardly make the blank win; choose a "
                    "trained token that never occurs in transcripts (e.g. the EOS token) with "
                    "--ctc_conf blank_id=ID"
                )
        self.ctc_lo = TiedOutput(embedding)
        exclude_frozen_from_state_dict(self.ctc_lo)  # the LLM's checkpoint has it
        self.blank_id = blank_id
        self.ctc_loss = torch.nn.CTCLoss(blank=blank_id, reduction="none", zero_infinity=zero_infinity)

    def greedy_ids(self, hs_pad: torch.Tensor, hlens: torch.Tensor) -> list:
        """Best path per utterance: repeats merged, blanks removed."""
        best = self.argmax(hs_pad)
        hyps = []
        for seq, n in zip(best, hlens):
            seq = torch.unique_consecutive(seq[: int(n)])
            hyps.append(seq[seq != self.blank_id].tolist())
        return hyps
