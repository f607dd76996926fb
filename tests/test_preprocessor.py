"""BloomzMMSPreprocessor: LLM-tokenized targets, JSON instructions, language labels."""

import json

import numpy as np
import pytest

from espnet2_bloomzmms.preprocessor import BloomzMMSPreprocessor

LANGS = ["en", "de", "fr", "es", "ru", "hi", "sw"]


@pytest.fixture(scope="module")
def preprocessor(tiny_llm_dir):
    return BloomzMMSPreprocessor(train=True, tokenizer=str(tiny_llm_dir), lang_list=LANGS)


def _decode(preprocessor, ids) -> str:
    return preprocessor.tokenizer.decode(ids.tolist())


def _speech(n=1600):
    return np.random.default_rng(0).standard_normal(n)


def test_text_round_trips_exactly(preprocessor, sample_texts):
    extras = ["  spaces  around ", "tab\there", "日本語のテキスト", "emoji 🎉 ok", "ÄÖÜ ß"]
    for text in sample_texts + extras:
        out = preprocessor("utt", {"text": text})
        ids = out["text"]
        assert ids.dtype == np.int64 and ids.ndim == 1 and ids.size > 0
        assert _decode(preprocessor, ids) == text
        # No special tokens: the model appends end-of-sequence itself.
        assert not set(ids.tolist()) & {0, 1, 2, 3}


def test_transcript_is_tokenized_like_text(preprocessor):
    out = preprocessor("utt-lang1", {"text": "German", "transcript": "Das Wetter ist heute schön."})
    assert _decode(preprocessor, out["text"]) == "German"
    assert _decode(preprocessor, out["transcript"]) == "Das Wetter ist heute schön."
    assert out["transcript"].dtype == np.int64


def test_speech_is_float32_mono(preprocessor):
    out = preprocessor("utt", {"speech": _speech().astype(np.float64), "text": "Hallo"})
    assert out["speech"].dtype == np.float32 and out["speech"].shape == (1600,)


def test_default_prefix_and_postfix_when_absent(preprocessor, tiny_llm_dir):
    out = preprocessor("utt", {"speech": _speech(), "text": "Hello"})
    assert _decode(preprocessor, out["prefix"]) == "Repeat the sentence: "
    assert _decode(preprocessor, out["postfix"]) == ". "
    assert out["prefix"].dtype == np.int64 and out["postfix"].dtype == np.int64

    custom = BloomzMMSPreprocessor(
        train=False, tokenizer=str(tiny_llm_dir), default_prefix="Translate: ", default_postfix="\n"
    )
    out = custom("utt", {"text": "Hello"})
    assert _decode(custom, out["prefix"]) == "Translate: "
    assert _decode(custom, out["postfix"]) == "\n"


def test_json_prefix_decoded_exactly(preprocessor):
    instruction = "Übersetze den Satz:\nAntwort auf Deutsch: "
    line = json.dumps(instruction, ensure_ascii=False)
    assert "\n" not in line  # one line of the prefix file

    out = preprocessor("utt7", {"text": "Hallo", "prefix": line, "postfix": '" => "'})
    assert _decode(preprocessor, out["prefix"]) == instruction
    assert _decode(preprocessor, out["postfix"]) == " => "
    # As written by hand, with an escaped newline and the trailing space inside quotes.
    out = preprocessor("utt8", {"prefix": '"Line one\\nline two: "'})
    assert _decode(preprocessor, out["prefix"]) == "Line one\nline two: "


@pytest.mark.parametrize("name", ["prefix", "postfix"])
@pytest.mark.parametrize("line", ["Repeat the sentence:", '"unterminated', "42", '["a list"]'])
def test_non_json_string_instruction_line_rejected(preprocessor, name, line):
    with pytest.raises(ValueError, match=rf"utterance utt42: its {name} line is not a JSON string"):
        preprocessor("utt42", {"text": "Hallo", name: line})


def test_language_mapped_to_inter_ctc_label(preprocessor):
    for i, code in enumerate(LANGS):
        out = preprocessor("utt", {"text": "x", "lang": code})
        assert out["lang"].tolist() == [i + 1]  # 0 is the CTC blank
        assert out["lang"].dtype == np.int64


def test_unknown_language_rejected(preprocessor):
    with pytest.raises(ValueError, match=r"utterance utt9: language 'xx' is not in the language list"):
        preprocessor("utt9", {"text": "x", "lang": "xx"})


def test_lang_dropped_without_language_list(tiny_llm_dir):
    pre = BloomzMMSPreprocessor(train=True, tokenizer=str(tiny_llm_dir))
    out = pre("utt", {"text": "Hello", "lang": "en"})
    assert "lang" not in out
    assert "text" in out and "prefix" in out and "postfix" in out


@pytest.mark.parametrize(
    "speech,message",
    [(np.zeros((1600, 2)), "mono"), (np.zeros((0,)), "empty"), (np.zeros((2, 0)), "mono")],
)
def test_bad_speech_rejected(preprocessor, speech, message):
    with pytest.raises(ValueError, match=rf"utterance utt5: speech.*{message}"):
        preprocessor("utt5", {"speech": speech, "text": "Hello"})


def test_whisper_basic_text_cleaner(tiny_llm_dir):
    """The authors' CTC training text: Whisper's basic normaliser, marks removed too."""
    clean = BloomzMMSPreprocessor(train=True, tokenizer=str(tiny_llm_dir), text_cleaner="whisper_basic")
    out = clean("utt", {"text": "Das Wetter ist heute schön!", "transcript": "Where is the nearest train station?"})
    assert _decode(clean, out["text"]) == "das wetter ist heute schön"
    assert _decode(clean, out["transcript"]) == "where is the nearest train station"
    assert _decode(clean, clean("u", {"text": "आज मौसम"})["text"]) == "आज म सम"
    marks = BloomzMMSPreprocessor(train=True, tokenizer=str(tiny_llm_dir), text_cleaner="whisper_basic_keep_marks")
    assert _decode(marks, marks("u", {"text": "आज मौसम।"})["text"]) == "आज मौसम"
    with pytest.raises(ValueError, match="text_cleaner must be one of"):
        BloomzMMSPreprocessor(train=True, tokenizer=str(tiny_llm_dir), text_cleaner="whisper")
