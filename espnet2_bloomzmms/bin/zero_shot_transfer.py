#!/usr/bin/env python3
"""Zero-shot instruction transfer: does the speech model answer a spoken utterance as the
LLM answers its transcript, for instructions it never saw in training?

    python -m espnet2_bloomzmms.bin.zero_shot_transfer --model_dir exp/ce_TMI \
        --data_dir dump/raw/test_T --templates local/data/instructions.tsv \
        --languages local/data/languages.tsv --split heldout --output_dir exp/ce_TMI/zero_shot_test

For each template of ``--split``: the speech model gets ``[prefix; speech; postfix]``,
the LLM alone gets ``prefix + transcript + postfix`` as text, both greedy; the agreement
is the share of utterances whose two answers are equal (after stripping whitespace).
Writes ``<template id>/{speech,text}`` answer files and ``summary.json``.
"""

import argparse
import json
import logging
from pathlib import Path

import soundfile

from espnet2_bloomzmms.data.datadir import atomic_path, read_kv, write_kv
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.instructions import read_language_names, read_templates
from espnet2_bloomzmms.text_generation import TextGenerator


def main(cmd=None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="experiment dir or packed archive")
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--templates", type=Path, required=True)
    parser.add_argument("--languages", type=Path, required=True)
    parser.add_argument("--split", default="heldout")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=48)
    parser.add_argument("--ngpu", type=int, default=0)
    args = parser.parse_args(cmd)

    templates = [t for t in read_templates(args.templates) if t.split == args.split]
    if not templates:
        raise SystemExit(f"{args.templates}: no templates in split {args.split!r}")
    names = read_language_names(args.languages)
    text, utt2lang, wav = (read_kv(args.data_dir / f) for f in ("text", "utt2lang", "wav.scp"))
    uids = sorted(text)
    device = "cuda" if args.ngpu > 0 else "cpu"
    model = BloomzMMS.from_pretrained(args.model_dir, device=device, max_new_tokens=args.max_new_tokens)
    speech = [soundfile.read(wav[u], dtype="float32")[0] for u in uids]
    llm = TextGenerator.from_pretrained(model.model.decoder.model_name_or_path, device=device)

    rows = []
    for t in templates:
        rendered = [t.render(names[utt2lang[u]]) for u in uids]
        prefixes, postfixes = [p for p, _ in rendered], [q for _, q in rendered]
        spoken = []
        for i in range(0, len(uids), args.batch_size):
            chunk = slice(i, i + args.batch_size)
            spoken += model.batch(speech[chunk], prefixes=prefixes[chunk], postfixes=postfixes[chunk])
        written = llm.generate([(p, text[u], q) for u, (p, q) in zip(uids, rendered)], args.max_new_tokens, args.batch_size)
        spoken, written = [s.strip() for s in spoken], [w.strip() for w in written]
        agreement = sum(s == w for s, w in zip(spoken, written)) / len(uids)
        write_kv(args.output_dir / t.id / "speech", dict(zip(uids, spoken)), escape=True)
        write_kv(args.output_dir / t.id / "text", dict(zip(uids, written)), escape=True)
        rows.append({"id": t.id, "task": t.task, "agreement": agreement, "utterances": len(uids)})
        logging.info(f"{t.id} ({t.task}): {100 * agreement:.1f}% of {len(uids)} answers agree")
    summary = {"templates": rows, "mean_agreement": sum(r["agreement"] for r in rows) / len(rows)}
    with atomic_path(args.output_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
