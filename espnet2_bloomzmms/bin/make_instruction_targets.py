#!/usr/bin/env python3
"""Build the T, MI and TMI training sets of multi-instructional training.

    python -m espnet2_bloomzmms.bin.make_instruction_targets \
        --src dump/raw/train_sp --llm exp/models/llm \
        --templates local/data/instructions.tsv --languages local/data/languages.tsv \
        --k 2 --seed 0 --dst_prefix dump/raw/train_sp --exp_dir exp/instruction_targets

- T:   every utterance with the ASR instruction (template ``--asr_template``), target = transcript.
- MI:  ``k`` templates per utterance drawn from the other training templates (or from
       ``--mi_templates``, a JSON list of [prefix, postfix] pairs as the authors'), a
       ``{target}`` language drawn for each from ``--target_languages``; the target is what
       the text LLM answers (greedy) to ``prefix + transcript + postfix``. Speed-perturbed
       copies (``utt2uniq``) get their original's draws, so they share its answers.
- TMI: T and MI together.
Every variant dir also gets ``transcript`` (the utterance's transcript, whatever ``text``
is): the CTC target where instruction training keeps a CTC loss (``ctc_weight > 0``).
The text LLM gets the prompt tokenized segment by segment (prefix, transcript, postfix),
as the speech model gets it. The utterance ``u`` becomes ``u`` in T and ``u-<template id>`` in MI. Answers are
generated once per distinct prompt (speed-perturbed copies share them) and cached in
``exp_dir/answers.jsonl``; the template pool and all settings are saved next to them, so
the targets can be regenerated bit for bit and an interrupted run resumes.

Generation scales out: ``--num_shards N --shard J`` (J = 1..N) generates only every N-th
missing answer into ``exp_dir/answers.J-of-N.jsonl`` and stops; run the N jobs at once
(GPUs, cluster nodes), then once without ``--shard``, which reads every cache file,
generates what is still missing and writes the data dirs.
"""

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Dict, Tuple

import torch
import yaml

from espnet2_bloomzmms.data.datadir import DataDirError, read_kv
from espnet2_bloomzmms.data.instruction_sets import CARRIED_FIELDS, write_variant
from espnet2_bloomzmms.instructions import (
    draw_target,
    draw_templates,
    read_language_names,
    read_prompt_pairs,
    read_templates,
)
from espnet2_bloomzmms.text_generation import TextGenerator
from espnet2_bloomzmms.utils.append_files import complete_lines, flush, open_for_append
from espnet2_bloomzmms.utils.atomic_files import atomic_path

def read_cache(path: Path) -> Dict[Tuple[str, ...], str]:
    """prompt segments -> answer, from a JSON-lines file written by :func:`append_cache`;
    a last line cut off by a kill is ignored (it is generated again)."""
    answers = {}
    for lineno, line in enumerate(complete_lines(path), 1):
        try:
            prompt, answer = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"{path}:{lineno}: not an answer-cache line ({e}); remove the line or the file") from e
        answers[tuple(prompt)] = answer
    return answers


def read_caches(exp_dir: Path) -> Dict[Tuple[str, ...], str]:
    """The answers of ``answers.jsonl`` and of every shard's ``answers.J-of-N.jsonl``."""
    answers = {}
    for path in [exp_dir / "answers.jsonl", *sorted(exp_dir.glob("answers.*-of-*.jsonl"))]:
        answers.update(read_cache(path))
    return answers


def append_cache(path: Path, answers: Dict[Tuple[str, ...], str]) -> None:
    """Append answers, flushed to disk (a kill loses at most the line being written; that
    cut-off line is removed before anything is appended after it)."""
    with open_for_append(path) as f:
        for prompt, answer in answers.items():
            f.write(json.dumps([list(prompt), answer], ensure_ascii=False) + "\n")
        flush(f)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True, help="data dir with wav.scp, text, utt2spk, utt2lang")
    parser.add_argument("--llm", required=True, help="the (frozen) LLM: hub name or local dir")
    parser.add_argument("--templates", type=Path, required=True, help="template pool (TSV)")
    parser.add_argument("--languages", type=Path, required=True, help="TSV: language code, English name")
    parser.add_argument("--dst_prefix", required=True, help="writes <prefix>_T, <prefix>_MI, <prefix>_TMI")
    parser.add_argument("--exp_dir", type=Path, required=True)
    parser.add_argument("--mi_templates", type=Path, default=None,
                        help="draw the MI instructions from this JSON list of [prefix, postfix] pairs (e.g. the "
                        "authors' templates.json) instead of --templates' train split")
    parser.add_argument("--asr_template", default="T")
    parser.add_argument("--variants", nargs="+", default=["T", "MI", "TMI"], choices=["T", "MI", "TMI"],
                        help="which data dirs to write (T alone needs no LLM)")
    parser.add_argument("--target_languages", type=Path, default=None,
                        help="TSV: language code, English name: the languages a template's {target} names, one "
                        "drawn per utterance and template (default: --languages)")
    parser.add_argument("--k", type=int, default=2, help="templates per utterance in MI")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_new_tokens", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--llm_config", type=Path, default=None,
                        help="a training config whose decoder_conf (dtype, quantization) loads the LLM, so the "
                        "targets come from the LLM as instruction training reads it (the paper: 8-bit)")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                        help="LLM dtype (default: --llm_config's, else float32)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--num_shards", type=int, default=1, help="generation jobs sharing the MI prompts")
    parser.add_argument("--shard", type=int, default=None,
                        help="generate only this shard's answers (1..num_shards) and stop; without it: "
                        "generate what is missing and write the data dirs")
    return parser


def main(cmd=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = get_parser().parse_args(cmd)
    if args.shard is not None and not 1 <= args.shard <= args.num_shards:
        raise SystemExit(f"--shard must be within 1..{args.num_shards} (--num_shards), got {args.shard}")
    templates = read_templates(args.templates)
    by_id = {t.id: t for t in templates}
    if args.asr_template not in by_id:
        raise SystemExit(f"{args.templates}: no template with id {args.asr_template!r} (--asr_template)")
    if args.mi_templates is not None:
        pool = read_prompt_pairs(args.mi_templates)
    else:
        pool = [t for t in templates if t.split == "train" and t.id != args.asr_template]
    names = read_language_names(args.languages)

    text, utt2lang = read_kv(args.src / "text"), read_kv(args.src / "utt2lang")
    carried = {f.field: read_kv(args.src / f.name) for f in CARRIED_FIELDS}
    unknown = sorted({lang for lang in utt2lang.values() if lang not in names})
    if unknown:
        raise DataDirError(f"{args.src}/utt2lang: languages {unknown} are not in {args.languages}")

    llm_conf = {}
    if args.llm_config is not None:
        if not args.llm_config.is_file():
            raise SystemExit(f"--llm_config: no file {args.llm_config}")
        llm_conf = (yaml.safe_load(args.llm_config.read_text(encoding="utf-8")) or {}).get("decoder_conf") or {}
    dtype = args.dtype or llm_conf.get("dtype", "float32")
    quantization = llm_conf.get("quantization")
    settings = {k: str(v) for k, v in vars(args).items()
                if k not in ("batch_size", "device", "variants", "llm_config", "mi_templates", "num_shards", "shard")}
    if args.mi_templates is not None:
        settings["mi_templates"] = str(args.mi_templates)
    settings["dtype"] = dtype
    if quantization is not None:
        settings["quantization"] = quantization
    args.exp_dir.mkdir(parents=True, exist_ok=True)
    settings_file = args.exp_dir / "settings.json"
    if settings_file.exists() and json.loads(settings_file.read_text()) != settings:
        raise SystemExit(f"{args.exp_dir} holds targets made with other settings; use another --exp_dir or remove it")
    # (atomically: shard jobs starting together write the same files)
    with atomic_path(settings_file) as tmp:
        tmp.write_text(json.dumps(settings, indent=2) + "\n")
    for src, name in ((args.templates, "templates.tsv"), (args.mi_templates, "mi_templates.json")):
        if src is not None:
            with atomic_path(args.exp_dir / name) as tmp:
                shutil.copyfile(src, tmp)

    needs_mi = bool({"MI", "TMI"} & set(args.variants))
    # speed-perturbed copies (utt2uniq) draw as their original: they share its prompts and answers
    uniq = read_kv(args.src / "utt2uniq") if (args.src / "utt2uniq").is_file() else {}
    source = {uid: uniq.get(uid, uid) for uid in text}
    draws = draw_templates(sorted(set(source.values())), pool, args.k, args.seed) if needs_mi else {}
    targets = read_language_names(args.target_languages) if args.target_languages else names
    prompts = {}
    for uid in sorted(text) if needs_mi else []:
        lang = names[utt2lang[uid]]
        for template in draws[source[uid]]:
            target = draw_target(source[uid], template, lang, list(targets.values()), args.seed)
            prefix, postfix = template.render(lang, target)
            prompts[uid, template.id] = (prefix, postfix, (prefix, text[uid], postfix))

    answers = read_caches(args.exp_dir)
    distinct = sorted({p for _, _, p in prompts.values()})
    cache_file = args.exp_dir / "answers.jsonl"
    if args.shard is not None:  # a shard's prompts do not depend on what is cached already
        distinct = distinct[args.shard - 1 :: args.num_shards]
        cache_file = args.exp_dir / f"answers.{args.shard}-of-{args.num_shards}.jsonl"
    todo = [p for p in distinct if p not in answers]
    logging.info(f"{len(prompts)} MI targets, {len(set(p for _, _, p in prompts.values()))} distinct prompts, "
                 f"{len(todo)} to generate" + (f" in shard {args.shard}/{args.num_shards}" if args.shard else ""))
    if todo:
        generator = TextGenerator.load(args.llm, args.llm_config, args.device, dtype=dtype)
        for start in range(0, len(todo), args.batch_size * 16):
            chunk = todo[start : start + args.batch_size * 16]
            new = dict(zip(chunk, generator.generate(chunk, args.max_new_tokens, args.batch_size)))
            append_cache(cache_file, new)
            answers.update(new)
            logging.info(f"generated {min(start + len(chunk), len(todo))}/{len(todo)}")
    if args.shard is not None:
        logging.info(f"shard {args.shard}/{args.num_shards} done ({cache_file}); the run without --shard writes the data dirs")
        return

    base = {uid: {field: column[uid] for field, column in carried.items()} for uid in text}
    asr = by_id[args.asr_template]
    t_utts = {}
    for uid in text:
        prefix, postfix = asr.render(names[utt2lang[uid]])
        t_utts[uid] = dict(base[uid], text=text[uid], prefix=prefix, postfix=postfix)
    mi_utts, empty = {}, 0
    origin = {uid: uid for uid in t_utts}  # new id -> source id (template ids may contain "-")
    for (uid, tid), (prefix, postfix, prompt) in prompts.items():
        answer = answers[prompt].strip()
        if not answer:
            empty += 1
            continue
        mi_utts[f"{uid}-{tid}"] = dict(base[uid], text=answer, prefix=prefix, postfix=postfix)
        origin[f"{uid}-{tid}"] = uid
    if empty:
        logging.warning(f"{empty} MI targets skipped: the LLM's answer was empty")

    for name, utts in (("T", t_utts), ("MI", mi_utts), ("TMI", {**t_utts, **mi_utts})):
        if name not in args.variants:
            continue
        dst = Path(f"{args.dst_prefix}_{name}")
        n = write_variant(dst, args.src, utts, {u: origin[u] for u in utts}, text)
        logging.info(f"{dst}: {n} utterances")


if __name__ == "__main__":
    main()
