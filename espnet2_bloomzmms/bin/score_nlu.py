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
import logging
import sys
from pathlib import Path

from espnet2_bloomzmms.data.nlu.tasks import get_task, load_tasks
from espnet2_bloomzmms.scoring import behaviour, nlu
from espnet2_bloomzmms.scoring.report import read_arg, write_report


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="GLUE metrics of answers to a spoken NLU task")
    parser.add_argument("--task", required=True, help=f"task in prompts/nlu.yaml: {', '.join(load_tasks())}")
    parser.add_argument("--ref", type=Path, required=True, help="gold answers (<uttid> <label word>)")
    parser.add_argument("--hyp", type=Path, required=True, help="answers (<uttid> <text>)")
    parser.add_argument("--utt2lang", type=Path, default=None, help="<uttid> <language>: adds per-language scores")
    parser.add_argument("--name", default=None, help="system name in the tables (default: the --hyp directory's name)")
    parser.add_argument("--output_dir", type=Path, default=None, help="where result.json / result.md go")
    return parser


def main(cmd: list[str] | None = None) -> dict:
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        task = get_task(args.task)
    except KeyError as e:
        parser.error(f"--task: {e.args[0]}")
    refs = read_arg(parser, "--ref", args.ref)
    hyps = read_arg(parser, "--hyp", args.hyp)
    langs = read_arg(parser, "--utt2lang", args.utt2lang)
    name = args.name or args.hyp.resolve().parent.name
    try:
        result = nlu.score(task, refs, hyps, langs)
    except ValueError as e:
        parser.error(f"{args.hyp}: {e}")
    if result["missing_hypotheses"]:
        ids = result["missing_hypothesis_ids"]
        logging.warning(f"{len(ids)} utterances have no answer in {args.hyp} (counted wrong): {', '.join(ids[:5])}")
    result["behaviour"] = behaviour.score(hyps, refs, answers=lambda a: task.label_of(a) is not None, groups=langs)
    record = {"name": name, "ref": str(args.ref), "hyp": str(args.hyp), **result}
    markdown = nlu.markdown_table({name: result}) + "\n" + behaviour.markdown_table({name: result["behaviour"]})
    json_path, _ = write_report(args.output_dir or args.hyp.parent, record, markdown)
    sys.stdout.write(markdown)
    sys.stdout.flush()
    logging.info(f"wrote {json_path} and result.md")
    return record


if __name__ == "__main__":
    main()
