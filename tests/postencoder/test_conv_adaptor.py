"""ConvLengthAdaptor: one linear strided convolution, encoder width -> LLM width."""

import pytest
import torch

from espnet2_bloomzmms.postencoder.conv_adaptor import ConvLengthAdaptor


def _batch(lengths, width=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), width, generator=g)
    return x, torch.tensor(lengths)


def test_stride_two_halves_lengths():
    adaptor = ConvLengthAdaptor(input_size=8, output_size=12, stride=2)
    assert adaptor.output_size() == 12
    lengths = [2, 3, 4, 5, 10, 11]
    x, xl = _batch(lengths)
    out, out_lengths = adaptor(x, xl)
    assert out_lengths.tolist() == [n // 2 for n in lengths]
    assert out.shape == (6, 11 // 2, 12)
    assert out_lengths.dtype == xl.dtype


def test_output_is_linear_projection_of_frame_pairs():
    torch.manual_seed(0)
    adaptor = ConvLengthAdaptor(input_size=8, output_size=12, stride=2)
    x, xl = _batch([6])
    out, _ = adaptor(x, xl)
    w, b = adaptor.conv.weight, adaptor.conv.bias  # (12, 8, 2), (12,)
    for j in range(3):
        expected = torch.einsum("oik,ki->o", w, x[0, 2 * j : 2 * j + 2]) + b
        torch.testing.assert_close(out[0, j], expected, atol=1e-5, rtol=1e-5)
    # Linear, not ReLU: speech embeddings can be negative like token embeddings.
    assert (out < 0).any()


def test_real_frames_do_not_depend_on_padding():
    adaptor = ConvLengthAdaptor(input_size=8, output_size=12, stride=2)
    x, xl = _batch([10, 6])
    alone, alone_lengths = adaptor(x[1:, :6], xl[1:])
    x[1, 6:] = 1e3
    batch, batch_lengths = adaptor(x, xl)
    assert batch_lengths[1] == alone_lengths[0] == 3
    torch.testing.assert_close(batch[1, :3], alone[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "stride,kernel,length,expected",
    [(2, 0, 9, 4), (3, 0, 9, 3), (3, 0, 8, 2), (2, 4, 9, 3), (2, 3, 10, 4), (4, 4, 4, 1)],
)
def test_other_strides_and_kernels(stride, kernel, length, expected):
    adaptor = ConvLengthAdaptor(input_size=8, output_size=5, stride=stride, kernel_size=kernel)
    assert adaptor.kernel_size == (kernel or stride)
    out, out_lengths = adaptor(*_batch([length]))
    assert out_lengths.tolist() == [expected]
    assert out.shape == (1, expected, 5)


@pytest.mark.parametrize("lengths", [[1], [1, 1], [3, 1], [2, 1]])
def test_short_inputs_give_at_least_one_frame(lengths):
    adaptor = ConvLengthAdaptor(input_size=8, output_size=5, stride=2, kernel_size=3)
    out, out_lengths = adaptor(*_batch(lengths))
    assert (out_lengths >= 1).all()
    assert out.size(1) == out_lengths.max() == 1
    assert torch.isfinite(out).all()
