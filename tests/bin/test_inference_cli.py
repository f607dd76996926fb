"""The decoding entry point on a data dir of real (espeak-ng) speech."""

from pathlib import Path

import pytest
import torch
import yaml
from tiny_model_configs import tiny_model_config

from espnet2_bloomzmms.bin.inference import main
from espnet2_bloomzmms.data.datadir import read_kv
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask


@pytest.fixture(scope="module")
def exp_dir(tiny_mms_dir, tiny_llm_dir, tmp_path_factory) -> Path:
    exp = tmp_path_factory.mktemp("exp")
    (exp / "train.yaml").write_text(yaml.safe_dump(tiny_model_config(tiny_mms_dir, tiny_llm_dir)), encoding="utf-8")
    args = BloomzMMSTask.get_parser().parse_args(["--config", str(exp / "train.yaml"), "--output_dir", str(exp)])
    torch.manual_seed(0)
    model = BloomzMMSTask.build_model(args)
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    torch.save(model.state_dict(), exp / "valid.acc.best.pth")
    return exp


def test_decodes_a_data_dir_then_skips_it(espeak_data_dir, exp_dir, tmp_path, capsys):
    out = tmp_path / "decode"
    cmd = ["--model_dir", str(exp_dir), "--data_dir", str(espeak_data_dir), "--output_dir", str(out),
           "--batch_size", "4", "--max_new_tokens", "4", "--ctc", "true"]
    main(cmd)
    uttids = list(read_kv(espeak_data_dir / "wav.scp"))
    for name in ("text", "text_ctc"):
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        assert [line.split(" ", 1)[0] for line in lines] == sorted(uttids), name

    # the same as the API with the data dir's per-utterance instructions
    import soundfile

    bloomz = BloomzMMS.from_pretrained(exp_dir, max_new_tokens=4)
    waves = [soundfile.read(path, dtype="float32")[0] for path in read_kv(espeak_data_dir / "wav.scp").values()]
    prefixes = list(read_kv(espeak_data_dir / "prefix").values())
    expected = dict(zip(uttids, bloomz.batch(waves, prefixes, list(read_kv(espeak_data_dir / "postfix").values()))))
    assert read_kv(out / "text") == expected
    assert read_kv(out / "text_ctc") == dict(zip(uttids, bloomz.ctc_greedy(waves)))

    stamp = (out / "text").stat().st_mtime_ns
    capsys.readouterr()
    main(cmd)
    assert "nothing to decode" in capsys.readouterr().out
    assert (out / "text").stat().st_mtime_ns == stamp


def test_config_and_model_file_with_one_instruction(espeak_data_dir, exp_dir, tmp_path):
    out = tmp_path / "decode"
    main(["--config", str(exp_dir / "config.yaml"), "--model_file", str(exp_dir / "valid.acc.best.pth"),
          "--data_dir", str(espeak_data_dir), "--output_dir", str(out), "--batch_size", "8",
          "--num_beams", "2", "--max_new_tokens", "3", "--prefix", "Translate into German: ", "--postfix", ". "])
    assert len(read_kv(out / "text")) == 6 and not (out / "text_ctc").exists()


def test_model_must_be_named_once(espeak_data_dir, exp_dir, tmp_path):
    with pytest.raises(SystemExit, match="either --model_dir or --config"):
        main(["--model_dir", str(exp_dir), "--config", str(exp_dir / "config.yaml"),
              "--data_dir", str(espeak_data_dir), "--output_dir", str(tmp_path)])


# ------------------------------------------------------------- resuming and bad input


def _cmd(exp_dir, data_dir, out, *extra):
    return ["--model_dir", str(exp_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--batch_size", "1", "--max_new_tokens", "4", "--ctc", "true", *extra]


def _count_decoded(monkeypatch):
    """Record the utterances each CLI run decodes (through the real decode_batch)."""
    import espnet2_bloomzmms.bin.inference as cli

    decoded, real = [], cli.decode_batch
    monkeypatch.setattr(cli, "decode_batch", lambda m, waves, *a: (decoded.extend(waves), real(m, waves, *a))[1])
    return decoded


def test_a_killed_decode_resumes_where_it_stopped(espeak_data_dir, exp_dir, tmp_path, monkeypatch):
    """SIGKILL at 'decoded 2/6' (a real process), then a rerun decodes only the other 4 and
    gives the same files as one uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "decode"
    proc = subprocess.Popen([sys.executable, "-m", "espnet2_bloomzmms.bin.inference",
                             *_cmd(exp_dir, espeak_data_dir, out)], stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "decoded 2/6" in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "text").exists() and len((out / "text.partial").read_text().splitlines()) >= 2
    first = list(read_kv(out / "text.partial"))

    decoded = _count_decoded(monkeypatch)
    main(_cmd(exp_dir, espeak_data_dir, out))
    assert sorted(decoded + first) == sorted(read_kv(espeak_data_dir / "wav.scp"))  # nothing twice
    assert not list(out.glob("*.partial"))
    main(_cmd(exp_dir, espeak_data_dir, tmp_path / "in_one_go"))
    for name in ("text", "text_ctc"):
        assert (out / name).read_text() == (tmp_path / "in_one_go" / name).read_text()


def test_other_settings_or_model_decode_afresh(espeak_data_dir, exp_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "decode"
    main(_cmd(exp_dir, espeak_data_dir, out))
    record = yaml.safe_load((out / "decode_settings.yaml").read_text())
    assert record["generation"]["num_beams"] == 1 and record["model"]["model_dir"] == str(exp_dir.resolve())
    before = (out / "text").read_text()
    decoded = _count_decoded(monkeypatch)
    main(_cmd(exp_dir, espeak_data_dir, out))  # same settings: nothing to do
    assert decoded == [] and "nothing to decode" in capsys.readouterr().out
    main(_cmd(exp_dir, espeak_data_dir, out, "--num_beams", "2"))
    assert len(decoded) == 6
    assert (out / "replaced" / "text").read_text() == before  # earlier results kept aside
    assert yaml.safe_load((out / "replaced" / "decode_settings.yaml").read_text()) == record
    assert yaml.safe_load((out / "decode_settings.yaml").read_text())["generation"]["num_beams"] == 2

    other = tmp_path / "other_exp"  # another model (same config, other weights)
    other.mkdir()
    (other / "config.yaml").write_text((exp_dir / "config.yaml").read_text())
    state = torch.load(exp_dir / "valid.acc.best.pth", weights_only=True)
    torch.save({k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}, other / "valid.acc.best.pth")
    decoded.clear()
    main(_cmd(other, espeak_data_dir, out, "--num_beams", "2"))
    assert len(decoded) == 6


def _bad_data_dir(espeak_data_dir, tmp_path):
    """The espeak data dir plus a NaN, a too-short and an unreadable utterance."""
    import numpy as np
    import soundfile

    from espnet2_bloomzmms.data.datadir import read_data_dir, write_data_dir

    utts = read_data_dir(espeak_data_dir)
    good = next(iter(utts.values()))
    wave, _ = soundfile.read(good["wav"], dtype="float32")
    nan = wave.copy()
    nan[100] = np.nan
    soundfile.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    soundfile.write(tmp_path / "short.wav", wave[:300], 16000)
    (tmp_path / "noise.wav").write_bytes(b"not audio at all")
    for name in ("nan", "short", "noise"):
        utts[f"zz_{name}"] = dict(good, wav=str(tmp_path / f"{name}.wav"))
    write_data_dir(tmp_path / "bad", utts)
    return tmp_path / "bad"


def test_bad_utterances_are_skipped_and_listed_or_refused(espeak_data_dir, exp_dir, tmp_path, monkeypatch):
    import espnet2_bloomzmms.bin.inference as cli

    bad = _bad_data_dir(espeak_data_dir, tmp_path)
    loaded = []
    monkeypatch.setattr(cli.BloomzMMS, "from_pretrained", lambda *a, **k: loaded.append(1))
    with pytest.raises(SystemExit) as refused:
        main(_cmd(exp_dir, bad, tmp_path / "refused", "--on_bad_input", "error"))
    message = str(refused.value)
    assert "3 of 9 utterances cannot be decoded" in message
    assert "utterance zz_nan (" in message and "NaN" in message
    assert "utterance zz_short (" in message and "shorter than one wav2vec2 frame" in message
    assert "utterance zz_noise (" in message and "noise.wav" in message
    assert loaded == []  # refused before the model loads
    monkeypatch.undo()

    out = tmp_path / "decode"
    main(_cmd(exp_dir, bad, out))
    assert sorted(read_kv(out / "skipped")) == ["zz_nan", "zz_noise", "zz_short"]
    main(_cmd(exp_dir, espeak_data_dir, tmp_path / "good"))
    assert read_kv(out / "text") == read_kv(tmp_path / "good" / "text")


def test_too_few_frames_for_the_encoder_skips_that_utterance_only(espeak_data_dir, exp_dir, tmp_path):
    """An utterance past the wav2vec2 frame but too short for the encoder's subsampling is
    found only when encoded: in a batch it is isolated, skipped and listed."""
    import soundfile

    from espnet2_bloomzmms.data.datadir import read_data_dir, write_data_dir

    utts = read_data_dir(espeak_data_dir)
    good = next(iter(utts.values()))
    soundfile.write(tmp_path / "tiny.wav", soundfile.read(good["wav"], dtype="float32")[0][:1000], 16000)
    utts["zz_tiny"] = dict(good, wav=str(tmp_path / "tiny.wav"))
    write_data_dir(tmp_path / "data", utts)
    out = tmp_path / "decode"
    main(_cmd(exp_dir, tmp_path / "data", out, "--batch_size", "7"))  # (the last --batch_size counts)
    assert list(read_kv(out / "skipped")) == ["zz_tiny"] and "too short" in read_kv(out / "skipped")["zz_tiny"]
    assert len(read_kv(out / "text")) == 6


def test_unreadable_data_files_are_named(espeak_data_dir, exp_dir, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(espeak_data_dir, data)
    lines = (data / "wav.scp").read_text().splitlines(keepends=True)
    (data / "wav.scp").write_text("".join(lines[:2] + ["\n"] + lines[2:]))
    with pytest.raises(SystemExit, match=r"wav.scp:3: line is blank"):
        main(_cmd(exp_dir, data, tmp_path / "d"))
    (data / "wav.scp").write_text("".join(lines))
    (data / "prefix").write_bytes((data / "prefix").read_bytes().replace(b"Repeat", b"R\xffpeat", 1))
    with pytest.raises(SystemExit, match=r"prefix:1: not valid UTF-8"):
        main(_cmd(exp_dir, data, tmp_path / "d"))


def test_audio_longer_than_training_saw_warns_naming_the_option(espeak_data_dir, exp_dir, tmp_path, caplog):
    import numpy as np
    import soundfile

    from espnet2_bloomzmms.data.datadir import read_data_dir, write_data_dir

    utts = read_data_dir(espeak_data_dir)
    first = next(iter(utts))
    wave = soundfile.read(utts[first]["wav"], dtype="float32")[0]
    soundfile.write(tmp_path / "long.wav", np.tile(wave, int(31 * 16000 / len(wave)) + 1), 16000)
    write_data_dir(tmp_path / "data", {first: dict(utts[first], wav=str(tmp_path / "long.wav"))})
    with caplog.at_level("WARNING"):
        main(_cmd(exp_dir, tmp_path / "data", tmp_path / "d", "--llm", "false"))
    assert f"1 utterance(s) are longer than the 30 s the model was trained on (longest: {first}" in caplog.text
    assert "--chunk_seconds 30" in caplog.text


def test_three_jobs_merged_equal_one(espeak_data_dir, exp_dir, tmp_path):
    from espnet2_bloomzmms.bin.decode_jobs import main as jobs

    one = tmp_path / "one"
    main(_cmd(exp_dir, espeak_data_dir, one, "--batch_size", "4"))
    split, out = tmp_path / "three" / "split3", tmp_path / "three"
    jobs(["split", "--data_dir", str(espeak_data_dir), "--nj", "3", "--output_dir", str(split)])
    keys = [read_kv(split / f"keys.{j}") for j in (1, 2, 3)]
    assert sorted(u for k in keys for u in k) == sorted(read_kv(espeak_data_dir / "wav.scp"))
    assert [len(k) for k in keys] == [2, 2, 2]
    with pytest.raises(SystemExit, match=r"output.1: no decode_settings.yaml"):
        jobs(["merge", "--data_dir", str(espeak_data_dir), "--output_dir", str(out), str(split / "output.1")])
    for j in (1, 2, 3):
        main(_cmd(exp_dir, espeak_data_dir, split / f"output.{j}", "--batch_size", "4",
                  "--key_file", str(split / f"keys.{j}")))
        assert sorted(read_kv(split / f"output.{j}" / "text")) == sorted(keys[j - 1])
    with pytest.raises(SystemExit, match="utterances of .* are in no part"):
        jobs(["merge", "--data_dir", str(espeak_data_dir), "--output_dir", str(out), str(split / "output.1")])
    jobs(["merge", "--data_dir", str(espeak_data_dir), "--output_dir", str(out), *map(str, sorted(split.glob("output.*")))])
    for name in ("text", "text_ctc", "decode_settings.yaml"):
        assert (out / name).read_text() == (one / name).read_text(), name
    main(_cmd(exp_dir, espeak_data_dir, split / "output.2", "--batch_size", "4", "--num_beams", "2",
              "--key_file", str(split / "keys.2")))  # one job with other settings
    with pytest.raises(SystemExit, match="output.2 was decoded with other model, data or settings"):
        jobs(["merge", "--data_dir", str(espeak_data_dir), "--output_dir", str(out), *map(str, sorted(split.glob("output.*")))])


def test_a_data_dir_of_spoken_sentence_pairs(espeak_data_dir, exp_dir, tmp_path):
    """wav2.scp + middle: each utterance is decoded as prefix + speech 1 + middle + speech 2
    + postfix, as the API's join_speech gives it; --wav_scp decodes one sentence alone."""
    import shutil

    import soundfile

    from espnet2_bloomzmms.data.datadir import write_kv

    data = tmp_path / "pairs"
    shutil.copytree(espeak_data_dir, data)
    wav = read_kv(data / "wav.scp")
    ids = list(wav)
    write_kv(data / "wav2.scp", {u: wav[ids[(i + 1) % len(ids)]] for i, u in enumerate(ids)})
    write_kv(data / "middle", {u: f" and {i}: " for i, u in enumerate(ids)})
    out = tmp_path / "decode"
    main(["--model_dir", str(exp_dir), "--data_dir", str(data), "--output_dir", str(out), "--batch_size", "4",
          "--allowed_answers", "yes", "no"])
    bloomz = BloomzMMS.from_pretrained(exp_dir)
    waves = {u: soundfile.read(p, dtype="float32")[0] for u, p in wav.items()}
    second = read_kv(data / "wav2.scp")
    pair = bloomz.join_speech(bloomz.encode([waves[u] for u in ids]),
                              bloomz.encode([soundfile.read(second[u], dtype="float32")[0] for u in ids]),
                              list(read_kv(data / "middle").values()))
    expected = bloomz.generate(pair, list(read_kv(data / "prefix").values()), list(read_kv(data / "postfix").values()),
                               allowed_answers=["yes", "no"])
    assert read_kv(out / "text") == dict(zip(ids, expected))
    with pytest.raises(SystemExit, match="--ctc true decodes one sentence"):
        main(["--model_dir", str(exp_dir), "--data_dir", str(data), "--output_dir", str(tmp_path / "c"), "--ctc", "true"])
    main(["--model_dir", str(exp_dir), "--data_dir", str(data), "--wav_scp", str(data / "wav2.scp"), "--ctc", "true",
          "--llm", "false", "--output_dir", str(tmp_path / "second")])
    assert read_kv(tmp_path / "second" / "text_ctc") == dict(
        zip(ids, bloomz.ctc_greedy([soundfile.read(second[u], dtype="float32")[0] for u in ids])))
    (data / "middle").unlink()
    with pytest.raises(SystemExit, match="middle: missing"):
        main(["--model_dir", str(exp_dir), "--data_dir", str(data), "--output_dir", str(tmp_path / "d")])


def test_a_line_cut_inside_a_character_is_decoded_again(espeak_data_dir, exp_dir, tmp_path):
    out = tmp_path / "decode"
    main(_cmd(exp_dir, espeak_data_dir, out))
    full = read_kv(out / "text")
    first, second = sorted(full)[:2]
    (out / "text").unlink()
    (out / "text_ctc").unlink()
    # what a kill leaves: one complete line, then one cut inside a multi-byte character
    (out / "text.partial").write_bytes(f"{first} {full[first]}\n{second} Grüß".encode()[:-1])
    main(_cmd(exp_dir, espeak_data_dir, out))
    assert read_kv(out / "text") == full and not (out / "text.partial").exists()


def test_reruns_replace_every_earlier_output_and_recheck_skipped_audio(espeak_data_dir, exp_dir, tmp_path, monkeypatch):
    import espnet2_bloomzmms.bin.inference as cli

    bad = _bad_data_dir(espeak_data_dir, tmp_path)
    out = tmp_path / "decode"
    main(_cmd(exp_dir, bad, out))  # --ctc true: text and text_ctc; 3 skipped
    main(_cmd(exp_dir, bad, out)[:-2] + ["--num_beams", "2"])  # other settings, text only
    assert (out / "replaced" / "text_ctc").exists() and not (out / "text_ctc").exists()
    with pytest.raises(SystemExit, match="3 of 3 utterances cannot be decoded"):  # the skipped, checked again
        main(_cmd(exp_dir, bad, out)[:-2] + ["--num_beams", "2", "--on_bad_input", "error"])
    monkeypatch.setattr(cli.BloomzMMS, "from_pretrained", lambda *a, **k: pytest.fail("nothing to decode"))
    main(_cmd(exp_dir, bad, out)[:-2] + ["--num_beams", "2"])  # only bad ones left: no model is loaded
    assert len(read_kv(out / "skipped")) == 3 and len(read_kv(out / "text")) == 6
    monkeypatch.undo()
    import soundfile

    good = next(iter(read_kv(espeak_data_dir / "wav.scp").values()))
    soundfile.write(tmp_path / "short.wav", soundfile.read(good, dtype="float32")[0], 16000)  # repaired
    main(_cmd(exp_dir, bad, out)[:-2] + ["--num_beams", "2"])
    assert "zz_short" in read_kv(out / "text") and "zz_short" not in read_kv(out / "skipped")


def test_sentence_pairs_are_not_chunked(espeak_data_dir, exp_dir, tmp_path):
    import shutil

    data = tmp_path / "pairs"
    shutil.copytree(espeak_data_dir, data)
    shutil.copy(data / "wav.scp", data / "wav2.scp")
    shutil.copy(data / "postfix", data / "middle")
    with pytest.raises(SystemExit, match="pairs cannot be cut into chunks"):
        main(["--model_dir", str(exp_dir), "--data_dir", str(data), "--output_dir", str(tmp_path / "d"),
              "--chunk_seconds", "30"])
