"""The language inter-CTC in both structures: ESPnet's, and the authors' (own conv
adaptor + ReLU, softmax repeated back to the encoder frame rate, per-token targets)."""

import torch
from espnet2.asr.ctc import CTC

from espnet2_bloomzmms.ctc.language_ctc import LanguageCTC


def test_stride_zero_is_espnets_ctc():
    torch.manual_seed(0)
    ours, theirs = LanguageCTC(5, 8), CTC(5, 8)
    theirs.load_state_dict(ours.state_dict())
    hs, hl = torch.randn(2, 9, 8), torch.tensor([9, 6])
    ys, yl = torch.tensor([[3], [1]]), torch.tensor([1, 1])
    torch.testing.assert_close(ours(hs, hl, ys, yl), theirs(hs, hl, ys, yl))
    torch.testing.assert_close(ours.softmax(hs), theirs.softmax(hs))


def test_authors_structure_names_shapes_and_rates():
    ctc = LanguageCTC(140, 1024, stride=2, target="per_token")
    shapes = {k: tuple(v.shape) for k, v in ctc.state_dict().items()}
    assert shapes == {"ctc_lo.weight": (140, 1024), "ctc_lo.bias": (140,),
                      "length_adaptor.0.weight": (1024, 1024, 2), "length_adaptor.0.bias": (1024,)}


def test_authors_softmax_is_repeated_back_to_the_frame_rate():
    torch.manual_seed(0)
    ctc = LanguageCTC(5, 8, stride=2)
    hs = torch.randn(1, 7, 8)
    probs = ctc.softmax(hs)
    assert probs.shape == (1, 7, 5)
    conv = ctc.length_adaptor[0]
    adapted = (torch.nn.functional.conv1d(hs.transpose(1, 2), conv.weight, conv.bias, stride=2).relu()).transpose(1, 2)
    half = ctc.ctc_lo(adapted).softmax(-1)  # 3 frames
    # nearest interpolation 3 -> 7: source frame floor(t * 3 / 7)
    for t in range(7):
        torch.testing.assert_close(probs[0, t], half[0, t * 3 // 7])


def test_authors_loss_reads_the_adapted_frames():
    torch.manual_seed(0)
    ctc = LanguageCTC(5, 8, stride=2)
    hs, hl = torch.randn(2, 10, 8), torch.tensor([10, 7])
    ys, yl = torch.tensor([[2, 2, 2], [4, 4, -1]]), torch.tensor([3, 2])
    plain = CTC(5, 8)
    plain.load_state_dict({k: v for k, v in ctc.state_dict().items() if k.startswith("ctc_lo")})
    adapted, lengths = ctc.adapt(hs, hl)
    assert lengths.tolist() == [5, 3]
    torch.testing.assert_close(ctc(hs, hl, ys, yl), plain(adapted, lengths, ys, yl))


def test_per_token_targets_repeat_the_language():
    ctc = LanguageCTC(5, 8, target="per_token")
    lang, lang_lengths = torch.tensor([[3], [1]]), torch.tensor([1, 1])
    ys, yl = ctc.targets(lang, lang_lengths, torch.tensor([4, 2]))
    assert yl.tolist() == [4, 2]
    assert ys[0].tolist() == [3, 3, 3, 3] and ys[1, :2].tolist() == [1, 1]
    same = LanguageCTC(5, 8).targets(lang, lang_lengths, torch.tensor([4, 2]))
    assert same[0] is lang and same[1] is lang_lengths
