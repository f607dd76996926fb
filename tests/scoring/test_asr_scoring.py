"""CER / WER scoring: hand-computed counts, normalisation, per-language sums, CLI."""

import json

import pytest

from espnet2_bloomzmms.bin import score_asr
from espnet2_bloomzmms.scoring.asr import markdown_table, normalize, score


def _counts(metric: dict) -> tuple:
    return (metric["ref"], metric["substitutions"], metric["deletions"], metric["insertions"])


# ----------------------------------------------------------------------------- normalize


def test_normalize_punctuation_case_brackets_whitespace():
    assert normalize("  Hello,   World!  ") == "hello world"
    assert normalize("It's [noise] (laughs) <unk> fine.") == "it s fine"
    assert normalize("Das Wetter ist schön.") == "das wetter ist schön"


def test_normalize_russian_keeps_cyrillic():
    assert normalize("Сегодня, хорошая погода!") == "сегодня хорошая погода"
    assert normalize("Ёлка — «Привет»") == "ёлка привет"
    # NFKC: decomposed ё (е + U+0308) becomes the composed letter.
    assert normalize("Е\u0308лка") == "ёлка"
    assert normalize("Сегодня, хорошая погода!", keep_marks=False) == "сегодня хорошая погода"


def test_normalize_hindi_keeps_vowel_signs():
    # Danda (।) is punctuation and goes; matras (ौ ा ै) and virama (्) stay.
    assert normalize("आज मौसम अच्छा है।") == "आज मौसम अच्छा है"
    assert normalize("कृपया जो आप सुनते हैं उसे लिखें।") == "कृपया जो आप सुनते हैं उसे लिखें"


def test_normalize_whisper_exact_matches_transformers():
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer

    whisper = BasicTextNormalizer()
    for text in ["आज मौसम अच्छा है।", "Hello, World! (noise)", "Сегодня хорошая погода."]:
        assert normalize(text, keep_marks=False) == " ".join(whisper(text).split())
    # Whisper's own normaliser shatters Hindi words into consonants.
    assert normalize("आज मौसम अच्छा है।", keep_marks=False) == "आज म सम अच छ ह"


# --------------------------------------------------------------------------------- score


def test_substitution():
    r = score({"u": "the cat sat"}, {"u": "the bat sat"})
    assert _counts(r["wer"]) == (3, 1, 0, 0) and r["wer"]["rate"] == pytest.approx(1 / 3)
    assert _counts(r["cer"]) == (11, 1, 0, 0) and r["cer"]["rate"] == pytest.approx(1 / 11)
    assert r["wer"]["correct"] == 2 and r["cer"]["correct"] == 10
    assert r["utterances"] == 1 and r["missing_hypotheses"] == 0 and r["languages"] == {}


def test_deletion():
    r = score({"u": "a b c d"}, {"u": "a b d"})
    assert _counts(r["wer"]) == (4, 0, 1, 0) and r["wer"]["rate"] == pytest.approx(1 / 4)
    # "a b c d" (7 chars) -> "a b d": "c" and one space deleted.
    assert _counts(r["cer"]) == (7, 0, 2, 0) and r["cer"]["rate"] == pytest.approx(2 / 7)


def test_insertion():
    r = score({"u": "hello world"}, {"u": "hello big world"})
    assert _counts(r["wer"]) == (2, 0, 0, 1) and r["wer"]["rate"] == pytest.approx(1 / 2)
    assert _counts(r["cer"]) == (11, 0, 0, 4) and r["cer"]["rate"] == pytest.approx(4 / 11)
    assert r["wer"]["errors"] == 1 and r["cer"]["errors"] == 4


def test_punctuation_and_case_ignored():
    r = score({"u": "Hello, World!"}, {"u": "hello world"})
    assert r["wer"]["rate"] == 0.0 and r["cer"]["rate"] == 0.0


def test_hindi_and_russian():
    refs = {"hi1": "आज मौसम अच्छा है।", "ru1": "Сегодня хорошая погода."}
    hyps = {"hi1": "आज मौसम अच्छी है", "ru1": "сегодня, хорошая погоды"}
    r = score(refs, hyps, {"hi1": "hi", "ru1": "ru"})
    hi, ru = r["languages"]["hi"], r["languages"]["ru"]
    # अच्छा -> अच्छी: one word, one code point (ा -> ी); "आज मौसम अच्छा है" has 16 code points.
    assert _counts(hi["wer"]) == (4, 1, 0, 0) and _counts(hi["cer"]) == (16, 1, 0, 0)
    # погода -> погоды: one word, one letter; "сегодня хорошая погода" has 22 characters.
    assert _counts(ru["wer"]) == (3, 1, 0, 0) and _counts(ru["cer"]) == (22, 1, 0, 0)
    assert r["wer"]["rate"] == pytest.approx(2 / 7) and r["cer"]["rate"] == pytest.approx(2 / 38)
    # Whisper's exact normaliser splits the Hindi words: many more "words".
    exact = score(refs, hyps, {"hi1": "hi", "ru1": "ru"}, keep_marks=False)
    assert exact["languages"]["hi"]["wer"]["ref"] == 6  # "आज म सम अच छ ह"


def test_corpus_level_per_language_aggregation():
    refs = {"en1": "a b c d e f g h i j", "en2": "x y", "de1": "eins zwei"}
    hyps = {"en1": "a b c d e f g h i k", "en2": "x", "de1": "eins zwei"}
    langs = {"en1": "en", "en2": "en", "de1": "de"}
    r = score(refs, hyps, langs)
    en = r["languages"]["en"]
    assert en["utterances"] == 2
    assert _counts(en["wer"]) == (12, 1, 1, 0)
    # total edits / total words = 2/12, not the mean of 1/10 and 1/2 (0.3).
    assert en["wer"]["rate"] == pytest.approx(2 / 12)
    assert r["languages"]["de"]["wer"]["rate"] == 0.0
    assert _counts(r["wer"]) == (14, 1, 1, 0) and r["wer"]["rate"] == pytest.approx(2 / 14)
    assert list(r["languages"]) == ["de", "en"]
    # overall counts are the sums of the per-language counts
    for metric in ("wer", "cer"):
        for key in ("ref", "correct", "substitutions", "deletions", "insertions"):
            assert r[metric][key] == sum(g[metric][key] for g in r["languages"].values())


def test_missing_hypotheses_count_as_empty():
    refs = {"a": "one two", "b": "three", "c": "four five six", "d": "seven"}
    r = score(refs, {"a": "one two"}, {"a": "x", "b": "x", "c": "y", "d": "y"})
    assert r["missing_hypotheses"] == 3 and r["missing_hypothesis_ids"] == ["b", "c", "d"]
    assert _counts(r["wer"]) == (7, 0, 5, 0)
    assert r["languages"]["x"]["missing_hypotheses"] == 1
    assert r["languages"]["y"]["missing_hypotheses"] == 2
    assert r["utterances"] == 4


def test_unknown_hypotheses_are_an_error():
    with pytest.raises(ValueError, match=r"2 hypotheses .*ghost1, ghost2"):
        score({"a": "x"}, {"a": "x", "ghost1": "y", "ghost2": "z"})


def test_missing_language_is_an_error():
    with pytest.raises(ValueError, match=r"no language .*\bb\b"):
        score({"a": "x", "b": "y"}, {"a": "x", "b": "y"}, {"a": "en"})


def test_empty_reference_is_skipped_and_counted():
    r = score({"a": "[noise]", "b": "...", "c": "ok"}, {"a": "something", "c": "ok"})
    assert r["empty_references"] == 2 and r["empty_reference_ids"] == ["a", "b"]
    assert r["utterances"] == 1 and r["wer"]["ref"] == 1 and r["wer"]["rate"] == 0.0
    assert r["missing_hypotheses"] == 1  # b
    only_empty = score({"a": "!!"}, {"a": "x"})
    assert only_empty["wer"]["rate"] is None and only_empty["cer"]["rate"] is None


def test_markdown_table():
    a = score({"e": "a b", "h": "आज"}, {"e": "a c", "h": "आज"}, {"e": "en", "h": "hi"})
    b = score({"e": "a b"}, {"e": "a b"}, {"e": "en"})
    table = markdown_table({"decode_a": a, "decode|b": b})
    lines = table.splitlines()
    assert "### CER (%)" in lines and "### WER (%)" in lines
    assert "| system | en | hi | all |" in lines
    assert "| decode_a | 50.00 | 0.00 | 33.33 |" in lines  # WER: 1 of 2, 0 of 1, 1 of 3
    assert "| decode\\|b | 0.00 | – | 0.00 |" in lines
    # every table row has as many cells as its header
    for block in table.split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        assert len({ln.replace("\\|", "").count("|") for ln in rows}) <= 1
    only_en = markdown_table({"decode_a": a}, languages=["en"])
    assert "| system | en | all |" in only_en.splitlines()
    # JSON round trip (what the CLI writes) gives the same table
    assert markdown_table(json.loads(json.dumps({"decode_a": a}))) == markdown_table(
        {"decode_a": a}
    )


# ----------------------------------------------------------------------------------- CLI


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def test_cli(tmp_path, capsys, caplog):
    data, decode = tmp_path / "data" / "test", tmp_path / "exp" / "decode_test"
    _write(data / "text", ["hi1 आज मौसम अच्छा है।", "ru1 Сегодня хорошая погода.", "ru2 Да."])
    _write(data / "utt2lang", ["hi1 hi", "ru1 ru", "ru2 ru"])
    _write(decode / "text", ["hi1 आज मौसम अच्छी है", "ru1 сегодня хорошая погода"])
    out = decode / "score.json"
    score_asr.main(
        ["--ref", str(data / "text"), "--hyp", str(decode / "text"),
         "--utt2lang", str(data / "utt2lang"), "--output", str(out)]
    )
    printed = capsys.readouterr().out
    assert "| system | hi | ru | all |" in printed
    # WER: hi 1/4, ru 1/4 (ru2 "да" missing), all 2/8
    assert "| decode_test | 25.00 | 25.00 | 25.00 |" in printed
    assert "1 utterances have no hypothesis" in caplog.text and "ru2" in caplog.text
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["name"] == "decode_test" and record["missing_hypothesis_ids"] == ["ru2"]
    assert record["wer"]["rate"] == pytest.approx(2 / 8)
    assert record["languages"]["hi"]["cer"]["rate"] == pytest.approx(1 / 16)
    assert not [p for p in decode.iterdir() if p.name.endswith(".tmp")]

    # --name, no utt2lang
    score_asr.main(["--ref", str(data / "text"), "--hyp", str(decode / "text"),
                    "--name", "my system", "--output", str(out)])
    assert "| system | all |" in capsys.readouterr().out
    assert json.loads(out.read_text(encoding="utf-8"))["languages"] == {}


def test_cli_errors(tmp_path, capsys):
    _write(tmp_path / "ref", ["a x"])
    _write(tmp_path / "hyp", ["a x", "zz y"])
    with pytest.raises(SystemExit) as e:
        score_asr.main(["--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                        "--output", str(tmp_path / "s.json")])
    assert e.value.code == 2 and "zz" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        score_asr.main(["--ref", str(tmp_path / "nope"), "--hyp", str(tmp_path / "hyp"),
                        "--output", str(tmp_path / "s.json")])
    assert "file is missing" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
