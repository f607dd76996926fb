"""Merging our data dirs with other recipes' (pipes, arks, relative paths, any order)."""

import kaldiio
import numpy as np
import pytest
import soundfile
from corpus_fixtures import lines, write_audio

from espnet2_bloomzmms.bin.prepare_corpus import main as prepare_corpus
from espnet2_bloomzmms.data.corpora.combine import Source, combine_sources
from espnet2_bloomzmms.data.datadir import DataDirError, write_data_dir


@pytest.fixture
def ours(speech, tmp_path):
    """A data dir as the corpus preparers write it."""
    utts = {f"ours_en-{i}": {"wav": str(write_audio(tmp_path / "ours_wavs" / f"{i}.wav", speech("en", i))),
                             "text": f"english {i}", "spk": "ours_en", "lang": "en"} for i in range(2)}
    write_data_dir(tmp_path / "ours", utts)
    return tmp_path / "ours"


@pytest.fixture
def recipe(speech, tmp_path):
    """Another ESPnet recipe's dir: relative paths, an ark, a pipe, unsorted, no utt2spk."""
    root = tmp_path / "other_recipe"
    write_audio(root / "downloads" / "a.flac", speech("de", 0), fmt="FLAC")
    piped = write_audio(tmp_path / "elsewhere" / "c.wav", speech("de", 1))
    pcm = soundfile.read(str(write_audio(tmp_path / "b.wav", speech("de", 1))), dtype="int16")[0]
    (root / "dump").mkdir(parents=True)
    kaldiio.save_ark(str(root / "dump" / "raw.ark"), {"swbd_b-2": (16000, pcm)},
                     scp=str(root / "dump" / "raw.scp"), write_function="soundfile")
    offset = (root / "dump" / "raw.scp").read_text().split(":")[-1].strip()
    data = root / "data" / "train"
    data.mkdir(parents=True)
    (data / "wav.scp").write_text(f"swbd_c-3 cat {piped} |\nswbd_a-1 downloads/a.flac\n"
                                  f"swbd_b-2 dump/raw.ark:{offset}\n", encoding="utf-8")
    (data / "text").write_text("swbd_b-2 zwei\nswbd_c-3 drei\nswbd_a-1 eins\n", encoding="utf-8")
    (data / "utt2dur").write_text("swbd_a-1 1.2\nswbd_b-2 1.4\nswbd_c-3 1.4\n", encoding="utf-8")
    return root, offset, piped


def test_combine_ours_with_another_recipes_dir(ours, recipe, tmp_path):
    root, offset, piped = recipe
    out = tmp_path / "train"
    report = combine_sources([Source(ours), Source(root / "data" / "train", "de", root)], out,
                             check_audio=True)
    assert lines(out / "wav.scp") == [
        f"ours_en-0 {tmp_path / 'ours_wavs' / '0.wav'}",
        f"ours_en-1 {tmp_path / 'ours_wavs' / '1.wav'}",
        f"swbd_a-1 {root / 'downloads' / 'a.flac'}",  # relative paths made absolute
        f"swbd_b-2 {root / 'dump' / 'raw.ark'}:{offset}",
        f"swbd_c-3 cat {piped} |",  # pipes verbatim
    ]
    assert lines(out / "text") == ["ours_en-0 english 0", "ours_en-1 english 1", "swbd_a-1 eins",
                                   "swbd_b-2 zwei", "swbd_c-3 drei"]
    assert lines(out / "utt2spk") == ["ours_en-0 ours_en", "ours_en-1 ours_en", "swbd_a-1 swbd_a-1",
                                      "swbd_b-2 swbd_b-2", "swbd_c-3 swbd_c-3"]
    assert lines(out / "utt2lang") == ["ours_en-0 en", "ours_en-1 en", "swbd_a-1 de", "swbd_b-2 de",
                                       "swbd_c-3 de"]
    assert report.kept == {"en": 2, "de": 3}
    assert report.notes == [f"{root / 'data' / 'train'}: not carried: utt2dur"]
    assert not (out / "utt2dur").exists()


def test_combine_cli(ours, recipe, tmp_path, capsys):
    root, _, _ = recipe
    out = tmp_path / "train"
    prepare_corpus(["combine", "--output_dir", str(out), "--dir", str(ours),
                    "--add", str(root / "data" / "train"), "de_de", "--path_root", str(root)])
    assert f"{out}: 5 utterances (de_de 3, en 2)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # the same ids twice
        prepare_corpus(["combine", "--output_dir", str(tmp_path / "x"), "--dir", str(out), "--dir", str(ours)])
    assert e.value.code == 1
    assert "2 utterance ids are already in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        prepare_corpus(["combine", "--output_dir", str(tmp_path / "x")])


def test_combine_reports_every_defect(ours, recipe, tmp_path, espeak_data_dir):
    root, _, _ = recipe
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "wav.scp").write_text(f"u1 {tmp_path / 'gone.flac'}\nu2 no_such_program_xyz in.flac |\n",
                                 encoding="utf-8")
    (bad / "text").write_text("u1 eins\nu3 drei\n", encoding="utf-8")
    with pytest.raises(DataDirError) as e:
        combine_sources([Source(bad, "de")], tmp_path / "out")
    problems = e.value.problems
    assert f"{bad / 'text'}: 1 of 2 utterances of wav.scp have no line (u2)" in problems
    assert f"{bad / 'text'}: 1 ids are not in wav.scp (u3)" in problems
    assert any("1 utterances point to missing files (u1: " in p and "gone.flac" in p for p in problems)
    assert any("'no_such_program_xyz', which is not installed (u2)" in p for p in problems)
    assert not (tmp_path / "out").exists()  # nothing written

    dup = Source(root / "data" / "train", "de", root)
    with pytest.raises(DataDirError, match="3 utterance ids are already in"):
        combine_sources([dup, dup], tmp_path / "out")
    with pytest.raises(DataDirError, match="utt2lang: missing; give the language code"):
        combine_sources([Source(root / "data" / "train")], tmp_path / "out")
    with pytest.raises(DataDirError, match="prefix: in .* but not in"):
        combine_sources([Source(espeak_data_dir), Source(ours)], tmp_path / "out")
    (root / "data" / "train" / "segments").write_text("swbd_a-1 rec1 0.0 1.0\n", encoding="utf-8")
    with pytest.raises(DataDirError, match="segments.*format_wav_scp.sh --segments"):
        combine_sources([dup], tmp_path / "out")


def test_relative_paths_default_to_the_current_directory(recipe, tmp_path, monkeypatch):
    root, offset, _ = recipe
    monkeypatch.chdir(root)
    combine_sources([Source(root / "data" / "train", "de")], tmp_path / "out", check_audio=True)
    wav = dict(line.split(" ", 1) for line in lines(tmp_path / "out" / "wav.scp"))
    assert wav["swbd_b-2"] == f"{root / 'dump' / 'raw.ark'}:{offset}"
    got = kaldiio.load_mat(wav["swbd_b-2"])
    assert got[0] == 16000 and isinstance(got[1], np.ndarray)
