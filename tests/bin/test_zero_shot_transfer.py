"""Stage 9 and the text baselines: one LLM instance answers speech and text (its LoRA
adapters off for text), on the device asked for, with audio read as training reads it."""

import json

import pytest
import torch
import yaml
from test_inference import write_exp, write_sharp_llm

from espnet2_bloomzmms import text_generation
from espnet2_bloomzmms.bin import zero_shot_transfer
from espnet2_bloomzmms.data.datadir import read_kv
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.text_generation import TextGenerator

TEMPLATES = ("T\trepeat\ttrain\tRepeat the sentence: \t. \nheld\trepeat\theldout\tSay it again: \t\\n\n"
             "know\tfirst_word\ttext\tFirst word of: \t\\n\n")
PROMPTS = [("Repeat the sentence: ", "Das Wetter ist heute schön.", ". "), ("Say: ", "The weather is nice today.", "")]


@pytest.fixture(scope="module")
def sharp_llm(tiny_llm_dir, tmp_path_factory):
    return write_sharp_llm(tiny_llm_dir, tmp_path_factory.mktemp("sharp") / "llm")


def test_zero_shot_reads_piped_audio_and_uses_the_models_llm(espeak_data_dir, tiny_mms_dir, sharp_llm, tmp_path,
                                                              monkeypatch):
    exp = write_exp(tiny_mms_dir, sharp_llm, tmp_path / "exp")
    data = tmp_path / "data"
    data.mkdir()
    wavs = read_kv(espeak_data_dir / "wav.scp")
    (data / "wav.scp").write_text("".join(f"{u} cat {p} |\n" for u, p in wavs.items()))  # pipes, as training takes
    for name in ("text", "utt2lang"):
        (data / name).write_text((espeak_data_dir / name).read_text())
    (tmp_path / "templates.tsv").write_text(TEMPLATES)
    (tmp_path / "languages.tsv").write_text("en\tEnglish\nde\tGerman\n")
    text = read_kv(data / "text")
    expected = TextGenerator.load(str(sharp_llm)).generate(
        [("Say it again: ", text[u], "\n") for u in sorted(text)], 6)

    def no_second_llm(*args, **kwargs):
        raise AssertionError("the text answers must come from the speech model's own LLM")

    monkeypatch.setattr(TextGenerator, "load", no_second_llm)
    summary = zero_shot_transfer.main([
        "--model_dir", str(exp), "--data_dir", str(data), "--templates", str(tmp_path / "templates.tsv"),
        "--languages", str(tmp_path / "languages.tsv"), "--output_dir", str(tmp_path / "out"),
        "--device", "cpu", "--max_new_tokens", "6", "--split", "heldout,text"])
    assert [r["id"] for r in summary["templates"]] == ["held", "know"] and summary["templates"][0]["utterances"] == 6
    assert [r["split"] for r in summary["templates"]] == ["heldout", "text"] and summary["uids"] == sorted(text)
    written = read_kv(tmp_path / "out/held/text", escape=True)
    assert list(written.values()) == [e.strip() for e in expected]
    speech = read_kv(tmp_path / "out/held/speech", escape=True)
    assert sorted(speech) == sorted(text)
    # each utterance's 0/1 agreement, in the order of "uids" (for bootstrap intervals)
    row = summary["templates"][0]
    assert row["agree"] == [int(speech[u] == written[u]) for u in summary["uids"]]
    assert row["agreement"] == sum(row["agree"]) / 6
    assert json.loads((tmp_path / "out/summary.json").read_text()) == summary


def test_lora_models_text_answers_are_the_frozen_base_llms(tiny_mms_dir, sharp_llm, tmp_path):
    exp = write_exp(tiny_mms_dir, sharp_llm, tmp_path / "exp",
                    decoder_conf={"model_name_or_path": str(sharp_llm), "lora": {"r": 4, "alpha": 8}})
    state = torch.load(exp / "valid.acc.ave.pth", weights_only=True)
    gen = torch.Generator().manual_seed(0)
    for name in state:
        if "lora_B" in name:  # trained adapters: not a no-op
            state[name] = torch.randn(state[name].shape, generator=gen)
    torch.save(state, exp / "valid.acc.ave.pth")
    decoder = BloomzMMS.from_pretrained(exp).model.decoder
    answers = ["yes", "no", "German"]
    base = TextGenerator.load(str(sharp_llm)).answer_scores(PROMPTS, answers)
    shared = TextGenerator.from_decoder(decoder)
    assert shared.model is decoder.llm  # no second copy
    torch.testing.assert_close(shared.answer_scores(PROMPTS, answers), base)
    adapted = TextGenerator(decoder.llm, decoder.tokenizer).answer_scores(PROMPTS, answers)
    assert not torch.allclose(adapted, base)  # the adapters do change the answers when on


def test_text_llm_from_a_config_loads_as_the_speech_model_does(tiny_mms_dir, sharp_llm, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"decoder_conf": {
        "model_name_or_path": str(sharp_llm), "dtype": "bfloat16", "lora": {"r": 4, "alpha": 8},
        "gradient_checkpointing": True}}))
    generator = text_generation.TextGenerator.load(config=config, device="cpu")
    assert generator.model.dtype == torch.bfloat16
    assert type(generator.model).__name__ == "BloomForCausalLM"  # the base, without adapters
    assert generator.generate(PROMPTS[:1], 3) == TextGenerator.load(str(sharp_llm), dtype="bfloat16").generate(
        PROMPTS[:1], 3)
    with pytest.raises(FileNotFoundError, match="no file"):
        TextGenerator.load(config=tmp_path / "missing.yaml")
