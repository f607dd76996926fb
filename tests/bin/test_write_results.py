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
    assert "- base model llm: dev exact match of the ASR instruction 96.4 % as text, 72.9 % with the sentence in CTC shape" in text
    assert "## ASR on test" in text and "ctc/decode_test/text_ctc" in text
    write_results.main(["--exp", str(exp), "--output", str(out)])
    assert out.read_text(encoding="utf-8") == text  # a rerun writes the same file


def _zero_shot(exp, model, agree: dict):
    """A stage-9 summary.json: per template its 0/1 agreement per utterance."""
    rows = [{"id": tid, "task": task, "split": split, "agreement": sum(a) / len(a), "utterances": len(a), "agree": a}
            for (tid, task, split), a in agree.items()]
    d = exp / model / "zero_shot_test"
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"templates": rows, "uids": [f"u{i}" for i in range(len(rows[0]["agree"]))],
                                                "mean_agreement": sum(r["agreement"] for r in rows) / len(rows)}))


def test_zero_shot_intervals_per_instruction_and_task_and_against_T(tmp_path):
    """Bootstrap intervals over utterances; per task, an utterance's score averages the
    task's instructions; a model clearly above ce_T on the held-out task is called better,
    one that only differs by noise is not."""
    exp = _exp(tmp_path)
    n = 60
    t_answers = [1 if i % 5 == 0 else 0 for i in range(n)]  # 20 % on the held-out task
    _zero_shot(exp, "ce_T", {("rep6", "repeat", "heldout"): [1] * n, ("sec1", "second_word", "text"): t_answers,
                             ("sec4", "second_word", "heldout"): t_answers})
    _zero_shot(exp, "ce_TMI", {("rep6", "repeat", "heldout"): [1] * (n - 1) + [0],
                               ("sec1", "second_word", "text"): [1 if i % 5 else 0 for i in range(n)],
                               ("sec4", "second_word", "heldout"): [1 if i % 4 else 0 for i in range(n)]})
    out = tmp_path / "RESULTS.md"
    write_results.main(["--exp", str(exp), "--output", str(out)])
    text = out.read_text(encoding="utf-8")
    assert "| sec1 | second_word | 20.0 (" in text  # ce_T's cell, with its interval
    assert "| second_word | task held out (text only) |" in text and "| repeat | new wording |" in text
    assert "### Against ce_T" in text
    row = next(line for line in text.splitlines() if line.startswith("| second_word | task held out") and "better" in line)
    assert "+57.5 (" in row  # (80 + 75) / 2 - 20 points
    assert "held-out task `second_word`, ce_TMI against ce_T: better (+57.5 points" in text
    repeat = next(line for line in text.splitlines() if line.startswith("| repeat | new wording") and "…" in line)
    assert "no clear difference" in repeat
    write_results.main(["--exp", str(exp), "--output", str(out)])
    assert out.read_text(encoding="utf-8") == text  # seeded: the same intervals again
