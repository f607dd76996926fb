"""Score a decoding's answers to a spoken NLU task (SpeechGLUE, SpeechXNLI) with the
task's GLUE metrics, overall and per language, with behaviour metrics.

Example::

    python -m espnet2_bloomzmms.bin.score_nlu --task "$(cat data/test_speechglue_cola/task)" \\
        --ref data/test_speechglue_cola/text --hyp exp/ce_TMI/decode_test_speechglue_cola/text

    python -m espnet2_bloomzmms.bin.score_nlu --task xnli --ref data/test_speechxnli/text \\
        --hyp exp/ce_TMI/decode_test_speechxnli/text --utt2lang data/test_speechxnli/utt2lang

Tasks, label words and metrics are those of ``prompts/nlu.yaml``. Writes
``result.json`` and ``result.md`` to ``--output_dir`` (default: the directory of
``--hyp``) atomically and prints the Markdown.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from espnet2_bloomzmms.data.nlu.tasks import get_task, load_tasks
from espnet2_bloomzmms.scoring import behaviour, nlu, report


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="GLUE metrics of answers to a spoken NLU task")
    parser.add_argument("--task", required=True, help=f"task in prompts/nlu.yaml: {', '.join(load_tasks())}")
    parser.add_argument("--ref", type=Path, required=True, help="gold answers (<uttid> <label word>)")
    parser.add_argument("--hyp", type=Path, required=True, help="answers (<uttid> <text>)")
    parser.add_argument("--utt2lang", type=Path, default=None, help="<uttid> <language>: adds per-language scores")
    report.add_report_arguments(parser)
    return parser


def main(cmd: list[str] | None = None) -> dict:
    parser = get_parser()
    args = report.parse_scoring_args(parser, cmd)
    try:
        task = get_task(args.task)
    except KeyError as e:
        parser.error(f"--task: {e.args[0]}")
    refs, hyps, name = report.read_decode(parser, args)
    langs = report.read_arg(parser, "--utt2lang", args.utt2lang)
    with report.usage_errors(parser, args.hyp):
        result = nlu.score(task, refs, hyps, langs)
    report.warn_utterances(result["missing_hypothesis_ids"], f"have no answer in {args.hyp} (counted wrong)")
    result["behaviour"] = behaviour.score(hyps, refs, answers=lambda a: task.label_of(a) is not None, groups=langs)
    return report.publish(args, name, result, nlu.markdown_table)


if __name__ == "__main__":
    main()
