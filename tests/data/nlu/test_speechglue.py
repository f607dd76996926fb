"""SpeechGLUE reader on a fixture tree in the layout SpeechGLUE's data_prep.py writes."""

import csv
import json

import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.data.datadir import validate_data_dir
from espnet2_bloomzmms.data.nlu.speechglue import prepare_speechglue

RTE = [  # sentence1, sentence2, label, idx
    ('the cat sat on the mat, quietly.', 'a cat sat "somewhere".', 0, 0),
    ("it rains in spain.", "spain is dry.", 1, 1),
    ("no audio for this one.", "missing.", 0, 2),
]
STSB = [("a man plays a guitar.", "a man plays music.", 3.8, 0), ("a dog runs.", "the sky is blue.", 0.0, 1)]


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def instructions(path):
    """(uttid, instruction) per line of a prefix/postfix file (values are JSON strings)."""
    return [(u, json.loads(v)) for u, v in (line.split(" ", 1) for line in lines(path))]


def write_task(root, task, split, fields, rows, with_audio=lambda idx: True):
    base = root / task / split
    base.mkdir(parents=True)
    with open(base / "data.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([*fields, "label", "idx", *[f"file_{k}" for k in fields], *[f"length_{k}" for k in fields]])
        for *texts, label, idx in rows:
            # data.csv holds the absolute paths of the machine that ran the TTS
            w.writerow([*texts, label, idx, *[f"/gone/dump/{task}/{split}/{k}/0/{idx}.wav" for k in fields], 4800, 4800])
            for k in fields:
                if with_audio(idx):
                    wav = base / k / "0" / f"{idx}.wav"
                    wav.parent.mkdir(parents=True, exist_ok=True)
                    soundfile.write(wav, np.random.default_rng(idx).uniform(-0.1, 0.1, 4800), 16000, subtype="PCM_16")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("speechglue")
    write_task(root, "rte", "validation", ["sentence1", "sentence2"], RTE, with_audio=lambda idx: idx != 2)
    write_task(root, "stsb", "validation", ["sentence1", "sentence2"], STSB)
    write_task(root, "mnli", "validation_mismatched", ["premise", "hypothesis"], [("he left.", "he is gone.", 0, 7)])
    write_task(root, "cola", "test", ["sentence"], [("hidden label.", -1, 0)])
    return root


def test_rte_first_sentence_spoken(root, tmp_path):
    out = tmp_path / "rte"
    report = prepare_speechglue(root, "rte", out)
    ids = ["speechglue_en_rte_0-sentence1", "speechglue_en_rte_1-sentence1"]
    assert lines(out / "text") == [f"{ids[0]} yes", f"{ids[1]} no"]
    assert lines(out / "transcript") == [f"{ids[0]} the cat sat on the mat, quietly.", f"{ids[1]} it rains in spain."]
    assert instructions(out / "prefix") == [
        (ids[0], 'Does the claim "a cat sat "somewhere"." follow from the fact that "'),
        (ids[1], 'Does the claim "spain is dry." follow from the fact that "'),
    ]
    assert instructions(out / "postfix") == [(u, '"? Please answer either yes or no.') for u in ids]
    assert lines(out / "wav.scp") == [f"{u} {root / 'rte' / 'validation' / 'sentence1' / '0' / f'{i}.wav'}"
                                      for i, u in enumerate(ids)]
    assert lines(out / "utt2lang") == [f"{u} en" for u in ids]
    assert lines(out / "answers") == ["yes", "no"] and lines(out / "task") == ["rte"]
    assert validate_data_dir(out, check_audio=True) == 2
    assert report.skipped == {"missing_audio": 1}


def test_second_sentence_spoken_stsb_scores(root, tmp_path):
    out = tmp_path / "stsb"
    prepare_speechglue(root, "stsb", out, spoken="second")
    ids = ["speechglue_en_stsb_0-sentence2", "speechglue_en_stsb_1-sentence2"]
    assert lines(out / "text") == [f"{ids[0]} 3.8", f"{ids[1]} 0"]
    assert lines(out / "transcript") == [f"{ids[0]} a man plays music.", f"{ids[1]} the sky is blue."]
    assert instructions(out / "prefix")[0] == (
        ids[0], "I need to know how similar these two passages are:\n- a man plays a guitar.\n- ")
    assert lines(out / "answers")[0] == "0.0" and len(lines(out / "answers")) == 11


def test_mnli_mismatched_reads_its_split(root, tmp_path):
    prepare_speechglue(root, "mnli_mismatched", tmp_path / "m", spoken="hypothesis")
    assert lines(tmp_path / "m" / "text") == ["speechglue_en_mnli_mismatched_7-hypothesis Yes"]


def test_bad_input(root, tmp_path):
    with pytest.raises(ValueError, match=r"cola/test/data.csv:2: .*GLUE test labels are hidden"):
        prepare_speechglue(root, "cola", tmp_path / "c", split="test")
    with pytest.raises(FileNotFoundError, match="no SpeechGLUE data"):
        prepare_speechglue(root, "qnli", tmp_path / "q")
    with pytest.raises(ValueError, match="cannot speak 'third'"):
        prepare_speechglue(root, "rte", tmp_path / "r", spoken="third")
    with pytest.raises(ValueError, match="unknown SpeechGLUE task 'xnli'"):
        prepare_speechglue(root, "xnli", tmp_path / "x")


def test_both_sentences_spoken_in_the_templates_order(root, tmp_path):
    """The authors' setup; a pair whose second sentence has no audio is dropped and counted."""
    (root / "rte" / "validation" / "sentence2" / "0" / "1.wav").rename(tmp_path / "moved.wav")
    try:
        out = tmp_path / "rte"
        report = prepare_speechglue(root, "rte", out, spoken="all")
    finally:
        (tmp_path / "moved.wav").rename(root / "rte" / "validation" / "sentence2" / "0" / "1.wav")
    uid = "speechglue_en_rte_0-pair"
    base = root / "rte" / "validation"
    # rte's template names sentence2 (the claim) before sentence1 (the fact)
    assert lines(out / "wav.scp") == [f"{uid} {base / 'sentence2' / '0' / '0.wav'}"]
    assert lines(out / "wav2.scp") == [f"{uid} {base / 'sentence1' / '0' / '0.wav'}"]
    assert lines(out / "transcript") == [f'{uid} a cat sat "somewhere".']
    assert lines(out / "transcript2") == [f"{uid} the cat sat on the mat, quietly."]
    assert instructions(out / "prefix") == [(uid, 'Does the claim "')]
    assert instructions(out / "middle") == [(uid, '" follow from the fact that "')]
    assert instructions(out / "postfix") == [(uid, '"? Please answer either yes or no.')]
    assert report.skipped == {"missing_audio": 2} and validate_data_dir(out, check_audio=True) == 1
