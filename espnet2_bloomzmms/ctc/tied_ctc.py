"""CTC whose output layer is the LLM's input-embedding matrix (frozen, no bias).

Scoring speech frames against the token embeddings teaches the encoder to put each
frame next to the embedding of the token it carries, i.e. to speak the LLM's input
language. The matrix is shared with the LLM (not copied), so it costs no memory and
no checkpoint space.
"""

import logging
from typing import Optional

import torch
import torch.nn.functional as F
from espnet2.asr.ctc import CTC

from espnet2_bloomzmms.utils.frozen_weights import exclude_frozen_from_state_dict


class TiedOutput(torch.nn.Module):
    """``x @ E[:rows].T`` with ``E`` an embedding matrix owned by another module: the
    first ``rows`` tokens are the classes (all of them by default)."""

    def __init__(self, embedding: torch.nn.Embedding, rows: Optional[int] = None):
        super().__init__()
        self.weight = embedding.weight
        self.rows = rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight if self.rows is None else self.weight[: self.rows]
        return F.linear(x.to(weight.dtype), weight).float()


class FrozenOutput(torch.nn.Module):
    """A fixed bias-free output matrix of its own (saved with the model): a head trained
    elsewhere that is not the LLM's embeddings, e.g. the authors' CTC model's."""

    def __init__(self, rows: int, hidden_size: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(rows, hidden_size), requires_grad=False)  # loaded

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
        vocab_size: the classes are token ids below it (default: every embedding row).
            BLOOM has 250 880 rows for 250 680 tokens; a model trained over a shorter
            token list must never emit the ids beyond it.
        head: ``tied`` (the LLM's embeddings) or ``own``: a frozen matrix of
            ``vocab_size`` rows saved with the model, for a model whose CTC head was not
            the embeddings (the authors' CTC model, see ``bin.import_reference_model``).
    """

    def __init__(
        self,
        embedding: torch.nn.Embedding,
        blank_id: int = 0,
        dropout_rate: float = 0.0,
        zero_infinity: bool = True,
        vocab_size: Optional[int] = None,
        head: str = "tied",
    ):
        rows, hidden_size = embedding.weight.shape
        if head not in ("tied", "own"):
            raise ValueError(f"CTC head must be 'tied' or 'own', not {head!r}")
        if vocab_size is not None and not 0 < vocab_size <= rows:
            raise ValueError(f"CTC vocab_size {vocab_size} must be in 1..{rows} (the LLM's embedding rows)")
        if head == "own" and vocab_size is None:
            raise ValueError("an own CTC head needs vocab_size (its number of rows)")
        if not 0 <= blank_id < (vocab_size or rows):
            raise ValueError(f"CTC blank_id {blank_id} is outside the LLM vocabulary (CTC classes 0..{(vocab_size or rows) - 1})")
        with torch.device("meta"):  # the Linear CTC builds is replaced right away
            super().__init__(
                odim=vocab_size or rows,
                encoder_output_size=hidden_size,
                dropout_rate=dropout_rate,
                zero_infinity=zero_infinity,
            )
        if head == "tied" and not embedding.weight.is_meta:
            twins = blank_twins(embedding.weight, blank_id)
            if twins:
                logging.warning(
                    f"CTC blank token {blank_id}: {twins} other tokens have embeddings within cosine "
                    f"{BLANK_TWIN_COSINE} of its own, so CTC can hardly make the blank win; choose a "
                    "trained token that never occurs in transcripts (e.g. the EOS token) with "
                    "--ctc_conf blank_id=ID"
                )
        if head == "own":
            self.ctc_lo = FrozenOutput(vocab_size, hidden_size)
        else:
            self.ctc_lo = TiedOutput(embedding, vocab_size)
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
