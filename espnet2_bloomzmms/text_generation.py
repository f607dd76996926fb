"""Batched greedy text generation with a Hugging Face causal LM (the text-only LLM)."""

from typing import List, Sequence, Union

import torch
from transformers import AutoModelForCausalLM

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

    def __init__(self, model_name_or_path: str, dtype: str = "float32", device: str = "cpu"):
        self.tokenizer = load_tokenizer(model_name_or_path)
        self.model = load_pretrained(
            AutoModelForCausalLM.from_pretrained, model_name_or_path, "LLM", dtype=DTYPES[dtype]
        ).to(device).eval()
        self.device = device

    @torch.no_grad()
    def tokenize(self, prompt: Prompt) -> List[int]:
        segments = [prompt] if isinstance(prompt, str) else prompt
        return [i for seg in segments for i in self.tokenizer(seg, add_special_tokens=False)["input_ids"]]

    def generate(self, prompts: List[Prompt], max_new_tokens: int = 128, batch_size: int = 32) -> List[str]:
        ids = [self.tokenize(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(ids[i]))  # similar lengths together
        answers = [""] * len(prompts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, width - len(ids[i]) :] = torch.tensor(ids[i])
                mask[row, width - len(ids[i]) :] = 1
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=pad,
            )
            for row, i in enumerate(batch):
                answers[i] = self.tokenizer.decode(out[row, width:], skip_special_tokens=True)
        return answers
