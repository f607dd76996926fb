"""Formatting data dirs for training: pipes and arks become files; utt2num_samples."""

import shutil

import kaldiio
import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.data.datadir import DataDirError, read_kv
from espnet2_bloomzmms.data.format import format_data_dir


def test_plain_pipe_and_ark_entries(espeak_data_dir, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(espeak_data_dir, src)
    wav = read_kv(src / "wav.scp")
    uids = sorted(wav)
    arrays = {u: soundfile.read(wav[u], dtype="int16")[0] for u in uids}
    ark_entries = {}
    kaldiio.save_ark(str(tmp_path / "a.ark"), {uids[1]: (16000, arrays[uids[1]])},
                     scp=str(tmp_path / "a.scp"), write_function="soundfile")
    ark_entries.update(read_kv(tmp_path / "a.scp"))
    wav[uids[0]] = f"cat {wav[uids[0]]} |"
    wav[uids[1]] = ark_entries[uids[1]]
    (src / "wav.scp").write_text("".join(f"{u} {wav[u]}\n" for u in uids), encoding="utf-8")

    dst = tmp_path / "dump" / "train"
    assert format_data_dir(src, dst) == len(uids)
    out = read_kv(dst / "wav.scp")
    for u in uids[:2]:
        assert out[u].endswith(f"data/{u}.wav")
        np.testing.assert_array_equal(soundfile.read(out[u], dtype="int16")[0], arrays[u])
    assert out[uids[2]] == wav[uids[2]]  # plain files are referenced, not copied
    assert read_kv(dst / "utt2num_samples") == {u: str(len(arrays[u])) for u in uids}
    for name in ("text", "utt2spk", "spk2utt", "utt2lang", "prefix", "postfix"):
        assert (dst / name).read_bytes() == (src / name).read_bytes()


def test_unreadable_entry_names_the_utterance(espeak_data_dir, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(espeak_data_dir, src)
    lines = (src / "wav.scp").read_text().splitlines()
    uid = lines[0].split()[0]
    lines[0] = f"{uid} {tmp_path}/missing.wav"
    (src / "wav.scp").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataDirError, match=f"wav.scp: {uid}: cannot read"):
        format_data_dir(src, tmp_path / "dst")


def test_too_short_utterances_are_dropped_and_counted(espeak_data_dir, tmp_path, caplog):
    """Training sets lose the utterances the encoder has no frame for, from every file;
    with min_samples 0 (test sets) they stay."""
    from espnet2_bloomzmms.bin.format_data_dir import main
    from espnet2_bloomzmms.data.datadir import read_data_dir, validate_data_dir, write_data_dir

    utts = read_data_dir(espeak_data_dir)
    first, second = list(utts)[:2]
    wave = soundfile.read(utts[first]["wav"], dtype="float32")[0]
    for uid, n in ((first, 300), (second, 3000)):
        soundfile.write(tmp_path / f"{uid}.wav", wave[:n], 16000)
        utts[uid] = dict(utts[uid], wav=str(tmp_path / f"{uid}.wav"))
    write_data_dir(tmp_path / "src", utts)

    with caplog.at_level("WARNING"):
        assert main([str(tmp_path / "src"), str(tmp_path / "train"), "--min_seconds", "0.25"]) == len(utts) - 2
    assert "dropped 2 of 6 utterances shorter than 4000 samples" in caplog.text
    assert read_kv(tmp_path / "train" / "dropped_short") == {first: "300", second: "3000"}
    kept = read_data_dir(tmp_path / "train")
    assert sorted(kept) == sorted(set(utts) - {first, second})
    assert kept == {u: utts[u] for u in kept}  # every file kept the other utterances' lines
    assert validate_data_dir(tmp_path / "train", min_samples=4000) == 4

    assert format_data_dir(tmp_path / "src", tmp_path / "test") == len(utts)  # a test set keeps them
    with pytest.raises(DataDirError, match="300 samples long"):
        validate_data_dir(tmp_path / "test")  # (the strict default names it)
