#!/usr/bin/env python3
"""Write a recipe's RESULTS.md from the scores its stages left under ``exp/``.

    python -m espnet2_bloomzmms.bin.write_results --exp exp --output RESULTS.md

ASR scores are ``exp/<model>/decode_<set>*/score_<text|text_ctc>.json`` (stage 8); the
zero-shot instruction-transfer results are ``exp/<model>/zero_shot_<set>/summary.json``
(stage 9); translation and spoken-NLU results are ``exp/<model>/eval_<set>/<system>/result.md``
(stage 12: ``speech`` beside the ``gold`` and ``cascade*`` text baselines). The
environment block comes from the run as well: the machine, each stage's wall-clock time
(``exp/stage_times.tsv``, written by the recipe's stages), each trained model's validation
criterion per epoch (its ``checkpoint.pth``) and what the recipe's own base models reached
(``exp/models/*/eval.json``), so a rerun writes the whole file anew. The file is rewritten
atomically, so it always shows whole tables.
"""

import argparse
import json
import os
import platform
from datetime import date
from pathlib import Path
from typing import Dict, List

import yaml

from espnet2_bloomzmms.scoring.asr import markdown_table
from espnet2_bloomzmms.scoring.bootstrap import mean_ci, paired_difference_ci
from espnet2_bloomzmms.utils.atomic_files import atomic_path


def environment(exp: Path) -> List[str]:
    import espnet
    import torch
    import transformers

    gpus = torch.cuda.device_count()
    return [
        f"- date: {date.today().isoformat()}",
        f"- python {platform.python_version()}, torch {torch.__version__}, espnet {espnet.__version__}, "
        f"transformers {transformers.__version__}",
        f"- machine: {os.cpu_count()} CPU cores, " + (f"{gpus} x {torch.cuda.get_device_name(0)}" if gpus else "no GPU"),
        *stage_times(exp), *validation_curves(exp), *base_model_checks(exp),
    ]


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def stage_times(exp: Path) -> List[str]:
    """Each stage's wall-clock time, its last run's (``exp/stage_times.tsv``: stage, seconds)."""
    path = exp / "stage_times.tsv"
    if not path.is_file():
        return []
    last: Dict[int, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stage, _, seconds = line.partition("\t")
        if stage.strip().isdigit() and seconds.strip():
            last[int(stage)] = float(seconds)
    if not last:
        return []
    stages = ", ".join(f"{n}: {_duration(t)}" for n, t in sorted(last.items()))
    return [f"- wall clock per stage (the last run of each): {stages}; total {_duration(sum(last.values()))}"]


def _percent(key: str) -> bool:
    return key.startswith(("cer", "wer", "acc"))


def validation_curves(exp: Path) -> List[str]:
    """Per trained model, its best-model criterion after each epoch (ESPnet's reporter,
    kept in ``checkpoint.pth``)."""
    from espnet2_bloomzmms.train.atomic_checkpoints import load_training_checkpoint

    lines = []
    for checkpoint in sorted(exp.glob("*/checkpoint.pth")):
        config_file = checkpoint.parent / "config.yaml"
        if not config_file.is_file():
            continue
        config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        criteria = config.get("best_model_criterion") or [["valid", "loss", "min"]]
        phase, key = criteria[0][0], criteria[0][1]
        try:
            stats = load_training_checkpoint(checkpoint)["reporter"]["stats"]
        except Exception:  # noqa: BLE001 - an unreadable checkpoint only loses its line here
            continue
        values = [stats[e].get(phase, {}).get(key) for e in sorted(stats)]
        values = [v for v in values if v is not None]
        if values:
            shown = ", ".join(f"{100 * float(v):.1f}" if _percent(key) else f"{float(v):.4g}" for v in values)
            lines.append(f"- {checkpoint.parent.name}: {phase} {key} per epoch{' (%)' if _percent(key) else ''}: {shown}")
    return lines


def base_model_checks(exp: Path) -> List[str]:
    """What the recipe's own base models reached when they were built (the tiny recipe's
    ``exp/models/llm/eval.json``: exact match of the ASR instruction on dev sentences;
    ``exp/models/mms/teach_mms.json``: greedy character CER on dev speech)."""
    lines = []
    for path in sorted(exp.glob("models/*/eval.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        row = result.get("tasks", {}).get("repeat", {}).get("T")
        if row:
            shaped = result.get("ctc_shaped", {}).get("tasks", {}).get("repeat", {}).get("T")
            lines.append(f"- base model {path.parent.name}: dev exact match of the ASR instruction "
                         f"{100 * row['accuracy']:.1f} % as text"
                         + (f", {100 * shaped['accuracy']:.1f} % with the sentence in CTC shape" if shaped else ""))
    for path in sorted(exp.glob("models/*/teach_mms.json")):
        cer = json.loads(path.read_text(encoding="utf-8")).get("dev_cer")
        if cer is not None:
            lines.append(f"- base model {path.parent.name}: dev greedy character CER {100 * cer:.1f} % (its own CTC head)")
    return lines


def _cell(values: list, seed: int) -> str:
    mean, low, high = mean_ci(values, seed=seed)
    return f"{100 * mean:.1f} ({100 * low:.1f}–{100 * high:.1f})"


def _per_utterance(summary: dict, template_ids) -> Dict[str, float]:
    """``{utterance: its agreement averaged over template_ids}`` (those the summary has)."""
    rows = [r["agree"] for r in summary["templates"] if r["id"] in template_ids and "agree" in r]
    if not rows:
        return {}
    uids = summary.get("uids") or [str(i) for i in range(len(rows[0]))]
    return {u: sum(col) / len(rows) for u, col in zip(uids, zip(*rows))}


def _template_ids(summary: dict) -> set:
    return {r["id"] for r in summary["templates"]}


def zero_shot_table(summaries: dict, reference: str = "ce_T") -> List[str]:
    """Agreement of the answer to the spoken instruction with the LLM's answer to the
    written one, per instruction and per task, with 95 % bootstrap intervals over the
    test utterances (from the per-utterance agreements of ``summary.json``), and each
    model's paired difference to ``reference`` (the ASR-only model) per task."""
    models = sorted(summaries)
    templates, splits = {}, {}
    for summary in summaries.values():
        for row in summary["templates"]:
            templates[row["id"]] = row["task"]
            splits.setdefault(row["task"], set()).add(row.get("split", "heldout"))
    with_agree = all("agree" in r for sm in summaries.values() for r in sm["templates"])
    lines = ["### Per instruction", "", "| instruction | task | " + " | ".join(models) + " |",
             "|---|---|" + "---:|" * len(models)]
    for k, (tid, task) in enumerate(templates.items()):
        cells = []
        for m in models:
            row = next((r for r in summaries[m]["templates"] if r["id"] == tid), None)
            if row is None:
                cells.append("–")
            else:
                cells.append(_cell(row["agree"], k) if with_agree else f"{100 * row['agreement']:.1f}")
        lines.append(f"| {tid} | {task} | " + " | ".join(cells) + " |")
    means = [f"{100 * summaries[m]['mean_agreement']:.1f}" for m in models]
    lines += ["| **mean** | | " + " | ".join(means) + " |", ""]
    if not with_agree:
        return lines
    tasks = {}
    for tid, task in templates.items():
        tasks.setdefault(task, []).append(tid)
    kind = {t: ("task held out (text only)" if "text" in s else "new wording")
            for t, s in splits.items()}
    lines += ["### Per task", "",
              "An utterance's score is its agreement averaged over the task's instructions above; a task",
              "held out is one the LLM was taught on text that no speech training set contains.", "",
              "| task | held out | " + " | ".join(models) + " |", "|---|---|" + "---:|" * len(models)]
    per_task = {m: {t: _per_utterance(summaries[m], ids) for t, ids in tasks.items()} for m in models}
    for k, task in enumerate(tasks):
        cells = [_cell(list(per_task[m][task].values()), 100 + k) if per_task[m][task] else "–" for m in models]
        lines.append(f"| {task} | {kind[task]} | " + " | ".join(cells) + " |")
    others = [m for m in models if m != reference]
    if reference not in models or not others:
        return lines + [""]
    lines += ["", f"### Against {reference} (trained on the ASR instruction only)", "",
              f"Paired difference in agreement (points, model − {reference}) with its 95 % bootstrap interval.", "",
              "| task | held out | " + " | ".join(others) + " |", "|---|---|" + "---:|" * len(others)]
    verdicts = []
    for k, task in enumerate(tasks):
        cells = []
        for m in others:
            # the same instructions and utterances on both sides
            common = set(tasks[task]) & _template_ids(summaries[m]) & _template_ids(summaries[reference])
            a, b = _per_utterance(summaries[m], common), _per_utterance(summaries[reference], common)
            uids = sorted(a.keys() & b.keys())
            if not uids:
                cells.append("–")
                continue
            diff, low, high = paired_difference_ci([a[u] for u in uids], [b[u] for u in uids], seed=200 + k)
            word = "better" if low > 0 else "worse" if high < 0 else "no clear difference"
            cells.append(f"{100 * diff:+.1f} ({100 * low:+.1f}…{100 * high:+.1f}) {word}")
            if kind[task].startswith("task"):
                verdicts.append(f"- held-out task `{task}`, {m} against {reference}: {word} "
                                f"({100 * diff:+.1f} points, interval {100 * low:+.1f} to {100 * high:+.1f}).")
        lines.append(f"| {task} | {kind[task]} | " + " | ".join(cells) + " |")
    return lines + ["", *verdicts, ""]


def main(cmd=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", type=Path, default=Path("exp"))
    parser.add_argument("--output", type=Path, default=Path("RESULTS.md"))
    args = parser.parse_args(cmd)

    header = ["<!-- Generated by espnet2_bloomzmms.bin.write_results -->", "# RESULTS", "", "## Environments",
              *environment(args.exp), ""]
    out = list(header)
    by_set = {}
    for path in sorted(args.exp.glob("*/decode_*/score_*.json")):
        score = json.loads(path.read_text(encoding="utf-8"))
        test_set = path.parent.name[len("decode_"):].split("_beam")[0]
        name = f"{path.parent.parent.name}/{path.parent.name}/{path.stem[len('score_'):]}"
        by_set.setdefault(test_set, {})[name] = score
    for test_set, results in by_set.items():
        out += [f"## ASR on {test_set}", "", markdown_table(results), ""]
    zero_shot = {}
    for path in sorted(args.exp.glob("*/zero_shot_*/summary.json")):
        test_set = path.parent.name[len("zero_shot_"):]
        zero_shot.setdefault(test_set, {})[path.parent.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    for test_set, summaries in zero_shot.items():
        out += [f"## Zero-shot instruction transfer on {test_set}", "",
                "Agreement (%) of the answer to the spoken utterance with the LLM's answer to its transcript,",
                "for instructions never used in speech training (95 % bootstrap intervals over utterances).", "",
                *zero_shot_table(summaries), ""]
    for eval_dir in sorted(args.exp.glob("*/eval_*")):
        systems = sorted(eval_dir.glob("*/result.md"), key=lambda p: (p.parent.name != "speech", p.parent.name))
        if not systems:
            continue
        out += [f"## {eval_dir.parent.name} on {eval_dir.name[len('eval_'):]}", "",
                "`speech`: the model given the speech; `gold`: the LLM given the transcript as text (ceiling);",
                "`cascade*`: the LLM given our ASR output (LLM answer / CTC head) as text.", ""]
        for path in systems:
            body = path.read_text(encoding="utf-8").strip().splitlines()
            body = ["#" + line if line.startswith("#") else line for line in body]  # one level down
            out += [f"### {path.parent.name}", "", *body, ""]
    if len(out) == len(header):
        raise SystemExit(f"no scores under {args.exp}: run the scoring stage first")
    with atomic_path(args.output) as tmp:
        tmp.write_text("\n".join(out), encoding="utf-8")


if __name__ == "__main__":
    main()
