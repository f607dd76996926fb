"""Score a decoding's transcripts: CER / WER overall and per language.

Example::

    python -m espnet2_bloomzmms.bin.score_asr --ref data/test/text \\
        --hyp exp/asr/decode_test/text --utt2lang data/test/utt2lang \\
        --output exp/asr/decode_test/score.json

Prints Markdown tables (as in RESULTS.md) and writes the numbers as JSON (atomically),
with behaviour metrics (``espnet2_bloomzmms.scoring.behaviour``) under ``behaviour``.
Text is normalised with Whisper's basic normaliser, keeping combining marks (see
``espnet2_bloomzmms.scoring.asr``); ``--whisper_exact`` drops them as Whisper does.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from espnet2_bloomzmms.utils.atomic_files import atomic_path
from espnet2_bloomzmms.scoring import behaviour, report
from espnet2_bloomzmms.scoring.asr import markdown_table, score


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="CER / WER (overall and per language) of hypotheses against references, "
        "on Whisper-normalised text."
    )
    parser.add_argument("--ref", type=Path, required=True, help="reference text (<uttid> <text>)")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis text (<uttid> <text>)")
    parser.add_argument("--utt2lang", type=Path, default=None, help="<uttid> <language>")
    parser.add_argument(
        "--name",
        default=None,
        help="system name in the table (default: the --hyp directory's name)",
    )
    parser.add_argument("--output", type=Path, required=True, help="JSON file to write")
    parser.add_argument(
        "--whisper_exact",
        action="store_true",
        help="normalise exactly as Whisper does (drops combining marks, e.g. Hindi vowel signs)",
    )
    return parser


def main(cmd: list[str] | None = None) -> dict:
    parser = get_parser()
    args = report.parse_scoring_args(parser, cmd)

    refs, hyps, name = report.read_decode(parser, args)
    langs = report.read_arg(parser, "--utt2lang", args.utt2lang)
    with report.usage_errors(parser, args.hyp):
        result = score(refs, hyps, langs, keep_marks=not args.whisper_exact)

    report.warn_utterances(
        result["missing_hypothesis_ids"], f"have no hypothesis in {args.hyp} (scored as empty)", mark_more=True
    )
    report.warn_utterances(
        result["empty_reference_ids"], "have an empty reference after normalisation (skipped)", mark_more=True
    )

    record = {
        "name": name,
        "ref": str(args.ref),
        "hyp": str(args.hyp),
        "utt2lang": None if args.utt2lang is None else str(args.utt2lang),
        "normalizer": "whisper_basic" if args.whisper_exact else "whisper_basic_keep_marks",
        **result,
        # answers in the script of the utterance's language, refusals, loops, length
        "behaviour": behaviour.score(hyps, refs, expected_langs=langs, groups=langs),
    }
    with atomic_path(args.output) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(report.markdown_tables(name, result, markdown_table, record["behaviour"]))
    sys.stdout.flush()
    logging.info(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    main()
