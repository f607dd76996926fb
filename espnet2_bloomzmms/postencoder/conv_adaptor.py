"""Length adaptor: one strided convolution from the encoder width to the LLM width.

ESPnet's ``length_adaptor`` ends every conv with a ReLU, which would keep the speech
embeddings non-negative, far from the LLM's token embeddings; this one is linear.
"""

from typing import Tuple

import torch
from espnet2.asr.postencoder.abs_postencoder import AbsPostEncoder


class ConvLengthAdaptor(AbsPostEncoder):
    """Shortens the sequence by ``stride`` and projects it to ``output_size``.

    Args:
        input_size: encoder output size.
        output_size: the LLM hidden size (the task fills it in from the LLM).
        stride: frames merged into one speech embedding.
        kernel_size: conv width; defaults to ``stride`` (no overlap).
    """

    def __init__(self, input_size: int, output_size: int, stride: int = 2, kernel_size: int = 0):
        super().__init__()
        self.kernel_size = kernel_size or stride
        self.stride = stride
        self.conv = torch.nn.Conv1d(input_size, output_size, self.kernel_size, stride)
        self._output_size = output_size

    def output_size(self) -> int:
        return self._output_size

    def forward(
        self, input: torch.Tensor, input_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if input.size(1) < self.kernel_size:
            input = torch.nn.functional.pad(input, (0, 0, 0, self.kernel_size - input.size(1)))
        out = self.conv(input.transpose(1, 2)).transpose(1, 2)
        lengths = (input_lengths.clamp(min=self.kernel_size) - self.kernel_size) // self.stride + 1
        return out, torch.where(input_lengths > 0, lengths, 0)  # no frame made of padding alone
