import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForCTC,
    AutoTokenizer,
    BloomConfig,
    BloomForCausalLM,
    GenerationConfig,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2Model,
)

from espnet2_bloomzmms.bin.make_tiny_checkpoints import main as make_tiny_main
from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom, write_tiny_mms

ROUND_TRIP_EXTRAS = [
    "",
    " ",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew lines\r\n\n",
    "digits 0123456789 and 3.14159, -42 %",
    "punctuation: !?¡¿…«»“”‘’—–()[]{}<>@#$^&*_=+|\\/~`",
    "never seen: 日本語の文章 한국어 العربية ελληνικά ქართული 🎉👍🏽",
    "Ünïcödé NFC é vs NFD e\u0301, zero\u200bwidth, nbsp\u00a0here",
    "special-token lookalikes <s> </s> <pad> <unk> inside text",
]


# ---------------------------------------------------------------- MMS


def test_mms_config_has_mms_layout(tiny_mms_dir):
    config = AutoConfig.from_pretrained(tiny_mms_dir)
    assert isinstance(config, Wav2Vec2Config)
    assert config.architectures == ["Wav2Vec2ForCTC"]
    assert config.feat_extract_norm == "layer"
    assert config.do_stable_layer_norm is True
    assert config.conv_bias is True
    assert list(config.conv_kernel) == [10, 3, 3, 3, 3, 2, 2]
    assert list(config.conv_stride) == [5, 2, 2, 2, 2, 2, 2]
    assert int(np.prod(config.conv_stride)) == 320
    assert config.adapter_attn_dim == 16
    assert config.hidden_size % config.num_conv_pos_embedding_groups == 0
    assert config.num_conv_pos_embeddings < 128
    assert config.feat_proj_dropout > 0 and config.hidden_dropout > 0
    assert config.vocab_size < 100 and config.pad_token_id == 0


def test_mms_feature_extractor(tiny_mms_dir):
    fe = AutoFeatureExtractor.from_pretrained(tiny_mms_dir)
    assert isinstance(fe, Wav2Vec2FeatureExtractor)
    assert fe.sampling_rate == 16000
    assert fe.do_normalize is True
    assert fe.return_attention_mask is True
    assert fe.feature_size == 1
    assert fe.padding_value == 0.0


def test_mms_models_load_and_hop_is_320(tiny_mms_dir):
    fe = AutoFeatureExtractor.from_pretrained(tiny_mms_dir)
    wav = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    inputs = fe([wav, wav[:8000]], sampling_rate=16000, padding=True, return_tensors="pt")

    encoder = AutoModel.from_pretrained(tiny_mms_dir).eval()
    assert type(encoder) is Wav2Vec2Model
    with torch.no_grad():
        hidden = encoder(**inputs).last_hidden_state
    assert hidden.shape == (2, 49, encoder.config.hidden_size)
    lengths = encoder._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))
    assert lengths.tolist() == [49, 24]

    ctc = AutoModelForCTC.from_pretrained(tiny_mms_dir).eval()
    assert type(ctc) is Wav2Vec2ForCTC
    with torch.no_grad():
        logits = ctc(**inputs).logits
    assert logits.shape == (2, 49, ctc.config.vocab_size)


def test_mms_loads_with_target_lang_adapter(tiny_mms_dir):
    plain = Wav2Vec2ForCTC.from_pretrained(tiny_mms_dir)
    with_lang = Wav2Vec2ForCTC.from_pretrained(tiny_mms_dir, target_lang="eng")
    assert with_lang.target_lang == "eng"
    for name, param in plain._get_adapters().items():
        torch.testing.assert_close(with_lang._get_adapters()[name], param)


# ---------------------------------------------------------------- BLOOM


def test_bloom_loads_with_expected_config(tiny_llm_dir):
    config = AutoConfig.from_pretrained(tiny_llm_dir)
    assert isinstance(config, BloomConfig)
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (1, 2, 3)
    assert config.tie_word_embeddings is True

    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llm_dir).eval()
    assert type(model) is BloomForCausalLM
    assert model.config.vocab_size % 8 == 0
    assert len(tok) <= model.config.vocab_size < len(tok) + 8
    emb = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()

    gen = GenerationConfig.from_pretrained(tiny_llm_dir)
    assert (gen.bos_token_id, gen.eos_token_id, gen.pad_token_id) == (1, 2, 3)

    batch = tok(["Hello world", "Привет"], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert out.shape[0] == 2 and out.shape[1] <= batch["input_ids"].shape[1] + 3


def test_tokenizer_special_tokens_as_bloom(tiny_llm_dir):
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    ids = tok.convert_tokens_to_ids(["<unk>", "<s>", "</s>", "<pad>"])
    assert ids == [0, 1, 2, 3]
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (0, 1, 2, 3)
    assert tok.padding_side == "left"
    assert tok.clean_up_tokenization_spaces is False
    # BLOOM adds no special tokens by default
    assert tok("a b c").input_ids == tok("a b c", add_special_tokens=False).input_ids
    batch = tok(["a", "a longer sentence"], padding=True)
    assert batch.input_ids[0][0] == 3 and batch.attention_mask[0][0] == 0
    saved = json.loads((tiny_llm_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert saved["tokenizer_class"] == "BloomTokenizerFast"


def test_tokenizer_round_trips_exactly(tiny_llm_dir, sample_texts):
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    texts = sample_texts + ROUND_TRIP_EXTRAS + [f"  {t}\n" for t in sample_texts]
    for text in texts:
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok.decode(ids) == text
        if "<unk>" not in text:  # byte-level BPE never needs <unk>
            assert tok.unk_token_id not in ids
    # trained merges actually compress the training scripts
    for text in sample_texts:
        assert len(tok(text).input_ids) < len(text.encode("utf-8"))


def test_char_bpe_tokenizer_round_trips_with_whole_characters(tmp_path, sample_texts):
    out = write_tiny_bloom(tmp_path / "llm", sample_texts, vocab_size=400, byte_level=False)
    tok = AutoTokenizer.from_pretrained(out)
    for text in sample_texts + ROUND_TRIP_EXTRAS:
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok.decode(ids) == text
    # characters of the training text are whole tokens (no byte pieces), unseen ones fall back to bytes
    byte_ids = set(tok.convert_tokens_to_ids([f"<0x{i:02X}>" for i in range(256)]))
    for text in sample_texts:
        assert not byte_ids & set(tok(text).input_ids)
    assert byte_ids & set(tok("日本語").input_ids)
    assert len(tok(sample_texts[0]).input_ids) < len(sample_texts[0])


# ---------------------------------------------------------------- determinism


def test_same_seed_same_weights_different_seed_different(tmp_path, sample_texts):
    rng_state = torch.get_rng_state()
    a = write_tiny_mms(tmp_path / "a", seed=0)
    b = write_tiny_mms(tmp_path / "b", seed=0)
    c = write_tiny_mms(tmp_path / "c", seed=1)
    la = write_tiny_bloom(tmp_path / "la", sample_texts, vocab_size=300, seed=0)
    lb = write_tiny_bloom(tmp_path / "lb", sample_texts, vocab_size=300, seed=0)
    lc = write_tiny_bloom(tmp_path / "lc", sample_texts, vocab_size=300, seed=1)
    assert torch.equal(torch.get_rng_state(), rng_state), "global RNG must be left alone"

    for same, other in [((a, b), c), ((la, lb), lc)]:
        files = [d / "model.safetensors" for d in (*same, other)]
        assert files[0].read_bytes() == files[1].read_bytes()
        assert files[0].read_bytes() != files[2].read_bytes()
        w0, w2 = load_file(files[0]), load_file(files[2])
        assert w0.keys() == w2.keys()
        assert any(not torch.equal(w0[k], w2[k]) for k in w0)
    assert (la / "tokenizer.json").read_bytes() == (lc / "tokenizer.json").read_bytes()


# ---------------------------------------------------------------- CLI


def test_cli_writes_both_dirs(tmp_path, sample_texts):
    text = tmp_path / "text"
    text.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    mms, llm = tmp_path / "mms", tmp_path / "llm"
    make_tiny_main(
        ["--mms_dir", str(mms), "--llm_dir", str(llm), "--text", str(text), "--vocab_size", "300"]
    )
    assert type(AutoModel.from_pretrained(mms)) is Wav2Vec2Model
    assert isinstance(AutoFeatureExtractor.from_pretrained(mms), Wav2Vec2FeatureExtractor)
    assert type(AutoModelForCausalLM.from_pretrained(llm)) is BloomForCausalLM
    tok = AutoTokenizer.from_pretrained(llm)
    assert tok.decode(tok(sample_texts[-1]).input_ids) == sample_texts[-1]


def test_cli_single_dir(tmp_path):
    make_tiny_main(["--mms_dir", str(tmp_path / "mms")])
    assert (tmp_path / "mms" / "model.safetensors").is_file()
    assert not (tmp_path / "llm").exists()


@pytest.mark.parametrize("problem", ["missing", "empty"])
def test_cli_errors_on_bad_text_file(tmp_path, capsys, problem):
    good = tmp_path / "good.txt"
    good.write_text("some text\n", encoding="utf-8")
    bad = tmp_path / f"{problem}.txt"
    if problem == "empty":
        bad.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        make_tiny_main(["--llm_dir", str(tmp_path / "llm"), "--text", str(good), str(bad)])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert str(bad) in err and problem in err
    assert not (tmp_path / "llm").exists()


def test_cli_needs_a_dir_and_text_for_llm(tmp_path, capsys):
    with pytest.raises(SystemExit):
        make_tiny_main([])
    with pytest.raises(SystemExit):
        make_tiny_main(["--llm_dir", str(tmp_path / "llm")])
    assert "--text" in capsys.readouterr().err
