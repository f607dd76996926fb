"""Score a decoding's translations: BLEU and chrF (sacrebleu) per language pair and
overall, with behaviour metrics (target-language script, refusals, loops, copies).

Example::

    python -m espnet2_bloomzmms.bin.score_st --ref data/test_covost2_en_de/text \\
        --hyp exp/ce_TMI/decode_test_covost2_en_de/text \\
        --utt2pair data/test_covost2_en_de/utt2pair \\
        --source data/test_covost2_en_de/transcript

    python -m espnet2_bloomzmms.bin.score_st --ref REF --hyp HYP --src_lang en --tgt_lang de

Writes ``result.json`` and ``result.md`` to ``--output_dir`` (default: the directory of
``--hyp``) atomically and prints the Markdown; each score carries sacrebleu's signature.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from espnet2_bloomzmms.scoring import behaviour, translation
from espnet2_bloomzmms.scoring.report import read_arg, write_report


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="BLEU / chrF of translations, per language pair and overall")
    parser.add_argument("--ref", type=Path, required=True, help="reference translations (<uttid> <text>)")
    parser.add_argument("--hyp", type=Path, required=True, help="hypotheses (<uttid> <text>)")
    parser.add_argument("--utt2pair", type=Path, default=None, help="<uttid> <src lang> <tgt lang>")
    parser.add_argument("--src_lang", default=None, help="source language of every utterance (without --utt2pair)")
    parser.add_argument("--tgt_lang", default=None, help="target language of every utterance (without --utt2pair)")
    parser.add_argument("--source", type=Path, default=None,
                        help="source transcripts (<uttid> <text>): counts answers that copy the source")
    parser.add_argument("--tokenize", default=None,
                        help="sacrebleu tokenizer for every pair (default: by target language: zh, ja-mecab, 13a, ...)")
    parser.add_argument("--name", default=None, help="system name in the tables (default: the --hyp directory's name)")
    parser.add_argument("--output_dir", type=Path, default=None, help="where result.json / result.md go")
    return parser


def _pairs(parser, args, refs: dict) -> dict[str, tuple[str, str]]:
    if (args.utt2pair is None) == (args.src_lang is None or args.tgt_lang is None):
        parser.error("give either --utt2pair or both --src_lang and --tgt_lang")
    if args.utt2pair is None:
        return {u: (args.src_lang, args.tgt_lang) for u in refs}
    pairs = {}
    for uttid, value in read_arg(parser, "--utt2pair", args.utt2pair).items():
        fields = value.split()
        if len(fields) != 2:
            parser.error(f"--utt2pair: {args.utt2pair}: {uttid}: expected '<src> <tgt>', got {value!r}")
        pairs[uttid] = tuple(fields)
    return pairs


def main(cmd: list[str] | None = None) -> dict:
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    refs = read_arg(parser, "--ref", args.ref)
    hyps = read_arg(parser, "--hyp", args.hyp)
    sources = read_arg(parser, "--source", args.source)
    pairs = _pairs(parser, args, refs)
    name = args.name or args.hyp.resolve().parent.name
    try:
        result = translation.score(refs, hyps, pairs, tokenize=args.tokenize)
    except ValueError as e:
        parser.error(f"{args.hyp}: {e}")
    if result["missing_hypotheses"]:
        ids = result["missing_hypothesis_ids"]
        logging.warning(f"{len(ids)} utterances have no hypothesis in {args.hyp} (scored as empty): {', '.join(ids[:5])}")
    result["behaviour"] = behaviour.score(
        hyps, refs, expected_langs={u: pairs[u][1] for u in refs}, sources=sources,
        groups={u: translation.pair_name(*pairs[u]) for u in refs},
    )
    record = {"name": name, "ref": str(args.ref), "hyp": str(args.hyp), **result}
    markdown = translation.markdown_table({name: result}) + "\n" + behaviour.markdown_table({name: result["behaviour"]})
    json_path, _ = write_report(args.output_dir or args.hyp.parent, record, markdown)
    sys.stdout.write(markdown)
    sys.stdout.flush()
    logging.info(f"wrote {json_path} and result.md")
    return record


if __name__ == "__main__":
    main()
