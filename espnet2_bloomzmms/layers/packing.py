"""Vectorised packing of variable-length segments into one sequence per utterance.

Utterance ``b`` becomes ``[seg_0[b, :len_0[b]] ; seg_1[b, :len_1[b]] ; ...]`` with no
gaps, padded on the right (training) or on the left (batched generation). One scatter
does the whole batch: no Python loop over utterances.
"""

from typing import Sequence, Tuple

import torch


def pack_segments(
    segments: Sequence[torch.Tensor],
    lengths: Sequence[torch.Tensor],
    left_pad: bool = False,
    pad_value: float = 0.0,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Concatenate padded segments (B, L_i, ...) by their valid lengths (B,).

    Returns the packed tensor (B, T, ...) with ``T = max_b sum_i len_i[b]`` and the
    boolean mask (B, T) of real (non-padding) positions.
    """
    src = torch.cat(list(segments), dim=1)
    device = src.device
    valid = torch.cat(
        [torch.arange(s.size(1), device=device)[None, :] < n.to(device)[:, None] for s, n in zip(segments, lengths)],
        dim=1,
    )
    total = valid.sum(1)
    width = int(total.max()) if total.numel() else 0
    dest = valid.cumsum(1) - 1
    if left_pad:
        dest = dest + (width - total)[:, None]
    batch = torch.arange(src.size(0), device=device)[:, None].expand_as(valid)
    out = src.new_full((src.size(0), width) + tuple(src.shape[2:]), pad_value)
    out[batch[valid], dest[valid]] = src[valid]
    positions = torch.arange(width, device=device)[None, :]
    if left_pad:
        mask = positions >= (width - total)[:, None]
    else:
        mask = positions < total[:, None]
    return out, mask
