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
from pathlib import Path

from espnet2_bloomzmms.scoring import behaviour, report, translation


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
    report.add_report_arguments(parser)
    return parser


def _pairs(parser, args, refs: dict) -> dict[str, tuple[str, str]]:
    if (args.utt2pair is None) == (args.src_lang is None or args.tgt_lang is None):
        parser.error("give either --utt2pair or both --src_lang and --tgt_lang")
    if args.utt2pair is None:
        return {u: (args.src_lang, args.tgt_lang) for u in refs}
    pairs = {}
    for uttid, value in report.read_arg(parser, "--utt2pair", args.utt2pair).items():
        fields = value.split()
        if len(fields) != 2:
            parser.error(f"--utt2pair: {args.utt2pair}: {uttid}: expected '<src> <tgt>', got {value!r}")
        pairs[uttid] = tuple(fields)
    return pairs


def main(cmd: list[str] | None = None) -> dict:
    parser = get_parser()
    args = report.parse_scoring_args(parser, cmd)
    refs, hyps, name = report.read_decode(parser, args)
    sources = report.read_arg(parser, "--source", args.source)
    pairs = _pairs(parser, args, refs)
    with report.usage_errors(parser, args.hyp):
        result = translation.score(refs, hyps, pairs, tokenize=args.tokenize)
    report.warn_utterances(result["missing_hypothesis_ids"], f"have no hypothesis in {args.hyp} (scored as empty)")
    result["behaviour"] = behaviour.score(
        hyps, refs, expected_langs={u: pairs[u][1] for u in refs}, sources=sources,
        groups={u: translation.pair_name(*pairs[u]) for u in refs},
    )
    return report.publish(args, name, result, translation.markdown_table)


if __name__ == "__main__":
    main()
