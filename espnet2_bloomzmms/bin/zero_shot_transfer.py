#!/usr/bin/env python3
"""Zero-shot instruction transfer: does the speech model answer a spoken utterance as the
LLM answers its transcript, for instructions it never saw in training?

    python -m espnet2_bloomzmms.bin.zero_shot_transfer --model_dir exp/ce_TMI \
        --data_dir dump/raw/test_T --templates local/data/instructions.tsv \
        --languages local/data/languages.tsv --split heldout --output_dir exp/ce_TMI/zero_shot_test

For each template of ``--split`` (one or more template splits, e.g. ``heldout`` for new
wordings of trained tasks and ``text`` for tasks the LLM was taught that no speech
training set contains): the speech model gets ``[prefix; speech; postfix]``, the LLM
alone gets ``prefix + transcript + postfix`` as text, both greedy; the agreement is the
share of utterances whose two answers are equal (after stripping whitespace).
Writes ``<template id>/{speech,text}`` answer files and ``summary.json`` (with each
utterance's 0/1 agreement, for confidence intervals: ``bin.write_results``). Both answers
come from the one LLM the speech model loaded (with a LoRA model, the text answers are
its frozen base's, adapters switched off); audio is read as training reads ``wav.scp``
(files, pipes, ark; other rates resampled).
"""

import argparse
import json
import logging
from pathlib import Path

from espnet2.utils.types import str2bool

from espnet2_bloomzmms.audio_io import open_wav_scp, read_mono
from espnet2_bloomzmms.data.datadir import read_kv, write_kv
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.instructions import draw_target, read_language_names, read_templates
from espnet2_bloomzmms.text_generation import TextGenerator
from espnet2_bloomzmms.utils.atomic_files import atomic_path



def main(cmd=None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="experiment dir or packed archive")
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--templates", type=Path, required=True)
    parser.add_argument("--languages", type=Path, required=True)
    parser.add_argument("--split", default="heldout",
                        help="template split(s) to test, separated by spaces or commas (e.g. 'heldout text')")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=48)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--resample", type=str2bool, default=True,
                        help="Resample audio that is not 16 kHz (false: refuse it)")
    args = parser.parse_args(cmd)

    splits = args.split.replace(",", " ").split()
    templates = [t for t in read_templates(args.templates) if t.split in splits]
    if not templates:
        raise SystemExit(f"{args.templates}: no templates in split(s) {splits}")
    names = read_language_names(args.languages)
    text, utt2lang = (read_kv(args.data_dir / f) for f in ("text", "utt2lang"))
    reader = open_wav_scp(args.data_dir / "wav.scp")
    uids = sorted(text)
    have = set(reader.keys())
    missing = [u for u in uids if u not in have]
    if missing:
        raise SystemExit(f"{args.data_dir}/wav.scp: no audio for {len(missing)} utterances of text ({', '.join(missing[:5])})")
    model = BloomzMMS.from_pretrained(args.model_dir, device=args.device, max_new_tokens=args.max_new_tokens)
    speech = []
    for u in uids:
        wave, rate = read_mono(reader, u, args.resample)
        speech.append(model.check_speech(wave, f"utterance {u}", fs=rate))
    llm = TextGenerator.from_decoder(model.model.decoder)  # the same LLM, its LoRA adapters off
    rendered = {t.id: [t.render(names[utt2lang[u]], draw_target(u, t, names[utt2lang[u]], list(names.values()), 0))
                       for u in uids] for t in templates}
    # each batch of speech is encoded once and asked every instruction (one batch in memory)
    answers = {t.id: [] for t in templates}
    for i in range(0, len(uids), args.batch_size):
        encoded = model.encode(speech[i : i + args.batch_size])
        for t in templates:
            pairs = rendered[t.id][i : i + args.batch_size]
            answers[t.id] += model.generate(encoded, [p for p, _ in pairs], [q for _, q in pairs])

    rows = []
    for t in templates:
        spoken = answers[t.id]
        written = llm.generate([(p, text[u], q) for u, (p, q) in zip(uids, rendered[t.id])], args.max_new_tokens,
                               args.batch_size)
        spoken, written = [s.strip() for s in spoken], [w.strip() for w in written]
        agree = [int(s == w) for s, w in zip(spoken, written)]
        agreement = sum(agree) / len(uids)
        write_kv(args.output_dir / t.id / "speech", dict(zip(uids, spoken)), escape=True)
        write_kv(args.output_dir / t.id / "text", dict(zip(uids, written)), escape=True)
        rows.append({"id": t.id, "task": t.task, "split": t.split, "agreement": agreement, "utterances": len(uids),
                     "agree": agree})
        logging.info(f"{t.id} ({t.task}): {100 * agreement:.1f}% of {len(uids)} answers agree")
    summary = {"templates": rows, "mean_agreement": sum(r["agreement"] for r in rows) / len(rows), "uids": uids}
    with atomic_path(args.output_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
