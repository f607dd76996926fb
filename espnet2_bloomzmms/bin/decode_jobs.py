#!/usr/bin/env python3
"""Spread one decode over several jobs (processes, GPUs or cluster nodes) and merge it.

    python -m espnet2_bloomzmms.bin.decode_jobs split --data_dir DATA --nj 3 --output_dir DECODE/split3
    # job J of 3 (Kaldi's run.pl / slurm.pl / queue.pl substitute JOB, or a loop):
    python -m espnet2_bloomzmms.bin.inference ... --data_dir DATA \
        --key_file DECODE/split3/keys.J --output_dir DECODE/split3/output.J
    python -m espnet2_bloomzmms.bin.decode_jobs merge --data_dir DATA --output_dir DECODE \
        DECODE/split3/output.*

``split`` deals the utterances of ``DATA/wav.scp`` round-robin into ``keys.1`` ..
``keys.N`` (so every job gets a similar mix of lengths and languages). Each job decodes,
resumes and records its settings as a single decode does. ``merge`` checks that every
part is complete and that all were made with the same model, data and settings, then
writes ``DECODE/text`` (and ``text_ctc``, ``skipped``, ``decode_settings.yaml``) as one job
would have (an utterance's answer does not depend on the batch it is decoded in, which the
tests check), so a later single-job run with the same settings finds the decode complete;
what ``DECODE`` held from other settings is moved to ``DECODE/replaced/``.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List

import yaml

from espnet2_bloomzmms.decode_dir import OUTPUTS, SETTINGS_FILE, replace_earlier_results, write_results
from espnet2_bloomzmms.data.datadir import read_kv
from espnet2_bloomzmms.utils.atomic_files import atomic_path


def split_keys(data_dir, nj: int, output_dir) -> List[Path]:
    """Write ``keys.1`` .. ``keys.n`` (n = min(nj, #utterances)); returns their paths."""
    if nj < 1:
        raise ValueError(f"--nj must be >= 1, got {nj}")
    wav_scp = Path(data_dir) / "wav.scp"
    uttids = list(read_kv(wav_scp))
    if not uttids:
        raise ValueError(f"{wav_scp}: no utterances")
    nj = min(nj, len(uttids))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for j in range(nj):
        path = output_dir / f"keys.{j + 1}"
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{u}\n" for u in uttids[j::nj]), encoding="utf-8")
        paths.append(path)
    for stale in output_dir.glob("keys.*"):  # from an earlier split into more jobs
        if stale not in paths and stale.name.split(".", 1)[1].isdigit():
            stale.unlink()
    return paths


def merge_parts(data_dir, parts: List, output_dir) -> Dict[str, int]:
    """Merge complete job outputs into ``output_dir``; returns {file: lines written}."""
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    if not parts:
        raise ValueError("no parts to merge")
    records, merged, skipped = [], {}, {}
    for part in map(Path, parts):
        record = part / SETTINGS_FILE
        if not record.is_file():
            raise ValueError(f"{part}: no {SETTINGS_FILE}: this job has not started (see its log)")
        settings = yaml.safe_load(record.read_text(encoding="utf-8"))
        settings["data"]["keys"] = None
        records.append((part, settings))
        unfinished = [p.name for p in part.glob("*.partial")]
        names = [n for n in OUTPUTS if (part / n).is_file()]
        if unfinished or not names:
            raise ValueError(f"{part}: not finished ({', '.join(unfinished) or 'no output'}): rerun its job "
                             "(it continues where it stopped)")
        for name in names:
            texts = read_kv(part / name)
            both = sorted(set(texts) & set(merged.get(name, {})))
            if both:
                raise ValueError(f"{part}/{name}: {len(both)} utterances also in another part ({', '.join(both[:5])})")
            merged.setdefault(name, {}).update(texts)
        if (part / "skipped").is_file():
            skipped.update(read_kv(part / "skipped"))
    first_part, first = records[0]
    for part, settings in records[1:]:
        if settings != first:
            raise ValueError(f"{part} was decoded with other model, data or settings than {first_part}")
    if {n for n in merged} != {n for n in OUTPUTS if (first_part / n).is_file()}:
        raise ValueError(f"the parts do not all have the same outputs ({sorted(merged)})")
    expected = set(read_kv(data_dir / "wav.scp"))
    for name, texts in merged.items():
        missing = sorted(expected - set(texts) - set(skipped))
        if missing:
            raise ValueError(f"{name}: {len(missing)} utterances of {data_dir / 'wav.scp'} are in no part "
                             f"({', '.join(missing[:5])}): were the keys split from this data dir?")
    record = output_dir / SETTINGS_FILE
    earlier = yaml.safe_load(record.read_text(encoding="utf-8")) if record.is_file() else None
    if earlier != first:  # what the decode dir held came from other settings: kept aside
        replace_earlier_results(output_dir, ["merged from jobs with other settings"])
    write_results(output_dir, sorted(merged), merged, sorted(expected), skipped, first)
    return {name: len(texts) for name, texts in merged.items()} | {"skipped": len(skipped)}


def main(cmd=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    split = sub.add_parser("split", help="deal the utterances into N key files")
    split.add_argument("--data_dir", required=True)
    split.add_argument("--nj", type=int, required=True)
    split.add_argument("--output_dir", required=True, help="where keys.1 .. keys.N go")
    merge = sub.add_parser("merge", help="merge the jobs' outputs")
    merge.add_argument("--data_dir", required=True)
    merge.add_argument("--output_dir", required=True, help="the decode dir")
    merge.add_argument("parts", nargs="+", help="the jobs' output dirs")
    args = parser.parse_args(cmd)
    try:
        if args.command == "split":
            for path in split_keys(args.data_dir, args.nj, args.output_dir):
                print(path)
        else:
            counts = merge_parts(args.data_dir, args.parts, args.output_dir)
            print(f"{args.output_dir}: merged {len(args.parts)} parts ({counts})")
    except ValueError as e:
        raise SystemExit(str(e)) from e


if __name__ == "__main__":
    main(sys.argv[1:])
