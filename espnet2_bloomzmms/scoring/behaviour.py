"""Behaviour of a decode: did the model do what it was asked, or fail the way speech
LLMs are seen to fail?

For every utterance of the references:

* instruction following -- with ``answers`` (a label set, or a predicate): the answer
  is one of the labels (compared case-folded, surrounding punctuation stripped); else
  with ``expected_langs``: the answer is written in the script of the expected language
  (at least half of its letters in that language's Unicode scripts, from
  ``prompts/languages.tsv``). The script check is a cheap offline stand-in for language
  identification: it tells Russian from German and Hindi from Urdu, but not German from
  English (both Latin script), so an untranslated English answer to "translate into
  German" passes it -- ``source_copies`` catches the plain copies. Utterances whose
  language the table lacks are left out of the rate (``unknown_language``).
* refusals -- the answer holds a phrase of ``prompts/refusals.txt`` that the reference
  does not hold.
* repetition loops -- some n-gram (``ngram`` words; ``2 * ngram`` characters for text
  written without spaces: Han, kana, Thai, ...) occurs ``repeats`` times or more in the
  answer but not in the reference.
* empty outputs, and the output/reference length ratio (characters, corpus level).
* source copies (with ``sources``, e.g. the transcript for translation) -- the answer
  is the source text itself.

Rates are fractions of the utterances checked; a missing hypothesis is an empty answer.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

import regex

from espnet2_bloomzmms.data.languages import language_scripts
from espnet2_bloomzmms.data.nlu.tasks import normalize_answer
from espnet2_bloomzmms.data.prompt_files import prompt_file
from espnet2_bloomzmms.scoring.asr import _table

__all__ = ["has_loop", "in_language", "markdown_table", "refusal_phrases", "score"]

Answers = Union[Sequence[str], Callable[[str], bool], None]
_FEW = 5
_LETTER = regex.compile(r"\p{L}")
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]")


@functools.lru_cache(maxsize=None)
def refusal_phrases() -> tuple[str, ...]:
    lines = prompt_file("refusals.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


@functools.lru_cache(maxsize=None)
def _script_pattern(scripts: tuple[str, ...]):
    return regex.compile("[" + "".join(rf"\p{{Script={s}}}" for s in scripts) + "]")


def in_language(text: str, code: str) -> Optional[bool]:
    """Whether ``text`` is written in the script(s) of language ``code`` (None: code unknown)."""
    scripts = language_scripts(code)
    if scripts is None:
        return None
    letters = _LETTER.findall(text)
    if not letters:
        return False
    pattern = _script_pattern(scripts)
    return sum(bool(pattern.match(c)) for c in letters) * 2 >= len(letters)


def _max_repeats(text: str, ngram: int) -> int:
    letters = _LETTER.findall(text)
    if letters and sum(bool(_UNSPACED.match(c)) for c in letters) * 2 >= len(letters):
        tokens, n = [c for c in text if not c.isspace()], 2 * ngram
    else:
        tokens, n = text.casefold().split(), ngram
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return max(grams.values(), default=0)


def has_loop(text: str, reference: Optional[str] = None, ngram: int = 4, repeats: int = 3) -> bool:
    """An n-gram repeated ``repeats`` times in ``text`` (and not in ``reference``)."""
    if _max_repeats(text, ngram) < repeats:
        return False
    return reference is None or _max_repeats(reference, ngram) < repeats


def _is_refusal(text: str, reference: Optional[str]) -> bool:
    hyp, ref = text.casefold(), (reference or "").casefold()
    return any(p in hyp and p not in ref for p in refusal_phrases())


def _rate(ids: list[str], checked: int) -> dict:
    return {"rate": len(ids) / checked if checked else None, "count": len(ids), "checked": checked,
            "ids": ids[:_FEW]}


def _tally(uttids: Iterable[str], hyps, refs, follows, expected_langs, sources, ngram, repeats) -> dict:
    uttids = list(uttids)
    failed, checked, unknown = [], 0, 0
    refusals, loops, empty, copies, copy_checked = [], [], [], [], 0
    hyp_chars = ref_chars = 0
    for u in uttids:
        hyp, ref = " ".join(hyps.get(u, "").split()), " ".join(refs[u].split())
        if follows is not None:
            ok = follows(hyp)
        elif expected_langs is not None:
            ok = in_language(hyp, expected_langs[u]) if u in expected_langs else None
            unknown += ok is None
        else:
            ok = None
        if ok is not None:
            checked += 1
            if not ok:
                failed.append(u)
        if _is_refusal(hyp, ref):
            refusals.append(u)
        if has_loop(hyp, ref, ngram, repeats):
            loops.append(u)
        if not hyp:
            empty.append(u)
        if sources is not None and sources.get(u):
            copy_checked += 1
            if hyp and normalize_answer(hyp) == normalize_answer(sources[u]):
                copies.append(u)
        hyp_chars, ref_chars = hyp_chars + len(hyp), ref_chars + len(ref)
    n = len(uttids)
    return {
        "utterances": n,
        "instruction_following": {
            "rate": (checked - len(failed)) / checked if checked else None,
            "count": checked - len(failed),
            "checked": checked,
            "failed_ids": failed[:_FEW],
            "unknown_language": unknown,
        },
        "refusals": _rate(refusals, n),
        "repetition_loops": _rate(loops, n),
        "empty_outputs": _rate(empty, n),
        "length_ratio": hyp_chars / ref_chars if ref_chars else None,
        "source_copies": _rate(copies, copy_checked) if sources is not None else None,
    }


def score(
    hyps: Mapping[str, str],
    refs: Mapping[str, str],
    answers: Answers = None,
    expected_langs: Optional[Mapping[str, str]] = None,
    sources: Optional[Mapping[str, str]] = None,
    groups: Optional[Mapping[str, str]] = None,
    ngram: int = 4,
    repeats: int = 3,
) -> dict:
    """Behaviour metrics over the utterances of ``refs`` (see the module docstring).

    ``answers`` is the label set, or a predicate saying whether an answer is valid;
    ``expected_langs`` maps utterances to the language code the answer should be in;
    ``groups`` (utterance -> name, e.g. the language pair) adds per-group results.
    Returns ``{"utterances", "instruction_following", "refusals", "repetition_loops",
    "empty_outputs", "length_ratio", "source_copies", "criterion", "groups"}``, each rate
    as ``{"rate", "count", "checked", ...}`` (rate None when nothing was checked).
    """
    if not refs:
        raise ValueError("no references: behaviour needs the utterances of a test set")
    if answers is not None and not callable(answers):
        labels = {normalize_answer(a) for a in answers}
        follows: Optional[Callable[[str], bool]] = lambda a: normalize_answer(a) in labels  # noqa: E731
    else:
        follows = answers
    criterion = ("answer in the label set" if follows is not None
                 else "script of the expected language" if expected_langs is not None else None)
    args = (hyps, refs, follows, expected_langs, sources, ngram, repeats)
    result = _tally(refs, *args)
    result["criterion"] = criterion
    by_group: dict[str, list[str]] = {}
    for u in refs if groups is not None else ():
        by_group.setdefault(groups.get(u, "?"), []).append(u)
    result["groups"] = {g: _tally(ids, *args) for g, ids in sorted(by_group.items())}
    return result


def _pct(metric: Optional[Mapping]) -> str:
    return "–" if not metric or metric.get("rate") is None else f"{100 * metric['rate']:.1f}"


def _row(name: str, res: Mapping) -> list[str]:
    ratio = res.get("length_ratio")
    return [name, _pct(res["instruction_following"]), _pct(res["refusals"]), _pct(res["repetition_loops"]),
            _pct(res["empty_outputs"]), _pct(res.get("source_copies")), "–" if ratio is None else f"{ratio:.2f}",
            str(res["utterances"])]


def markdown_table(results: Mapping[str, Mapping]) -> str:
    """Behaviour table of ``{system name: score(...) result}`` (rates in %), with a row
    per group under each system that has groups."""
    if not results:
        raise ValueError("markdown_table needs at least one result")
    rows = []
    for name, res in results.items():
        rows.append(_row(name, res))
        rows += [_row(f"{name} / {g}", r) for g, r in res.get("groups", {}).items()]
    criteria = sorted({r["criterion"] for r in results.values() if r.get("criterion")})
    header = ["system", "follows instruction", "refusals", "loops", "empty", "copies source", "len ratio", "Snt"]
    out = ["### Behaviour (%)", "", *_table(header, rows), ""]
    if criteria:
        out += [f"Instruction following: {'; '.join(criteria)}.", ""]
    return "\n".join(out)
