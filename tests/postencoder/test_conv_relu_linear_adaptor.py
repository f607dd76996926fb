"""The authors' length adaptor: Conv1d(k2, s2) -> ReLU -> Linear, with ESPnet's names."""

import pytest
import torch

from espnet2_bloomzmms.postencoder.conv_relu_linear_adaptor import ConvReLULinearAdaptor


def test_structure_names_and_shapes_are_the_authors():
    adaptor = ConvReLULinearAdaptor(input_size=1024, output_size=4096)
    shapes = {k: tuple(v.shape) for k, v in adaptor.state_dict().items()}
    assert shapes == {"length_adaptor.0.weight": (1024, 1024, 2), "length_adaptor.0.bias": (1024,),
                      "linear_in.weight": (4096, 1024), "linear_in.bias": (4096,)}
    assert isinstance(adaptor.length_adaptor[1], torch.nn.ReLU)


def test_output_is_linear_of_relu_of_frame_pairs():
    torch.manual_seed(0)
    adaptor = ConvReLULinearAdaptor(input_size=8, output_size=12)
    x = torch.randn(1, 7, 8)
    out, lengths = adaptor(x, torch.tensor([7]))
    assert lengths.tolist() == [3] and out.shape == (1, 3, 12)
    conv, linear = adaptor.length_adaptor[0], adaptor.linear_in
    for j in range(3):
        pair = torch.einsum("oik,ki->o", conv.weight, x[0, 2 * j : 2 * j + 2]) + conv.bias
        torch.testing.assert_close(out[0, j], linear(pair.relu()), atol=1e-5, rtol=1e-5)


def test_same_function_as_espnets_postencoder_layers():
    """Loaded with weights under the names of ESPnet's ``hugging_face_transformers``
    postencoder (where the authors' checkpoints come from), it computes conv -> ReLU ->
    linear in that order, as that postencoder's forward does."""
    torch.manual_seed(0)
    ours = ConvReLULinearAdaptor(input_size=8, output_size=12)
    layers = torch.nn.ModuleDict({"length_adaptor": torch.nn.Sequential(torch.nn.Conv1d(8, 8, 2, 2), torch.nn.ReLU()),
                                  "linear_in": torch.nn.Linear(8, 12)})
    ours.load_state_dict(layers.state_dict())
    x = torch.randn(2, 9, 8)
    expected = layers["linear_in"](layers["length_adaptor"](x.transpose(1, 2)).transpose(1, 2))
    torch.testing.assert_close(ours(x, torch.tensor([9, 6]))[0], expected)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_short_inputs_keep_one_frame(n):
    adaptor = ConvReLULinearAdaptor(input_size=4, output_size=6)
    out, lengths = adaptor(torch.randn(1, max(n, 1), 4), torch.tensor([n]))
    assert lengths.tolist() == [0 if n == 0 else max(1, n // 2)]
