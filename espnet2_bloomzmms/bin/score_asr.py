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

from espnet2_bloomzmms.data.datadir import DataDirError, atomic_path, read_kv
from espnet2_bloomzmms.scoring import behaviour
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


def _read(parser: argparse.ArgumentParser, option: str, path: Path) -> dict[str, str]:
    if not path.is_file():
        parser.error(f"{option}: file is missing: {path}")
    try:
        return read_kv(path, escape=False)
    except (DataDirError, UnicodeDecodeError) as e:
        parser.error(f"{option}: {e}")


def main(cmd: list[str] | None = None) -> dict:
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")

    refs = _read(parser, "--ref", args.ref)
    hyps = _read(parser, "--hyp", args.hyp)
    langs = _read(parser, "--utt2lang", args.utt2lang) if args.utt2lang is not None else None
    name = args.name or args.hyp.resolve().parent.name
    try:
        result = score(refs, hyps, langs, keep_marks=not args.whisper_exact)
    except ValueError as e:
        parser.error(f"{args.hyp}: {e}")

    if result["missing_hypotheses"]:
        ids = result["missing_hypothesis_ids"]
        logging.warning(
            f"{len(ids)} utterances have no hypothesis in {args.hyp} (scored as empty): "
            + ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        )
    if result["empty_references"]:
        ids = result["empty_reference_ids"]
        logging.warning(
            f"{len(ids)} utterances have an empty reference after normalisation (skipped): "
            + ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
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
    sys.stdout.write(markdown_table({name: result}) + "\n" + behaviour.markdown_table({name: record["behaviour"]}))
    sys.stdout.flush()
    logging.info(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    main()
