"""FLEURS from its released layout: TSVs, audio archives or extracted folders."""

import io
import tarfile

import numpy as np
import pytest
import soundfile
from corpus_fixtures import SENTENCES, lines, write_audio

from espnet2_bloomzmms.bin.prepare_corpus import main as prepare_corpus
from espnet2_bloomzmms.data.corpora.fleurs import (
    LANGUAGES_TSV,
    fleurs_languages,
    prepare_fleurs,
)
from espnet2_bloomzmms.data.datadir import DataDirError, read_kv
from espnet2_bloomzmms.instructions import read_language_names


def _row(sid, name, raw, wav=None, gender="FEMALE"):
    norm = raw.lower().rstrip(".?")
    chars = " ".join("|".join(norm.split())) + " |"
    return "\t".join([str(sid), name, raw, norm, chars, str(0 if wav is None else len(wav)), gender])


def _wav_bytes(wav):
    buf = io.BytesIO()
    soundfile.write(buf, wav, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def fleurs_root(speech, tmp_path_factory):
    """en_us with train audio as the released tar.gz; de_de with it extracted."""
    root = tmp_path_factory.mktemp("fleurs")
    en, de = root / "data" / "en_us", root / "data" / "de_de"
    en_wavs = {"1001.wav": speech("en", 0), "1002.wav": speech("en", 1),
               "1003.wav": np.tile(speech("en", 0), 30)}  # > 30 s
    (en / "audio").mkdir(parents=True)
    with tarfile.open(en / "audio" / "train.tar.gz", "w:gz") as tar:
        for name, wav in en_wavs.items():
            data = _wav_bytes(wav)
            info = tarfile.TarInfo(f"train/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (en / "train.tsv").write_text("\n".join([
        _row(11, "1001.wav", SENTENCES["en"][0], en_wavs["1001.wav"]),
        _row(12, "1002.wav", SENTENCES["en"][1], en_wavs["1002.wav"], "MALE"),
        _row(11, "1003.wav", SENTENCES["en"][0], en_wavs["1003.wav"]),
        _row(13, "1004.wav", "Not in the archive."),
        "14\t1005.wav\t\t\t\t16000\tMALE",  # no transcript
    ]) + "\n", encoding="utf-8")
    for i, name in enumerate(["2001.wav", "2002.wav"]):
        write_audio(de / "audio" / "train" / name, speech("de", i))
    (de / "train.tsv").write_text("\n".join(
        _row(11 + i, f"200{i + 1}.wav", SENTENCES["de"][i], speech("de", i)) for i in range(2)
    ) + "\n", encoding="utf-8")
    return root


def test_fleurs_cli_writes_the_data_dir(fleurs_root, tmp_path, speech, capsys):
    out = tmp_path / "fleurs_train"
    report = prepare_corpus(["fleurs", "--root", str(fleurs_root), "--split", "train", "--output_dir", str(out)])
    de_audio = fleurs_root / "data" / "de_de" / "audio" / "train"
    en_wavs = out / "wavs" / "train" / "en_us"
    assert lines(out / "wav.scp") == [
        f"fleurs_de_de_2001 {de_audio / '2001.wav'}",  # extracted 16 kHz WAV: used in place
        f"fleurs_de_de_2002 {de_audio / '2002.wav'}",
        f"fleurs_en_us_1001 {en_wavs / 'fleurs_en_us_1001.wav'}",  # from the archive
        f"fleurs_en_us_1002 {en_wavs / 'fleurs_en_us_1002.wav'}",
    ]
    assert lines(out / "text") == [
        "fleurs_de_de_2001 Das Wetter ist heute schön.",
        "fleurs_de_de_2002 Wir fahren morgen nach München.",
        "fleurs_en_us_1001 The weather is nice today.",
        "fleurs_en_us_1002 Where is the nearest train station?",
    ]
    ids = [line.split()[0] for line in lines(out / "text")]
    assert lines(out / "utt2spk") == [f"{u} {u}" for u in ids]  # no speaker labels in FLEURS
    assert lines(out / "spk2utt") == [f"{u} {u}" for u in ids]
    assert lines(out / "utt2lang") == [f"{u} {u[7:12]}" for u in ids]
    np.testing.assert_array_equal(  # the archive's samples, unchanged
        soundfile.read(en_wavs / "fleurs_en_us_1002.wav", dtype="int16")[0],
        soundfile.read(io.BytesIO(_wav_bytes(speech("en", 1))), dtype="int16")[0],
    )
    assert report.kept == {"en_us": 2, "de_de": 2}
    assert report.skipped == {"too_long": 1, "missing_audio": 1, "empty_text": 1}
    printed = capsys.readouterr().out
    assert "4 utterances" in printed and "skipped 1: longer than 30 s" in printed
    assert "skipped 1: audio file missing" in printed and "skipped 1: empty transcript" in printed


def test_fleurs_options(fleurs_root, tmp_path):
    out = tmp_path / "en"
    report = prepare_fleurs(fleurs_root / "data", "train", out, langs=["en_us"], text_field="normalized",
                            max_duration=60, lang_map={"en_us": "en"}, check_audio=True)
    assert lines(out / "text") == [
        "fleurs_en_us_1001 the weather is nice today",
        "fleurs_en_us_1002 where is the nearest train station",
        "fleurs_en_us_1003 the weather is nice today",  # 30 x 1.3 s: under 60 s
    ]
    assert set(read_kv(out / "utt2lang").values()) == {"en"}
    assert report.skipped == {"missing_audio": 1, "empty_text": 1}


def test_fleurs_errors(fleurs_root, tmp_path):
    with pytest.raises(DataDirError, match="no FLEURS dev.tsv"):
        prepare_fleurs(fleurs_root, "dev", tmp_path / "x")
    with pytest.raises(DataDirError, match="no FLEURS train.tsv for fr_fr; found: de_de, en_us"):
        prepare_fleurs(fleurs_root, "train", tmp_path / "x", langs=["fr_fr"])
    with pytest.raises(ValueError, match="split"):
        prepare_fleurs(fleurs_root, "validation", tmp_path / "x")
    bad = tmp_path / "bad" / "data" / "en_us"
    bad.mkdir(parents=True)
    (bad / "train.tsv").write_text("1\t1.wav\tonly three fields\n", encoding="utf-8")
    with pytest.raises(DataDirError, match=r"train.tsv:1: expected 7 tab-separated fields"):
        prepare_fleurs(tmp_path / "bad", "train", tmp_path / "x")


def test_fleurs_language_table():
    langs = fleurs_languages()
    assert len(langs) == 102
    en, yue = langs["en_us"], langs["yue_hant_hk"]
    assert (en.name, en.iso639_3, en.iso639_1) == ("English", "eng", "en")
    assert (yue.name, yue.iso639_3, yue.iso639_1) == ("Cantonese Chinese", "yue", None)
    assert langs["cmn_hans_cn"].iso639_1 == "zh"
    assert read_language_names(LANGUAGES_TSV)["ckb_iq"] == "Sorani Kurdish"  # recipes' languages.tsv
