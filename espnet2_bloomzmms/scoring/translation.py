"""BLEU and chrF of translations with sacrebleu, per language pair and overall.

Scores are corpus-level (sacrebleu's ``corpus_score``), one reference per utterance,
on the text as it is (sacrebleu tokenizes). BLEU's tokenizer follows the target
language as sacrebleu recommends: ``zh`` for Chinese, ``ja-mecab`` / ``ko-mecab`` for
Japanese / Korean (``pip install sacrebleu[ja]`` / ``sacrebleu[ko]``), else ``13a``;
``tokenize`` forces one for all. The overall BLEU uses the targets' tokenizer when all
pairs share it, else ``13a``. Each score carries sacrebleu's signature string, which
says exactly how it was computed.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence

from sacrebleu.metrics import BLEU, CHRF

from espnet2_bloomzmms.data.languages import sacrebleu_language
from espnet2_bloomzmms.scoring.asr import _few, _table

__all__ = ["markdown_table", "pair_name", "score"]


def pair_name(src: str, tgt: str) -> str:
    return f"{src}-{tgt}"


def _bleu(trg_lang: str, tokenize: Optional[str]) -> BLEU:
    try:
        return BLEU(trg_lang=trg_lang, tokenize=tokenize)
    except RuntimeError as e:  # sacrebleu's message for missing MeCab
        raise RuntimeError(
            f"BLEU for target language {trg_lang!r} needs an extra tokenizer: {e}\n"
            "or force another one with tokenize (score_st --tokenize char, 13a, ...)"
        ) from e


def _scores(hyps: Sequence[str], refs: Sequence[str], trg_lang: str, tokenize: Optional[str]) -> dict:
    bleu = _bleu(trg_lang, tokenize)
    b = bleu.corpus_score(list(hyps), [list(refs)])
    chrf = CHRF()
    c = chrf.corpus_score(list(hyps), [list(refs)])
    return {
        "utterances": len(refs),
        "bleu": {"score": b.score, "precisions": list(b.precisions), "bp": b.bp, "sys_len": b.sys_len,
                 "ref_len": b.ref_len, "signature": str(bleu.get_signature())},
        "chrf": {"score": c.score, "signature": str(chrf.get_signature())},
    }


def score(
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    pairs: Mapping[str, tuple[str, str]],
    tokenize: Optional[str] = None,
) -> dict:
    """BLEU and chrF of ``hyps`` against ``refs``; ``pairs`` gives each utterance's
    (source, target) language codes.

    Returns ``{"utterances", "missing_hypotheses", "missing_hypothesis_ids", "bleu",
    "chrf", "pairs": {"<src>-<tgt>": {"utterances", "bleu", "chrf"}}}`` with
    ``bleu = {"score" (0..100), "precisions", "bp", "sys_len", "ref_len", "signature"}``
    and ``chrf = {"score", "signature"}``. An utterance without a hypothesis is scored
    as the empty string and counted; a hypothesis without a reference, or a reference
    without a language pair, is an error.
    """
    unknown = [u for u in hyps if u not in refs]
    if unknown:
        raise ValueError(f"{len(unknown)} hypotheses are for utterances that have no reference ({_few(unknown)})")
    no_pair = [u for u in refs if u not in pairs]
    if no_pair:
        raise ValueError(f"{len(no_pair)} of {len(refs)} utterances have no language pair ({_few(no_pair)})")
    if not refs:
        raise ValueError("no references to score")
    missing = [u for u in refs if u not in hyps]
    uttids = list(refs)
    by_pair: dict[tuple[str, str], list[str]] = {}
    for u in uttids:
        by_pair.setdefault(tuple(pairs[u]), []).append(u)

    def run(ids: Iterable[str], trg_lang: str) -> dict:
        ids = list(ids)
        return _scores([hyps.get(u, "") for u in ids], [refs[u] for u in ids], trg_lang, tokenize)

    per_pair = {pair_name(s, t): run(ids, sacrebleu_language(t)) for (s, t), ids in sorted(by_pair.items())}
    targets = {sacrebleu_language(t) for _, t in by_pair}
    overall = run(uttids, targets.pop() if len(targets) == 1 else "")
    return {
        "utterances": len(uttids),
        "missing_hypotheses": len(missing),
        "missing_hypothesis_ids": missing,
        "bleu": overall["bleu"],
        "chrf": overall["chrf"],
        "pairs": per_pair,
    }


def markdown_table(results: Mapping[str, Mapping], pairs: Optional[Sequence[str]] = None) -> str:
    """BLEU and chrF tables of ``{system name: score(...) result}``: a row per system, a
    column per language pair and ``all``; then the sacrebleu signatures."""
    if not results:
        raise ValueError("markdown_table needs at least one result")
    pairs = list(pairs) if pairs is not None else sorted({p for r in results.values() for p in r["pairs"]})
    out: list[str] = []
    for metric, title in (("bleu", "BLEU"), ("chrf", "chrF")):
        rows = []
        for name, res in results.items():
            cells = [f"{res['pairs'][p][metric]['score']:.2f}" if p in res["pairs"] else "–" for p in pairs]
            rows.append([name, *cells, f"{res[metric]['score']:.2f}", str(res["utterances"])])
        out += [f"### {title}", "", *_table(["system", *pairs, "all", "Snt"], rows), ""]
    signatures = sorted({res[m]["signature"] for res in results.values() for m in ("bleu", "chrf")}
                        | {p[m]["signature"] for res in results.values() for p in res["pairs"].values()
                           for m in ("bleu", "chrf")})
    out += ["sacrebleu signatures:", "", *[f"- `{s}`" for s in signatures], ""]
    return "\n".join(out)
