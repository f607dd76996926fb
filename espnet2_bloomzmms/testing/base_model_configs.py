"""The architectures of the real base models (MMS, BLOOMZ), as Hugging Face configs.

The paper's configurations are shown to build with the right sizes, and their training
memory is measured, without downloading gigabytes of weights (or where no hub can be
reached, as in CI). These configs carry the real dimensions (from each checkpoint's
published ``config.json``); written into a directory with :func:`write_base_model_config`,
they are built with random weights by the frontend's / decoder's ``init_from_config:
true`` (on the meta device for parameter counts, on a GPU for memory benchmarks).
"""

import shutil
from pathlib import Path
from typing import Dict

from transformers import BloomConfig, PretrainedConfig, Wav2Vec2Config

#: BLOOM's vocabulary (250 680 tokens, embedding padded to a multiple of 128)
BLOOM_VOCAB_SIZE = 250880


def _mms(hidden: int, layers: int, intermediate: int, adapter: bool) -> Wav2Vec2Config:
    """A wav2vec2 / XLS-R-layout encoder (MMS-300m, MMS-1b, MMS-1b-all)."""
    return Wav2Vec2Config(
        architectures=["Wav2Vec2ForCTC" if adapter else "Wav2Vec2ForPreTraining"],
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=16,
        intermediate_size=intermediate,
        conv_dim=[512] * 7,
        conv_kernel=[10, 3, 3, 3, 3, 2, 2],
        conv_stride=[5, 2, 2, 2, 2, 2, 2],
        conv_bias=True,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=128,
        num_conv_pos_embedding_groups=16,
        mask_time_prob=0.05,
        adapter_attn_dim=16 if adapter else None,  # mms-1b-all's per-language attention adapters
        vocab_size=154 if adapter else 32,
    )


def _bloom(hidden: int, layers: int, heads: int) -> BloomConfig:
    return BloomConfig(
        architectures=["BloomForCausalLM"],
        vocab_size=BLOOM_VOCAB_SIZE,
        hidden_size=hidden,
        n_layer=layers,
        n_head=heads,
        unk_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=True,
    )


BASE_MODELS: Dict[str, PretrainedConfig] = {
    "facebook/mms-300m": _mms(1024, 24, 4096, adapter=False),
    "facebook/mms-1b": _mms(1280, 48, 5120, adapter=False),
    "facebook/mms-1b-all": _mms(1280, 48, 5120, adapter=True),
    "bigscience/bloomz-560m": _bloom(1024, 24, 16),
    "bigscience/bloomz-1b7": _bloom(2048, 24, 16),
    "bigscience/bloomz-3b": _bloom(2560, 30, 32),
    "bigscience/bloomz-7b1": _bloom(4096, 30, 32),
}

#: tokenizer files an LLM directory needs besides config.json
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def base_model_config(name: str) -> PretrainedConfig:
    """The config of a known base model (a copy: callers may change it)."""
    if name not in BASE_MODELS:
        raise KeyError(f"unknown base model {name!r}; known: {', '.join(BASE_MODELS)}")
    return BASE_MODELS[name].__class__.from_dict(BASE_MODELS[name].to_dict())


def write_base_model_config(name: str, out_dir, tokenizer_dir=None) -> Path:
    """Write ``name``'s ``config.json`` to ``out_dir``; for an LLM also the tokenizer
    files of ``tokenizer_dir`` (any BLOOM-style tokenizer: the LLM decoder loads one,
    and only its special-token ids matter for building the model)."""
    config = base_model_config(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out_dir)
    if isinstance(config, BloomConfig):
        if tokenizer_dir is None:
            raise ValueError(f"{name} is an LLM: give tokenizer_dir (a directory with tokenizer.json)")
        for f in TOKENIZER_FILES:
            if (Path(tokenizer_dir) / f).exists():
                shutil.copy(Path(tokenizer_dir) / f, out_dir / f)
    return out_dir
