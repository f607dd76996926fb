#!/usr/bin/env python3
"""Language ids of the FLEURS recipe: one id per language across corpora.

FLEURS names languages ``en_us``, Common Voice ``en`` / ``sv-SE``, VoxPopuli and MLS
``en``; the language inter-CTC needs one label per language, so every corpus is mapped
to ISO 639-1 codes (ISO 639-3 where a language has none: ``yue``, ``ceb``, ...).

    local/languages.py fleurs_map data/local/lang_map_fleurs.tsv
        FLEURS code -> language id, for prepare_corpus --lang_map
    local/languages.py names data/languages.tsv data/train data/dev data/test_fleurs
        language id -> English name for every id in the dirs' utt2lang (the
        instruction templates' {lang}); FLEURS's names first, then the package's table
    local/languages.py eval_names data/local/eval_languages.tsv
        FLEURS code and language id -> FLEURS's English name, for prepare_eval_data
        --languages: the translation instructions of FLEURS pairs (cmn_hans_cn) and
        CoVoST 2 (zh-CN) name a language as data/languages.tsv does
"""

import argparse
import sys
from pathlib import Path

from espnet2_bloomzmms.data.corpora.fleurs import fleurs_languages
from espnet2_bloomzmms.data.datadir import read_kv
from espnet2_bloomzmms.data.languages import language_name
from espnet2_bloomzmms.utils.atomic_files import atomic_path


def fleurs_ids() -> dict:
    return {code: lang.iso639_1 or lang.iso639_3 for code, lang in fleurs_languages().items()}


def write_tsv(path: Path, rows: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{k}\t{v}\n" for k, v in sorted(rows.items())), encoding="utf-8")


def names(data_dirs: list) -> dict:
    fleurs_names = {fleurs_ids()[code]: lang.name for code, lang in fleurs_languages().items()}
    ids = sorted({lang for d in data_dirs for lang in read_kv(Path(d) / "utt2lang").values()})
    out, unknown = {}, []
    for lang in ids:
        try:
            out[lang] = fleurs_names.get(lang) or language_name(lang)
        except KeyError:
            unknown.append(lang)
    if unknown:
        raise SystemExit(
            f"no English name for language id(s) {unknown} (utt2lang of {', '.join(map(str, data_dirs))}): "
            "map them to known ids with prepare_corpus --lang_map, or add them to the languages file"
        )
    return out


def eval_names() -> dict:
    """Keyed by FLEURS code and by id, so that codes of any corpus resolve to one name."""
    ids = fleurs_ids()
    out = {}
    for code, lang in fleurs_languages().items():
        out[code] = out[ids[code]] = lang.name
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fleurs_map").add_argument("out", type=Path)
    sub.add_parser("eval_names").add_argument("out", type=Path)
    p = sub.add_parser("names")
    p.add_argument("out", type=Path)
    p.add_argument("data_dirs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "fleurs_map":
        write_tsv(args.out, fleurs_ids())
    elif args.command == "eval_names":
        write_tsv(args.out, eval_names())
    else:
        write_tsv(args.out, names(args.data_dirs))


if __name__ == "__main__":
    main(sys.argv[1:])
