"""LLMTiedCTC: CTC whose output layer is the (frozen) LLM input embedding."""

import pytest
import torch
import torch.nn.functional as F

from espnet2_bloomzmms.ctc.tied_ctc import LLMTiedCTC, blank_twins
from espnet2_bloomzmms.decoder.llm import LLMDecoder


@pytest.fixture(scope="module")
def decoder(tiny_llm_dir):
    return LLMDecoder(str(tiny_llm_dir)).eval()


def _inputs(vocab: int, hidden: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    hs = torch.randn(3, 12, hidden, generator=g)
    hlens = torch.tensor([12, 9, 5])
    ys = torch.randint(4, vocab, (3, 4), generator=g)  # never a special token
    ylens = torch.tensor([4, 3, 2])
    ys[1, 3:] = -1
    ys[2, 2:] = -1
    return hs, hlens, ys, ylens


def test_output_layer_is_the_llm_input_embedding(decoder):
    ctc = LLMTiedCTC(decoder.input_embeddings)
    embedding = decoder.input_embeddings.weight
    assert ctc.ctc_lo.weight is embedding
    assert ctc.ctc_lo.weight.data_ptr() == embedding.data_ptr()
    assert not ctc.ctc_lo.weight.requires_grad
    assert not [n for n, p in ctc.named_parameters() if p.requires_grad]
    assert [n for n, _ in ctc.named_parameters()] == ["ctc_lo.weight"]  # no bias
    # Not a copy in checkpoints either: the LLM's checkpoint has it.
    assert "ctc_lo.weight" not in ctc.state_dict()
    ctc.load_state_dict({}, strict=True)
    assert not any(p.is_meta for p in ctc.parameters())


def test_logits_are_hidden_times_embedding_transposed(decoder):
    ctc = LLMTiedCTC(decoder.input_embeddings)
    E = decoder.input_embeddings.weight
    hs, *_ = _inputs(*E.shape)
    logits = ctc.ctc_lo(hs)
    assert logits.shape == (3, 12, E.size(0))
    torch.testing.assert_close(logits, hs @ E.T, atol=1e-5, rtol=1e-5)
    assert torch.count_nonzero(ctc.ctc_lo(torch.zeros(1, 2, E.size(1)))) == 0  # no bias
    torch.testing.assert_close(ctc.log_softmax(hs), (hs @ E.T).log_softmax(-1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("blank_id", [0, 3])
def test_loss_uses_configured_blank(decoder, blank_id):
    ctc = LLMTiedCTC(decoder.input_embeddings, blank_id=blank_id)
    E = decoder.input_embeddings.weight
    hs, hlens, ys, ylens = _inputs(*E.shape)
    hs.requires_grad_(True)
    loss = ctc(hs, hlens, ys, ylens)
    assert loss.dim() == 0 and torch.isfinite(loss)

    log_probs = (hs @ E.T).log_softmax(-1).transpose(0, 1)
    targets = torch.cat([ys[b, :n] for b, n in enumerate(ylens)])

    def expected(blank):  # ESPnet's reduction: summed over the batch, / batch size
        return F.ctc_loss(log_probs, targets, hlens, ylens, blank=blank, reduction="sum", zero_infinity=True) / 3

    torch.testing.assert_close(loss, expected(blank_id), atol=1e-4, rtol=1e-5)
    other = 3 if blank_id == 0 else 0
    assert not torch.allclose(loss, expected(other), atol=1e-2)

    loss.backward()
    assert hs.grad is not None and torch.isfinite(hs.grad).all() and hs.grad.abs().sum() > 0
    assert E.grad is None  # the embedding stays frozen


def _one_hot_ctc(blank_id: int, vocab: int = 6) -> LLMTiedCTC:
    emb = torch.nn.Embedding(vocab, vocab)
    with torch.no_grad():
        emb.weight.copy_(torch.eye(vocab))
    emb.requires_grad_(False)
    return LLMTiedCTC(emb, blank_id=blank_id)


def _frames(ids, vocab: int = 6) -> torch.Tensor:
    return F.one_hot(torch.tensor(ids), vocab).float()


def test_greedy_ids_merge_repeats_and_drop_blanks():
    ctc = _one_hot_ctc(blank_id=0)
    hs = torch.stack([
        _frames([0, 3, 3, 0, 3, 5, 5, 4, 0, 0]),
        _frames([2, 2, 0, 0, 1, 1, 1, 5, 5, 5]),  # only 6 frames are real
    ])
    assert ctc.greedy_ids(hs, torch.tensor([10, 6])) == [[3, 3, 5, 4], [2, 1]]


def test_greedy_ids_with_non_zero_blank():
    ctc = _one_hot_ctc(blank_id=2)
    hs = _frames([2, 0, 0, 1, 2, 1, 4, 2, 2])[None]
    assert ctc.greedy_ids(hs, torch.tensor([9])) == [[0, 1, 1, 4]]
    assert ctc.greedy_ids(hs, torch.tensor([0])) == [[]]


def test_blank_twins_counts_tokens_sharing_the_blanks_direction(caplog):
    """Untrained tokens drifting to one direction: a blank among them is flagged (with
    the fix in the message), a trained token of its own is not."""
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(50, 16, generator=g)
    shared = torch.randn(16, generator=g)
    weight[:10] = shared + 0.05 * torch.randn(10, 16, generator=g)  # ids 0-9: one direction
    embedding = torch.nn.Embedding.from_pretrained(weight)
    assert blank_twins(weight, 0) == 9
    assert blank_twins(weight, 20) == 0
    with caplog.at_level("WARNING"):
        LLMTiedCTC(embedding, blank_id=0)
    assert "CTC blank token 0: 9 other tokens" in caplog.text and "blank_id" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        LLMTiedCTC(embedding, blank_id=20)
    assert caplog.text == ""
    with pytest.raises(ValueError, match="outside the LLM vocabulary"):
        LLMTiedCTC(embedding, blank_id=50)


def test_vocab_size_restricts_the_classes_and_an_own_head_is_saved():
    g = torch.Generator().manual_seed(0)
    embedding = torch.nn.Embedding.from_pretrained(torch.randn(40, 8, generator=g))
    tied = LLMTiedCTC(embedding, blank_id=2, vocab_size=30)
    hs = torch.randn(1, 5, 8, generator=g)
    torch.testing.assert_close(tied.ctc_lo(hs), hs @ embedding.weight[:30].T)  # ids >= 30 never scored
    assert "ctc_lo.weight" not in tied.state_dict()
    own = LLMTiedCTC(embedding, blank_id=2, vocab_size=30, head="own")
    head = torch.randn(30, 8, generator=g)
    own.load_state_dict({"ctc_lo.weight": head})
    assert set(own.state_dict()) == {"ctc_lo.weight"} and not own.ctc_lo.weight.requires_grad
    torch.testing.assert_close(own.ctc_lo(hs), hs @ head.T)
    with pytest.raises(ValueError, match="own CTC head needs vocab_size"):
        LLMTiedCTC(embedding, head="own")
    with pytest.raises(ValueError, match=r"vocab_size 41 must be in 1\.\.40"):
        LLMTiedCTC(embedding, vocab_size=41)
    with pytest.raises(ValueError, match=r"outside the LLM vocabulary \(CTC classes 0\.\.29\)"):
        LLMTiedCTC(embedding, blank_id=30, vocab_size=30)
