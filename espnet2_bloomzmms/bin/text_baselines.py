#!/usr/bin/env python3
"""Text baselines beside a speech result: the LLM alone answers the same items with
text in place of the speech, under the same instructions.

    python -m espnet2_bloomzmms.bin.text_baselines --config exp/ce_TMI/config.yaml \\
        --data_dir data/test_covost2_en_de --output_dir exp/ce_TMI/baselines_test_covost2_en_de \\
        --text gold=data/test_covost2_en_de/transcript \\
        --text cascade_ctc=exp/ce_TMI/decode_test_covost2_en_de_asr/text_ctc

    # NLU: the same answer constraint as the speech decode
    python -m espnet2_bloomzmms.bin.text_baselines --config exp/ce_TMI/config.yaml \\
        --data_dir data/test_speechglue_rte --output_dir exp/ce_TMI/baselines_test_speechglue_rte \\
        --text gold=data/test_speechglue_rte/transcript --answers data/test_speechglue_rte/answers

Each ``--text NAME=FILE`` gives the text of every utterance of ``--data_dir``: the gold
transcript (the ceiling: what the LLM does when recognition is perfect) or an ASR
hypothesis (the cascade: our CTC head's ``text_ctc`` or the instruction ASR's ``text``).
The prompt is ``prefix + text + postfix`` with the data dir's per-utterance ``prefix`` /
``postfix`` (or ``--prefix`` / ``--postfix`` for all), tokenized segment by segment as
around speech. Answers are greedy (``--max_new_tokens``), or with ``--answers`` (one
label word per line) the likeliest label word, scored as the speech decoder scores it.
Each ``OUTPUT_DIR/NAME/text`` is a decode dir's ``text``, so ``score_st`` /
``score_nlu`` / ``score_asr`` score it like the speech decode.

A data dir of spoken sentence pairs (``middle``, ``wav2.scp``) needs the second sentence's
text too: ``--text2 NAME=FILE`` for every ``--text NAME`` (``transcript2``, or the ASR of
``wav2.scp``); the prompt is then ``prefix + text + middle + text2 + postfix``.

The LLM is the base LLM of the speech model (``--config``: its training config's
``decoder_conf``, loaded as the speech model loads it: same dtype and quantization), or
any causal LM (``--llm``). LoRA adapters trained with the speech
model are not applied: the baselines show what the frozen LLM does with text.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from espnet2.utils.types import str_or_none

from espnet2_bloomzmms.data.datadir import read_kv, write_kv
from espnet2_bloomzmms.data.nlu.datadir import read_answers
from espnet2_bloomzmms.text_generation import TextGenerator


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="LLM answers with text in place of speech (ceiling and cascade)",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    model = parser.add_argument_group("LLM (either --config or --llm)")
    model.add_argument("--config", type=Path, default=None, help="the speech model's training config.yaml")
    model.add_argument("--llm", type=str_or_none, default=None, help="Hugging Face causal LM name or directory")
    model.add_argument("--dtype", type=str_or_none, default=None, choices=["float32", "bfloat16", "float16", None],
                       help="LLM dtype (default: the config's decoder_conf.dtype, else float32)")
    model.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--data_dir", type=Path, required=True, help="the test set (wav.scp ids, prefix, postfix)")
    parser.add_argument("--text", action="append", required=True, metavar="NAME=FILE",
                        help="text per utterance (<uttid> <text>) to give in place of the speech; repeatable")
    parser.add_argument("--text2", action="append", default=[], metavar="NAME=FILE",
                        help="the second sentence's text of each --text NAME (sentence-pair data dirs)")
    parser.add_argument("--output_dir", type=Path, required=True, help="writes OUTPUT_DIR/NAME/text")
    parser.add_argument("--answers", type=Path, default=None, help="label words, one per line: constrain answers")
    parser.add_argument("--prefix", type=str_or_none, default=None, help="instruction before the text, for all")
    parser.add_argument("--postfix", type=str_or_none, default=None, help="instruction after the text, for all")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=192)
    return parser


def _llm_name(parser: argparse.ArgumentParser, args) -> str:
    """The LLM's name, from ``--llm`` or the ``--config``'s decoder_conf."""
    if (args.config is None) == (args.llm is None):
        parser.error("give either --config (the speech model's config.yaml) or --llm")
    if args.llm is not None:
        return args.llm
    if not args.config.is_file():
        parser.error(f"--config: file is missing: {args.config}")
    conf = (yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}).get("decoder_conf") or {}
    if "model_name_or_path" not in conf:
        parser.error(f"--config: {args.config} has no decoder_conf.model_name_or_path")
    return conf["model_name_or_path"]


def _generator(args) -> TextGenerator:
    """The LLM as the speech model loads it (``--config``: its dtype and quantization,
    without LoRA), or a named causal LM (``--llm``)."""
    return TextGenerator.load(args.llm, args.config, args.device, dtype=args.dtype)


def _texts(parser: argparse.ArgumentParser, specs: List[str], uttids: List[str],
           option: str = "--text") -> Dict[str, Dict[str, str]]:
    texts = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or "/" in name or not path:
            parser.error(f"{option}: expected NAME=FILE, got {spec!r}")
        if name in texts:
            parser.error(f"{option}: name {name!r} given twice")
        if not Path(path).is_file():
            parser.error(f"{option}: {name}: file is missing: {path}")
        values = read_kv(path, escape=False)
        missing = [u for u in uttids if u not in values]
        if missing:
            parser.error(f"{option}: {path}: no text for {len(missing)} of {len(uttids)} utterances "
                         f"({', '.join(missing[:5])})")
        texts[name] = {u: values[u] for u in uttids}
    return texts


def _instructions(parser, data_dir: Path, name: str, given: Optional[str], uttids: List[str]) -> List[str]:
    if given is not None:
        return [given] * len(uttids)
    path = data_dir / name
    if not path.is_file():
        parser.error(f"{path}: no per-utterance {name}; give --{name} for all utterances")
    values = read_kv(path)
    missing = [u for u in uttids if u not in values]
    if missing:
        parser.error(f"{path}: no line for {len(missing)} utterances ({', '.join(missing[:5])})")
    return [values[u] for u in uttids]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(cmd: Optional[List[str]] = None) -> Dict[str, Path]:
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if args.batch_size < 1:
        parser.error(f"--batch_size must be >= 1, got {args.batch_size}")
    llm = _llm_name(parser, args)
    wav_scp = args.data_dir / "wav.scp"
    if not wav_scp.is_file():
        parser.error(f"{wav_scp}: no such file (--data_dir must be a data dir)")
    uttids = list(read_kv(wav_scp))
    texts = _texts(parser, args.text, uttids)
    prefixes = _instructions(parser, args.data_dir, "prefix", args.prefix, uttids)
    postfixes = _instructions(parser, args.data_dir, "postfix", args.postfix, uttids)
    seconds, middles = _texts(parser, args.text2, uttids, "--text2"), None
    unpaired = sorted(set(seconds) - set(texts))
    if unpaired:
        parser.error(f"--text2: {', '.join(unpaired)} has no --text of that name")
    if (args.data_dir / "middle").is_file():
        middles = _instructions(parser, args.data_dir, "middle", None, uttids)
        lacking = sorted(set(texts) - set(seconds))
        if lacking:
            parser.error(f"{args.data_dir} holds sentence pairs (middle): give --text2 for {', '.join(lacking)}")
    elif seconds:
        parser.error(f"--text2: {args.data_dir} has no middle file: it is not a data dir of sentence pairs")
    answers = None
    if args.answers is not None:
        try:
            answers = read_answers(args.answers)
        except (OSError, ValueError) as e:
            parser.error(f"--answers: {e}")

    generator = _generator(args)
    written = {}
    for name, text in texts.items():
        if middles is None:
            prompts = [(p, text[u], q) for u, p, q in zip(uttids, prefixes, postfixes)]
        else:
            prompts = [(p, text[u], m, seconds[name][u], q) for u, p, m, q in zip(uttids, prefixes, middles, postfixes)]
        if answers is not None:
            outputs = generator.choose(prompts, answers, args.batch_size)
        else:
            outputs = generator.generate(prompts, args.max_new_tokens, args.batch_size)
        path = args.output_dir / name / "text"
        write_kv(path, {u: _one_line(o) for u, o in zip(uttids, outputs)}, escape=False)
        logging.info(f"{name}: {len(uttids)} answers with {llm} -> {path}")
        written[name] = path
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
