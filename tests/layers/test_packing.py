"""pack_segments against a per-utterance Python reference."""

import pytest
import torch

from espnet2_bloomzmms.layers.packing import pack_segments


def reference_pack(segments, lengths, left_pad=False, pad_value=0.0):
    """One utterance at a time: concatenate the valid parts, pad to the longest."""
    batch = segments[0].size(0)
    rows = [
        torch.cat([seg[b, : int(n[b])] for seg, n in zip(segments, lengths)], dim=0)
        for b in range(batch)
    ]
    width = max(r.size(0) for r in rows)
    tail = tuple(segments[0].shape[2:])
    out = segments[0].new_full((batch, width) + tail, pad_value)
    mask = torch.zeros(batch, width, dtype=torch.bool)
    for b, row in enumerate(rows):
        n = row.size(0)
        if left_pad:
            out[b, width - n :] = row
            mask[b, width - n :] = True
        else:
            out[b, :n] = row
            mask[b, :n] = True
    return out, mask


def random_case(seed, int_tokens=False, batch=5, num_segments=3, dim=4):
    g = torch.Generator().manual_seed(seed)
    segments, lengths = [], []
    for i in range(num_segments):
        width = int(torch.randint(0, 6, (1,), generator=g))
        if i == 0:
            width = max(width, 1)  # at least one real position in the batch
        n = torch.randint(0, width + 1, (batch,), generator=g)
        if i == 0:
            n[0] = width
        n[-1] = 0  # always a zero-length segment somewhere
        if int_tokens:
            seg = torch.randint(10, 1000, (batch, width), generator=g)
            seg[torch.arange(width)[None, :] >= n[:, None]] = -1  # padding ids
        else:
            seg = torch.randn(batch, width, dim, generator=g)
            seg[torch.arange(width)[None, :] >= n[:, None]] = 1e4  # garbage padding
        segments.append(seg)
        lengths.append(n)
    return segments, lengths


@pytest.mark.parametrize("left_pad", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_float_segments_match_reference(seed, left_pad):
    segments, lengths = random_case(seed)
    out, mask = pack_segments(segments, lengths, left_pad=left_pad, pad_value=-7.0)
    ref_out, ref_mask = reference_pack(segments, lengths, left_pad=left_pad, pad_value=-7.0)
    assert out.dtype == segments[0].dtype
    assert mask.dtype == torch.bool
    assert torch.equal(mask, ref_mask)
    assert torch.equal(out, ref_out)


@pytest.mark.parametrize("left_pad", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_int_token_segments_match_reference(seed, left_pad):
    segments, lengths = random_case(seed, int_tokens=True)
    out, mask = pack_segments(segments, lengths, left_pad=left_pad, pad_value=-1)
    ref_out, ref_mask = reference_pack(segments, lengths, left_pad=left_pad, pad_value=-1)
    assert out.dtype == torch.long
    assert out.dim() == 2
    assert torch.equal(mask, ref_mask)
    assert torch.equal(out, ref_out)
    assert (out[mask] >= 10).all() and (out[~mask] == -1).all()


def test_hand_made_example():
    prefix = torch.tensor([[1, 2, 3], [4, 0, 0]])
    speech = torch.tensor([[10, 11, 0], [12, 13, 14]])
    postfix = torch.tensor([[20], [21]])
    lengths = [torch.tensor([3, 1]), torch.tensor([2, 3]), torch.tensor([1, 0])]

    out, mask = pack_segments([prefix, speech, postfix], lengths, pad_value=-1)
    assert out.tolist() == [[1, 2, 3, 10, 11, 20], [4, 12, 13, 14, -1, -1]]
    assert mask.tolist() == [[True] * 6, [True] * 4 + [False] * 2]

    out, mask = pack_segments([prefix, speech, postfix], lengths, left_pad=True, pad_value=-1)
    assert out.tolist() == [[1, 2, 3, 10, 11, 20], [-1, -1, 4, 12, 13, 14]]
    assert mask.tolist() == [[True] * 6, [False] * 2 + [True] * 4]


def test_empty_segment_tensor_and_all_zero_lengths():
    a = torch.randn(2, 0, 3)  # a segment of width 0
    b = torch.randn(2, 2, 3)
    out, mask = pack_segments([a, b], [torch.tensor([0, 0]), torch.tensor([2, 1])])
    assert out.shape == (2, 2, 3)
    assert torch.equal(out[0], b[0]) and torch.equal(out[1, :1], b[1, :1])
    assert mask.tolist() == [[True, True], [True, False]]

    out, mask = pack_segments([b], [torch.tensor([0, 0])])
    assert out.shape == (2, 0, 3) and mask.shape == (2, 0)


def test_gradient_flows_to_valid_positions_only():
    segments, lengths = random_case(11)
    segments = [s.clone().requires_grad_(True) for s in segments]
    out, mask = pack_segments(segments, lengths)
    (out * mask[..., None]).sum().backward()
    for seg, n in zip(segments, lengths):
        valid = (torch.arange(seg.size(1))[None, :] < n[:, None])[..., None].expand_as(seg)
        assert torch.equal(seg.grad, valid.to(seg.dtype))
