"""The BLOOMZMMS model: speech encoder -> LLM-width speech embeddings -> frozen LLM.

Losses, as ESPnet's ASR model mixes them:
    loss = ctc_weight * ((1 - interctc_weight) * ctc + interctc_weight * lang_ctc)
           + (1 - ctc_weight) * ce
``ctc_weight: 1.0`` is the CTC pre-training step (the LLM is not run), ``ctc_weight:
0.0`` the instruction-training step (CTC heads are not run).
"""

from typing import Dict, List, Optional, Tuple

import editdistance
import torch
import torch.nn.functional as F
from espnet2.asr.ctc import CTC
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.postencoder.abs_postencoder import AbsPostEncoder
from espnet2.asr.preencoder.abs_preencoder import AbsPreEncoder
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from espnet2_bloomzmms.ctc.tied_ctc import LLMTiedCTC
from espnet2_bloomzmms.decoder.llm import LLMDecoder
from espnet2_bloomzmms.layers.packing import pack_segments

IGNORE_ID = -100


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
        lang_ctc: Optional[CTC] = None,
        ctc_weight: float = 1.0,
        interctc_weight: float = 0.0,
        report_cer: bool = True,
    ):
        super().__init__()
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
        uses_interctc = len(getattr(encoder, "interctc_layer_idx", [])) > 0
        if uses_interctc and lang_ctc is None:
            raise ValueError("the encoder has inter-CTC layers but no language list was given (--lang_list)")
        if uses_interctc and encoder.interctc_use_conditioning:
            encoder.conditioning_layer = torch.nn.Linear(lang_ctc.ctc_lo.out_features, encoder.output_size())

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
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        batch_size = speech.size(0)
        text = text[:, : int(text_lengths.max())]
        hs, hs_lengths, inter, enc_lengths = self.encode(speech, speech_lengths)
        stats: Dict[str, Optional[torch.Tensor]] = {}
        loss = hs.new_zeros(())

        if self.ctc_weight > 0.0:
            loss_ctc = self.ctc(hs, hs_lengths, text, text_lengths)
            stats["loss_ctc"] = loss_ctc.detach()
            if self.report_cer and not self.training:
                stats["cer_ctc"] = self.ctc_cer(hs, hs_lengths, text, text_lengths)
            if inter:
                if lang is None:
                    raise ValueError("inter-CTC needs the language of each utterance: add utt2lang as data key 'lang'")
                loss_inter = sum(self.lang_ctc(h, enc_lengths, lang, lang_lengths) for _, h in inter) / len(inter)
                stats["loss_interctc"] = loss_inter.detach()
                loss_ctc = (1 - self.interctc_weight) * loss_ctc + self.interctc_weight * loss_inter
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

    def ce_loss(self, hs, hs_lengths, prefix, prefix_lengths, postfix, postfix_lengths, text, text_lengths):
        """Teacher-forced LLM cross-entropy on the target tokens only.

        Input per utterance: ``[E(prefix) ; speech ; E(postfix) ; E(target)]``; the
        logits at position t predict the token at t + 1, so only positions whose next
        token is a target token are scored (and only those get logits).
        """
        target = self.target_with_eos(text, text_lengths)
        target_lengths = text_lengths + 1
        emb = self.decoder.embed
        prefix_emb = emb(prefix)
        segments = [prefix_emb, hs.to(prefix_emb.dtype), emb(postfix), emb(target)]
        lengths = [prefix_lengths, hs_lengths, postfix_lengths, target_lengths]
        inputs, mask = pack_segments(segments, lengths)
        ignore = [torch.full(s.shape[:2], IGNORE_ID, dtype=torch.long, device=hs.device) for s in segments[:3]]
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
