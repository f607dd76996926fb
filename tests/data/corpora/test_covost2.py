"""CoVoST 2 reader on fixture trees in the released layouts (TSV + Common Voice mp3 clips)."""

import json
from pathlib import Path

import pytest
from corpus_fixtures import can_write, lines, write_audio

from espnet2_bloomzmms.data.corpora.covost2 import parse_tsv_name, prepare_covost2
from espnet2_bloomzmms.data.datadir import validate_data_dir

pytestmark = pytest.mark.skipif(not can_write("MP3", "MPEG_LAYER_III"), reason="libsndfile without MP3")

CLIENT_A, CLIENT_B = "a1" * 32, "b2" * 32
VALIDATED = [  # Common Voice validated.tsv: client_id, path, sentence, ...
    (CLIENT_A, "common_voice_en_1.mp3", "The weather is nice today."),
    (CLIENT_B, "common_voice_en_2.mp3", "Where is the nearest train station?"),
    (CLIENT_A, "common_voice_en_3.mp3", "I have no clip."),
    (CLIENT_B, "common_voice_en_4.mp3", "A training sentence."),
    (CLIENT_B, "common_voice_en_5.mp3", "Untranslated."),
]
RELEASED = [  # covost_v2.en_de.tsv: path, translation, split
    ("common_voice_en_1.mp3", "Das Wetter ist heute schön.", "test"),
    ("common_voice_en_2.mp3", "Wo ist der nächste Bahnhof?", "test"),
    ("common_voice_en_3.mp3", "Ich habe keinen Clip.", "test"),  # clip missing
    ("common_voice_en_4.mp3", "Ein Trainingssatz.", "train_covost"),
    ("common_voice_en_5.mp3", "", "test"),  # no translation
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory, speech) -> Path:
    root = tmp_path_factory.mktemp("covost")
    for i, (_, clip, _) in enumerate(VALIDATED):
        if clip != "common_voice_en_3.mp3":
            write_audio(root / "cv" / "en" / "clips" / clip, speech("en", i % 2), 48000, "MP3", "MPEG_LAYER_III")
    (root / "cv" / "en" / "validated.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\tlocale\tsegment\n"
        + "".join(f"{c}\t{p}\t{s}\t2\t0\t\t\t\ten\t\n" for c, p, s in VALIDATED), encoding="utf-8")
    (root / "covost").mkdir()
    (root / "covost" / "covost_v2.en_de.tsv").write_text(
        "path\ttranslation\tsplit\n" + "".join(f"{p}\t{t}\t{s}\n" for p, t, s in RELEASED), encoding="utf-8")
    # the same test split as get_covost_splits.py writes it
    (root / "covost" / "covost_v2.en_de.test.tsv").write_text(
        "path\tsentence\ttranslation\tclient_id\n"
        + "".join(f"{p}\t{s}\t{t}\t{c}\n" for (c, p, s), (_, t, split) in zip(VALIDATED, RELEASED) if split == "test"),
        encoding="utf-8")
    return root


def utt(client, n):
    return f"covost2_en_de_{client}-common_voice_en_{n}"


def test_released_tsv_with_common_voice_metadata(tree, tmp_path):
    out = tmp_path / "test_covost2_en_de"
    report = prepare_covost2(tree / "covost" / "covost_v2.en_de.tsv", tree / "cv" / "en" / "clips", out,
                             validated_tsv=tree / "cv" / "en" / "validated.tsv")
    u1, u2 = utt(CLIENT_A, 1), utt(CLIENT_B, 2)
    assert lines(out / "text") == [f"{u1} Das Wetter ist heute schön.", f"{u2} Wo ist der nächste Bahnhof?"]
    assert lines(out / "transcript") == [f"{u1} The weather is nice today.", f"{u2} Where is the nearest train station?"]
    assert lines(out / "utt2spk") == [f"{u1} covost2_en_de_{CLIENT_A}", f"{u2} covost2_en_de_{CLIENT_B}"]
    assert lines(out / "utt2lang") == [f"{u1} en", f"{u2} en"]
    assert lines(out / "utt2pair") == [f"{u1} en de", f"{u2} en de"]
    prefix = json.dumps("Translate the following text from English to German\n")
    assert lines(out / "prefix") == [f"{u1} {prefix}", f"{u2} {prefix}"]
    assert lines(out / "postfix") == [f'{u1} "\\n"', f'{u2} "\\n"']
    assert lines(out / "wav.scp") == [f"{u1} {(out / 'wavs' / 'en' / 'common_voice_en_1.wav').resolve()}",
                                      f"{u2} {(out / 'wavs' / 'en' / 'common_voice_en_2.wav').resolve()}"]
    assert validate_data_dir(out, check_audio=True) == 2  # mp3 48 kHz decoded to 16 kHz mono WAV
    assert report.skipped == {"missing_audio": 1, "empty_text": 1}


def test_split_file_of_get_covost_splits(tree, tmp_path):
    out = tmp_path / "d"
    audio = tmp_path / "shared_wavs"
    prepare_covost2(tree / "covost" / "covost_v2.en_de.test.tsv", tree / "cv" / "en" / "clips", out, audio_dir=audio)
    assert [line.split(" ", 1)[0] for line in lines(out / "text")] == [utt(CLIENT_A, 1), utt(CLIENT_B, 2)]
    assert lines(out / "transcript")[0] == f"{utt(CLIENT_A, 1)} The weather is nice today."
    assert sorted(p.name for p in (audio / "en").iterdir()) == ["common_voice_en_1.wav", "common_voice_en_2.wav"]


def test_train_split_takes_train_covost_rows(tree, tmp_path):
    out = tmp_path / "train"
    prepare_covost2(tree / "covost" / "covost_v2.en_de.tsv", tree / "cv" / "en" / "clips", out, split="train")
    uttid = "covost2_en_de_common_voice_en_4-common_voice_en_4"  # no validated.tsv: each clip its own speaker
    assert lines(out / "text") == [f"{uttid} Ein Trainingssatz."]
    assert not (out / "transcript").exists()


def test_bad_input(tree, tmp_path):
    assert parse_tsv_name(Path("covost_v2.zh-CN_en.tsv")) == ("zh-CN", "en", None)
    with pytest.raises(ValueError, match="not a CoVoST 2 TSV name"):
        parse_tsv_name(Path("covost.en_de.tsv"))
    with pytest.raises(ValueError, match="holds the test split, not dev"):
        prepare_covost2(tree / "covost" / "covost_v2.en_de.test.tsv", tree / "cv" / "en" / "clips", tmp_path, "dev")
    with pytest.raises(FileNotFoundError, match="clips directory does not exist"):
        prepare_covost2(tree / "covost" / "covost_v2.en_de.tsv", tree / "nowhere", tmp_path)
    bad = tmp_path / "covost_v2.en_de.tsv"
    bad.write_text("path\tsentence\nx.mp3\ty\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no column\(s\) \['translation', 'split'\]"):
        prepare_covost2(bad, tree / "cv" / "en" / "clips", tmp_path / "o")
