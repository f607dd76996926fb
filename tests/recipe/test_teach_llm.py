"""The recipe's LLM-teaching stage: answers, data parsing, and a few-step run end to end."""

import json
import re

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom
from mini_recipe_scripts import RECIPE, load_local_script

DATA = RECIPE / "local" / "data"
tl = load_local_script("teach_llm")
HELD_OUT_TASKS = {"second_word", "language"}  # split `text` of instructions.tsv: taught on text only


@pytest.mark.parametrize(
    "sentence, lang, expected",
    [
        (
            "¿Dónde está la estación de tren?", "Spanish",
            {"first_word": "Dónde", "second_word": "está", "last_word": "tren", "count_words": "six",
             "uppercase": "¿DÓNDE ESTÁ LA ESTACIÓN DE TREN?"},
        ),
        (
            "होली पर बच्चे रंगों से खेलते हैं.", "Hindi",
            {"first_word": "होली", "second_word": "पर", "last_word": "हैं", "count_words": "seven",
             "uppercase": "होली पर बच्चे रंगों से खेलते हैं."},
        ),
        (
            "На Новый год мы наряжаем ёлку.", "Russian",
            {"first_word": "На", "last_word": "ёлку", "count_words": "six",
             "uppercase": "НА НОВЫЙ ГОД МЫ НАРЯЖАЕМ ЁЛКУ."},
        ),
        (
            "Peux-tu fermer la fenêtre, s'il te plaît?", "French",
            {"first_word": "Peux-tu", "second_word": "fermer", "last_word": "plaît", "count_words": "seven",
             "uppercase": "PEUX-TU FERMER LA FENÊTRE, S'IL TE PLAÎT?"},
        ),
        (
            "Die Straße ist groß.", "German",
            {"first_word": "Die", "last_word": "groß", "count_words": "four",
             "uppercase": "DIE STRASSE IST GROSS."},
        ),
        (
            "The cat is sleeping on the warm chair.", "English",
            {"first_word": "The", "last_word": "chair", "count_words": "eight",
             "uppercase": "THE CAT IS SLEEPING ON THE WARM CHAIR."},
        ),
    ],
)
def test_answer(sentence, lang, expected):
    assert tl.answer("repeat", sentence, lang) == sentence
    assert tl.answer("language", sentence, lang) == lang
    for task, value in expected.items():
        assert tl.answer(task, sentence, lang) == value, task


def test_answer_edge_cases():
    assert tl.answer("last_word", "Où est la gare ?", "French") == "gare"  # lone "?" is no word
    assert tl.answer("count_words", "Où est la gare ?", "French") == "five"  # whitespace tokens
    assert tl.answer("first_word", "«Bonjour», dit-il.", "French") == "Bonjour"
    assert [tl.number_word(n) for n in (1, 9, 13, 20, 21, 40)] == [
        "one", "nine", "thirteen", "twenty", "twenty-one", "forty"]
    with pytest.raises(ValueError):
        tl.answer("translate", "Hola.", "Spanish")


def test_data_files():
    langs = tl.load_languages(DATA)
    assert langs["es"] == "Spanish" and len(langs) == 7
    templates = {t.id: t for t in tl.load_templates(DATA)}
    assert templates["T"].prefix == "Repeat the sentence: " and templates["T"].postfix == ". "
    assert templates["rep1"].render("German") == ("A text in German: ", "\nThe same text, word for word:")
    assert {t.task for t in templates.values() if t.split == "heldout"} == set(tl.TASKS)
    # the held-out tasks: taught on text only, so no speech training set (split train) has them
    assert {t.task for t in templates.values() if t.split == "text"} == HELD_OUT_TASKS
    assert not [t for t in templates.values() if t.task in HELD_OUT_TASKS and t.split == "train"]
    split = tl.split_sentences(tl.load_sentences(DATA, "en"), 20, 20)
    assert [len(split[k]) for k in ("train", "dev", "test")] == [200, 20, 20]


def test_synthetic_sentences():
    import random

    sentences = {c: tl.load_sentences(DATA, c)[:200] for c in ("es", "hi")}
    synth = tl.SyntheticSentences(sentences, novel_words=0.3)
    rng_a, rng_b = random.Random(0), random.Random(0)
    made = [synth(rng_a, "es") for _ in range(50)]
    assert made == [synth(rng_b, "es") for _ in range(50)]  # seeded
    assert len(set(made)) == 50 and not set(made) & set(sentences["es"])  # new sentences
    rng = random.Random(1)
    for lang in sentences:
        for _ in range(100):
            s = synth(rng, lang)
            assert 4 <= len(s.split()) <= 9 and s[-1] in ".?", s
            for task in tl.TASKS:
                assert tl.answer(task, s, "X")  # every task has an answer


def test_tokenizer_text_has_no_dev_or_test_sentence():
    texts = set(tl.tokenizer_texts(DATA, 20, 20))
    for code in tl.load_languages(DATA):
        split = tl.split_sentences(tl.load_sentences(DATA, code), 20, 20)
        assert set(split["train"]) <= texts
        assert not (set(split["dev"]) | set(split["test"])) & texts, code
        assert not {s.upper() for s in split["test"]} - {s.upper() for s in split["train"]} & texts


def test_perturb_speech_noises_only_the_sentence():
    """Noise level 0 leaves an embedding as it is; a level s moves it by about s * rms(E)
    per dimension, reproducibly for a seeded generator."""
    torch.manual_seed(0)
    weight = torch.randn(50, 16)
    ids = torch.randint(0, 50, (2, 10))
    embeds = weight[ids]
    noise = torch.zeros(2, 10)
    noise[0, 3:7] = 0.5
    out = tl.perturb_speech(embeds, noise, weight, torch.Generator().manual_seed(1))
    again = tl.perturb_speech(embeds, noise, weight, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    changed = (out - embeds).abs().sum(-1) > 0
    assert changed[0, 3:7].all() and not changed[0, :3].any() and not changed[0, 7:].any() and not changed[1].any()
    moved = (out[0, 3:7] - embeds[0, 3:7]).pow(2).mean().sqrt() / weight.pow(2).mean().sqrt()
    assert 0.3 < float(moved) < 1.0


def test_perturb_speech_offset_is_shared_by_a_sentence():
    """With ``offset``, every position of a noisy sentence moves by one more vector (the
    same along the sentence, scaled by its level); other positions stay as they were."""
    torch.manual_seed(0)
    weight = torch.randn(50, 16)
    embeds = weight[torch.randint(0, 50, (2, 10))]
    noise = torch.zeros(2, 10)
    noise[0, 2:8] = 0.5
    noise[1, 1:4] = 1.0
    plain = tl.perturb_speech(embeds, noise, weight, torch.Generator().manual_seed(1))
    shifted = tl.perturb_speech(embeds, noise, weight, torch.Generator().manual_seed(1), offset=2.0)
    extra = shifted - plain
    assert torch.allclose(extra[0, 2:8], extra[0, 2:3].expand(6, -1)) and extra[0, 2].norm() > 0
    assert torch.allclose(extra[1, 1:4], extra[1, 1:2].expand(3, -1)) and not torch.allclose(extra[0, 2], extra[1, 1])
    assert extra[0, :2].abs().sum() == 0 and extra[0, 8:].abs().sum() == 0 and extra[1, 4:].abs().sum() == 0


def test_speech_phase_keeps_the_embeddings(tmp_path):
    """A later phase (``--freeze_embeddings``, speech timing, shared offset) changes the
    transformer but not the token embeddings that a tied CTC head is trained against."""
    llm_dir = write_tiny_bloom(
        tmp_path / "tiny", tl.tokenizer_texts(DATA, 2, 200), vocab_size=400, hidden_size=32, n_layer=1, n_head=2
    )
    out_dir = tmp_path / "taught"
    tl.main(["--llm_dir", str(llm_dir), "--data_dir", str(DATA), "--output_dir", str(out_dir),
             "--langs", "de", "--n_dev", "2", "--n_test", "200", "--steps", "5", "--batch_size", "8",
             "--max_new_tokens", "4", "--max_dev", "4", "--ctc_shape", "1.0", "--ctc_timing", "speech",
             "--speech_noise", "1.8", "--speech_offset", "1.0", "--freeze_embeddings"])
    before = AutoModelForCausalLM.from_pretrained(llm_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(out_dir).state_dict()
    assert torch.equal(before["transformer.word_embeddings.weight"], after["transformer.word_embeddings.weight"])
    assert not torch.equal(before["transformer.h.0.mlp.dense_4h_to_h.weight"], after["transformer.h.0.mlp.dense_4h_to_h.weight"])


def test_main_few_steps(tmp_path, capsys):
    llm_dir = write_tiny_bloom(
        tmp_path / "tiny", tl.tokenizer_texts(DATA, 2, 200), vocab_size=400, hidden_size=32, n_layer=1, n_head=2
    )
    out_dir = tmp_path / "taught"
    result = tl.main([
        "--llm_dir", str(llm_dir), "--data_dir", str(DATA), "--output_dir", str(out_dir),
        "--langs", "es", "hi", "ru", "--n_dev", "2", "--n_test", "200", "--steps", "40",
        "--batch_size", "16", "--lr", "1e-2", "--log_every", "10", "--max_new_tokens", "6",
        "--synthetic", "0.5", "--novel_words", "0.3", "--random_copy", "0.1",
        "--mix_templates", "0.2", "--ctc_shape", "0.3", "--speech_noise", "0.5",
    ])
    logged = capsys.readouterr().out

    losses = [float(x) for x in re.findall(r"step +\d+/40 loss ([0-9.]+)", logged)]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.5, logged

    model = AutoModelForCausalLM.from_pretrained(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    assert model.config.hidden_size == 32 and tokenizer.eos_token_id == 2
    text = "¿Dónde está la estación de tren?"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text

    saved = json.loads((out_dir / "eval.json").read_text(encoding="utf-8"))
    assert saved["tasks"] == result["tasks"]
    assert set(saved["tasks"]) == set(tl.TASKS)
    for task, row in saved["tasks"].items():
        assert {"text" if task in HELD_OUT_TASKS else "train", "heldout"} <= set(row), task
        assert all(0.0 <= cell["accuracy"] <= 1.0 and cell["n"] > 0 for cell in row.values())
    assert saved["tasks"]["repeat"]["T"]["n"] == 3 * 2
    assert set(saved["ctc_shaped"]["tasks"]) == set(tl.TASKS)  # the same dev set, sentences in CTC shape
    config = json.loads((out_dir / "teach_config.json").read_text(encoding="utf-8"))
    assert config["steps"] == 40 and config["steps_done"] == 40 and config["seed"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # temp dirs gone


def test_encode_prompt_tokenizes_segments_apart(tiny_llm_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llm_dir)
    ids = tl.encode_prompt(tokenizer, "Repeat the sentence: ", "Hace buen tiempo hoy.", ". ")
    parts = [tokenizer(s, add_special_tokens=False)["input_ids"]
             for s in ("Repeat the sentence: ", "Hace buen tiempo hoy.", ". ")]
    assert ids == parts[0] + parts[1] + parts[2]


@pytest.mark.parametrize("timing", ["regular", "speech"])
def test_ctc_shaped_collapses_back_to_the_sentence(tiny_llm_dir, timing):
    """Removing blanks and merging repeats (CTC's rule) gives the sentence's tokens back;
    prefix and postfix are untouched; ~4.6 positions a token, as 50 frames/s speech has
    (``speech`` timing: also tokens with no blank between them, and pauses)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_llm_dir)
    enc = tl.SegmentEncoder(tokenizer)
    template = tl.Template("T", "repeat", "train", "Repeat the sentence: ", ". ")
    example = tl.make_example(enc, 2, "es", "Spanish", template, "Hace buen tiempo hoy, ¿verdad?")
    a, b = example.sentence_span
    assert example.prompt_ids[a:b] == enc("Hace buen tiempo hoy, ¿verdad?")
    rng, ratios, gaps = __import__("random").Random(0), [], []
    for _ in range(200):
        shaped = tl.ctc_shaped(example, rng, blank_id=2, timing=timing)
        sa, sb = shaped.sentence_span
        assert shaped.prompt_ids[:sa] == example.prompt_ids[:a] and shaped.prompt_ids[sb:] == example.prompt_ids[b:]
        body = shaped.prompt_ids[sa:sb]
        collapsed = [t for i, t in enumerate(body) if t != 2 and (i == 0 or body[i - 1] != t)]
        assert collapsed == example.prompt_ids[a:b]
        assert shaped.answer_ids == example.answer_ids
        ratios.append(len(body) / (b - a))
        tokens = [i for i, t in enumerate(body) if t != 2]
        gaps += [j - i - 1 for i, j in zip(tokens, tokens[1:]) if body[i] != body[j]]
    assert 4.0 < sum(ratios) / len(ratios) < 5.5
    # equal neighbours keep a blank between them (CTC would merge them otherwise)
    doubled = tl.Example("de", "T", "repeat", "train", "", "", [5, 6, 7, 7, 6, 8], [9, 2], sentence_span=(1, 5))
    for _ in range(200):
        shaped = tl.ctc_shaped(doubled, rng, blank_id=2, timing=timing)
        body = shaped.prompt_ids[shaped.sentence_span[0] : shaped.sentence_span[1]]
        assert [t for i, t in enumerate(body) if t != 2 and (i == 0 or body[i - 1] != t)] == [6, 7, 7, 6]
    share = {"none": sum(g == 0 for g in gaps) / len(gaps), "pause": sum(g > 6 for g in gaps) / len(gaps)}
    if timing == "regular":
        assert share == {"none": 0.0, "pause": 0.0}
    else:  # one in five tokens straight after the last, one gap in twelve a pause
        assert 0.12 < share["none"] < 0.25 and 0.05 < share["pause"] < 0.12, share


def _stream(llm_dir, shape_tasks: str):
    """The training example stream of two languages, every example offered for CTC shape."""
    tokenizer = AutoTokenizer.from_pretrained(llm_dir)
    args = tl.get_parser().parse_args(["--llm_dir", str(llm_dir), "--output_dir", "unused", "--ctc_shape", "1.0",
                                       "--ctc_shape_tasks", shape_tasks, "--random_copy", "0.1"])
    langs = {c: n for c, n in tl.load_languages(DATA).items() if c in ("de", "es")}
    splits = {c: tl.split_sentences(tl.load_sentences(DATA, c), 2, 200) for c in langs}
    train_tmpl = [t for t in tl.load_templates(DATA) if t.split in ("train", "text")]
    enc, blank = tl.SegmentEncoder(tokenizer), tokenizer.eos_token_id
    train = tl.build_examples(enc, blank, langs, {c: s["train"] for c, s in splits.items()}, train_tmpl)
    return tl.example_stream(args, enc, blank, langs, splits, train, train_tmpl, blank), blank


@pytest.mark.parametrize("shape_tasks, shaped_tasks", [("", set(tl.TASKS)), ("repeat", {"repeat"})])
def test_ctc_shape_tasks_limits_which_examples_are_shaped(tiny_llm_dir, shape_tasks, shaped_tasks):
    """``--ctc_shape_tasks repeat``: only the ASR task's sentences (token copies included)
    come in CTC shape; the other tasks stay text."""
    stream, blank = _stream(tiny_llm_dir, shape_tasks)
    seen = {}
    for _ in range(300):
        e = stream()
        a, b = e.sentence_span
        seen.setdefault(e.task, set()).add(blank in e.prompt_ids[a:b])  # CTC shape: blanks between tokens
    assert set(seen) == set(tl.TASKS)
    assert {t for t, kinds in seen.items() if kinds == {True}} == shaped_tasks
    assert all(kinds == {False} for t, kinds in seen.items() if t not in shaped_tasks)


def test_ctc_shape_tasks_naming_every_task_is_the_default(tiny_llm_dir):
    """Without the option every task may be shaped, drawn exactly as with all tasks named."""
    (stream, blank), (named, _) = _stream(tiny_llm_dir, ""), _stream(tiny_llm_dir, ",".join(tl.TASKS))
    drawn = [stream() for _ in range(100)]
    assert drawn == [named() for _ in range(100)]
    assert any(e.task != "repeat" and blank in e.prompt_ids[slice(*e.sentence_span)] for e in drawn)


def test_ctc_shape_tasks_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="translate"):
        tl.parse_tasks("repeat,translate")
