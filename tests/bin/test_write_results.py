"""bin.write_results: RESULTS.md written whole from what a run left under exp/."""

import json

import torch
import yaml

from espnet2_bloomzmms.bin import score_asr, write_results


def _exp(tmp_path):
    exp = tmp_path / "exp"
    decode = exp / "ctc" / "decode_test"
    decode.mkdir(parents=True)
    (tmp_path / "ref").write_text("u1 the cat sat\nu2 a dog\n", encoding="utf-8")
    (decode / "text_ctc").write_text("u1 the cat sat\nu2 a dig\n", encoding="utf-8")
    score_asr.main(["--ref", str(tmp_path / "ref"), "--hyp", str(decode / "text_ctc"), "--name", "ctc/decode_test/text_ctc",
                    "--output", str(decode / "score_text_ctc.json")])
    (exp / "ctc" / "config.yaml").write_text(yaml.safe_dump({"best_model_criterion": [["valid", "cer_ctc", "min"]]}))
    stats = {1: {"train": {"loss": 3.0}, "valid": {"cer_ctc": 0.9}}, 2: {"train": {"loss": 2.0}, "valid": {"cer_ctc": 0.5}}}
    torch.save({"model": {}, "reporter": {"stats": stats, "epoch": 2}, "optimizers": [], "schedulers": [], "scaler": None},
               exp / "ctc" / "checkpoint.pth")
    (exp / "stage_times.tsv").write_text("5\t100\n7\t30\n5\t120\n", encoding="utf-8")  # stage 5 ran twice
    (exp / "models" / "llm").mkdir(parents=True)
    (exp / "models" / "llm" / "eval.json").write_text(json.dumps(
        {"tasks": {"repeat": {"T": {"accuracy": 0.964}}}, "ctc_shaped": {"tasks": {"repeat": {"T": {"accuracy": 0.729}}}}}))
    return exp


def test_the_environment_comes_from_the_run(tmp_path):
    exp = _exp(tmp_path)
    out = tmp_path / "RESULTS.md"
    write_results.main(["--exp", str(exp), "--output", str(out)])
    text = out.read_text(encoding="utf-8")
    assert "- wall clock per stage (the last run of each): 5: 2.0 min, 7: 30 s; total 2.5 min" in text
    assert "- ctc: valid cer_ctc per epoch (%): 90.0, 50.0" in text
    assert "- llm (taught here): dev exact match of the ASR instruction 96.4 % as text, 72.9 % with the sentence in CTC shape" in text
    assert "## ASR on test" in text and "ctc/decode_test/text_ctc" in text
    write_results.main(["--exp", str(exp), "--output", str(out)])
    assert out.read_text(encoding="utf-8") == text  # a rerun writes the same file
