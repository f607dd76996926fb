"""Speech-translation data dirs: the instruction built from language names, and the
files beyond a plain data dir that ST scoring and the text baselines read.

A speech-translation data dir holds ``wav.scp``, ``utt2spk``/``spk2utt``, ``utt2lang``
(the source language: what is spoken) and:

    text        the reference translation
    prefix      "Translate the following text from English to German\\n"  (JSON strings)
    postfix     "\\n"
    utt2pair    <uttid> <src code> <tgt code>   (``score_st --utt2pair`` reads it)
    transcript  <uttid> <source-language transcript>, where the corpus has one: the gold
                text that ``bin/text_baselines.py`` gives the LLM in place of the speech

The instruction's wording is the data file ``prompts/translation.yaml``; language
names come from ``prompts/languages.tsv`` (or a recipe's own names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Optional

import yaml

from espnet2_bloomzmms.data.datadir import write_kv
from espnet2_bloomzmms.data.languages import language_name
from espnet2_bloomzmms.data.prompt_files import prompt_file

__all__ = ["instruction", "write_st_files"]


def instruction(src: str, tgt: str, names: Optional[Mapping[str, str]] = None) -> tuple[str, str]:
    """(prefix, postfix) asking to translate from ``src`` to ``tgt`` (language codes)."""
    path = prompt_file("translation.yaml")
    conf = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(conf, dict) or not all(isinstance(conf.get(k), str) for k in ("prefix", "postfix")):
        raise ValueError(f"{path}: needs string entries 'prefix' and 'postfix'")
    fill = {"src": language_name(src, names), "tgt": language_name(tgt, names)}
    return conf["prefix"].format(**fill), conf["postfix"].format(**fill)


def write_st_files(
    out_dir: Path, uttids: Iterable[str], src: str, tgt: str, transcripts: Mapping[str, Optional[str]]
) -> None:
    """``utt2pair`` for ``uttids`` and, when every one of them has a transcript, ``transcript``."""
    uttids = list(uttids)
    write_kv(Path(out_dir) / "utt2pair", {u: f"{src} {tgt}" for u in uttids})
    path = Path(out_dir) / "transcript"
    if all(transcripts.get(u) for u in uttids):
        write_kv(path, {u: transcripts[u] for u in uttids})
    elif path.exists():
        path.unlink()
