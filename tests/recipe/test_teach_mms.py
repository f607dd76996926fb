"""The recipe's speech-encoder teaching (character CTC, as MMS-1b-all was fine-tuned): a
few steps on espeak-ng speech, and the result loads through the MMS frontend like any
wav2vec2 checkpoint, its CTC head left out without a load report."""

import json
import logging

import torch

from espnet2_bloomzmms.frontend.mms import MMSFrontend
from mini_recipe_scripts import load_local_script

tm = load_local_script("teach_mms")


def test_teach_few_steps(tiny_mms_dir, espeak_data_dir, tmp_path, caplog, transformers_messages):
    out = tmp_path / "mms"
    report = tm.main([
        "--mms_dir", str(tiny_mms_dir), "--data_dir", str(espeak_data_dir), "--dev_dir", str(espeak_data_dir),
        "--output_dir", str(out), "--steps", "30", "--batch_size", "3", "--lr", "5e-3", "--log_every", "10",
    ])
    saved = json.loads((out / "teach_mms.json").read_text())
    assert saved["dev_cer"] == report["dev_cer"] and 0.0 <= report["dev_cer"] <= 2.0
    assert saved["dev_scored"] == saved["dev_utterances"] == 6
    losses = [entry["loss"] for entry in saved["log"]]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert saved["utterances"] == 6
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["<pad>"] == 0 and {"ö", "W", " "} <= set(vocab)  # the transcripts' characters
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == len(vocab)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written atomically

    with caplog.at_level(logging.INFO):
        before, after = MMSFrontend(str(tiny_mms_dir)), MMSFrontend(str(out))
    assert not [m for m in transformers_messages if "LOAD REPORT" in m]
    assert "lm_head.* weights are not used" in caplog.text
    wave = torch.randn(1, 8000)
    feats, _ = after(wave, torch.tensor([8000]))
    assert feats.shape[-1] == before.output_size()
    changed = [
        name for (name, a), (_, b) in zip(before.encoder.named_parameters(), after.encoder.named_parameters())
        if not torch.equal(a, b)
    ]
    assert any("feature_extractor" in n for n in changed) and any("encoder.layers" in n for n in changed)


def test_utterance_without_transcript_is_named(espeak_data_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text((espeak_data_dir / "wav.scp").read_text())
    lines = (espeak_data_dir / "text").read_text().splitlines()
    (data / "text").write_text("\n".join(lines[1:]) + "\n")
    missing = lines[0].split()[0]
    try:
        tm.read_data(data, 8.0)
    except SystemExit as err:
        assert f"{missing} has no transcript" in str(err)
    else:
        raise AssertionError("no error for an utterance without transcript")
