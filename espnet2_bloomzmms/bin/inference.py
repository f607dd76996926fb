#!/usr/bin/env python3
"""Decode a Kaldi/ESPnet data directory with a trained BLOOMZMMS model.

    python -m espnet2_bloomzmms.bin.inference --model_dir exp/bloomzmms_train \
        --data_dir data/test --output_dir exp/bloomzmms_train/decode_test

    python -m espnet2_bloomzmms.bin.inference --config exp/x/config.yaml \
        --model_file exp/x/valid.acc.ave.pth --data_dir data/test --output_dir decode \
        --prefix "Translate into English: " --postfix ". " --ctc true

``--model_dir`` also takes a model shared on the Hugging Face hub (``owner/name``).

Reads ``DATA/wav.scp`` (mono; other sample rates are resampled to 16 kHz unless
``--resample false``, which refuses them) and, when present, the per-utterance instructions
``DATA/prefix`` / ``DATA/postfix`` (one JSON string per utterance). ``--prefix`` /
``--postfix`` given on the command line are used for every utterance instead (the data
files are then ignored); without either, the training config's defaults apply.
Utterances are decoded in batches of similar length (longest first) and written as
``DECODE_DIR/text`` (``uttid hypothesis``, sorted by id, written atomically); with
``--ctc true`` also the CTC head's greedy output as ``DECODE_DIR/text_ctc``. Line breaks
in a hypothesis become spaces (one line per utterance). With ``--chunk_seconds``, longer
recordings are cut at low-energy points, decoded chunk by chunk and the answers joined.

A decode directory whose ``text`` (and ``text_ctc`` with ``--ctc true``) already covers
every utterance is skipped; delete it to decode again.
"""

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

from espnet2.utils.types import str2bool, str_or_none

from espnet2_bloomzmms.data.datadir import read_kv, write_kv
from espnet2_bloomzmms.inference import SAMPLE_RATE, BloomzMMS
from espnet2_bloomzmms.wav_scp import num_samples, open_wav_scp, read_mono


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Decode a data directory with a BLOOMZMMS model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    model = parser.add_argument_group("model (either --model_dir or --config [+ --model_file])")
    model.add_argument("--model_dir", type=str_or_none, default=None,
                       help="Experiment directory (config.yaml + model files), packed .zip model, "
                       "or hub model name (owner/name)")
    model.add_argument("--revision", type=str_or_none, default=None, help="Hub revision (hub model names only)")
    model.add_argument("--config", type=str_or_none, default=None, help="Training config.yaml")
    model.add_argument("--model_file", type=str_or_none, default=None, help="Trained parameters (.pth)")
    model.add_argument("--device", type=str, default="cpu", help="cpu, cuda, cuda:N")
    model.add_argument("--dtype", type=str_or_none, default=None, choices=["float32", "bfloat16", "float16", None],
                       help="Cast the LLM to this dtype (speech layers stay float32)")
    parser.add_argument("--data_dir", type=str, required=True, help="Data directory with wav.scp")
    parser.add_argument("--output_dir", type=str, required=True, help="Decode directory for text (and text_ctc)")
    parser.add_argument("--batch_size", type=int, default=8, help="Utterances per batch")
    gen = parser.add_argument_group("generation")
    gen.add_argument("--max_new_tokens", type=int, default=192)
    gen.add_argument("--num_beams", type=int, default=1)
    gen.add_argument("--length_penalty", type=float, default=1.0)
    gen.add_argument("--repetition_penalty", type=float, default=1.0)
    gen.add_argument("--no_repeat_ngram_size", type=int, default=0)
    gen.add_argument("--prefix", type=str_or_none, default=None,
                     help="Instruction before the speech, for every utterance (overrides DATA/prefix)")
    gen.add_argument("--postfix", type=str_or_none, default=None,
                     help="Instruction after the speech, for every utterance (overrides DATA/postfix)")
    gen.add_argument("--allowed_answers", type=str, nargs="+", default=None,
                     help="Answer with the likeliest of these strings instead of generating")
    gen.add_argument("--max_seconds", type=float, default=None, help="Refuse longer utterances")
    gen.add_argument("--chunk_seconds", type=float, default=None,
                     help="Cut longer utterances at low-energy points into chunks of at most this length "
                     "and join their answers (e.g. 30, the training limit)")
    parser.add_argument("--resample", type=str2bool, default=True,
                        help="Resample audio that is not 16 kHz (false: refuse it)")
    parser.add_argument("--ctc", type=str2bool, default=False, help="Also write the CTC head's greedy output (text_ctc)")
    parser.add_argument("--llm", type=str2bool, default=True,
                        help="Write the LLM's answers (text); false with --ctc true decodes the CTC head only")
    parser.add_argument("--log_level", type=lambda x: x.upper(), default="INFO",
                        choices=("ERROR", "WARNING", "INFO", "DEBUG"))
    return parser


def _instructions(data_dir: Path, name: str, given: Optional[str], uttids: List[str]) -> Optional[Dict[str, str]]:
    """Per-utterance instructions from DATA/<name>, or None (-> the command line's or default)."""
    path = data_dir / name
    if given is not None:
        if path.is_file():
            logging.info("--%s given: ignoring %s", name, path)
        return None
    if not path.is_file():
        return None
    values = read_kv(path)
    missing = [u for u in uttids if u not in values]
    if missing:
        raise ValueError(f"{path}: no line for {len(missing)} utterances ({', '.join(missing[:5])})")
    return values


def _covers(path: Path, uttids: List[str]) -> bool:
    if not path.is_file():
        return False
    try:
        done = read_kv(path)
    except ValueError:
        return False
    return all(u in done for u in uttids)


def _one_line(text: str) -> str:
    return " ".join(text.replace("\r", "\n").split("\n")).strip()


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if (args.model_dir is None) == (args.config is None):
        raise SystemExit("give either --model_dir or --config (with --model_file)")
    if args.batch_size < 1:
        raise SystemExit(f"--batch_size must be >= 1, got {args.batch_size}")
    data_dir, out_dir = Path(args.data_dir), Path(args.output_dir)
    wav_scp = data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise SystemExit(f"{wav_scp}: no such file")
    reader = open_wav_scp(wav_scp)
    uttids = list(reader.keys())
    if not uttids:
        raise SystemExit(f"{wav_scp}: no utterances")

    if not (args.llm or args.ctc):
        raise SystemExit("nothing to decode: --llm false needs --ctc true")
    outputs = ([out_dir / "text"] if args.llm else []) + ([out_dir / "text_ctc"] if args.ctc else [])
    if all(_covers(p, uttids) for p in outputs):
        print(f"{out_dir}: {', '.join(p.name for p in outputs)} already cover all {len(uttids)} utterances; "
              "skipping (delete them to decode again)")
        return

    options = dict(
        device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
        length_penalty=args.length_penalty, repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size, default_prefix=args.prefix,
        default_postfix=args.postfix, max_seconds=args.max_seconds, chunk_seconds=args.chunk_seconds,
    )
    if args.model_dir is not None:
        bloomzmms = BloomzMMS.from_pretrained(args.model_dir, revision=args.revision, **options)
    else:
        bloomzmms = BloomzMMS(args.config, args.model_file, **options)

    prefixes = _instructions(data_dir, "prefix", args.prefix, uttids)
    postfixes = _instructions(data_dir, "postfix", args.postfix, uttids)
    lengths = {u: num_samples(reader, u) for u in uttids}
    order = sorted(uttids, key=lambda u: -lengths[u])  # similar lengths batch together
    hyps: Dict[str, str] = {}
    ctc_hyps: Dict[str, str] = {}
    resampled: Counter = Counter()
    start = time.perf_counter()
    for b in range(0, len(order), args.batch_size):
        ids = order[b : b + args.batch_size]
        waves = []
        for u in ids:
            wave, rate = read_mono(reader, u, args.resample)
            resampled.update([rate] if rate != SAMPLE_RATE else [])
            waves.append(bloomzmms.check_speech(wave, f"utterance {u}", fs=rate))
        encoded = bloomzmms.encode(waves)
        if args.llm:
            texts = bloomzmms.generate(
                encoded,
                [prefixes[u] for u in ids] if prefixes else None,
                [postfixes[u] for u in ids] if postfixes else None,
                allowed_answers=args.allowed_answers,
            )
            hyps.update((u, _one_line(t)) for u, t in zip(ids, texts))
        if args.ctc:
            ctc_hyps.update((u, _one_line(t)) for u, t in zip(ids, bloomzmms.ctc_texts(encoded)))
        logging.info("decoded %d/%d utterances (%.1f s)", b + len(ids), len(order), time.perf_counter() - start)

    for rate, n in sorted(resampled.items()):
        logging.info("resampled %d utterances from %d Hz to %d Hz", n, rate, SAMPLE_RATE)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.llm:
        write_kv(out_dir / "text", hyps, escape=False)
    if args.ctc:
        write_kv(out_dir / "text_ctc", ctc_hyps, escape=False)
    logging.info("wrote %s", ", ".join(str(p) for p in outputs))


if __name__ == "__main__":
    main(sys.argv[1:])
