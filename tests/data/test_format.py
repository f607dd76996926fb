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
