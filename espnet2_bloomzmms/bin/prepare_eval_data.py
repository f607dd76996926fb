#!/usr/bin/env python3
"""Prepare speech-translation and spoken-NLU test sets as data dirs, from each corpus's
released layout (see each reader's docstring for the layout it expects).

    python -m espnet2_bloomzmms.bin.prepare_eval_data covost2 \\
        --tsv downloads/covost2/covost_v2.en_de.tsv --clips downloads/cv/en/clips \\
        --validated downloads/cv/en/validated.tsv --output_dir data/test_covost2_en_de
    python -m espnet2_bloomzmms.bin.prepare_eval_data fleurs_pairs --root downloads/fleurs \\
        --src en_us --tgt de_de --output_dir data/test_fleurs_en_us_de_de
    python -m espnet2_bloomzmms.bin.prepare_eval_data speechglue --root downloads/speechglue \\
        --task rte --output_dir data/test_speechglue_rte
    python -m espnet2_bloomzmms.bin.prepare_eval_data speechxnli --xnli_tsv downloads/XNLI-1.0/xnli.dev.tsv \\
        --speech_dir downloads/speechxnli --output_dir data/test_speechxnli

Audio that is not 16 kHz mono WAV/FLAC (Common Voice mp3) is decoded once into
``--audio_dir`` (default ``OUT/wavs``). Speech-translation dirs get the instruction
``prompts/translation.yaml`` with language names from ``prompts/languages.tsv`` (or
``--languages``, a TSV of code and name); NLU dirs the prompts of ``prompts/nlu.yaml``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_bloomzmms.data.corpora.covost2 import prepare_covost2
from espnet2_bloomzmms.data.corpora.fleurs_pairs import prepare_fleurs_pairs
from espnet2_bloomzmms.data.nlu.speechglue import GLUE_SOURCES, prepare_speechglue
from espnet2_bloomzmms.data.nlu.speechxnli import XNLI_LANGUAGES, prepare_speechxnli
from espnet2_bloomzmms.instructions import read_language_names


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="corpus", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--output_dir", type=Path, required=True, help="data dir to write")
        p.add_argument("--audio_dir", type=Path, default=None, help="where converted audio goes (default OUT/wavs)")
        p.add_argument("--nj", type=int, default=1, help="parallel audio decoding jobs")

    p = sub.add_parser("covost2", help="CoVoST 2 (covost_v2.<src>_<tgt>.tsv + Common Voice clips)")
    p.add_argument("--tsv", type=Path, required=True, help="covost_v2.<src>_<tgt>.tsv (or .<split>.tsv)")
    p.add_argument("--clips", type=Path, required=True, help="Common Voice clips dir of the source language")
    p.add_argument("--validated", type=Path, default=None, help="Common Voice validated.tsv (transcripts, speakers)")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"])
    p.add_argument("--languages", type=Path, default=None, help="TSV: code <TAB> English name (overrides the table)")
    common(p)

    p = sub.add_parser("fleurs_pairs", help="FLEURS speech in --src paired with --tgt text by sentence id")
    p.add_argument("--root", type=Path, required=True, help="FLEURS root with <lang>/<split>.tsv and <lang>/audio/")
    p.add_argument("--src", required=True, help="FLEURS code of the speech, e.g. en_us")
    p.add_argument("--tgt", required=True, help="FLEURS code of the translation, e.g. de_de")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"])
    p.add_argument("--languages", type=Path, default=None, help="TSV: code <TAB> English name (overrides the table)")
    common(p)

    p = sub.add_parser("speechglue", help="SpeechGLUE <task>/<split>/data.csv + TTS audio")
    p.add_argument("--root", type=Path, required=True, help="SpeechGLUE dump dir")
    p.add_argument("--task", required=True, choices=sorted(GLUE_SOURCES))
    p.add_argument("--split", default=None, help="default: the task's validation split")
    p.add_argument("--spoken", default="first",
                   help="what is speech: all (both sentences of a pair, the authors'), first, second or a field name")
    common(p)

    p = sub.add_parser("speechxnli", help="XNLI-1.0 xnli.dev.tsv + SpeechXNLI sentences/audio")
    p.add_argument("--xnli_tsv", type=Path, required=True, help="XNLI-1.0/xnli.dev.tsv")
    p.add_argument("--speech_dir", type=Path, required=True, help="dir with sentences_<lang>.txt and audios/<lang>/")
    p.add_argument("--langs", nargs="+", default=list(XNLI_LANGUAGES), help="XNLI languages to prepare")
    p.add_argument("--spoken", default="premise", choices=["premise", "hypothesis", "all"],
                   help="what is speech: all (premise and hypothesis, the authors'), premise or hypothesis")
    common(p)
    return parser


def main(cmd: Optional[List[str]] = None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    audio = {"audio_dir": args.audio_dir, "nj": args.nj}
    names = read_language_names(args.languages) if getattr(args, "languages", None) else None
    if args.corpus == "covost2":
        report = prepare_covost2(args.tsv, args.clips, args.output_dir, args.split, args.validated, names, **audio)
    elif args.corpus == "fleurs_pairs":
        report = prepare_fleurs_pairs(args.root, args.src, args.tgt, args.output_dir, args.split, names, **audio)
    elif args.corpus == "speechglue":
        report = prepare_speechglue(args.root, args.task, args.output_dir, args.split, args.spoken, **audio)
    else:
        report = prepare_speechxnli(args.xnli_tsv, args.speech_dir, args.output_dir, args.langs, args.spoken, **audio)
    print(report)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
