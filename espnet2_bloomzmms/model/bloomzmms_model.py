"""The BLOOMZMMS model: speech encoder -> LLM-width speech embeddings -> frozen LLM.

Losses, as ESPnet's ASR model mixes them:
    loss = ctc_weight * ((1 - interctc_weight) * ctc + interctc_weight * lang_ctc)
           + (1 - ctc_weight) * ce
``ctc_weight: 1.0`` is the CTC pre-training step (the LLM is not run), ``ctc_weight:
0.0`` the instruction-training step (CTC heads are not run).

What the LLM reads for the speech (``speech_input``):
    ``adaptor``: the length adaptor's output itself, one position per adaptor frame (the
        paper's method).
    ``ctc_compressed``: one position per token the tied CTC head hears: frames whose
        best CTC label is the blank are dropped, runs of one label merged, and each run
        becomes the mean over its frames of ``softmax(h E^T / ctc_temperature) E``, the
        LLM's input embeddings weighted by the (sharpened) CTC posteriors (CTC compression,
        Gaido et al., 2021). A temperature below 1 keeps the mixture near the embedding of
        the best token where the CTC head is unsure (a tiny LLM misreads a blurred one);
        at 0 it is that token's embedding, with straight-through gradients.
        The LLM then reads something in the span of its own token embeddings, about as
        long as the transcript: what a small LLM (a tiny stand-in for BLOOMZ) can read
        from the first update, where it cannot read adaptor frames. Gradients reach the
        encoder through the posteriors; the segmentation itself is not differentiated.
"""

from typing import Dict, List, Optional, Tuple

import editdistance
import torch
import torch.nn.functional as F
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.postencoder.abs_postencoder import AbsPostEncoder
from espnet2.asr.preencoder.abs_preencoder import AbsPreEncoder
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from espnet2_bloomzmms.ctc.language_ctc import LanguageCTC
from espnet2_bloomzmms.ctc.tied_ctc import LLMTiedCTC
from espnet2_bloomzmms.decoder.llm import LLMDecoder
from espnet2_bloomzmms.layers.packing import pack_segments
from espnet2_bloomzmms.utils.frozen_weights import keeping_frozen_dtype

IGNORE_ID = -100
SPEECH_INPUTS = ("adaptor", "ctc_compressed")


class BloomzMMSModel(AbsESPnetModel):
    """Encoder + LLM-tied CTC + language inter-CTC + LLM cross-entropy."""

    def __init__(
        self,
        frontend: Optional[AbsFrontend],
        specaug: Optional[AbsSpecAug],
        normalize: Optional[AbsNormalize],
        preencoder: Optional[AbsPreEncoder],
        encoder: AbsEncoder,
        postencoder: AbsPostEncoder,
        decoder: LLMDecoder,
        ctc: LLMTiedCTC,
        lang_ctc: Optional[LanguageCTC] = None,
        ctc_weight: float = 1.0,
        interctc_weight: float = 0.0,
        report_cer: bool = True,
        speech_input: str = "adaptor",
        ctc_temperature: float = 1.0,
    ):
        super().__init__()
        if speech_input not in SPEECH_INPUTS:
            raise ValueError(f"speech_input must be one of {SPEECH_INPUTS}, not {speech_input!r}")
        if ctc_temperature < 0:
            raise ValueError(f"ctc_temperature must be >= 0, not {ctc_temperature}")
        if not 0.0 <= ctc_weight <= 1.0 or not 0.0 <= interctc_weight < 1.0:
            raise ValueError(
                f"need 0 <= ctc_weight <= 1 and 0 <= interctc_weight < 1, "
                f"got {ctc_weight} and {interctc_weight}"
            )
        self.frontend = frontend
        self.specaug = specaug
        self.normalize = normalize
        self.preencoder = preencoder
        self.encoder = encoder
        self.postencoder = postencoder
        self.decoder = decoder
        self.ctc = ctc
        self.lang_ctc = lang_ctc
        self.ctc_weight = ctc_weight
        self.interctc_weight = interctc_weight
        self.report_cer = report_cer
        self.speech_input = speech_input
        self.ctc_temperature = ctc_temperature
        self.uses_interctc = uses_interctc = len(getattr(encoder, "interctc_layer_idx", [])) > 0
        if uses_interctc and lang_ctc is None:
            raise ValueError("the encoder has inter-CTC layers but no language list was given (--lang_list)")
        if uses_interctc and encoder.interctc_use_conditioning:
            encoder.conditioning_layer = torch.nn.Linear(lang_ctc.ctc_lo.out_features, encoder.output_size())

    def _apply(self, fn, recurse: bool = True):
        """Device moves apply to everything; dtype casts (ESPnet's ``model.to(dtype=
        train_dtype)``) skip the frozen MMS, LLM and tied CTC head, which keep their
        configured dtype (see :func:`keeping_frozen_dtype`)."""
        return super()._apply(keeping_frozen_dtype(self, fn), recurse)

    # ------------------------------------------------------------------ encoder
    def encode(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, List[Tuple[int, torch.Tensor]], torch.Tensor]:
        """Speech -> (speech embeddings (B, T, H_llm), lengths, inter-CTC outputs, encoder lengths)."""
        feats, feats_lengths = self.frontend(speech, speech_lengths)
        if self.specaug is not None and self.training:
            feats, feats_lengths = self.specaug(feats, feats_lengths)
        if self.normalize is not None:
            feats, feats_lengths = self.normalize(feats, feats_lengths)
        if self.preencoder is not None:
            feats, feats_lengths = self.preencoder(feats, feats_lengths)
        enc, enc_lengths, _ = self.encoder(feats, feats_lengths, ctc=self.lang_ctc)
        inter = []
        if isinstance(enc, tuple):
            enc, inter = enc
        out, out_lengths = self.postencoder(enc, enc_lengths)
        return out, out_lengths, inter, enc_lengths

    def speech_embeddings(self, hs: torch.Tensor, hs_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """What the LLM reads for encoded speech ``hs`` (B, T, H), and its lengths, as
        ``speech_input`` says."""
        if self.speech_input == "adaptor":
            return hs, hs_lengths
        return self.ctc_compress(hs, hs_lengths)

    def ctc_compress(self, hs: torch.Tensor, hs_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One embedding per CTC segment (see the module docstring); an utterance with no
        non-blank frame keeps one position, the mean over all its frames."""
        batch, frames = hs.shape[:2]
        logits = self.ctc.ctc_lo(hs)
        best = logits.argmax(-1)
        valid = torch.arange(frames, device=hs.device)[None, :] < hs_lengths[:, None]
        kept = valid & (best != self.ctc.blank_id)
        continues = F.pad(kept, (1, 0))[:, :-1] & (F.pad(best, (1, 0), value=-1)[:, :-1] == best)
        starts = kept & ~continues
        lengths = starts.sum(1)
        kept = kept | (valid & (lengths == 0)[:, None])
        lengths = lengths.clamp(min=1)
        segment = (starts.cumsum(1) - 1).clamp(min=0)
        width = int(lengths.max())
        row = (torch.arange(batch, device=hs.device)[:, None] * width + segment)[kept]
        weight = self.decoder.input_embeddings.weight[: logits.size(-1)]  # the CTC classes (vocab_size)
        heard = logits[kept]
        if self.ctc_temperature == 0:  # the best token itself; gradients straight through the posteriors
            soft = heard.softmax(-1)
            posterior = F.one_hot(heard.argmax(-1), soft.size(-1)).to(soft.dtype) + soft - soft.detach()
        else:
            posterior = (heard / self.ctc_temperature).softmax(-1)
        mixture = posterior.to(weight.dtype) @ weight
        total = mixture.new_zeros(batch * width, mixture.size(-1)).index_add_(0, row, mixture)
        count = mixture.new_zeros(batch * width).index_add_(0, row, torch.ones_like(row, dtype=mixture.dtype))
        out = total / count.clamp(min=1)[:, None]
        return out.view(batch, width, -1).to(hs.dtype), lengths

    # ------------------------------------------------------------------ losses
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        prefix: Optional[torch.Tensor] = None,
        prefix_lengths: Optional[torch.Tensor] = None,
        postfix: Optional[torch.Tensor] = None,
        postfix_lengths: Optional[torch.Tensor] = None,
        lang: Optional[torch.Tensor] = None,
        lang_lengths: Optional[torch.Tensor] = None,
        transcript: Optional[torch.Tensor] = None,
        transcript_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Losses for a batch; ``text`` is the LLM's target, ``transcript`` (where given,
        else ``text``) the CTC head's: an MI target such as a language name is no CTC label."""
        batch_size = speech.size(0)
        text = text[:, : int(text_lengths.max())]
        if transcript is None:
            transcript, transcript_lengths = text, text_lengths
        transcript = transcript[:, : int(transcript_lengths.max())]
        hs, hs_lengths, inter, enc_lengths = self.encode(speech, speech_lengths)
        stats: Dict[str, Optional[torch.Tensor]] = {}
        loss = hs.new_zeros(())

        if self.ctc_weight > 0.0:
            loss_ctc = self.ctc(hs, hs_lengths, transcript, transcript_lengths)
            stats["loss_ctc"] = loss_ctc.detach()
            if self.report_cer and not self.training:
                stats["cer_ctc"] = self.ctc_cer(hs, hs_lengths, transcript, transcript_lengths)
            if inter:
                if lang is None:
                    raise ValueError("inter-CTC needs the language of each utterance: add utt2lang as data key 'lang'")
                lang, lang_lengths = self.lang_ctc.targets(lang, lang_lengths, transcript_lengths)
                loss_inter = sum(self.lang_ctc(h, enc_lengths, lang, lang_lengths) for _, h in inter) / len(inter)
                stats["loss_interctc"] = loss_inter.detach()
                loss_ctc = (1 - self.interctc_weight) * loss_ctc + self.interctc_weight * loss_inter
            elif self.uses_interctc:
                # layer drop skipped the inter-CTC block in this step: every DDP rank must
                # still report the same stats (ESPnet averages NaN entries away)
                stats["loss_interctc"] = torch.tensor(float("nan"), device=hs.device)
            loss = loss + self.ctc_weight * loss_ctc

        if self.ctc_weight < 1.0:
            if prefix is None or postfix is None:
                raise ValueError("the LLM loss needs 'prefix' and 'postfix' in the batch")
            loss_ce, acc = self.ce_loss(hs, hs_lengths, prefix, prefix_lengths, postfix, postfix_lengths, text, text_lengths)
            stats["loss_ce"] = loss_ce.detach()
            stats["acc"] = acc
            loss = loss + (1 - self.ctc_weight) * loss_ce

        stats["loss"] = loss.detach()
        loss, stats, weight = force_gatherable((loss, stats, batch_size), loss.device)
        return loss, stats, weight

    def target_with_eos(self, text: torch.Tensor, text_lengths: torch.Tensor) -> torch.Tensor:
        """Append the LLM's end-of-sequence token after each transcript."""
        target = F.pad(text, (0, 1), value=-1)
        target[torch.arange(text.size(0), device=text.device), text_lengths] = self.decoder.eos_token_id
        return target

    def llm_input(self, speech, speech_lengths, prefix, prefix_lengths, postfix, postfix_lengths,
                  target=None, target_lengths=None, left_pad: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """What the LLM reads, per utterance: ``[E(prefix) ; speech ; E(postfix)]``, then
        ``E(target)`` where given, packed without gaps: (B, T, H) and the (B, T) mask of
        real positions. One layout for training (right-padded, with the target), generation
        and answer scoring (left-padded, so every prompt ends at the last position).
        ``speech`` is what :meth:`speech_embeddings` gives; token ids < 0 are padding."""
        emb = self.decoder.embed
        pre = emb(prefix)
        segments = [pre, speech.to(pre.dtype), emb(postfix)]
        lengths = [prefix_lengths, speech_lengths, postfix_lengths]
        if target is not None:
            segments.append(emb(target))
            lengths.append(target_lengths)
        return pack_segments(segments, lengths, left_pad=left_pad)

    def ce_loss(self, hs, hs_lengths, prefix, prefix_lengths, postfix, postfix_lengths, text, text_lengths):
        """Teacher-forced LLM cross-entropy on the target tokens only.

        Input per utterance: ``[E(prefix) ; speech ; E(postfix) ; E(target)]``, the speech
        as :meth:`speech_embeddings` gives it; the logits at position t predict the token
        at t + 1, so only positions whose next token is a target token are scored (and
        only those get logits).
        """
        target = self.target_with_eos(text, text_lengths)
        target_lengths = text_lengths + 1
        speech, speech_lengths = self.speech_embeddings(hs, hs_lengths)
        inputs, mask = self.llm_input(speech, speech_lengths, prefix, prefix_lengths, postfix, postfix_lengths,
                                      target, target_lengths)
        lengths = [prefix_lengths, speech_lengths, postfix_lengths, target_lengths]
        ignore = [torch.full(x.shape[:2], IGNORE_ID, dtype=torch.long, device=hs.device) for x in (prefix, speech, postfix)]
        labels, _ = pack_segments(ignore + [target.masked_fill(target < 0, IGNORE_ID)], lengths, pad_value=IGNORE_ID)

        hidden = self.decoder(inputs, mask.long())
        next_labels = labels[:, 1:]
        scored = next_labels != IGNORE_ID
        logits = self.decoder.logits(hidden[:, :-1][scored])
        gold = next_labels[scored]
        loss = F.cross_entropy(logits, gold)
        acc = (logits.argmax(-1) == gold).float().mean().detach()
        return loss, acc

    @torch.no_grad()
    def ctc_cer(self, hs, hs_lengths, text, text_lengths) -> torch.Tensor:
        """Character error rate of the CTC head's greedy output (the model-selection metric)."""
        tokenizer = self.decoder.tokenizer
        hyps = self.ctc.greedy_ids(hs, hs_lengths)
        errors = chars = 0
        for hyp, ref, n in zip(hyps, text, text_lengths):
            ref_text = tokenizer.decode(ref[: int(n)].tolist())
            errors += editdistance.eval(tokenizer.decode(hyp), ref_text)
            chars += len(ref_text)
        return torch.tensor(errors / max(chars, 1))

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        feats, feats_lengths = self.frontend(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}
