"""English names and writing systems of language codes, from ``prompts/languages.tsv``.

The table has one language per line: ``code <TAB> English name <TAB> scripts`` (Unicode
script names, comma-separated, e.g. ``Han,Hiragana,Katakana``). A code is looked up as
given, then with region/script suffixes dropped, so the codes of FLEURS (``en_us``,
``cmn_hans_cn``), CoVoST 2 / Common Voice (``zh-CN``, ``sv-SE``) and XNLI (``zh``)
all resolve: ``cmn_hans_cn`` -> ``cmn_hans`` -> ``cmn``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Mapping, Optional

from espnet2_bloomzmms.data.prompt_files import prompt_file
from espnet2_bloomzmms.instructions import read_language_names

__all__ = ["base_code", "language_name", "language_scripts", "sacrebleu_language"]


@functools.lru_cache(maxsize=None)
def _table(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    names = read_language_names(path)
    scripts = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            fields = line.split("\t")
            if len(fields) != 3:
                raise ValueError(f"{path}:{lineno}: expected code, name and scripts (3 tab-separated fields)")
            scripts[fields[0]] = tuple(fields[2].split(","))
    return names, scripts


def _default() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    return _table(prompt_file("languages.tsv"))


def base_code(code: str, known: Optional[Mapping[str, object]] = None) -> Optional[str]:
    """The key of ``known`` (default: the packaged table) that ``code`` resolves to."""
    known = _default()[0] if known is None else known
    key = code.strip().lower().replace("-", "_")
    if code in known:
        return code
    while key:
        if key in known:
            return key
        key = key.rpartition("_")[0]
    return None


def language_name(code: str, names: Optional[Mapping[str, str]] = None) -> str:
    """English name of ``code``: from ``names`` (e.g. a recipe's languages.tsv read by
    ``read_language_names``) when it knows the code, else from the packaged table."""
    for table in ([names] if names else []) + [_default()[0]]:
        key = base_code(code, table)
        if key is not None:
            return table[key]
    raise KeyError(
        f"no English name for language code {code!r}: add it to {prompt_file('languages.tsv')} "
        "or give a languages file that has it"
    )


def language_scripts(code: str) -> Optional[tuple[str, ...]]:
    """Unicode scripts ``code`` is written in, or None for a code the table lacks."""
    key = base_code(code)
    return None if key is None else _default()[1][key]


def sacrebleu_language(code: str) -> str:
    """sacrebleu's ``trg_lang`` for a target language: ``zh``, ``ja`` or ``ko`` where
    sacrebleu tokenizes differently (written without spaces), else ``""`` (13a)."""
    scripts = set(language_scripts(code) or ())
    if "Hangul" in scripts:
        return "ko"
    if "Hiragana" in scripts:
        return "ja"
    if scripts == {"Han"}:
        return "zh"
    return ""
