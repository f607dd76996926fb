"""Batched greedy text generation with a Hugging Face causal LM (the text-only LLM)."""

from typing import List, Sequence, Union

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from espnet2_bloomzmms.decoder.llm import DTYPES, load_tokenizer
from espnet2_bloomzmms.utils.hf_loading import load_pretrained

Prompt = Union[str, Sequence[str]]


class TextGenerator:
    """What the LLM answers to text prompts: greedy, batched with left padding, so a
    prompt's answer does not depend on the batch it is in.

    A prompt given as segments (``(prefix, transcript, postfix)``) is tokenized segment
    by segment, as the speech model's preprocessor tokenizes instructions and targets,
    so the LLM sees the same instruction tokens around the text as around the speech.
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase):
        self.model, self.tokenizer = model, tokenizer

    @classmethod
    def from_pretrained(cls, model_name_or_path: str, dtype: str = "float32", device: str = "cpu") -> "TextGenerator":
        model = load_pretrained(AutoModelForCausalLM.from_pretrained, model_name_or_path, "LLM", dtype=DTYPES[dtype])
        return cls(model.to(device).eval(), load_tokenizer(model_name_or_path))

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
