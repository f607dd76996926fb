"""PaddingSafeEBranchformerEncoder: ESPnet's E-Branchformer, independent of batch padding.

Why the class exists: in ESPnet's ``EBranchformerEncoder`` the depthwise convolutions
(cgMLP spatial gating, branch merge) see the padded frames, and the conv2d subsampling
derives lengths by slicing the padded mask. A short utterance then gets a different
output, and even a different length, inside a padded batch than alone (the tests
``test_plain_espnet_*`` below show it), so training and decoding results depend on
batching. The padding-safe subclass gives the same result either way.
"""

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet2_bloomzmms.encoder.padding_safe_e_branchformer import PaddingSafeEBranchformerEncoder

DIM = 16
LONG, SHORT = 60, 37  # an odd short length: ESPnet's mask slicing counts one frame too many


def make(cls, input_layer="conv2d", input_size=DIM, seed=0, **overrides):
    conf = dict(
        input_size=input_size,
        output_size=DIM,
        attention_heads=2,
        cgmlp_linear_units=32,
        cgmlp_conv_kernel=7,
        num_blocks=2,
        linear_units=32,
        use_ffn=True,
        macaron_ffn=True,
        dropout_rate=0.0,
        positional_dropout_rate=0.0,
        attention_dropout_rate=0.0,
        input_layer=input_layer,
    )
    conf.update(overrides)
    torch.manual_seed(seed)
    return cls(**conf).eval()


def padded_batch(input_size=DIM, seed=1):
    """A long and a short utterance; the short one's padding is large garbage."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, LONG, input_size, generator=g)
    x[1, SHORT:] = 5.0 * torch.randn(LONG - SHORT, input_size, generator=g)
    return x, torch.tensor([LONG, SHORT])


def alone_and_in_batch(encoder, input_size=DIM):
    x, lengths = padded_batch(input_size)
    with torch.no_grad():
        batch_out, batch_lengths, _ = encoder(x, lengths)
        alone_out, alone_lengths, _ = encoder(x[1:, :SHORT], lengths[1:])
        long_out, long_lengths, _ = encoder(x[:1], lengths[:1])
    return batch_out, batch_lengths, alone_out, alone_lengths, long_out, long_lengths


def conv_out_length(n, kernel, stride):
    return (n - kernel) // stride + 1


EXPECTED_SHORT_LENGTH = {
    "conv2d": conv_out_length(conv_out_length(SHORT, 3, 2), 3, 2),
    "conv2d6": conv_out_length(conv_out_length(SHORT, 3, 2), 5, 3),
    None: SHORT,
}


@pytest.mark.parametrize("input_layer", ["conv2d", "conv2d6", None])
def test_utterance_alone_equals_inside_padded_batch(input_layer):
    encoder = make(PaddingSafeEBranchformerEncoder, input_layer)
    batch_out, batch_lengths, alone_out, alone_lengths, long_out, long_lengths = alone_and_in_batch(encoder)
    n = EXPECTED_SHORT_LENGTH[input_layer]
    assert alone_lengths.tolist() == [n]
    assert batch_lengths[1].item() == n
    assert batch_lengths[0].item() == long_lengths.item()
    assert alone_out.shape == (1, n, DIM)
    torch.testing.assert_close(batch_out[1, :n], alone_out[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(batch_out[0], long_out[0], atol=1e-5, rtol=0)


def test_batch_independent_in_training_mode_too():
    encoder = make(PaddingSafeEBranchformerEncoder).train()  # dropout 0: deterministic
    batch_out, batch_lengths, alone_out, alone_lengths, *_ = alone_and_in_batch(encoder)
    n = alone_lengths.item()
    assert batch_lengths[1].item() == n
    torch.testing.assert_close(batch_out[1, :n], alone_out[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("input_layer", ["conv2d", "conv2d6"])
def test_plain_espnet_lengths_depend_on_batch(input_layer):
    encoder = make(EBranchformerEncoder, input_layer)
    _, batch_lengths, _, alone_lengths, *_ = alone_and_in_batch(encoder)
    assert alone_lengths.item() == EXPECTED_SHORT_LENGTH[input_layer]
    assert batch_lengths[1].item() > alone_lengths.item()


@pytest.mark.parametrize("input_layer", ["conv2d", "conv2d6", None])
def test_plain_espnet_outputs_depend_on_batch(input_layer):
    encoder = make(EBranchformerEncoder, input_layer)
    batch_out, _, alone_out, alone_lengths, *_ = alone_and_in_batch(encoder)
    n = alone_lengths.item()
    assert (batch_out[1, :n] - alone_out[0]).abs().max() > 1e-3


@pytest.mark.parametrize("input_layer", ["conv2d", "conv2d6"])
def test_weights_interchangeable_with_espnet(input_layer):
    safe = make(PaddingSafeEBranchformerEncoder, input_layer, seed=0)
    plain = make(EBranchformerEncoder, input_layer, seed=1)
    safe_state, plain_state = safe.state_dict(), plain.state_dict()
    assert list(safe_state) == list(plain_state)
    assert all(safe_state[k].shape == plain_state[k].shape for k in safe_state)

    plain.load_state_dict(safe_state, strict=True)
    safe.load_state_dict(plain.state_dict(), strict=True)
    # Without padding both compute the same function.
    x, lengths = padded_batch()
    with torch.no_grad():
        safe_out, safe_lengths, _ = safe(x[:1], lengths[:1])
        plain_out, plain_lengths, _ = plain(x[:1], lengths[:1])
    assert torch.equal(safe_lengths, plain_lengths)
    torch.testing.assert_close(safe_out, plain_out, atol=1e-6, rtol=0)


def test_interctc_outputs_returned():
    encoder = make(PaddingSafeEBranchformerEncoder, num_blocks=3, interctc_layer_idx=[1, 2])
    x, lengths = padded_batch()
    with torch.no_grad():
        (out, inter), out_lengths, _ = encoder(x, lengths)
        (alone, alone_inter), alone_lengths, _ = encoder(x[1:, :SHORT], lengths[1:])
    assert [idx for idx, _ in inter] == [1, 2]
    n = alone_lengths.item()
    assert out_lengths[1].item() == n
    for (_, h), (_, h_alone) in zip(inter, alone_inter):
        assert h.shape == out.shape == (2, out_lengths.max().item(), DIM)
        torch.testing.assert_close(h[1, :n], h_alone[0, :n], atol=1e-5, rtol=0)
    # Layer 1's output (before the final norm) is what a 1-layer run puts through it.
    with torch.no_grad():
        (one_layer, inter_one), _, _ = encoder(x, lengths, max_layer=1)
        torch.testing.assert_close(encoder.after_norm(inter[0][1]), one_layer, atol=1e-6, rtol=0)
    assert [idx for idx, _ in inter_one] == [1]

    without = make(PaddingSafeEBranchformerEncoder, num_blocks=3)
    with torch.no_grad():
        plain_out, _, _ = without(x, lengths)
    assert isinstance(plain_out, torch.Tensor)


def test_gradient_checkpointing_gives_the_same_outputs_and_gradients():
    """ESPnet's ``gradient_checkpoint_layers`` (0 = input layer) recomputes blocks in the
    backward pass; the padding hooks must see each block's own mask again there."""
    layers = dict(num_blocks=3, layer_drop_rate=0.0, dropout_rate=0.1)
    plain = make(PaddingSafeEBranchformerEncoder, **layers).train()
    checkpointed = make(PaddingSafeEBranchformerEncoder, gradient_checkpoint_layers=[0, 1, 2, 3], **layers).train()
    checkpointed.load_state_dict(plain.state_dict())
    calls = []
    checkpointed.encoders[0].register_forward_pre_hook(lambda module, args: calls.append(1))
    x, lengths = padded_batch()
    results = []
    for encoder in (plain, checkpointed):
        torch.manual_seed(5)  # the same dropout masks; checkpointing replays them
        out, out_lengths, _ = encoder(x, lengths)
        mask = (torch.arange(out.size(1))[None, :] < out_lengths[:, None]).unsqueeze(-1)
        (out * mask).pow(2).sum().backward()
        results.append((out.detach(), {n: p.grad.clone() for n, p in encoder.named_parameters()}))
    assert len(calls) == 2  # forward, and again in the backward pass
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-5, rtol=1e-5)
    for name, grad in results[0][1].items():
        torch.testing.assert_close(results[1][1][name], grad, atol=1e-5, rtol=1e-4, msg=name)
