"""The recipe's speech-encoder pre-training stage: a few steps on espeak-ng speech, and the
result loads through the MMS frontend like any wav2vec2 checkpoint."""

import json

import torch

from espnet2_bloomzmms.frontend.mms import MMSFrontend
from mini_recipe_scripts import load_local_script

tm = load_local_script("teach_mms")


def test_log_mel_frames_match_wav2vec2_frames(tiny_mms_dir):
    """One 80-bin target frame per 20 ms frame of the conv stack, for any length."""
    frontend = MMSFrontend(str(tiny_mms_dir))
    for n in (400, 16000, 23456):
        wave = torch.randn(n)
        _, lengths = frontend(wave[None], torch.tensor([n]))
        assert tm.log_mel(wave, 16000).shape == (int(lengths), tm.N_MELS)


def test_teach_few_steps(tiny_mms_dir, espeak_data_dir, tmp_path):
    out = tmp_path / "mms"
    tm.main([
        "--mms_dir", str(tiny_mms_dir), "--wav_scp", str(espeak_data_dir / "wav.scp"), "--output_dir", str(out),
        "--steps", "30", "--batch_size", "4", "--lr", "1e-2", "--crop_seconds", "1.0", "--log_every", "10",
    ])
    report = json.loads((out / "teach_mms.json").read_text())
    losses = [entry["loss"] for entry in report["log"]]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert report["utterances"] == 6
    assert not out.with_name("mms.tmp").exists()

    before, after = MMSFrontend(str(tiny_mms_dir)), MMSFrontend(str(out))
    wave = torch.randn(1, 8000)
    feats, _ = after(wave, torch.tensor([8000]))
    assert feats.shape[-1] == before.output_size()
    changed = [
        name for (name, a), (_, b) in zip(before.encoder.named_parameters(), after.encoder.named_parameters())
        if not torch.equal(a, b)
    ]
    assert any("feature_extractor" in n for n in changed) and any("encoder.layers" in n for n in changed)
