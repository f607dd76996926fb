"""LLMDecoder: a frozen (optionally LoRA-adapted) causal LM fed with embeddings."""

import pytest
import torch
import torch.nn.functional as F

from espnet2_bloomzmms.decoder.llm import LLMDecoder, quantization_config
from espnet2_bloomzmms.decoder.lora import LoRASettings

LORA = {"r": 4, "alpha": 8, "dropout": 0.0}
N_LAYER = 2  # tiny_llm_dir's layers
HIDDEN = 32  # tiny_llm_dir's hidden size


def _ids(vocab_size: int, seed: int = 0, shape=(2, 7)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, vocab_size, shape, generator=g)


def _hidden(decoder: LLMDecoder, ids: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
    mask = torch.ones_like(ids) if mask is None else mask
    with torch.no_grad():
        return decoder(decoder.embed(ids), mask)


def _all_weights(module: torch.nn.Module) -> dict:
    """Every parameter under every name (tied ones too), bypassing state-dict hooks."""
    return {n: p.detach().clone() for n, p in module.named_parameters(remove_duplicate=False)}


def test_frozen_base_has_no_trainable_params_and_empty_state_dict(tiny_llm_dir):
    decoder = LLMDecoder(str(tiny_llm_dir))
    assert decoder.hidden_size == HIDDEN
    assert decoder.eos_token_id == 2
    assert not [n for n, p in decoder.named_parameters() if p.requires_grad]
    # The tied lm_head is the embedding: it must not sneak into checkpoints either.
    assert list(decoder.state_dict()) == []
    result = decoder.load_state_dict({}, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_frozen_base_stays_in_eval_mode(tiny_llm_dir):
    decoder = LLMDecoder(str(tiny_llm_dir)).train()
    assert decoder.training
    assert not any(m.training for m in decoder.llm.modules())


def test_forward_and_logits_shapes(tiny_llm_dir):
    decoder = LLMDecoder(str(tiny_llm_dir)).eval()
    vocab = decoder.input_embeddings.num_embeddings
    ids = _ids(vocab)
    hidden = _hidden(decoder, ids)
    assert hidden.shape == (2, 7, HIDDEN)
    logits = decoder.logits(hidden)
    assert logits.shape == (2, 7, vocab) and logits.dtype == torch.float32
    with torch.no_grad():
        reference = decoder.llm(input_ids=ids).logits
    torch.testing.assert_close(logits, reference, atol=1e-5, rtol=1e-5)


def test_lora_trains_only_adapters_on_query_key_value(tiny_llm_dir):
    decoder = LLMDecoder(str(tiny_llm_dir), lora=LORA)
    trainable = [n for n, p in decoder.named_parameters() if p.requires_grad]
    assert len(trainable) == 2 * N_LAYER  # lora_A and lora_B per adapted layer
    assert all("query_key_value.lora_" in n for n in trainable)
    assert sum(".lora_A." in n for n in trainable) == N_LAYER
    keys = list(decoder.state_dict())
    assert sorted(keys) == sorted(trainable)
    assert decoder.llm.peft_config["default"].r == 4
    assert decoder.llm.peft_config["default"].lora_alpha == 8
    # LoRA means the LLM runs in training mode when the decoder does.
    assert decoder.train().llm.training


def test_lora_explicit_target_modules(tiny_llm_dir):
    lora = dict(LORA, target_modules=["dense_4h_to_h"])
    decoder = LLMDecoder(str(tiny_llm_dir), lora=lora)
    trainable = [n for n, p in decoder.named_parameters() if p.requires_grad]
    assert len(trainable) == 2 * N_LAYER
    assert all("dense_4h_to_h.lora_" in n for n in trainable)


def test_lora_settings_to_peft():
    config = LoRASettings(r=4, alpha=8, dropout=0.1, target_modules=["query_key_value"]).to_peft()
    assert (config.r, config.lora_alpha, config.lora_dropout) == (4, 8, 0.1)
    assert set(config.target_modules) == {"query_key_value"}
    assert config.bias == "none"


def test_one_adam_step_changes_only_lora(tiny_llm_dir):
    torch.manual_seed(0)
    decoder = LLMDecoder(str(tiny_llm_dir), lora=LORA).train()
    base_before = {n: p for n, p in _all_weights(decoder).items() if "lora_" not in n}
    lora_b_before = {n: p for n, p in _all_weights(decoder).items() if "lora_B" in n}
    assert all(torch.count_nonzero(p) == 0 for p in lora_b_before.values())  # no-op at start

    vocab = decoder.input_embeddings.num_embeddings
    ids = _ids(vocab, seed=1)
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0
    hidden = decoder(decoder.embed(ids), mask)
    logits = decoder.logits(hidden)
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), targets.reshape(-1), ignore_index=-100)
    assert torch.isfinite(loss)

    params = [p for p in decoder.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=1e-2)
    optim.zero_grad()
    loss.backward()
    optim.step()

    after = _all_weights(decoder)
    for name, value in base_before.items():
        assert torch.equal(after[name], value), name
    for name, value in lora_b_before.items():
        assert not torch.equal(after[name], value), name


def test_lora_state_dict_reloads_into_fresh_decoder(tiny_llm_dir):
    torch.manual_seed(0)
    trained = LLMDecoder(str(tiny_llm_dir), lora=LORA).eval()
    with torch.no_grad():  # stand-in for training: make the adapters do something
        for name, p in trained.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)
    state = trained.state_dict()

    fresh = LLMDecoder(str(tiny_llm_dir), lora=LORA).eval()
    ids = _ids(trained.input_embeddings.num_embeddings, seed=2)
    expected = _hidden(trained, ids)
    assert not torch.allclose(_hidden(fresh, ids), expected)

    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(_hidden(fresh, ids), expected)


def test_bfloat16_weights(tiny_llm_dir):
    decoder = LLMDecoder(str(tiny_llm_dir), dtype="bfloat16").eval()
    assert {p.dtype for p in decoder.parameters()} == {torch.bfloat16}
    ids = _ids(decoder.input_embeddings.num_embeddings)
    hidden = decoder(decoder.embed(ids).float(), torch.ones_like(ids))  # float input is cast
    assert hidden.dtype == torch.bfloat16
    assert decoder.logits(hidden).dtype == torch.float32


def test_invalid_dtype_rejected(tiny_llm_dir):
    with pytest.raises(ValueError, match="dtype.*'float64'"):
        LLMDecoder(str(tiny_llm_dir), dtype="float64")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
@pytest.mark.parametrize("quantization", ["8bit", "4bit"])
def test_quantization_without_cuda_rejected(tiny_llm_dir, quantization):
    with pytest.raises(RuntimeError, match="CUDA"):
        LLMDecoder(str(tiny_llm_dir), quantization=quantization)


def test_quantization_config_values():
    assert quantization_config(None) is None
    with pytest.raises(ValueError, match="'3bit'"):
        quantization_config("3bit")


def test_embed_padded_ids(tiny_llm_dir):
    decoder = LLMDecoder(str(tiny_llm_dir))
    ids = torch.tensor([[5, 6, 7, -1], [8, -1, -1, -1]])
    emb = decoder.embed(ids)
    table = decoder.input_embeddings.weight
    assert emb.shape == (2, 4, HIDDEN)
    assert torch.isfinite(emb).all()
    assert torch.equal(emb[0, :3], table[[5, 6, 7]])
    assert torch.equal(emb[1, 0], table[8])


def test_reload_pretrained_parameters_restores_frozen_base(tiny_llm_dir):
    reference = LLMDecoder(str(tiny_llm_dir)).eval()
    decoder = LLMDecoder(str(tiny_llm_dir)).eval()
    ids = _ids(decoder.input_embeddings.num_embeddings, seed=3)
    expected = _hidden(reference, ids)
    with torch.no_grad():
        for p in decoder.parameters():
            if p.dim() >= 2:
                torch.nn.init.xavier_uniform_(p)
            else:
                p.fill_(0.1)
    assert not torch.allclose(_hidden(decoder, ids), expected)

    decoder.reload_pretrained_parameters()
    ref_weights, weights = _all_weights(reference), _all_weights(decoder)
    assert ref_weights.keys() == weights.keys()
    for name in ref_weights:
        assert torch.equal(weights[name], ref_weights[name]), name
    # Still tied: the output layer is the input embedding.
    assert decoder.llm.get_output_embeddings().weight.data_ptr() == decoder.input_embeddings.weight.data_ptr()
    assert torch.equal(_hidden(decoder, ids), expected)


def test_reload_pretrained_parameters_with_lora_resets_to_base(tiny_llm_dir):
    reference = LLMDecoder(str(tiny_llm_dir)).eval()
    decoder = LLMDecoder(str(tiny_llm_dir), lora=LORA).eval()
    ids = _ids(decoder.input_embeddings.num_embeddings, seed=4)
    with torch.no_grad():
        for p in decoder.parameters():
            torch.nn.init.normal_(p, std=0.3)
    decoder.reload_pretrained_parameters()
    assert torch.equal(_hidden(decoder, ids), _hidden(reference, ids))
    assert [n for n, p in decoder.named_parameters() if p.requires_grad]  # adapters still train


def test_reload_pretrained_parameters_with_lora_resets_adapters_and_other_weights(tiny_llm_dir):
    reference = _all_weights(LLMDecoder(str(tiny_llm_dir)).llm)
    decoder = LLMDecoder(str(tiny_llm_dir), lora=LORA)
    with torch.no_grad():
        for p in decoder.parameters():
            torch.nn.init.normal_(p, std=0.3)
    decoder.reload_pretrained_parameters()
    base = decoder.llm.get_base_model()
    checked = 0
    for name, p in base.named_parameters(remove_duplicate=False):
        if "lora_B" in name:
            assert torch.count_nonzero(p) == 0, name  # the adapter is a no-op again
        elif "lora_" not in name and "query_key_value" not in name:
            assert torch.equal(p, reference[name]), name
            checked += 1
    assert checked > 0


def test_init_from_config_builds_random_weights_without_weight_files(tiny_llm_dir, tmp_path):
    for f in tiny_llm_dir.iterdir():
        if not f.name.endswith(".safetensors"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    decoder = LLMDecoder(str(tmp_path), init_from_config=True, lora=LORA)
    loaded = LLMDecoder(str(tiny_llm_dir), lora=LORA)
    assert sum(p.numel() for p in decoder.parameters()) == sum(p.numel() for p in loaded.parameters())
    assert not torch.equal(decoder.input_embeddings.weight, loaded.input_embeddings.weight)
    decoder.reload_pretrained_parameters()  # only the adapters are reset; no weights are read
    assert all(torch.count_nonzero(p) == 0 for n, p in decoder.named_parameters() if "lora_B" in n)
    with pytest.raises(ValueError, match="init_from_config"):
        LLMDecoder(str(tmp_path), init_from_config=True, quantization="4bit")


def test_continuation_scores_equal_full_forwards(tiny_llm_dir):
    """Prompts of different lengths (left-padded), run once with their KV cache copied to
    each continuation, score as each [prompt ; continuation] alone, unpadded, would."""
    decoder = LLMDecoder(str(tiny_llm_dir))
    vocab = decoder.llm.config.vocab_size
    prompts = [_ids(vocab, seed, (1, n))[0] for seed, n in ((1, 5), (2, 9))]
    conts = [_ids(vocab, seed, (1, n))[0] for seed, n in ((3, 1), (4, 3), (5, 2))]
    width = max(map(len, prompts))
    embeds = torch.zeros(len(prompts), width, HIDDEN)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for i, p in enumerate(prompts):
        embeds[i, width - len(p):] = decoder.embed(p)
        mask[i, width - len(p):] = 1
    lengths = torch.tensor([len(c) for c in conts])
    ids = torch.full((len(conts), int(lengths.max())), -1)
    for j, c in enumerate(conts):
        ids[j, : len(c)] = c
    with torch.no_grad():
        scores = decoder.continuation_scores(embeds, mask, ids, lengths)
    assert scores.shape == (2, 3)
    for i, p in enumerate(prompts):
        for j, c in enumerate(conts):
            seq = torch.cat([p, c])[None]
            logp = torch.log_softmax(decoder.logits(_hidden(decoder, seq))[0, len(p) - 1 : -1], -1)
            expected = logp.gather(1, c[:, None]).sum()
            assert scores[i, j].item() == pytest.approx(expected.item(), abs=1e-4)
