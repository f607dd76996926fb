#!/usr/bin/env python3
"""Prepare released corpora as Kaldi data dirs (wav.scp, text, utt2spk, spk2utt, utt2lang).

Examples::

    python -m espnet2_bloomzmms.bin.prepare_corpus fleurs --root /corpora/fleurs \\
        --split train --output_dir data/fleurs_train --nj 8
    python -m espnet2_bloomzmms.bin.prepare_corpus commonvoice \\
        --root /corpora/cv-corpus-12.0-2022-12-07 --split train --langs en de \\
        --subset conf/cv12_subset.txt --output_dir data/cv_train
    python -m espnet2_bloomzmms.bin.prepare_corpus voxpopuli --root /corpora/voxpopuli \\
        --split test --langs de --output_dir data/voxpopuli_test_de
    python -m espnet2_bloomzmms.bin.prepare_corpus mls --root /corpora/mls --split test \\
        --langs de --output_dir data/mls_test_de
    python -m espnet2_bloomzmms.bin.prepare_corpus combine --output_dir data/train \\
        --dir data/fleurs_train --dir data/cv_train \\
        --add /espnet/egs2/swbd/asr1/data/train_nodup en --path_root /espnet/egs2/swbd/asr1

Audio that is not already 16 kHz mono WAV/FLAC is decoded once to 16-bit WAV files
under ``--audio_dir`` (default ``<out>/wavs``); utterances over ``--max_duration``
seconds are dropped.  What was kept and skipped (and why) is printed.  The layouts read
are in the docstrings of ``espnet2_bloomzmms/data/corpora/<corpus>.py``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from espnet2_bloomzmms.data.corpora.audio import MissingToolError
from espnet2_bloomzmms.data.corpora.combine import Source, combine_sources
from espnet2_bloomzmms.data.corpora.commonvoice import prepare_commonvoice
from espnet2_bloomzmms.data.corpora.fleurs import prepare_fleurs
from espnet2_bloomzmms.data.corpora.mls import prepare_mls
from espnet2_bloomzmms.data.corpora.preparation import PrepReport, read_lang_map
from espnet2_bloomzmms.data.corpora.voxpopuli import prepare_voxpopuli
from espnet2_bloomzmms.data.datadir import DataDirError


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _corpus_options(text_field: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--root", type=Path, required=True, help="the corpus as released, on disk")
    p.add_argument("--split", required=True, help="train, dev or test (Common Voice: any TSV name)")
    p.add_argument("--output_dir", type=Path, required=True, help="data dir to write")
    p.add_argument("--langs", nargs="+", default=None,
                   help="corpus language codes (default: all found)")
    p.add_argument("--audio_dir", type=Path, default=None,
                   help="where converted audio goes (default <out>/wavs)")
    p.add_argument("--max_duration", type=float, default=30.0,
                   help="drop utterances longer than this many seconds")
    p.add_argument("--lang_map", type=Path, default=None,
                   help="TSV '<corpus code><TAB><language id>' to rename languages in utt2lang")
    p.add_argument("--nj", type=int, default=1, help="decoding threads")
    p.add_argument("--check_audio", type=_bool, default=False,
                   help="validate by reading every utterance's audio again")
    if text_field:
        p.add_argument("--text", choices=("raw", "normalized"), default="raw",
                       help="transcript: raw (cased, punctuated) or the corpus's normalised one")
    return p


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="corpus", required=True)
    sub.add_parser("fleurs", parents=[_corpus_options(True)],
                   help="FLEURS: data/<lang>/<split>.tsv + audio/<split>.tar.gz or audio/<split>/")
    cv = sub.add_parser("commonvoice", parents=[_corpus_options(False)],
                        help="Common Voice: <locale>/<split>.tsv + <locale>/clips/*.mp3")
    cv.add_argument("--subset", type=Path, default=None,
                    help="keep only the utterances listed (clip names or utterance ids, one a line)")
    sub.add_parser("voxpopuli", parents=[_corpus_options(True)],
                   help="VoxPopuli: transcribed_data/<lang>/asr_<split>.tsv + <year>/<id>.ogg")
    sub.add_parser("mls", parents=[_corpus_options(False)],
                   help="MLS: mls_<language>[_opus]/<split>/transcripts.txt + audio/")
    comb = sub.add_parser("combine", help="merge data dirs, ours or other recipes'")
    comb.add_argument("--output_dir", type=Path, required=True, help="data dir to write")
    comb.add_argument("--dir", type=Path, action="append", default=[],
                      help="a data dir with its own utt2lang (repeatable)")
    comb.add_argument("--add", nargs=2, action="append", default=[], metavar=("DIR", "LANG"),
                      help="a data dir whose utterances are all in language LANG (repeatable)")
    comb.add_argument("--path_root", type=Path, default=None,
                      help="directory that relative wav.scp paths of the --add dirs are "
                      "relative to (their recipe dir; default: the current directory)")
    comb.add_argument("--check_audio", type=_bool, default=False,
                      help="also read every utterance's audio (16 kHz mono?)")
    return parser


def run(args: argparse.Namespace) -> PrepReport:
    if args.corpus == "combine":
        sources = [Source(d) for d in args.dir]
        sources += [Source(Path(d), lang, args.path_root) for d, lang in args.add]
        return combine_sources(sources, args.output_dir, check_audio=args.check_audio)
    common = dict(root=args.root, split=args.split, out_dir=args.output_dir, langs=args.langs,
                  audio_dir=args.audio_dir, max_duration=args.max_duration,
                  lang_map=read_lang_map(args.lang_map), nj=args.nj, check_audio=args.check_audio)
    if args.corpus == "fleurs":
        return prepare_fleurs(text_field=args.text, **common)
    if args.corpus == "commonvoice":
        return prepare_commonvoice(subset=args.subset, **common)
    if args.corpus == "voxpopuli":
        return prepare_voxpopuli(text_field=args.text, **common)
    return prepare_mls(**common)


def main(cmd: list[str] | None = None) -> PrepReport:
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.corpus == "combine" and not (args.dir or args.add):
        parser.error("combine needs at least one --dir or --add")
    if getattr(args, "nj", 1) < 1:
        parser.error(f"--nj must be >= 1, got {args.nj}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        report = run(args)
    except (DataDirError, MissingToolError, ValueError) as e:
        parser.exit(1, f"prepare_corpus {args.corpus}: error: {e}\n")
    print(report)
    return report


if __name__ == "__main__":
    main()
