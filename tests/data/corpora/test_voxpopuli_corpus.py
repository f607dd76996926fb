"""VoxPopuli transcribed data from the layout ``voxpopuli.get_asr_data`` writes."""

import pytest
import soundfile
from corpus_fixtures import SENTENCES, can_write, lines, write_audio

from espnet2_bloomzmms.data.corpora.voxpopuli import prepare_voxpopuli
from espnet2_bloomzmms.data.datadir import DataDirError

if not can_write("OGG", "VORBIS"):
    pytest.skip(f"this libsndfile ({soundfile.__libsndfile_version__}) cannot write Ogg Vorbis "
                "fixtures", allow_module_level=True)

NEW_HEADER = "id\traw_text\tnormalized_text\tspeaker_id\tsplit\tgender\tis_gold_transcript\taccent"
OLD_HEADER = "id\traw_text\tnormalized_text\tspeaker_id\tsplit\tgender"
DE = ["20180313-0900-PLENARY-15-de_20180313-18:43:18_3", "20180313-0900-PLENARY-15-de_20180313-18:43:18_4",
      "20190415-0900-PLENARY-7-de_20190415-17:02:11_0", "20190415-0900-PLENARY-7-de_20190415-17:02:11_1"]
FR = ["20200127-0900-PLENARY-3-fr_20200127-15:10:02_2"]


@pytest.fixture(scope="module")
def vp_root(speech, tmp_path_factory):
    root = tmp_path_factory.mktemp("voxpopuli")
    de, fr = root / "transcribed_data" / "de", root / "transcribed_data" / "fr"
    for seg, wav in [(DE[0], speech("de", 0)), (DE[1], speech("de", 1)), (DE[2], speech("de", 0)),
                     (FR[0], speech("fr", 0))]:
        lang_dir = de if "-de_" in seg else fr
        write_audio(lang_dir / seg[:4] / f"{seg}.ogg", wav, fmt="OGG", subtype="VORBIS")
    (de / "asr_test.tsv").write_text("\n".join([
        NEW_HEADER,
        f"{DE[0]}\t{SENTENCES['de'][0]}\tdas wetter ist heute schön\t96739\ttest\tmale\tTrue\tNone",
        f"{DE[1]}\t{SENTENCES['de'][1]}\twir fahren morgen nach münchen\tNone\ttest\tmale\tFalse\tNone",
        f"{DE[2]}\t\tdas wetter ist heute schön\t28223\ttest\tfemale\tTrue\tNone",  # no raw text
        f"{DE[3]}\tKein Audio.\tkein audio\t28223\ttest\tfemale\tTrue\tNone",
    ]) + "\n", encoding="utf-8")
    (fr / "asr_test.tsv").write_text(
        f"{OLD_HEADER}\n{FR[0]}\t{SENTENCES['fr'][0]}\til fait beau aujourd'hui\t4521\ttest\tfemale\n",
        encoding="utf-8")
    (root / "transcribed_data" / "de" / "asr_train.tsv").write_text(NEW_HEADER + "\n", encoding="utf-8")
    return root


def test_voxpopuli_data_dir(vp_root, tmp_path):
    out = tmp_path / "vp_test"
    report = prepare_voxpopuli(vp_root, "test", out, check_audio=True)
    ids = [f"voxpopuli_de_{DE[1]}",  # no speaker: its own speaker
           f"voxpopuli_de_96739-{DE[0]}", f"voxpopuli_fr_4521-{FR[0]}"]
    assert lines(out / "text") == [f"{ids[0]} Wir fahren morgen nach München.",
                                   f"{ids[1]} Das Wetter ist heute schön.",
                                   f"{ids[2]} Il fait beau aujourd'hui."]
    wavs = out / "wavs" / "test"
    assert lines(out / "wav.scp") == [f"{ids[0]} {wavs / 'de' / ids[0]}.wav",
                                      f"{ids[1]} {wavs / 'de' / ids[1]}.wav",
                                      f"{ids[2]} {wavs / 'fr' / ids[2]}.wav"]
    assert lines(out / "utt2spk") == [f"{ids[0]} {ids[0]}", f"{ids[1]} voxpopuli_de_96739",
                                      f"{ids[2]} voxpopuli_fr_4521"]
    assert lines(out / "utt2lang") == [f"{ids[0]} de", f"{ids[1]} de", f"{ids[2]} fr"]
    assert report.skipped == {"empty_text": 1, "missing_audio": 1}


def test_voxpopuli_normalized_text_and_root_forms(vp_root, tmp_path):
    out = tmp_path / "de"
    report = prepare_voxpopuli(vp_root / "transcribed_data", "test", out, langs=["de"],
                               text_field="normalized", max_duration=1.35)
    assert lines(out / "text") == [f"voxpopuli_de_28223-{DE[2]} das wetter ist heute schön",
                                   f"voxpopuli_de_96739-{DE[0]} das wetter ist heute schön"]
    assert report.skipped == {"too_long": 1, "missing_audio": 1}  # DE[1]: 1.41 s


def test_voxpopuli_errors(vp_root, tmp_path):
    with pytest.raises(DataDirError, match="no utterance was kept"):
        prepare_voxpopuli(vp_root, "train", tmp_path / "x")
    with pytest.raises(DataDirError, match="no VoxPopuli asr_dev.tsv found"):
        prepare_voxpopuli(vp_root, "dev", tmp_path / "x")
