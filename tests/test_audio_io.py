"""wav.scp for decoding: audio files, ``cmd |`` pipes and ``x.ark:offset`` entries read alike."""

import kaldiio
import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.audio_io import num_samples, open_wav_scp, read_mono


def test_files_pipes_and_ark_entries_read_the_same_audio(tmp_path):
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal(4000) * 3000).astype(np.int16)
    soundfile.write(tmp_path / "a.wav", pcm, 16000, subtype="PCM_16")
    soundfile.write(tmp_path / "b.flac", pcm, 8000)
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/c.ark,{tmp_path}/c.scp") as w:
        w["c"] = (16000, pcm)
    ark_entry = (tmp_path / "c.scp").read_text().split()[1]
    (tmp_path / "wav.scp").write_text(f"a {tmp_path}/a.wav\nb {tmp_path}/b.flac\n"
                                      f"p cat {tmp_path}/a.wav |\nc {ark_entry}\n")
    reader = open_wav_scp(tmp_path / "wav.scp")
    expected = pcm / 32768.0
    for uid, rate in (("a", 16000), ("b", 8000), ("p", 16000), ("c", 16000)):
        wave, got_rate = read_mono(reader, uid)
        assert got_rate == rate and wave.dtype == np.float32
        np.testing.assert_allclose(wave, expected, atol=1e-6)
        assert num_samples(reader, uid) == 4000
    with pytest.raises(ValueError, match="sample rate 8000 Hz"):
        read_mono(reader, "b", resample=False)


def test_a_failing_pipe_names_the_utterance(tmp_path):
    (tmp_path / "wav.scp").write_text(f"bad cat {tmp_path}/missing.wav |\n")
    with pytest.raises(ValueError, match="utterance bad: cannot read"):
        read_mono(open_wav_scp(tmp_path / "wav.scp"), "bad")
