"""CER / WER of transcripts, overall and per language, on Whisper-normalised text.

Normalisation is Whisper's *basic* (language-independent) text normaliser, as shipped by
transformers (``BasicTextNormalizer``): lower-case, drop ``[...]``/``<...>`` and
``(...)`` spans, NFKC, replace punctuation and symbols by spaces, collapse whitespace.

One deliberate deviation, on by default (``keep_marks=True``): Whisper's normaliser also
replaces every *combining mark* (Unicode category M*) by a space.  In Brahmic scripts the
dependent vowel signs (matras) and the virama are such marks, so Hindi
``"आज मौसम अच्छा है।"`` comes out as ``"आज म सम अच छ ह"``: every word shattered into
bare consonants, which makes WER meaningless (openai/whisper discussion #858; Manohar et
al., EMNLP 2024, arXiv:2409.02449).  With ``keep_marks=True`` marks are kept and only
punctuation and symbols go (``"आज मौसम अच्छा है"``); for scripts without combining marks
left after NFKC (Latin, Cyrillic, ...) both settings give the same text.
``keep_marks=False`` reproduces Whisper's normaliser exactly, for comparison with
numbers published with it.

Error rates are corpus-level: total edits / total reference units (words, or characters
including the single spaces between words), never an average of per-utterance rates.
Characters are Unicode code points (after NFKC).
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Mapping, Optional, Sequence

__all__ = ["markdown_table", "normalize", "score"]

_FEW = 5
_METRICS = ("cer", "wer")


def _keep_marks_clean(s: str) -> str:
    """Whisper's ``remove_symbols`` minus its removal of combining marks (category M)."""
    return "".join(
        " " if unicodedata.category(c)[0] in "SP" else c for c in unicodedata.normalize("NFKC", s)
    )


_NORMALIZERS: dict[bool, object] = {}


def _normalizer(keep_marks: bool):
    norm = _NORMALIZERS.get(keep_marks)
    if norm is None:
        from transformers.models.whisper.english_normalizer import BasicTextNormalizer

        norm = BasicTextNormalizer(remove_diacritics=False)
        if keep_marks:
            if not callable(getattr(norm, "clean", None)):
                raise RuntimeError(
                    "transformers' BasicTextNormalizer has no 'clean' step to replace; "
                    "use normalize(..., keep_marks=False)"
                )
            norm.clean = _keep_marks_clean  # the one step we change; the rest is Whisper's
        _NORMALIZERS[keep_marks] = norm
    return norm


def normalize(text: str, keep_marks: bool = True) -> str:
    """Whisper's basic text normalisation, whitespace collapsed and stripped.

    ``keep_marks`` keeps combining marks (Devanagari vowel signs, virama, ...), which
    Whisper's normaliser turns into spaces; see the module docstring.
    """
    return " ".join(_normalizer(keep_marks)(text).split())


def _few(ids: Sequence[str], n: int = _FEW) -> str:
    return ", ".join(ids[:n]) + (", ..." if len(ids) > n else "")


def _empty_counts() -> dict:
    return {"ref": 0, "correct": 0, "substitutions": 0, "deletions": 0, "insertions": 0}


def _finish(counts: dict) -> dict:
    errors = counts["substitutions"] + counts["deletions"] + counts["insertions"]
    return {
        **counts,
        "errors": errors,
        # None (JSON null) when there is nothing to divide by.
        "rate": errors / counts["ref"] if counts["ref"] else None,
    }


def _add(counts: dict, out, ref_len: int) -> None:
    counts["ref"] += ref_len
    counts["correct"] += out.hits
    counts["substitutions"] += out.substitutions
    counts["deletions"] += out.deletions
    counts["insertions"] += out.insertions


class _Group:
    def __init__(self) -> None:
        self.utterances = 0
        self.missing: list[str] = []
        self.empty_ref: list[str] = []
        self.counts = {m: _empty_counts() for m in _METRICS}

    def result(self) -> dict:
        return {
            "utterances": self.utterances,
            "missing_hypotheses": len(self.missing),
            "empty_references": len(self.empty_ref),
            "cer": _finish(self.counts["cer"]),
            "wer": _finish(self.counts["wer"]),
        }


def score(
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    langs: Optional[Mapping[str, str]] = None,
    keep_marks: bool = True,
) -> dict:
    """CER and WER (jiwer) of ``hyps`` against ``refs`` after ``normalize``.

    Returns::

        {"utterances": N scored, "missing_hypotheses": k, "missing_hypothesis_ids": [...],
         "empty_references": m, "empty_reference_ids": [...],
         "cer": M, "wer": M, "languages": {lang: {"utterances", "missing_hypotheses",
                                                 "empty_references", "cer": M, "wer": M}}}

    with ``M = {"rate", "errors", "ref", "correct", "substitutions", "deletions",
    "insertions"}``; ``rate`` = errors / ref as a fraction (None when ref is 0).  An
    utterance without a hypothesis is scored against the empty string (all deletions) and
    counted; one whose reference normalises to nothing is skipped and counted.  A
    hypothesis for an utterance not in ``refs`` is an error, as is an utterance in
    ``refs`` without a language when ``langs`` is given (extra ``langs`` ids are ignored).
    ``languages`` is empty without ``langs``.
    """
    import jiwer

    unknown = [u for u in hyps if u not in refs]
    if unknown:
        raise ValueError(
            f"{len(unknown)} hypotheses are for utterances that have no reference "
            f"({_few(unknown)}); score against the matching reference text"
        )
    if langs is not None:
        no_lang = [u for u in refs if u not in langs]
        if no_lang:
            raise ValueError(
                f"{len(no_lang)} of {len(refs)} utterances have no language in utt2lang "
                f"({_few(no_lang)})"
            )

    total = _Group()
    by_lang: dict[str, _Group] = {}
    for uttid, ref_text in refs.items():
        groups = [total]
        if langs is not None:
            groups.append(by_lang.setdefault(langs[uttid], _Group()))
        hyp_text = hyps.get(uttid)
        if hyp_text is None:
            for g in groups:
                g.missing.append(uttid)
            hyp_text = ""
        ref = normalize(ref_text, keep_marks=keep_marks)
        if not ref:
            for g in groups:
                g.empty_ref.append(uttid)
            continue
        hyp = normalize(hyp_text, keep_marks=keep_marks)
        words = jiwer.process_words(ref, hyp)
        chars = jiwer.process_characters(ref, hyp)
        n_words, n_chars = len(ref.split()), len(ref)
        for g in groups:
            g.utterances += 1
            _add(g.counts["wer"], words, n_words)
            _add(g.counts["cer"], chars, n_chars)

    result = total.result()
    result["missing_hypothesis_ids"] = total.missing
    result["empty_reference_ids"] = total.empty_ref
    result["languages"] = {lang: by_lang[lang].result() for lang in sorted(by_lang)}
    return result


def _fmt_rate(metric: Optional[dict]) -> str:
    if metric is None or metric.get("rate") is None:
        return "–"
    return f"{100 * metric['rate']:.2f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "|".join(":---" if i < left else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def markdown_table(
    results: Mapping[str, Mapping], languages: Optional[Sequence[str]] = None
) -> str:
    """Markdown tables of ``{system name: score(...) result}``, as in ESPnet's RESULTS.md.

    One table per metric (CER, then WER) with a row per system and a column per language
    plus ``all`` (rates in %, ``–`` where a system has no such language), then per metric
    a details table over all languages: #utterances (Snt), reference units (Wrd/Chr),
    Corr/Sub/Del/Ins as % of the reference, Err, and utterances without hypothesis.
    ``languages`` picks and orders the language columns (default: every language found).
    """
    if not results:
        raise ValueError("markdown_table needs at least one result")
    if languages is None:
        languages = sorted({lang for r in results.values() for lang in r.get("languages", {})})
    languages = list(languages)
    out: list[str] = []
    for metric in _METRICS:
        out += [f"### {metric.upper()} (%)", ""]
        rows = []
        for name, res in results.items():
            per_lang = res.get("languages", {})
            rows.append(
                [name]
                + [_fmt_rate(per_lang.get(lang, {}).get(metric)) for lang in languages]
                + [_fmt_rate(res.get(metric))]
            )
        out += _table(["system", *languages, "all"], rows)
        out.append("")
    for metric in _METRICS:
        unit = "Chr" if metric == "cer" else "Wrd"
        out += [f"### {metric.upper()} details (all languages)", ""]
        rows = []
        for name, res in results.items():
            m = res[metric]

            def pct(key: str, m=m) -> str:
                return f"{100 * m[key] / m['ref']:.2f}" if m["ref"] else "–"

            rows.append(
                [name, str(res["utterances"]), str(m["ref"]), pct("correct"),
                 pct("substitutions"), pct("deletions"), pct("insertions"), _fmt_rate(m),
                 str(res.get("missing_hypotheses", 0))]
            )
        out += _table(
            ["system", "Snt", unit, "Corr", "Sub", "Del", "Ins", "Err", "no hyp"], rows
        )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
