"""The training entry point, run as users run it: collect stats, then train on real speech."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tiny_model_configs import tiny_model_config
from training_runs import load_training_checkpoint


def data_options(data_dir: Path, split: str, names=("wav.scp,speech,sound", "text,text,text", "utt2lang,lang,text", "prefix,prefix,text", "postfix,postfix,text")):
    options = []
    for spec in names:
        options += [f"--{split}_data_path_and_name_and_type", f"{data_dir}/{spec}"]
    return options


def run_train(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "espnet2_bloomzmms.bin.train", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture
def config_file(tiny_mms_dir, tiny_llm_dir, tmp_path):
    config = tiny_model_config(tiny_mms_dir, tiny_llm_dir, ctc_weight=0.5)
    config.update(optim="adam", optim_conf={"lr": 0.003}, max_epoch=4, batch_type="sorted", batch_size=3,
                  num_workers=0, seed=0, best_model_criterion=[["valid", "loss", "min"]], keep_nbest_models=1)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_collect_stats_then_train_lowers_the_loss(espeak_data_dir, config_file, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("".join(line.split()[0] + "\n" for line in (espeak_data_dir / "wav.scp").open()))
    stats = run_train(
        ["--config", config_file, "--collect_stats", "true", "--output_dir", tmp_path / "stats",
         "--train_shape_file", keys, "--valid_shape_file", keys,
         *data_options(espeak_data_dir, "train"), *data_options(espeak_data_dir, "valid")],
        tmp_path,
    )
    assert stats.returncode == 0, stats.stderr[-3000:]
    shapes = (tmp_path / "stats/train/speech_shape").read_text().split("\n")
    assert len([s for s in shapes if s]) == 6

    exp = tmp_path / "exp"
    train = run_train(
        ["--config", config_file, "--output_dir", exp, "--ngpu", "0",
         "--train_shape_file", tmp_path / "stats/train/speech_shape",
         "--valid_shape_file", tmp_path / "stats/valid/speech_shape",
         *data_options(espeak_data_dir, "train"), *data_options(espeak_data_dir, "valid")],
        tmp_path,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    reporter = load_training_checkpoint(exp / "checkpoint.pth")["reporter"]
    losses = [reporter["stats"][epoch]["train"]["loss"] for epoch in range(1, 5)]
    assert losses[-1] < 0.8 * losses[0], losses
    # the checkpoint holds only what trains: no MMS or LLM base weights
    state = torch.load(exp / "valid.loss.best.pth", weights_only=True)
    assert state and not any(k.startswith(("frontend.encoder.", "decoder.llm.")) for k in state)
    assert (exp / "config.yaml").exists()


def test_missing_prefix_lines_are_named(espeak_data_dir, config_file, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in espeak_data_dir.iterdir():
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        (bad / f.name).write_text("".join(lines[1:4] if f.name == "prefix" else lines), encoding="utf-8")
    keys = tmp_path / "keys"
    keys.write_text("".join(line.split()[0] + "\n" for line in (bad / "wav.scp").open()))
    result = run_train(
        ["--config", config_file, "--output_dir", tmp_path / "exp", "--max_epoch", "1",
         "--train_shape_file", keys, "--valid_shape_file", keys, "--batch_type", "unsorted",
         *data_options(bad, "train"), *data_options(bad, "valid")],
        tmp_path,
    )
    assert result.returncode != 0
    assert f"{bad}/prefix (prefix): 3 of 6 utterances of {bad}/wav.scp have no line (de_003, en_001, en_002)" in result.stderr


def test_wrong_sample_rate_is_named(espeak_data_dir, config_file, tmp_path):
    import soundfile

    bad = tmp_path / "bad"
    bad.mkdir()
    for f in espeak_data_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    entries = [line.split(maxsplit=1) for line in (bad / "wav.scp").read_text().splitlines()]
    with open(bad / "wav.scp", "w") as out:
        for uid, path in entries:
            wav, _ = soundfile.read(path)
            soundfile.write(tmp_path / f"{uid}.wav", wav[::2], 8000)
            out.write(f"{uid} {tmp_path / f'{uid}.wav'}\n")
    keys = tmp_path / "keys"
    keys.write_text("".join(uid + "\n" for uid, _ in entries))
    result = run_train(
        ["--config", config_file, "--output_dir", tmp_path / "exp", "--max_epoch", "1",
         "--train_shape_file", keys, "--valid_shape_file", keys, "--batch_type", "unsorted",
         *data_options(bad, "train"), *data_options(bad, "valid")],
        tmp_path,
    )
    assert result.returncode != 0
    assert f"utterance {entries[0][0]} is sampled at 8000 Hz, the model expects 16000 Hz" in result.stderr
