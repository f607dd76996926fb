"""ESPnet's E-Branchformer, made independent of how much padding a batch has.

The two depthwise convolutions in each block (the cgMLP's spatial gating and the
branch merge) see padded frames, whose values are whatever earlier layers made of
them; the last ``kernel_size // 2`` real frames of every shorter utterance then depend
on the batch it is in. Zeroing padded frames right before those convolutions makes an
utterance's output the same alone as in any batch, in training and in decoding.
Likewise ESPnet's conv2d subsampling derives output lengths by slicing the padded
mask, which can count one frame more inside a batch than alone (a frame whose
receptive field runs into the padding); here lengths come from the conv arithmetic.
Everything else, including the weights' names, is ESPnet's E-Branchformer.
"""

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder


class PaddingSafeEBranchformerEncoder(EBranchformerEncoder):
    """:class:`EBranchformerEncoder` with padded frames zeroed before its convolutions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(getattr(self.embed, "conv", None), torch.nn.Sequential):
            self.embed.register_forward_hook(self._exact_subsampled_mask)
        for layer in self.encoders:
            state = {}
            layer.register_forward_pre_hook(self._remember_mask(state))
            for conv in (layer.cgmlp.csgu.conv, layer.depthwise_conv_fusion):
                conv.register_forward_pre_hook(self._zero_padding(state))

    @staticmethod
    def _exact_subsampled_mask(module, args, output):
        x, mask = output
        lengths = args[1].squeeze(1).sum(-1)
        for conv in module.conv:
            if isinstance(conv, (torch.nn.Conv1d, torch.nn.Conv2d)):
                k, s, p, d = conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0]
                lengths = torch.div(lengths + 2 * p - d * (k - 1) - 1, s, rounding_mode="floor") + 1
        frames = torch.arange(mask.size(-1), device=mask.device)
        return x, (frames[None, :] < lengths[:, None]).unsqueeze(1)

    @staticmethod
    def _remember_mask(state):
        def hook(module, args):
            state["mask"] = args[1]  # (B, 1, T): True on real frames

        return hook

    @staticmethod
    def _zero_padding(state):
        def hook(module, args):
            (x,) = args  # (B, C, T)
            return (x * state["mask"].to(x.dtype),)

        return hook
