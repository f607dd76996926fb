"""Common Voice from its released layout: per-locale TSVs and MP3 clips."""

import pytest
import soundfile
from corpus_fixtures import SENTENCES, can_write, lines, write_audio

from espnet2_bloomzmms.data.corpora.commonvoice import prepare_commonvoice
from espnet2_bloomzmms.data.datadir import DataDirError

if not can_write("MP3", "MPEG_LAYER_III"):
    pytest.skip(f"this libsndfile ({soundfile.__libsndfile_version__}) cannot write MP3 fixtures",
                allow_module_level=True)

CV12_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"
CV17_HEADER = ("client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage"
               "\tgender\taccents\tvariant\tlocale\tsegment")
EN_SPK, FR_SPK = "3c8a" * 32, "9f1e" * 32  # client ids are 128 hex digits


@pytest.fixture(scope="module")
def cv_root(speech, tmp_path_factory):
    root = tmp_path_factory.mktemp("cv") / "cv-corpus-12.0-2022-12-07"
    en, fr = root / "en", root / "fr"
    for i in range(2):
        write_audio(en / "clips" / f"common_voice_en_10{i}.mp3", speech("en", i), fmt="MP3",
                    subtype="MPEG_LAYER_III")
        write_audio(fr / "clips" / f"common_voice_fr_20{i}.mp3", speech("fr", i), fmt="MP3",
                    subtype="MPEG_LAYER_III")
    (en / "train.tsv").write_text("\n".join([
        CV12_HEADER,
        f"{EN_SPK}\tcommon_voice_en_100.mp3\t{SENTENCES['en'][0]}\t2\t0\t\t\t\ten\t",
        f"{EN_SPK}\tcommon_voice_en_101.mp3\t{SENTENCES['en'][1]}\t2\t0\tthirties\tmale\t\ten\t",
        f"{EN_SPK}\tcommon_voice_en_102.mp3\tNo clip for this one.\t2\t0\t\t\t\ten\t",
        f"{EN_SPK}\tcommon_voice_en_103.mp3\t \t2\t0\t\t\t\ten\t",
    ]) + "\n", encoding="utf-8")
    (fr / "train.tsv").write_text("\n".join([CV17_HEADER] + [
        f"{FR_SPK}\tcommon_voice_fr_20{i}.mp3\tab{i}\t{SENTENCES['fr'][i]}\t\t2\t0\t\t\t\t\tfr\t"
        for i in range(2)
    ]) + "\n", encoding="utf-8")
    return root


def test_commonvoice_data_dir(cv_root, tmp_path):
    out = tmp_path / "cv_train"
    report = prepare_commonvoice(cv_root, "train", out, check_audio=True)
    en, fr = f"cv_en_{EN_SPK}", f"cv_fr_{FR_SPK}"
    ids = [f"{en}-common_voice_en_100", f"{en}-common_voice_en_101",
           f"{fr}-common_voice_fr_200", f"{fr}-common_voice_fr_201"]
    assert lines(out / "text") == [
        f"{ids[0]} The weather is nice today.",
        f"{ids[1]} Where is the nearest train station?",
        f"{ids[2]} Il fait beau aujourd'hui.",
        f"{ids[3]} Où est la gare la plus proche ?",
    ]
    assert lines(out / "wav.scp") == [  # MP3s decoded once to 16 kHz WAV
        f"{u} {out / 'wavs' / u.split('_')[1] / u}.wav" for u in ids
    ]
    assert lines(out / "utt2spk") == [f"{u} {u.split('-')[0]}" for u in ids]
    assert lines(out / "spk2utt") == [f"{en} {ids[0]} {ids[1]}", f"{fr} {ids[2]} {ids[3]}"]
    assert lines(out / "utt2lang") == [f"{ids[0]} en", f"{ids[1]} en", f"{ids[2]} fr", f"{ids[3]} fr"]
    assert report.skipped == {"missing_audio": 1, "empty_text": 1}
    assert report.kept == {"en": 2, "fr": 2}


def test_commonvoice_subset_list(cv_root, tmp_path):
    """Clip names (with or without .mp3) and ids ending in -<clip stem> select utterances."""
    subset = tmp_path / "cv12_subset.txt"
    subset.write_text(f"common_voice_en_101.mp3\nsp0.9-{FR_SPK}-common_voice_fr_200 extra fields\n"
                      "common_voice_de_999\n", encoding="utf-8")
    out = tmp_path / "sub"
    report = prepare_commonvoice(cv_root, "train", out, subset=subset, lang_map={"fr": "fr_fr"})
    assert lines(out / "utt2lang") == [f"cv_en_{EN_SPK}-common_voice_en_101 en",
                                       f"cv_fr_{FR_SPK}-common_voice_fr_200 fr_fr"]
    assert report.skipped == {"not_in_subset": 4}
    assert report.notes == [f"2 of the 3 entries of {subset} matched a clip of train.tsv"]


def test_commonvoice_errors(cv_root, tmp_path):
    with pytest.raises(DataDirError, match="no Common Voice train.tsv for de"):
        prepare_commonvoice(cv_root, "train", tmp_path / "x", langs=["de"])
    bad = tmp_path / "bad" / "xx"
    bad.mkdir(parents=True)
    (bad / "train.tsv").write_text("path\ttext\na.mp3\thello\n", encoding="utf-8")
    with pytest.raises(DataDirError, match="no column client_id, sentence"):
        prepare_commonvoice(tmp_path / "bad", "train", tmp_path / "x")
