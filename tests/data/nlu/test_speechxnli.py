"""SpeechXNLI reader: XNLI-1.0's xnli.dev.tsv + sentences_<lang>.txt + audios/<lang>/*.flac."""

import json

import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.data.datadir import validate_data_dir
from espnet2_bloomzmms.data.nlu.speechxnli import prepare_speechxnli

HEADER = ("language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse "
          "sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 label5 sentence1_tokenized "
          "sentence2_tokenized match").split()
EXAMPLES = [  # language, gold_label, premise, hypothesis, pairID
    ("en", "entailment", "It rains.", "The street is wet.", "10"),
    ("en", "contradiction", "It rains.", "It is dry.", "11"),
    ("en", "neutral", "Nobody spoke this.", "So it has no audio.", "12"),
    ("de", "neutral", "Es regnet.", "Die Straße ist nass.", "10"),
    ("fr", "entailment", "Il pleut.", "La rue est mouillée.", "10"),
]
SENTENCES = {"en": ["The street is wet.", "It rains.", "It is dry."], "de": ["Es regnet.", "Die Straße ist nass."]}


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def write_corpus(root):
    """XNLI-1.0/xnli.dev.tsv of EXAMPLES and speechxnli/ with the speech of SENTENCES, under ``root``."""
    rows = ["\t".join(HEADER)]
    for lang, gold, s1, s2, pair in EXAMPLES:
        row = dict.fromkeys(HEADER, "x") | {"language": lang, "gold_label": gold, "sentence1": s1, "sentence2": s2,
                                            "pairID": pair}
        rows.append("\t".join(row[c] for c in HEADER))
    (root / "XNLI-1.0").mkdir()
    (root / "XNLI-1.0" / "xnli.dev.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    speech = root / "speechxnli"
    for lang, sentences in SENTENCES.items():
        (speech / "audios" / lang).mkdir(parents=True)
        (speech / f"sentences_{lang}.txt").write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
        for i in range(len(sentences)):
            rate = 22050 if (lang, i) == ("de", 0) else 16000  # TTS output at another rate gets converted
            noise = np.random.default_rng(i).uniform(-0.1, 0.1, rate // 4)
            soundfile.write(speech / "audios" / lang / f"xnli_validation_{i:04d}.flac", noise, rate)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("speechxnli"))


def test_premise_spoken(corpus, tmp_path):
    out = tmp_path / "speechxnli"
    report = prepare_speechxnli(corpus / "XNLI-1.0" / "xnli.dev.tsv", corpus / "speechxnli", out, ["en", "de"])
    ids = ["speechxnli_de_10-premise", "speechxnli_en_10-premise", "speechxnli_en_11-premise"]
    assert lines(out / "text") == [f"{ids[0]} Maybe", f"{ids[1]} Yes", f"{ids[2]} No"]
    assert lines(out / "transcript") == [f"{ids[0]} Es regnet.", f"{ids[1]} It rains.", f"{ids[2]} It rains."]
    assert lines(out / "utt2lang") == [f"{ids[0]} de", f"{ids[1]} en", f"{ids[2]} en"]
    speech = corpus / "speechxnli" / "audios"
    assert lines(out / "wav.scp") == [f"{ids[0]} {(out / 'wavs' / 'de' / '0000.wav').resolve()}",
                                      f"{ids[1]} {speech / 'en' / 'xnli_validation_0001.flac'}",
                                      f"{ids[2]} {speech / 'en' / 'xnli_validation_0001.flac'}"]
    postfix = [json.loads(line.split(" ", 1)[1]) for line in lines(out / "postfix")]
    assert postfix == [' \n\nQuestion: Does this imply that "Die Straße ist nass."? Yes, no, or maybe?',
                       ' \n\nQuestion: Does this imply that "The street is wet."? Yes, no, or maybe?',
                       ' \n\nQuestion: Does this imply that "It is dry."? Yes, no, or maybe?']
    assert lines(out / "prefix") == [f'{u} ""' for u in ids]
    assert lines(out / "answers") == ["Yes", "Maybe", "No"] and lines(out / "task") == ["xnli"]
    assert validate_data_dir(out, check_audio=True) == 3
    assert report.skipped == {"not_in_subset": 1}  # "Nobody spoke this." has no speech


def test_hypothesis_spoken(corpus, tmp_path):
    out = tmp_path / "h"
    prepare_speechxnli(corpus / "XNLI-1.0" / "xnli.dev.tsv", corpus / "speechxnli", out, ["en"], spoken="hypothesis")
    assert lines(out / "transcript") == ["speechxnli_en_10-hypothesis The street is wet.",
                                         "speechxnli_en_11-hypothesis It is dry."]
    assert json.loads(lines(out / "prefix")[1].split(" ", 1)[1]) == 'It rains. \n\nQuestion: Does this imply that "'


def test_bad_input(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="no SpeechXNLI sentence list for 'fr'"):
        prepare_speechxnli(corpus / "XNLI-1.0" / "xnli.dev.tsv", corpus / "speechxnli", tmp_path, ["fr"])
    with pytest.raises(ValueError, match="spoken must be one of"):
        prepare_speechxnli(corpus / "XNLI-1.0" / "xnli.dev.tsv", corpus / "speechxnli", tmp_path, spoken="both")


def test_both_sentences_spoken(corpus, tmp_path):
    """The authors' setup: premise and hypothesis both speech, the prompt split around them."""
    out = tmp_path / "pairs"
    report = prepare_speechxnli(corpus / "XNLI-1.0" / "xnli.dev.tsv", corpus / "speechxnli", out, ["en", "de"],
                                spoken="all")
    ids = ["speechxnli_de_10-pair", "speechxnli_en_10-pair", "speechxnli_en_11-pair"]
    speech = corpus / "speechxnli" / "audios"
    assert lines(out / "wav.scp") == [f"{ids[0]} {(out / 'wavs' / 'de' / '0000.wav').resolve()}",
                                      f"{ids[1]} {speech / 'en' / 'xnli_validation_0001.flac'}",
                                      f"{ids[2]} {speech / 'en' / 'xnli_validation_0001.flac'}"]
    assert lines(out / "wav2.scp") == [f"{ids[0]} {speech / 'de' / 'xnli_validation_0001.flac'}",
                                       f"{ids[1]} {speech / 'en' / 'xnli_validation_0000.flac'}",
                                       f"{ids[2]} {speech / 'en' / 'xnli_validation_0002.flac'}"]
    assert lines(out / "transcript2") == [f"{ids[0]} Die Straße ist nass.", f"{ids[1]} The street is wet.",
                                          f"{ids[2]} It is dry."]
    values = {name: {json.loads(line.split(" ", 1)[1]) for line in lines(out / name)}
              for name in ("prefix", "middle", "postfix")}
    assert values == {"prefix": {""}, "middle": {' \n\nQuestion: Does this imply that "'},
                      "postfix": {'"? Yes, no, or maybe?'}}
    assert lines(out / "text") == [f"{ids[0]} Maybe", f"{ids[1]} Yes", f"{ids[2]} No"]
    assert validate_data_dir(out, check_audio=True) == 3
    assert report.skipped == {"not_in_subset": 1}
