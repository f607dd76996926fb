"""Text baselines end to end on the tiny LLM: gold transcript and cascade, free and constrained."""

import pytest
import torch
import yaml

from espnet2_bloomzmms.bin import score_nlu, text_baselines
from espnet2_bloomzmms.data.datadir import read_kv, write_data_dir, write_kv
from espnet2_bloomzmms.text_generation import TextGenerator

ANSWERS = ["yes", "no"]  # rte's label words
MULTI_TOKEN = ["yes", "no", "not confident", "very confident"]
SPOKEN = {"u1": "The weather is nice today.", "u2": "Where is the nearest train station?",
          "u3": "Das Wetter ist heute schön."}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("baselines") / "data"
    write_data_dir(d, {u: {"wav": f"/audio/{u}.wav", "text": "no" if u == "u2" else "yes", "prefix": 'Does the claim "' if u != "u3" else "",
                           "postfix": '" hold? Please answer either yes or no.'} for u in SPOKEN})
    write_kv(d / "transcript", SPOKEN)
    write_kv(d / "asr", {u: t.lower().rstrip(".?") for u, t in SPOKEN.items()})
    (d / "answers").write_text("".join(a + "\n" for a in ANSWERS), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def generator(tiny_llm_dir):
    return TextGenerator.load(str(tiny_llm_dir))


def prompts(data_dir, texts):
    pre, post = read_kv(data_dir / "prefix"), read_kv(data_dir / "postfix")
    return [(pre[u], texts[u], post[u]) for u in SPOKEN]


def reference_scores(generator, prompt, answers):
    """Each answer scored alone, unpadded: sum of log p of its tokens and EOS."""
    out = []
    for answer in answers:
        ids = generator.tokenize(prompt)
        cand = generator.tokenize(answer) + [generator.tokenizer.eos_token_id]
        with torch.no_grad():
            logits = generator.model(input_ids=torch.tensor([ids + cand])).logits[0]
        logp = torch.log_softmax(logits.float(), -1)
        out.append(sum(logp[len(ids) - 1 + j, t].item() for j, t in enumerate(cand)))
    return out


def test_constrained_answers_score_like_the_speech_decoder(data_dir, generator):
    ps = prompts(data_dir, SPOKEN)
    ps = ps + ps[::-1]  # equal-length prompts share a forward pass
    scores = generator.answer_scores(ps, MULTI_TOKEN, batch_size=2)
    expected = torch.tensor([reference_scores(generator, p, MULTI_TOKEN) for p in ps])
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=1e-4)


def test_gold_and_cascade_with_answers(data_dir, tiny_llm_dir, generator, tmp_path):
    config = tmp_path / "config.yaml"  # the speech model's training config names the LLM
    config.write_text(yaml.safe_dump({"decoder_conf": {"model_name_or_path": str(tiny_llm_dir)}}), encoding="utf-8")
    out = tmp_path / "baselines"
    written = text_baselines.main(["--config", str(config), "--data_dir", str(data_dir), "--output_dir", str(out),
                                   "--text", f"gold={data_dir / 'transcript'}", "--text", f"cascade={data_dir / 'asr'}",
                                   "--answers", str(data_dir / "answers"), "--batch_size", "2"])
    assert written == {"gold": out / "gold" / "text", "cascade": out / "cascade" / "text"}
    asr = read_kv(data_dir / "asr")
    for name, texts in (("gold", SPOKEN), ("cascade", asr)):
        expected = generator.choose(prompts(data_dir, texts), ANSWERS)
        assert read_kv(out / name / "text") == dict(zip(SPOKEN, expected))
    # the baseline decode dir scores like a speech decode
    record = score_nlu.main(["--task", "rte", "--ref", str(data_dir / "text"), "--hyp", str(out / "gold" / "text")])
    gold = read_kv(data_dir / "text")
    assert record["metrics"]["accuracy"] == pytest.approx(
        sum(a == gold[u] for u, a in read_kv(out / "gold" / "text").items()) / 3)
    assert record["behaviour"]["instruction_following"]["rate"] == 1.0


def test_free_generation_with_one_instruction(data_dir, tiny_llm_dir, generator, tmp_path):
    out = tmp_path / "free"
    text_baselines.main(["--llm", str(tiny_llm_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
                         "--text", f"gold={data_dir / 'transcript'}", "--prefix", "Repeat the sentence: ",
                         "--postfix", ". ", "--max_new_tokens", "5"])
    expected = generator.generate([("Repeat the sentence: ", SPOKEN[u], ". ") for u in SPOKEN], 5)
    assert read_kv(out / "gold" / "text") == {u: " ".join(e.split()) for u, e in zip(SPOKEN, expected)}


def test_bad_input(data_dir, tiny_llm_dir, tmp_path, capsys):
    base = ["--data_dir", str(data_dir), "--output_dir", str(tmp_path)]
    partial = tmp_path / "partial"
    write_kv(partial, {"u1": "only one"})
    cases = [
        (["--llm", str(tiny_llm_dir), "--text", f"asr={partial}"], "no text for 2 of 3 utterances (u2, u3)"),
        (["--llm", "x", "--config", "y", "--text", f"g={partial}"], "either --config"),
        (["--llm", str(tiny_llm_dir), "--text", str(partial)], "expected NAME=FILE"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit):
            text_baselines.main(base + args)
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="prompts \\[0\\] are empty"):
        TextGenerator.load(str(tiny_llm_dir)).answer_scores([("", "", "")], ANSWERS)


def test_sentence_pairs_give_both_texts(data_dir, tiny_llm_dir, generator, tmp_path, monkeypatch):
    """A data dir of spoken sentence pairs (middle): prefix + text + middle + text2 + postfix."""
    import shutil

    pairs = tmp_path / "pairs"
    shutil.copytree(data_dir, pairs)
    second = {u: f"It is {u}." for u in SPOKEN}
    write_kv(pairs / "transcript2", second)
    write_kv(pairs / "middle", {u: '" follow from "' for u in SPOKEN})
    cmd = ["--llm", str(tiny_llm_dir), "--data_dir", str(pairs), "--output_dir", str(tmp_path / "out"),
           "--text", f"gold={pairs / 'transcript'}", "--max_new_tokens", "8"]
    with pytest.raises(SystemExit):
        text_baselines.main(cmd)  # the second sentence's text is missing
    text_baselines.main(cmd + ["--text2", f"gold={pairs / 'transcript2'}"])
    pre, mid, post = (read_kv(pairs / n) for n in ("prefix", "middle", "postfix"))
    given = [(pre[u], SPOKEN[u], mid[u], second[u], post[u]) for u in SPOKEN]
    expected = generator.generate(given, 8)
    assert read_kv(tmp_path / "out" / "gold" / "text") == {u: " ".join(e.split()) for u, e in zip(SPOKEN, expected)}
    seen = []
    real = TextGenerator.generate
    monkeypatch.setattr(TextGenerator, "generate", lambda self, prompts, *a: (seen.extend(prompts), real(self, prompts, *a))[1])
    text_baselines.main(cmd + ["--text2", f"gold={pairs / 'transcript2'}"])
    assert seen == given  # the prompts, segment by segment
