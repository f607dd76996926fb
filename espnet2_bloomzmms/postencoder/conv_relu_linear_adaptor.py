"""Length adaptor of the authors (Denisov & Vu 2024): ``n_layers`` x (Conv1d kernel 2,
stride 2 at the encoder width -> ReLU), then a linear layer to the LLM width.

The structure, and the weight names (``length_adaptor.{0,2,...}``, ``linear_in``), of
ESPnet's ``hugging_face_transformers`` postencoder with ``length_adaptor_n_layers``,
which the authors' models used; the paper configs use it. ``conv_length_adaptor`` (one
linear strided conv, no ReLU) is our variant.
"""

from typing import Tuple

import torch
from espnet2.asr.postencoder.abs_postencoder import AbsPostEncoder


class ConvReLULinearAdaptor(AbsPostEncoder):
    """Shortens the sequence by ``2 ** n_layers`` and projects it to ``output_size``.

    Args:
        input_size: encoder output size.
        output_size: the LLM hidden size (the task fills it in from the LLM).
        n_layers: strided conv + ReLU layers (each halves the frame rate).
    """

    def __init__(self, input_size: int, output_size: int, n_layers: int = 1):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"conv_relu_linear adaptor: n_layers must be >= 1, not {n_layers}")
        layers = []
        for _ in range(n_layers):
            layers += [torch.nn.Conv1d(input_size, input_size, 2, 2), torch.nn.ReLU()]
        self.length_adaptor = torch.nn.Sequential(*layers)
        self.linear_in = torch.nn.Linear(input_size, output_size)
        self.n_layers = n_layers
        self._output_size = output_size

    def output_size(self) -> int:
        return self._output_size

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        ratio = 2 ** self.n_layers
        if input.size(1) < ratio:
            input = torch.nn.functional.pad(input, (0, 0, 0, ratio - input.size(1)))
        out = self.linear_in(self.length_adaptor(input.transpose(1, 2)).transpose(1, 2))
        lengths = torch.div(input_lengths, ratio, rounding_mode="floor").clamp(min=1)
        return out, torch.where(input_lengths > 0, lengths, 0)  # no frame made of padding alone
