"""Tiny random-weight checkpoints of the real MMS and BLOOM(Z) architectures.

Tests and the tiny CPU recipe must run offline, yet they should exercise exactly the
code path used with ``facebook/mms-1b-all`` and ``bigscience/bloomz-7b1``: the
``from_pretrained`` family of ``transformers`` reading a Hugging Face model directory.
This module writes such directories, with the same config layout as the real models
but tiny sizes and seeded random weights, plus a byte-level BPE tokenizer trained on
the caller's text with BLOOM's special tokens.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    BloomConfig,
    BloomForCausalLM,
    GenerationConfig,
    PreTrainedTokenizerFast,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
)

# BLOOM's special tokens, in id order: <unk>=0, <s>=1, </s>=2, <pad>=3.
BLOOM_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]
UNK_ID, BOS_ID, EOS_ID, PAD_ID = range(4)

MMS_CONV_KERNEL = (10, 3, 3, 3, 3, 2, 2)
MMS_CONV_STRIDE = (5, 2, 2, 2, 2, 2, 2)  # product 320: one frame per 20 ms at 16 kHz
MMS_ADAPTER_ATTN_DIM = 16
TINY_CTC_VOCAB_SIZE = 32  # CTC lm_head size; blank/<pad> = 0 as in MMS


def _seeded_init(model_cls: type, config, seed: int):
    """Build ``model_cls(config)`` with a seeded RNG, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_cls(config)


def write_tiny_mms(
    out_dir: str | Path,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    conv_dim: int = 32,
    seed: int = 0,
) -> Path:
    """Write a tiny ``Wav2Vec2ForCTC`` with MMS-1b-all's layout plus its feature extractor."""
    out_dir = Path(out_dir)
    config = Wav2Vec2Config(
        architectures=["Wav2Vec2ForCTC"],
        vocab_size=TINY_CTC_VOCAB_SIZE,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        conv_dim=[conv_dim] * len(MMS_CONV_KERNEL),
        conv_kernel=list(MMS_CONV_KERNEL),
        conv_stride=list(MMS_CONV_STRIDE),
        conv_bias=True,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        adapter_attn_dim=MMS_ADAPTER_ATTN_DIM,
        # MMS: 128 / 16 with 16 heads; keep groups == heads so they divide hidden_size.
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=num_attention_heads,
        hidden_dropout=0.05,
        feat_proj_dropout=0.05,
        attention_dropout=0.05,
        activation_dropout=0.05,
        final_dropout=0.05,
        layerdrop=0.0,
        ctc_loss_reduction="mean",
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = _seeded_init(Wav2Vec2ForCTC, config, seed)
    model.save_pretrained(out_dir)
    # MMS ships per-language adapter files; an "eng" one lets target_lang="eng" load too.
    save_mms_adapters(model, out_dir, ["eng"])
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    ).save_pretrained(out_dir)
    return out_dir


def save_mms_adapters(model: Wav2Vec2ForCTC, out_dir: Path, langs: Iterable[str]) -> None:
    """Write ``model``'s adapter weights as MMS's per-language ``adapter.<lang>.safetensors``."""
    adapters = {k: v.detach().clone().contiguous() for k, v in model._get_adapters().items()}
    for lang in langs:
        save_file(adapters, Path(out_dir) / f"adapter.{lang}.safetensors", metadata={"format": "pt"})


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, byte_level: bool = True) -> PreTrainedTokenizerFast:
    """Train a BPE tokenizer on ``texts``, lossless on any string.

    ``byte_level``: BLOOM's scheme (merges over the 256 byte symbols). Otherwise merges
    over the characters of ``texts`` (spaces as "▁", as SentencePiece) with byte fallback
    for unseen characters: a small vocabulary then still spells every script with whole
    characters, which suits a CTC head over that vocabulary.
    """
    if byte_level:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet, special = pre_tokenizers.ByteLevel.alphabet(), BLOOM_SPECIAL_TOKENS
    else:
        tok = Tokenizer(models.BPE(byte_fallback=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(prepend_scheme="never")])
        alphabet, special = [], BLOOM_SPECIAL_TOKENS + [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=alphabet, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        padding_side="left",
        add_prefix_space=False,
        clean_up_tokenization_spaces=False,
    )


def write_tiny_bloom(
    out_dir: str | Path,
    texts: Iterable[str],
    vocab_size: int = 1000,
    hidden_size: int = 32,
    n_layer: int = 2,
    n_head: int = 4,
    seed: int = 0,
    byte_level: bool = True,
) -> Path:
    """Write a tiny ``BloomForCausalLM`` with a tokenizer trained on ``texts``."""
    out_dir = Path(out_dir)
    tokenizer = train_bpe_tokenizer(texts, vocab_size, byte_level)
    config = BloomConfig(
        architectures=["BloomForCausalLM"],
        vocab_size=(len(tokenizer) + 7) // 8 * 8,  # padded like BLOOM's embedding
        hidden_size=hidden_size,
        n_layer=n_layer,
        n_head=n_head,
        unk_token_id=UNK_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
        tie_word_embeddings=True,
    )
    model = _seeded_init(BloomForCausalLM, config, seed)
    model.generation_config = GenerationConfig(
        bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID
    )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    # As in bloomz-7b1's tokenizer_config.json (transformers 5 maps it to TokenizersBackend).
    cfg_path = out_dir / "tokenizer_config.json"
    tok_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    tok_cfg["tokenizer_class"] = "BloomTokenizerFast"
    cfg_path.write_text(json.dumps(tok_cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out_dir
