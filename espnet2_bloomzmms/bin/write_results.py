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
    """What the recipe's own base models reached where it built them (``exp/models/*/eval.json``
    of the tiny recipe's LLM teaching: exact match of the ASR instruction on dev sentences)."""
    lines = []
    for path in sorted(exp.glob("models/*/eval.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        row = result.get("tasks", {}).get("repeat", {}).get("T")
        if row:
            shaped = result.get("ctc_shaped", {}).get("tasks", {}).get("repeat", {}).get("T")
            lines.append(f"- {path.parent.name} (taught here): dev exact match of the ASR instruction "
                         f"{100 * row['accuracy']:.1f} % as text"
                         + (f", {100 * shaped['accuracy']:.1f} % with the sentence in CTC shape" if shaped else ""))
    return lines


def zero_shot_table(summaries: dict) -> List[str]:
    """Rows: held-out instructions; columns: models; cells: % of test utterances whose
    answer to the spoken instruction equals the LLM's answer to the written one."""
    models = sorted(summaries)
    templates = {}
    for summary in summaries.values():
        for row in summary["templates"]:
            templates[row["id"]] = row["task"]
    lines = ["| instruction | task | " + " | ".join(models) + " |", "|---|---|" + "---:|" * len(models)]
    for tid, task in templates.items():
        cells = []
        for m in models:
            row = next((r for r in summaries[m]["templates"] if r["id"] == tid), None)
            cells.append(f"{100 * row['agreement']:.1f}" if row else "–")
        lines.append(f"| {tid} | {task} | " + " | ".join(cells) + " |")
    means = [f"{100 * summaries[m]['mean_agreement']:.1f}" for m in models]
    lines.append("| **mean** | | " + " | ".join(means) + " |")
    return lines


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
                "for instructions never used in training.", "", *zero_shot_table(summaries), ""]
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
