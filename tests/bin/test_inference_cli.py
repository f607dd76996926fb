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
    assert "skipping" in capsys.readouterr().out
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
