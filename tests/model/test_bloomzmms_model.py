"""The assembled model, built from a YAML config through the task class."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from espnet2.train.collate_fn import CommonCollateFn

from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask


def build_args(config: dict, tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    parser = BloomzMMSTask.get_parser()
    return parser.parse_args(["--config", str(path), "--output_dir", str(tmp_path / "exp")])


def make_batch(args, items, train=True):
    """items: (uid, samples, text, lang, prefix-or-None) -> collated batch, as the data loader makes it."""
    preprocess = BloomzMMSTask.build_preprocess_fn(args, train=train)
    data = []
    for uid, n, text, lang, prefix in items:
        d = {"speech": np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1, "text": text, "lang": lang}
        if prefix is not None:
            d["prefix"] = f'"{prefix}"'
        data.append((uid, preprocess(uid, d)))
    return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)(data)[1]


ITEMS = [
    ("a", 16000, "Das Wetter ist heute schön.", "de", None),
    ("b", 9000, "Hali ya hewa ni nzuri leo.", "sw", "Say it again: "),
    ("c", 12500, "Где находится вокзал?", "ru", None),
]


@pytest.fixture
def built(tiny_config, tmp_path):
    torch.manual_seed(0)
    args = build_args(tiny_config, tmp_path)
    model = BloomzMMSTask.build_model(args)
    return args, model


def test_config_builds_the_configured_components(built):
    args, model = built
    assert type(model).__name__ == "BloomzMMSModel"
    assert type(model.frontend).__name__ == "MMSFrontend"
    assert type(model.encoder).__name__ == "PaddingSafeEBranchformerEncoder"
    assert type(model.postencoder).__name__ == "ConvLengthAdaptor"
    assert model.postencoder.output_size() == model.decoder.hidden_size == 32
    assert model.lang_ctc.ctc_lo.out_features == len(args.lang_list) + 1
    assert model.encoder.conditioning_layer is not None
    # the CTC output layer is the LLM's input-embedding matrix, shared and frozen
    emb = model.decoder.input_embeddings.weight
    assert model.ctc.ctc_lo.weight is emb and not emb.requires_grad


def test_losses_and_stats(built):
    args, model = built
    batch = make_batch(args, ITEMS)
    model.train()
    loss, stats, weight = model(**batch)
    assert torch.isfinite(loss).all() and int(weight) == 3
    for key in ("loss_ctc", "loss_interctc", "loss_ce", "acc"):
        assert key in stats
    expected = 0.3 * (0.8 * stats["loss_ctc"] + 0.2 * stats["loss_interctc"]) + 0.7 * stats["loss_ce"]
    assert torch.allclose(stats["loss"], expected, atol=1e-5)
    model.eval()
    _, stats, _ = model(**batch)
    assert 0.0 <= float(stats["cer_ctc"])


def test_ctc_target_is_the_transcript_where_given(built):
    """MI batches: ``text`` is an instruction's answer, ``transcript`` what was said; the
    CTC losses and CER score the transcript, the LLM loss the answer."""
    args, model = built
    model.eval()
    spoken = make_batch(args, ITEMS, train=False)
    answers = make_batch(args, [(u, n, answer, lang, p) for (u, n, _, lang, p), answer
                                in zip(ITEMS, ["German", "Swahili", "Russian"])], train=False)
    with torch.no_grad():
        _, as_text, _ = model(**spoken)
        _, with_transcript, _ = model(**answers, transcript=spoken["text"], transcript_lengths=spoken["text_lengths"])
        _, answers_only, _ = model(**answers)
    for key in ("loss_ctc", "cer_ctc", "loss_interctc"):
        assert torch.equal(with_transcript[key], as_text[key]), key
    assert not torch.equal(answers_only["loss_ctc"], as_text["loss_ctc"])
    assert torch.equal(with_transcript["loss_ce"], answers_only["loss_ce"])


def reference_ce(model, batch, i):
    """Cross-entropy of utterance i alone, the straightforward way: concatenate, run the
    causal LM over everything, score only the positions that predict target tokens."""
    with torch.no_grad():
        hs, hs_len, _, _ = model.encode(batch["speech"][i : i + 1, : batch["speech_lengths"][i]], batch["speech_lengths"][i : i + 1])
    emb = model.decoder.embed
    pre = batch["prefix"][i, : batch["prefix_lengths"][i]]
    post = batch["postfix"][i, : batch["postfix_lengths"][i]]
    text = batch["text"][i, : batch["text_lengths"][i]]
    target = torch.cat([text, torch.tensor([model.decoder.eos_token_id])])
    seq = torch.cat([emb(pre), hs[0, : hs_len[0]], emb(post), emb(target)])[None]
    logits = model.decoder.llm(inputs_embeds=seq).logits[0]
    start = len(pre) + int(hs_len[0]) + len(post)
    pred = logits[start - 1 : start - 1 + len(target)]
    return F.cross_entropy(pred, target, reduction="sum"), len(target)


def test_ce_is_the_token_average_over_targets_only(built):
    args, model = built
    args.model_conf = {}
    model.ctc_weight = 0.0
    model.eval()
    batch = make_batch(args, ITEMS)
    with torch.no_grad():
        _, stats, _ = model(**batch)
        sums, counts = zip(*(reference_ce(model, batch, i) for i in range(3)))
    assert float(stats["loss_ce"]) == pytest.approx(float(sum(sums) / sum(counts)), rel=1e-5)


def test_utterance_alone_equals_utterance_in_padded_batch(built):
    args, model = built
    model.eval()
    model.ctc_weight = 0.0
    batch = make_batch(args, ITEMS)
    alone = make_batch(args, ITEMS[1:2])
    with torch.no_grad():
        hs, hs_len, _, _ = model.encode(batch["speech"], batch["speech_lengths"])
        hs1, hs1_len, _, _ = model.encode(alone["speech"], alone["speech_lengths"])
        assert hs_len[1] == hs1_len[0]
        torch.testing.assert_close(hs[1, : hs_len[1]], hs1[0, : hs1_len[0]], atol=1e-5, rtol=1e-4)
        _, stats1, _ = model(**alone)
        sum1, n1 = reference_ce(model, batch, 1)
    assert float(stats1["loss_ce"]) == pytest.approx(float(sum1 / n1), rel=1e-5)


def test_optimizer_step_changes_only_trainable_weights(tiny_mms_dir, tiny_llm_dir, tmp_path):
    from tiny_model_configs import tiny_model_config

    config = tiny_model_config(tiny_mms_dir, tiny_llm_dir)
    config["decoder_conf"]["lora"] = {"r": 4, "alpha": 8, "dropout": 0.0}
    args = build_args(config, tmp_path)
    torch.manual_seed(0)
    model = BloomzMMSTask.build_model(args)
    for name, p in model.decoder.llm.named_parameters():
        if "lora_B" in name:  # start LoRA away from zero so both factors get gradients
            torch.nn.init.normal_(p, std=0.02)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-2)
    model.train()
    loss, _, _ = model(**make_batch(args, ITEMS))
    loss.backward()
    opt.step()
    after = dict(model.named_parameters())
    frozen = [n for n, p in after.items() if not p.requires_grad]
    assert any(n.startswith("frontend.encoder.") for n in frozen)
    assert any("decoder.llm" in n and "lora" not in n for n in frozen)
    for n in frozen:
        assert torch.equal(before[n], after[n]), n
    changed = {n for n, p in after.items() if p.requires_grad and not torch.equal(before[n], p)}
    assert any("lora_A" in n for n in changed) and any("lora_B" in n for n in changed)
    assert any(n.startswith("encoder.encoders.") for n in changed)
    assert "frontend.layer_weights" in changed


def test_checkpoint_round_trip_gives_identical_outputs(built, tmp_path):
    args, model = built
    model.eval()
    state = model.state_dict()
    assert not any(k.startswith(("frontend.encoder.", "decoder.llm.", "ctc.ctc_lo.")) for k in state)
    config_file = tmp_path / "saved_config.yaml"
    config_file.write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    model_file = tmp_path / "valid.acc.best.pth"
    torch.save(state, model_file)
    reloaded, _ = BloomzMMSTask.build_model_from_file(config_file, model_file)
    reloaded.eval()
    batch = make_batch(args, ITEMS)
    with torch.no_grad():
        _, stats, _ = model(**batch)
        _, stats2, _ = reloaded(**batch)
    for key in stats:
        assert torch.equal(stats[key], stats2[key]), key


def test_init_keeps_pretrained_weights(tiny_config, tmp_path):
    torch.manual_seed(0)
    args = build_args(tiny_config, tmp_path)
    plain = BloomzMMSTask.build_model(args)
    args = build_args(tiny_config, tmp_path)
    args.init = "xavier_uniform"
    initialised = BloomzMMSTask.build_model(args)
    for prefix in ("frontend.encoder.", "decoder.llm."):
        pre = {n: p for n, p in plain.named_parameters() if n.startswith(prefix)}
        post = dict(initialised.named_parameters())
        assert pre and all(torch.equal(p, post[n]) for n, p in pre.items()), prefix
    assert initialised.ctc.ctc_lo.weight is initialised.decoder.input_embeddings.weight


def test_inter_ctc_without_language_list_is_refused(tiny_config, tmp_path):
    tiny_config["lang_list"] = None
    args = build_args(tiny_config, tmp_path)
    with pytest.raises(ValueError, match="lang_list"):
        BloomzMMSTask.build_model(args)


def test_postencoder_width_must_match_llm(tiny_config, tmp_path):
    tiny_config["postencoder_conf"] = {"output_size": 48}
    args = build_args(tiny_config, tmp_path)
    with pytest.raises(ValueError, match="LLM hidden size 32"):
        BloomzMMSTask.build_model(args)


def test_ctc_compression_keeps_one_mean_posterior_embedding_per_token(built):
    """Blank frames dropped, a run of one label merged (a label repeated across a blank
    stays two tokens, as in CTC), each run the mean of its frames' posterior mixtures."""
    _, model = built
    model.speech_input = "ctc_compressed"
    weight = model.decoder.input_embeddings.weight
    vocab, blank = weight.size(0), model.ctc.blank_id
    model.ctc.ctc_lo = torch.nn.Identity()  # hs are the logits: the labels are chosen below
    labels = [
        [blank, 5, 5, blank, 5, 7, 7, blank],  # -> 5 | 5 | 7
        [9, blank, blank, 11, 4, 4, 0, 0],  # 6 frames valid -> 9 | 11 | 4
        [blank, blank, blank, 0, 0, 0, 0, 0],  # no token heard -> one position, all frames
    ]
    lengths = torch.tensor([8, 6, 3])
    torch.manual_seed(1)
    hs = torch.randn(3, 8, vocab) + 12.0 * F.one_hot(torch.tensor(labels), vocab)
    out, out_lengths = model.speech_embeddings(hs, lengths)
    assert out_lengths.tolist() == [3, 3, 1] and out.shape == (3, 3, weight.size(1))
    mix = hs.softmax(-1) @ weight
    expected = {
        0: [mix[0, 1:3].mean(0), mix[0, 4], mix[0, 5:7].mean(0)],
        1: [mix[1, 0], mix[1, 3], mix[1, 4:6].mean(0)],
        2: [mix[2, :3].mean(0)],
    }
    for i, rows in expected.items():
        torch.testing.assert_close(out[i, : len(rows)], torch.stack(rows))


@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_ctc_compressed_input_trains_the_encoder_through_the_llm(built, temperature):
    args, model = built
    model.speech_input = "ctc_compressed"
    model.ctc_temperature = temperature  # 0: hard tokens, straight-through gradients
    model.ctc_weight = 0.0
    batch = make_batch(args, ITEMS)
    model.train()
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss) and "loss_ce" in stats
    loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if n.startswith("postencoder.") and p.requires_grad]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)
    with torch.no_grad():
        hs, hs_len, _, _ = model.encode(batch["speech"], batch["speech_lengths"])
        _, speech_len = model.speech_embeddings(hs, hs_len)
    heard = [len(ids) for ids in model.ctc.greedy_ids(hs, hs_len)]
    assert speech_len.tolist() == [max(n, 1) for n in heard]


def test_unknown_speech_input_is_refused(tiny_config, tmp_path):
    tiny_config["model_conf"]["speech_input"] = "frames"
    args = build_args(tiny_config, tmp_path)
    with pytest.raises(ValueError, match="speech_input must be one of"):
        BloomzMMSTask.build_model(args)
