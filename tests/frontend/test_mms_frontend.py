"""MMSFrontend: a wav2vec2-family checkpoint as ESPnet features (tiny MMS-layout model)."""

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2FeatureExtractor

from espnet2_bloomzmms.frontend.mms import MMSFrontend, normalize_waveform
from espnet2_bloomzmms.utils.hf_loading import PretrainedLoadError

FS = 16000
HIDDEN = 32  # tiny_mms_dir's hidden size
NUM_LAYERS = 2  # tiny_mms_dir's transformer layers


def _padded_batch(seed: int = 0):
    """1 s and 0.5 s of noise; the short one's padding is garbage, not zeros."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, FS, generator=g)
    x[1, FS // 2 :] = 100.0 * torch.randn(FS // 2, generator=g)
    return x, torch.tensor([FS, FS // 2])


def _weights(module: torch.nn.Module) -> dict:
    """All parameters and buffers, bypassing the frozen-weight state-dict filter."""
    out = {n: t.detach().clone() for n, t in module.named_parameters()}
    out.update({n: t.detach().clone() for n, t in module.named_buffers()})
    return out


def test_output_shape_and_lengths(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir)).eval()
    x, lengths = _padded_batch()
    with torch.no_grad():
        feats, feats_lengths = frontend(x, lengths)
    assert frontend.output_size() == HIDDEN
    assert feats.shape == (2, 49, HIDDEN)
    assert feats.dtype == torch.float32
    assert feats_lengths.tolist() == [49, 24]
    assert feats_lengths.dtype == lengths.dtype
    assert torch.isfinite(feats).all()


def test_utterance_alone_equals_inside_padded_batch(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir)).eval()
    with torch.no_grad():  # non-uniform layer weights, so every layer counts
        frontend.layer_weights.copy_(torch.tensor([0.3, -1.0, 2.0]))
    x, lengths = _padded_batch()
    with torch.no_grad():
        batch_feats, batch_lengths = frontend(x, lengths)
        alone_feats, alone_lengths = frontend(x[1:, : FS // 2], lengths[1:])
        long_alone, _ = frontend(x[:1], lengths[:1])
    assert alone_lengths.tolist() == [batch_lengths[1].item()] == [24]
    assert alone_feats.shape == (1, 24, HIDDEN)
    torch.testing.assert_close(batch_feats[1, :24], alone_feats[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(batch_feats[0], long_alone[0], atol=1e-5, rtol=0)


def test_normalize_waveform_matches_feature_extractor_and_zeros_padding():
    g = torch.Generator().manual_seed(3)
    x = 3.0 + 2.0 * torch.randn(3, 500, generator=g, dtype=torch.float64)
    lengths = torch.tensor([500, 321, 7])
    out = normalize_waveform(x, lengths)
    expected = Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm(
        [x[i, : lengths[i]].numpy() for i in range(3)],
        attention_mask=None,
    )
    for i, n in enumerate(lengths.tolist()):
        np.testing.assert_allclose(out[i, :n].numpy(), expected[i], atol=1e-6)
        assert torch.all(out[i, n:] == 0)


def test_only_layer_weights_train_when_frozen(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir), freeze=True).train()
    trainable = [n for n, p in frontend.named_parameters() if p.requires_grad]
    assert trainable == ["layer_weights"]
    assert frontend.layer_weights.shape == (NUM_LAYERS + 1,)

    x, lengths = _padded_batch()
    feats, _ = frontend(x[:, :4000], torch.tensor([4000, 3000]))
    feats.pow(2).mean().backward()
    assert frontend.layer_weights.grad is not None
    assert frontend.layer_weights.grad.abs().sum() > 0
    assert all(p.grad is None for p in frontend.encoder.parameters())


def test_unfrozen_encoder_trains(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir), freeze=False).train()
    assert all(p.requires_grad for p in frontend.parameters())
    assert frontend.encoder.training
    assert any(k.startswith("encoder.") for k in frontend.state_dict())


def test_frozen_weights_not_in_state_dict_but_load_strict(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir))
    state = frontend.state_dict()
    assert list(state) == ["layer_weights"]

    before = _weights(frontend.encoder)
    new_weights = torch.tensor([1.0, 2.0, 3.0])
    result = frontend.load_state_dict({"layer_weights": new_weights}, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(frontend.layer_weights.detach(), new_weights)
    after = _weights(frontend.encoder)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)

    # An unknown key is still an error with strict=True.
    with pytest.raises(RuntimeError, match="Unexpected key"):
        frontend.load_state_dict({"layer_weights": new_weights, "bogus": torch.zeros(1)}, strict=True)


def test_encoder_stays_in_eval_mode_after_train(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir)).train()
    assert frontend.training
    assert not any(m.training for m in frontend.encoder.modules())

    # No dropout inside: two forward passes in training mode agree exactly.
    x, lengths = _padded_batch()
    with torch.no_grad():
        a, _ = frontend(x[:, :4000], torch.tensor([4000, 2500]))
        b, _ = frontend(x[:, :4000], torch.tensor([4000, 2500]))
    assert torch.equal(a, b)


def test_reload_pretrained_parameters_restores_weights(tiny_mms_dir):
    reference = MMSFrontend(str(tiny_mms_dir)).eval()
    frontend = MMSFrontend(str(tiny_mms_dir)).eval()
    x, lengths = _padded_batch()
    with torch.no_grad():
        expected, _ = reference(x[:, :4000], torch.tensor([4000, 3000]))

    with torch.no_grad():
        for p in frontend.encoder.parameters():
            if p.dim() >= 2:
                torch.nn.init.xavier_uniform_(p)
            else:
                p.fill_(0.5)
        frontend.layer_weights.fill_(3.0)
        corrupted, _ = frontend(x[:, :4000], torch.tensor([4000, 3000]))
    assert not torch.allclose(corrupted, expected)

    frontend.reload_pretrained_parameters()
    ref_weights, weights = _weights(reference.encoder), _weights(frontend.encoder)
    assert ref_weights.keys() == weights.keys()
    for name in ref_weights:
        assert torch.equal(ref_weights[name], weights[name]), name
    assert torch.equal(frontend.layer_weights.detach(), torch.zeros(NUM_LAYERS + 1))
    assert not frontend.encoder.training
    with torch.no_grad():
        restored, _ = frontend(x[:, :4000], torch.tensor([4000, 3000]))
    assert torch.equal(restored, expected)


def test_missing_local_path_raises_naming_it(tmp_path):
    missing = tmp_path / "no_such_mms_checkpoint"
    with pytest.raises(PretrainedLoadError, match="no_such_mms_checkpoint") as info:
        MMSFrontend(str(missing))
    assert str(missing) in str(info.value)
    assert "speech encoder" in str(info.value)


def test_unknown_hub_name_offline_raises_naming_it(monkeypatch):
    import huggingface_hub.constants

    # The env var is read once at import, so also set the constant it fed.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    name = "no-such-org-7f3a/no-such-mms-model"
    with pytest.raises(PretrainedLoadError) as info:
        MMSFrontend(name)
    assert name in str(info.value)
    assert "speech encoder" in str(info.value)


def test_other_sampling_rate_rejected(tiny_mms_dir):
    with pytest.raises(ValueError, match="16 kHz.*fs=8000"):
        MMSFrontend(str(tiny_mms_dir), fs=8000)


def test_non_wav2vec2_checkpoint_rejected(tiny_llm_dir):
    with pytest.raises(ValueError, match="not a wav2vec2-family speech encoder") as info:
        MMSFrontend(str(tiny_llm_dir))
    assert str(tiny_llm_dir) in str(info.value)
    assert "Bloom" in str(info.value)


def test_rejects_non_mono_input(tiny_mms_dir):
    frontend = MMSFrontend(str(tiny_mms_dir))
    with pytest.raises(ValueError, match="mono"):
        frontend(torch.zeros(1, 4000, 2), torch.tensor([4000]))


def test_bfloat16_frozen_encoder_gives_float32_features_close_to_float32(tiny_mms_dir):
    full = MMSFrontend(str(tiny_mms_dir)).eval()
    half = MMSFrontend(str(tiny_mms_dir), dtype="bfloat16").eval()
    assert half.encoder.dtype == torch.bfloat16 and half.layer_weights.dtype == torch.float32
    x, lengths = _padded_batch()
    with torch.no_grad():
        expected, _ = full(x, lengths)
        feats, feats_lengths = half(x, lengths)
    assert feats.dtype == torch.float32 and feats_lengths.tolist() == [49, 24]
    torch.testing.assert_close(feats[0], expected[0], atol=0.1, rtol=0.05)
    with pytest.raises(ValueError, match="frozen encoder"):
        MMSFrontend(str(tiny_mms_dir), dtype="bfloat16", freeze=False)


def test_init_from_config_needs_no_weights(tiny_mms_dir, tmp_path):
    (tmp_path / "config.json").write_bytes((tiny_mms_dir / "config.json").read_bytes())  # no weight file
    frontend = MMSFrontend(str(tmp_path), init_from_config=True)
    loaded = MMSFrontend(str(tiny_mms_dir))
    assert _weights(frontend.encoder).keys() == _weights(loaded.encoder).keys()
    assert not torch.equal(frontend.encoder.feature_projection.projection.weight,
                           loaded.encoder.feature_projection.projection.weight)
    frontend.reload_pretrained_parameters()  # nothing on disk to restore: must not try
    with pytest.raises(PretrainedLoadError):
        MMSFrontend(str(tmp_path))  # the normal path still wants the weights


def test_without_adapters_as_the_authors_mms(tiny_mms_dir):
    """``adapters: false`` drops mms-1b-all's attention adapters (the authors' MMS had none)
    and keeps every other weight as the checkpoint has it."""
    with_adapters = MMSFrontend(str(tiny_mms_dir))
    without = MMSFrontend(str(tiny_mms_dir), adapters=False)
    names = {n for n, _ in with_adapters.encoder.named_parameters()}
    kept = dict(without.encoder.named_parameters())
    assert any("adapter" in n for n in names) and not any("adapter" in n for n in kept)
    assert set(kept) == {n for n in names if "adapter" not in n}
    for name, p in with_adapters.encoder.named_parameters():
        if name in kept:
            torch.testing.assert_close(kept[name], p)
    built = MMSFrontend(str(tiny_mms_dir), adapters=False, init_from_config=True)
    assert {n for n, _ in built.encoder.named_parameters()} == set(kept)


def test_s3prl_frame_count_repeats_the_last_frame_and_is_batch_independent(tiny_mms_dir):
    conv = MMSFrontend(str(tiny_mms_dir), normalize_waveform=False).eval()
    s3prl = MMSFrontend(str(tiny_mms_dir), normalize_waveform=False, output_lengths="s3prl").eval()
    g = torch.Generator().manual_seed(0)
    waves = [torch.randn(n, generator=g) for n in (16000, 7_001)]
    batch = torch.zeros(2, 16000)
    for i, w in enumerate(waves):
        batch[i, : len(w)] = w
    lengths = torch.tensor([16000, 7001])
    with torch.no_grad():
        feats, feats_lengths = s3prl(batch, lengths)
        assert feats_lengths.tolist() == [(n - 1) // 320 + 1 for n in (16000, 7001)] == [50, 22]
        for i, w in enumerate(waves):
            alone, _ = s3prl(w[None], lengths[i : i + 1])
            real, real_lengths = conv(w[None], lengths[i : i + 1])
            n, m = int(real_lengths), int(feats_lengths[i])
            assert m > n  # the conv stack gives fewer frames: the last one fills the rest
            torch.testing.assert_close(alone[0, :n], real[0, :n])
            assert torch.equal(alone[0, n:m], real[0, n - 1 : n].expand(m - n, -1))
            torch.testing.assert_close(feats[i, :m], alone[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="output_lengths must be one of"):
        MMSFrontend(str(tiny_mms_dir), output_lengths="fairseq")
