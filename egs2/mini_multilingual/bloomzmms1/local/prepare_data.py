#!/usr/bin/env python3
"""Stage 1: synthesise the mini multilingual corpus with espeak-ng.

    python local/prepare_data.py --text_dir local/data --output_dir data --langs en de fr es sw hi ru

Each language's sentence file is split by position into train / dev / test (disjoint
sentences: the last ``n_test`` are test, the ``n_dev`` before them dev, the rest train).
Every sentence is spoken once, by a voice and speaking rate chosen from small pools by a
seeded generator, at 16 kHz. Writes Kaldi data dirs ``data/{train,dev,test}`` (wav.scp,
text, utt2spk, spk2utt, utt2lang) and the audio under ``data/wav``, then validates them.
Re-running reuses audio files already written.
"""

import argparse
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile

from espnet2_bloomzmms.data.datadir import validate_data_dir, write_data_dir
from espnet2_bloomzmms.data.synthesize import available_languages, synthesize, write_wav
from sentences import load_sentences, split_sentences  # local/sentences.py

VOICES = ("m1", "m3", "m7", "f1", "f3", "f5")
RATES = (150, 175, 200)


def read_languages(path: Path) -> dict:
    """code -> (English name, espeak-ng voice) from languages.tsv."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {code: (name, voice) for code, name, voice in rows}


def plan(
    text_dir: Path, langs: list, n_dev: int, n_test: int, max_train: int, seed: int, renditions: int = 1
) -> dict:
    """split -> {uttid: (lang, espeak voice, variant, rate, text)}

    Each train sentence is spoken ``renditions`` times by different voices (more acoustic
    variety for the same text); dev and test sentences once each.
    """
    if not 1 <= renditions <= len(VOICES):
        raise SystemExit(f"--renditions must be between 1 and {len(VOICES)} (the voices), got {renditions}")
    languages = read_languages(text_dir / "languages.tsv")
    unknown = [lang for lang in langs if lang not in languages]
    if unknown:
        raise SystemExit(f"unknown language code(s) {unknown}; the recipe has {sorted(languages)}")
    missing = [lang for lang in langs if languages[lang][1] not in available_languages()]
    if missing:
        raise SystemExit(f"espeak-ng has no voice for {missing}")
    rng = random.Random(seed)
    utts = {"train": {}, "dev": {}, "test": {}}
    for lang in langs:
        for split, chunk in split_sentences(load_sentences(text_dir, lang), n_dev, n_test).items():
            if split == "train" and max_train:
                chunk = chunk[:max_train]
            for i, text in enumerate(chunk):
                for variant in rng.sample(VOICES, renditions if split == "train" else 1):
                    rate = rng.choice(RATES)
                    uid = f"{lang}_{variant}_{split}{i:04d}"
                    utts[split][uid] = (lang, languages[lang][1], variant, rate, text)
    return utts


def synthesize_to(path: Path, lang_voice: str, variant: str, rate: int, text: str) -> None:
    if path.exists():
        try:
            if soundfile.info(str(path)).frames > 0:
                return
        except RuntimeError:
            pass  # a broken file from an interrupted run: write it again
    write_wav(path, synthesize(text, lang_voice, voice=variant, rate=rate), 16000)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text_dir", type=Path, default=Path("local/data"))
    parser.add_argument("--output_dir", type=Path, default=Path("data"))
    parser.add_argument("--langs", nargs="+", default=["en", "de", "fr", "es", "sw", "hi", "ru"])
    parser.add_argument("--n_dev", type=int, default=20)
    parser.add_argument("--n_test", type=int, default=20)
    parser.add_argument("--max_train", type=int, default=0, help="train sentences per language (0: all)")
    parser.add_argument("--renditions", type=int, default=1, help="voices per train sentence")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--splits", nargs="+", choices=("train", "dev", "test"), default=["train", "dev", "test"],
                        help="which splits to synthesise (the base-model build never makes test speech)")
    args = parser.parse_args(argv)

    utts = plan(args.text_dir, args.langs, args.n_dev, args.n_test, args.max_train, args.seed, args.renditions)
    utts = {split: items for split, items in utts.items() if split in args.splits}
    jobs = []
    for split, items in utts.items():
        for uid, (lang, voice, variant, rate, text) in items.items():
            jobs.append((args.output_dir / "wav" / split / f"{uid}.wav", voice, variant, rate, text))
    print(f"synthesising {len(jobs)} utterances in {len(args.langs)} languages", file=sys.stderr)
    with ThreadPoolExecutor(args.nj) as pool:
        for n, _ in enumerate(pool.map(lambda job: synthesize_to(*job), jobs), 1):
            if n % 500 == 0 or n == len(jobs):
                print(f"  {n}/{len(jobs)}", file=sys.stderr)
    for split, items in utts.items():
        write_data_dir(
            args.output_dir / split,
            {
                uid: {"wav": str((args.output_dir / "wav" / split / f"{uid}.wav").resolve()), "text": text,
                      "spk": f"{lang}_{variant}", "lang": lang}
                for uid, (lang, _, variant, _, text) in items.items()
            },
        )
        n = validate_data_dir(args.output_dir / split)
        print(f"{args.output_dir / split}: {n} utterances", file=sys.stderr)


if __name__ == "__main__":
    main()
