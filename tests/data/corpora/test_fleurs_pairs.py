"""FLEURS translation pairs on a fixture tree in the released layout (<lang>/test.tsv + audio/test/)."""

import json

import pytest
from corpus_fixtures import lines, write_audio

from espnet2_bloomzmms.data.corpora.fleurs_pairs import prepare_fleurs_pairs
from espnet2_bloomzmms.data.datadir import validate_data_dir

# id, file_name, raw_transcription, transcription, characters, num_samples, gender
EN = [
    ("1", "101.wav", "The weather is nice today.", "the weather is nice today", "t h e|", "16000", "FEMALE"),
    ("1", "102.wav", "The weather is nice today.", "the weather is nice today", "t h e|", "16000", "MALE"),
    ("2", "103.wav", "Where is the nearest train station?", "where is the nearest train station", "w|", "16000", "MALE"),
    ("3", "104.wav", "Only in English.", "only in english", "o|", "16000", "MALE"),
]
DE = [
    ("1", "201.wav", "Das Wetter ist heute schön.", "das wetter ist heute schön", "d|", "16000", "MALE"),
    ("2", "202.wav", "Wo ist der nächste Bahnhof?", "wo ist der nächste bahnhof", "w|", "16000", "FEMALE"),
    ("2", "203.wav", "Wo ist der nächste Bahnhof?", "wo ist der nächste bahnhof", "w|", "16000", "MALE"),
    ("4", "204.wav", "Nur auf Deutsch.", "nur auf deutsch", "n|", "16000", "MALE"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory, speech):
    root = tmp_path_factory.mktemp("fleurs")
    for lang, rows, voice in (("en_us", EN, "en"), ("de_de", DE, "de")):
        (root / lang).mkdir()
        (root / lang / "test.tsv").write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
        for i, row in enumerate(rows):
            write_audio(root / lang / "audio" / "test" / row[1], speech(voice, i % 2))
    return root


def test_english_speech_with_german_references(root, tmp_path):
    out = tmp_path / "test_fleurs_en_us_de_de"
    report = prepare_fleurs_pairs(root, "en_us", "de_de", out)
    ids = ["fleurs_en_us_de_de_101-1", "fleurs_en_us_de_de_102-1", "fleurs_en_us_de_de_103-2"]
    assert lines(out / "text") == [f"{ids[0]} Das Wetter ist heute schön.", f"{ids[1]} Das Wetter ist heute schön.",
                                   f"{ids[2]} Wo ist der nächste Bahnhof?"]
    assert lines(out / "transcript") == [f"{ids[0]} The weather is nice today.", f"{ids[1]} The weather is nice today.",
                                         f"{ids[2]} Where is the nearest train station?"]
    assert lines(out / "wav.scp") == [f"{u} {(root / 'en_us' / 'audio' / 'test' / f).resolve()}"
                                      for u, f in zip(ids, ["101.wav", "102.wav", "103.wav"])]
    assert lines(out / "utt2spk") == [f"{u} {u.rsplit('-', 1)[0]}" for u in ids]
    assert lines(out / "utt2lang") == [f"{u} en_us" for u in ids]
    assert lines(out / "utt2pair") == [f"{u} en_us de_de" for u in ids]
    prefix = json.dumps("Translate the following text from English to German\n")
    assert lines(out / "prefix") == [f"{u} {prefix}" for u in ids]
    assert lines(out / "postfix") == [f'{u} "\\n"' for u in ids]
    assert validate_data_dir(out, check_audio=True) == 3
    assert not (out / "wavs").exists()  # 16 kHz WAV is referenced where it lies
    assert report.n_kept == 3 and any("1 sentence ids of en_us have no de_de text" in n for n in report.notes)


def test_other_direction_and_language_names(root, tmp_path):
    out = tmp_path / "de_en"
    prepare_fleurs_pairs(root, "de_de", "en_us", out, names={"de": "Deutsch"})
    assert [line.split(" ", 1)[1] for line in lines(out / "text")] == [
        "The weather is nice today.", "Where is the nearest train station?", "Where is the nearest train station?"]
    assert json.loads(lines(out / "prefix")[0].split(" ", 1)[1]) == "Translate the following text from Deutsch to English\n"


def test_bad_input(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="no FLEURS test list for .es_419."):
        prepare_fleurs_pairs(root, "en_us", "es_419", tmp_path)
    with pytest.raises(ValueError, match="same language"):
        prepare_fleurs_pairs(root, "en_us", "en_us", tmp_path)
    with pytest.raises(KeyError, match="no English name for language code 'xx_xx'"):
        prepare_fleurs_pairs(root, "en_us", "xx_xx", tmp_path)
    bad = tmp_path / "bad"
    for lang in ("fr_fr", "en_us"):
        (bad / lang).mkdir(parents=True)
        (bad / lang / "test.tsv").write_text("1\t9.wav\tno\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"fr_fr/test.tsv:1: expected 7 tab-separated fields"):
        prepare_fleurs_pairs(bad, "en_us", "fr_fr", tmp_path / "out")
