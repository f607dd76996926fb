"""Batched greedy text generation with a Hugging Face causal LM (the text-only LLM)."""

import contextlib
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Optional, Sequence, Union

import torch
import yaml
from transformers import PreTrainedModel, PreTrainedTokenizerBase

Prompt = Union[str, Sequence[str]]


class TextGenerator:
    """What the LLM answers to text prompts: greedy, batched with left padding, so a
    prompt's answer does not depend on the batch it is in.

    A prompt given as segments (``(prefix, transcript, postfix)``) is tokenized segment
    by segment, as the speech model's preprocessor tokenizes instructions and targets,
    so the LLM sees the same instruction tokens around the text as around the speech.
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 base_only: Callable[[], ContextManager] = contextlib.nullcontext):
        self.model, self.tokenizer, self.base_only = model, tokenizer, base_only

    @classmethod
    def from_decoder(cls, decoder) -> "TextGenerator":
        """The LLM of a loaded speech model (an ``LLMDecoder``) answering text: the same
        instance, device, dtype and quantization, no second copy. LoRA adapters trained
        with the speech model are switched off while it answers (peft's
        ``disable_adapter``): the text answers are the frozen base LLM's."""
        llm = decoder.llm
        return cls(llm, decoder.tokenizer, llm.disable_adapter if decoder.uses_lora else contextlib.nullcontext)

    @classmethod
    def load(cls, model_name_or_path: Optional[str] = None, config: Union[str, Path, None] = None,
             device: str = "cpu", **decoder_conf) -> "TextGenerator":
        """The base LLM as ``LLMDecoder`` loads it for the speech model (dtype,
        quantization), without LoRA adapters: named by ``model_name_or_path``, or by a
        training ``config``'s ``decoder_conf``, whose entries ``model_name_or_path`` and
        ``decoder_conf`` replace where not None."""
        from espnet2_bloomzmms.decoder.llm import LLMDecoder

        conf = {}
        if config is not None:
            path = Path(config)
            if not path.is_file():
                raise FileNotFoundError(f"LLM config: no file {path}")
            conf = dict((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("decoder_conf") or {})
        conf.update({k: v for k, v in dict(decoder_conf, model_name_or_path=model_name_or_path).items()
                     if v is not None})
        if "model_name_or_path" not in conf:
            raise ValueError(f"{config}: no decoder_conf.model_name_or_path" if config is not None
                             else "TextGenerator.load: give model_name_or_path or config")
        conf.pop("lora", None)
        conf.pop("gradient_checkpointing", None)
        decoder = LLMDecoder(**conf)
        if conf.get("quantization") is None:  # a quantized LLM is placed on its GPU while loading
            decoder.llm.to(device)
        return cls(decoder.llm.eval(), decoder.tokenizer)

    def tokenize(self, prompt: Prompt) -> List[int]:
        segments = [prompt] if isinstance(prompt, str) else prompt
        return [i for seg in segments for i in self.tokenizer(seg, add_special_tokens=False)["input_ids"]]

    def generate(self, prompts: List[Prompt], max_new_tokens: int = 128, batch_size: int = 32) -> List[str]:
        return self.generate_from_ids([self.tokenize(p) for p in prompts], max_new_tokens, batch_size)

    @torch.no_grad()
    def generate_from_ids(self, ids: List[List[int]], max_new_tokens: int = 128, batch_size: int = 32) -> List[str]:
        """Answers (decoded up to end-of-sequence) to prompts given as token ids."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together
        answers = [""] * len(ids)
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        device = self.model.device
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, width - len(ids[i]) :] = torch.tensor(ids[i])
                mask[row, width - len(ids[i]) :] = 1
            with self.base_only():
                out = self.model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=mask.to(device),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    eos_token_id=eos,
                    pad_token_id=pad,
                )
            for row, i in enumerate(batch):
                new = out[row, width:].tolist()
                answers[i] = self.tokenizer.decode(new[: new.index(eos)] if eos in new else new, skip_special_tokens=True)
        return answers

    @torch.no_grad()
    def answer_scores(self, prompts: List[Prompt], answers: Sequence[str], batch_size: int = 8) -> torch.Tensor:
        """Log-likelihoods (N, K) of each answer after each prompt, scored as
        ``BloomzMMS.answer_scores`` scores them after speech: the sum of log p over the
        answer's tokens and end-of-sequence, so an answer that only begins a likelier
        one does not win. Prompts of equal token length share a forward pass (the
        candidates right-padded after them), so no prompt is ever padded."""
        answers = list(answers)
        if not answers or not all(isinstance(a, str) and a for a in answers):
            raise ValueError(f"answers must be a non-empty list of non-empty strings, got {answers!r}")
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        cands = [self.tokenize(a) + [eos] for a in answers]
        longest = max(map(len, cands))
        ids = [self.tokenize(p) for p in prompts]
        empty = [i for i, p in enumerate(ids) if not p]
        if empty:
            raise ValueError(f"prompts {empty[:5]} are empty: an answer needs a prompt to follow")
        by_length: Dict[int, List[int]] = {}
        for i, p in enumerate(ids):
            by_length.setdefault(len(p), []).append(i)
        k = len(cands)
        scores = torch.zeros(len(ids), k)
        device = self.model.device
        for n, members in sorted(by_length.items()):
            for start in range(0, len(members), max(1, batch_size)):
                chunk = members[start : start + max(1, batch_size)]
                rows = torch.full((len(chunk) * k, n + longest), pad, dtype=torch.long)
                mask = torch.zeros_like(rows)
                for r, (i, c) in enumerate((i, c) for i in chunk for c in cands):
                    rows[r, : n + len(c)] = torch.tensor(ids[i] + c)
                    mask[r, : n + len(c)] = 1
                # the last `longest + 1` positions hold those that predict candidate tokens
                with self.base_only():
                    logits = self.model(input_ids=rows.to(device), attention_mask=mask.to(device),
                                        logits_to_keep=longest + 1).logits[:, :longest].float()
                logp = torch.log_softmax(logits, dim=-1).cpu()
                for r, (i, j) in enumerate((i, j) for i in chunk for j in range(k)):
                    c = torch.tensor(cands[j])
                    scores[i, j] = logp[r, torch.arange(len(c)), c].sum()
        return scores

    def choose(self, prompts: List[Prompt], answers: Sequence[str], batch_size: int = 8) -> List[str]:
        """The likeliest of ``answers`` after each prompt (see :meth:`answer_scores`)."""
        best = self.answer_scores(prompts, answers, batch_size).argmax(1).tolist()
        return [answers[j] for j in best]
