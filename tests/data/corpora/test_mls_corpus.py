"""Multilingual LibriSpeech from its released layout: FLAC and Opus releases."""

import pytest
from corpus_fixtures import SENTENCES, can_write, lines, write_audio

from espnet2_bloomzmms.data.corpora.mls import prepare_mls
from espnet2_bloomzmms.data.datadir import DataDirError


def _write_split(folder, split, utts, suffix, speech, lang, **audio):
    """``utts``: [(<spk>_<book>_<seg>, sentence index or None for no audio)]."""
    d = folder / split
    d.mkdir(parents=True)
    (d / "transcripts.txt").write_text("".join(
        f"{u}\t{SENTENCES[lang][i or 0].lower().rstrip('.?!')}\n" for u, i in utts), encoding="utf-8")
    (d / "segments.txt").write_text("".join(
        f"{u}\thttp://www.archive.org/download/x/y_64kb.mp3\t1.0\t3.0\n" for u, _ in utts), encoding="utf-8")
    for u, i in utts:
        if i is not None:
            spk, book, _ = u.split("_")
            write_audio(d / "audio" / spk / book / f"{u}{suffix}", speech(lang, i), **audio)


@pytest.fixture(scope="module")
def mls_root(speech, tmp_path_factory):
    root = tmp_path_factory.mktemp("mls")
    _write_split(root / "mls_spanish", "test", [("10667_6706_000000", 0), ("10667_6706_000001", 1),
                                                ("1378_1535_000017", None)], ".flac", speech, "es",
                 fmt="FLAC")
    if can_write("OGG", "OPUS"):
        _write_split(root / "mls_polish_opus", "test", [("6892_10350_000002", 1)], ".opus", speech,
                     "pl", fmt="OGG", subtype="OPUS", rate=48000)
    return root


def test_mls_data_dir(mls_root, tmp_path):
    if not (mls_root / "mls_polish_opus").is_dir():
        pytest.skip("this libsndfile cannot write Ogg Opus fixtures")
    out = tmp_path / "mls_test"
    report = prepare_mls(mls_root, "test", out, check_audio=True)
    es_audio = mls_root / "mls_spanish" / "test" / "audio" / "10667" / "6706"
    ids = ["mls_es_10667-10667_6706_000000", "mls_es_10667-10667_6706_000001",
           "mls_pl_6892-6892_10350_000002"]
    assert lines(out / "wav.scp") == [
        f"{ids[0]} {es_audio / '10667_6706_000000.flac'}",  # 16 kHz FLAC: in place
        f"{ids[1]} {es_audio / '10667_6706_000001.flac'}",
        f"{ids[2]} {out / 'wavs' / 'test' / 'pl' / ids[2]}.wav",  # 48 kHz Opus: converted
    ]
    assert lines(out / "text") == [f"{ids[0]} hace buen tiempo hoy",
                                   f"{ids[1]} tengo tres hermanos y dos hermanas",
                                   f"{ids[2]} gdzie jest najbliższy dworzec"]
    assert lines(out / "utt2spk") == [f"{ids[0]} mls_es_10667", f"{ids[1]} mls_es_10667",
                                      f"{ids[2]} mls_pl_6892"]
    assert lines(out / "spk2utt") == [f"mls_es_10667 {ids[0]} {ids[1]}", f"mls_pl_6892 {ids[2]}"]
    assert lines(out / "utt2lang") == [f"{ids[0]} es", f"{ids[1]} es", f"{ids[2]} pl"]
    assert report.skipped == {"missing_audio": 1}


def test_mls_errors(mls_root, tmp_path):
    with pytest.raises(ValueError, match="not MLS languages: \\['ru'\\]"):
        prepare_mls(mls_root, "test", tmp_path / "x", langs=["ru"])
    with pytest.raises(DataDirError, match="no mls_<language>.* for de; found: es"):
        prepare_mls(mls_root, "test", tmp_path / "x", langs=["de", "es"])
    bad = tmp_path / "bad" / "mls_german" / "dev"
    bad.mkdir(parents=True)
    (bad / "transcripts.txt").write_text("1234-5678\thallo\n", encoding="utf-8")
    with pytest.raises(DataDirError, match=r"transcripts.txt:1: expected '<speaker>_<book>_<segment>"):
        prepare_mls(tmp_path / "bad", "dev", tmp_path / "x")
